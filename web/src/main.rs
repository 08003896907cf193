//! Zencast's web client: a Dioxus app compiled to wasm32 and served by the api at `/`.
//!
//! A person's path through it: [`pages::home`] (create a session) → [`pages::join`]
//! (a guest picks a name, camera and microphone) → [`pages::studio`] (live video,
//! recording, the upload panel) → [`pages::finish`] (uploads to 100 %, the render,
//! the files).
//!
//! # Layout
//! - [`app`]: the routes and the root component.
//! - [`pages`]: one module per screen; they only draw and send commands.
//! - [`studio_session`]: one room's live session (socket, peers, recorder), an actor
//!   that outlives page changes so uploads go on while the finish page shows.
//! - The browser plumbing, one concern each: [`api`] (HTTP), [`socket`] (the room
//!   WebSocket with clock sync), [`peers`] (WebRTC), [`media`] (devices, level meter),
//!   [`recorder`] (MediaRecorder), [`chunk_store`] (IndexedDB), [`uploader`] (the
//!   retrying upload queue), [`credentials`] (who we are in a room, in localStorage),
//!   [`browser`] (small helpers).
//!
//! Natively this crate builds only a stub, so `cargo build --workspace` stays cheap;
//! `scripts/build-web.sh` builds the real thing for `wasm32-unknown-unknown`.

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod chunk_store;
#[cfg(target_arch = "wasm32")]
mod credentials;
#[cfg(target_arch = "wasm32")]
mod media;
#[cfg(target_arch = "wasm32")]
mod pages;
#[cfg(target_arch = "wasm32")]
mod peers;
#[cfg(target_arch = "wasm32")]
mod recorder;
#[cfg(target_arch = "wasm32")]
mod socket;
#[cfg(target_arch = "wasm32")]
mod studio_session;
#[cfg(target_arch = "wasm32")]
mod uploader;

#[cfg(target_arch = "wasm32")]
fn main() {
    dioxus::launch(app::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("zencast-web runs in a browser: build it with scripts/build-web.sh");
    std::process::exit(2);
}
