//! One module per screen. Pages draw state and send commands; the work happens
//! in the session and browser modules.

pub mod dashboard;
mod devices;
pub mod finish;
pub mod home;
pub mod join;
mod recording;
pub mod setup;
pub mod sign_in;
pub mod studio;
mod widgets;
