//! Asking for a render, and the files a render wrote.

use serde::{Deserialize, Serialize};

use super::view::{FileView, RenderStatus};
use crate::event::Layout;

/// `POST /api/recordings/{roomId}/render` (host only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderRequest {
    /// The room's layout when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenderAccepted {
    /// Always `requested`: a render worker picks it up.
    pub status: RenderStatus,
    pub layout: Layout,
    pub sequence: u64,
}

/// `GET /api/recordings/{roomId}/files`: what the last completed render wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Files {
    pub files: Vec<FileView>,
}
