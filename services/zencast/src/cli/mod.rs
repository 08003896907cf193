//! The operator subcommands that are not services.

pub mod audit;
pub mod bench;
pub mod hosts;
pub mod render;
pub mod replay;
pub mod republish;
pub mod tail;
