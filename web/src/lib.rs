//! Zencast's web client: a Dioxus app compiled to wasm32 and served by the api at `/`.
//!
//! A person's path through it: [`pages::home`] (create a session) → [`pages::join`]
//! (a guest picks a name, camera and microphone) → [`pages::studio`] (live video,
//! recording, the upload panel) → [`pages::finish`] (uploads to 100 %, the render,
//! the files). A host signs in first where the api asks for accounts: [`pages::setup`]
//! (the first account, from the console's first-run link), [`pages::sign_in`], and
//! [`pages::dashboard`] (the host's recordings, their files, render again, delete).
//!
//! # Layout
//! - [`app`]: the routes and the root component.
//! - [`account`]: who is signed in, shared by every page.
//! - [`pages`]: one module per screen; they only draw and send commands.
//! - [`studio_session`]: one room's live session (socket, peers, recorder), an actor
//!   that outlives page changes so uploads go on while the finish page shows.
//! - The browser plumbing, one concern each: [`api`] (HTTP), [`socket`] (the room
//!   WebSocket with clock sync), [`peers`] (WebRTC), [`media`] (devices, level meter),
//!   [`recorder`] (MediaRecorder), [`chunk_store`] (IndexedDB), [`uploader`] (the
//!   retrying upload queue), [`credentials`] (who we are in a room, in localStorage),
//!   [`browser`] (small helpers).
//!
//! Natively this library is empty and the binary a stub, so `cargo build --workspace`
//! stays cheap; `scripts/build-web.sh` builds the real thing for `wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

mod account;
mod api;
mod app;
mod browser;
mod chunk_store;
mod credentials;
mod media;
mod pages;
mod peers;
mod recorder;
mod socket;
mod studio_session;
mod uploader;

/// Mounts the app on the page.
pub fn launch() {
    dioxus::launch(app::App);
}
