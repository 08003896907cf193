//! Host accounts on the wire: the first-run set-up, signing in and out, who
//! is signed in, and the host's dashboard.

use serde::{Deserialize, Serialize};

use super::view::RoomView;
use crate::ids::HostId;

/// How the api decides who may create rooms (`ZENCAST_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Only signed-in hosts (or their API keys) create rooms.
    #[default]
    Accounts,
    /// Anyone who reaches the api creates rooms (one's own machine, tests).
    Open,
}

/// `POST /api/setup`: the first host account, with the one-time token the
/// console printed at the first start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetupRequest {
    pub token: String,
    pub email: String,
    pub password: String,
}

/// `POST /api/signin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostView {
    pub host_id: HostId,
    pub email: String,
}

/// The reply of `/api/setup` (which also returns the account's API key, shown
/// once) and `/api/signin`; the sign-in itself is the cookie set with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedIn {
    pub host: HostView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
}

/// `GET /api/me`: how the api admits hosts, and who is signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Me {
    pub auth: AuthMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostView>,
    /// No host account exists yet: the console's first-run link creates one.
    pub needs_setup: bool,
}

/// `GET /api/me/recordings`: every room the signed-in host created and has
/// not deleted, newest first, with fresh download links.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dashboard {
    pub recordings: Vec<RoomView>,
}
