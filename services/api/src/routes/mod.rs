//! The HTTP routes, one module per resource.

pub mod chunks;
pub mod hosts;
pub mod openapi;
pub mod ops;
pub mod people;
pub mod recordings;
pub mod renders;
pub mod socket;
pub mod uploads;
pub mod web;
