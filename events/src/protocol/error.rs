//! The body of every error response: `{"error": {"code": …, "message": …}}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Machine-readable: `bad_request`, `not_found`, `room_full`, `chunk_conflict`, …
    pub code: String,
    /// For people; never internal details (those are logged).
    pub message: String,
}
