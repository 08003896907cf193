//! One module per screen. Pages draw state and send commands; the work happens
//! in the session and browser modules.

mod devices;
pub mod finish;
pub mod home;
pub mod join;
pub mod studio;
mod widgets;
