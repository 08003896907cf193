//! The HTTP routes, one module per resource.

pub mod ops;
pub mod recordings;
pub mod socket;
