//! The studio: a tile per participant with live video, mute and camera
//! toggles, the host's start and stop, the recording indicator, and the upload
//! panel (chunks stored versus recorded, for everyone).

use dioxus::prelude::*;
use zencast_events::protocol::RoomStatus;

use crate::app::Route;
use crate::browser::{attach_stream, copy_to_clipboard, now_ms, sleep};
use crate::pages::widgets::{clock, Progress, Recovered};
use crate::studio_session::{session, Command, Connection, Tile};

#[component]
pub fn Studio(room: String) -> Element {
    let handle = session(&room);
    let view = handle.view.read().clone();
    let uploads = handle.uploads.read().clone();
    let mut now = use_signal(now_ms);
    let mut copied = use_signal(|| false);

    use_future(move || async move {
        loop {
            sleep(500).await;
            now.set(now_ms());
        }
    });

    // Once the host stops, the finish page shows the uploads and the render.
    let stopped = view.stopped;
    use_effect(use_reactive!(|stopped, room| {
        if stopped {
            navigator().replace(Route::Finish { room: room.clone() });
        }
    }));

    let is_host = view.creds.as_ref().is_some_and(|c| c.is_host());
    let invite = view.creds.as_ref().and_then(|c| c.invite_url.clone());
    let title = view
        .room
        .as_ref()
        .map(|r| r.title.clone())
        .unwrap_or_default();
    let room_recording = view
        .room
        .as_ref()
        .is_some_and(|r| r.status == RoomStatus::Recording);
    let rendered_until = view
        .room
        .as_ref()
        .map(|r| r.render.rendered_until_ms)
        .filter(|ms| *ms > 0);
    let elapsed = view
        .recording_started_ms
        .map(|s| clock(now() + view.clock_offset_ms - s));
    let connection_note = match view.connection {
        Connection::Connecting => Some("Connecting to the studio…"),
        Connection::Reconnecting => {
            Some("Connection lost. Reconnecting… Your recording continues on this device.")
        }
        _ => None,
    };

    rsx! {
        section { class: "studio", "data-recording": "{view.recording}",
            div { class: "studio-bar",
                h1 { "{title}" }
                if room_recording {
                    span { id: "recording-indicator", class: "rec", "● REC {elapsed.clone().unwrap_or_default()}" }
                }
                div { class: "controls",
                    button { id: "toggle-mic", class: "secondary", onclick: move |_| handle.send(Command::ToggleMicrophone),
                        if view.mic_on { "Mute" } else { "Unmute" }
                    }
                    button { id: "toggle-camera", class: "secondary", onclick: move |_| handle.send(Command::ToggleCamera),
                        if view.camera_on { "Camera off" } else { "Camera on" }
                    }
                    if is_host {
                        if room_recording {
                            button { id: "stop-recording", class: "danger", onclick: move |_| handle.send(Command::StopRecording), "Stop recording" }
                        } else {
                            button { id: "start-recording", onclick: move |_| handle.send(Command::StartRecording), "Start recording" }
                        }
                    }
                }
            }
            if let Some(note) = connection_note {
                p { class: "notice", role: "status", "{note}" }
            }
            if let Some(p) = view.problem.clone() {
                p { class: "problem", role: "alert", "{p}" }
            }
            if let Some(p) = uploads.problem.clone() {
                p { class: "notice", role: "status", "{p}" }
            }
            Recovered { count: uploads.recovered, waiting: uploads.pending }
            if let Some(link) = invite {
                div { class: "invite",
                    span { "Invite link for guests" }
                    input { id: "invite-link", readonly: true, value: "{link}" }
                    button { class: "secondary", onclick: move |_| { copy_to_clipboard(&link); copied.set(true); },
                        if copied() { "Copied" } else { "Copy" }
                    }
                }
            }
            div { class: "tiles",
                for tile in view.tiles.iter() {
                    ParticipantTile { key: "{tile.participant_id}", tile: tile.clone() }
                }
            }
            section { class: "uploads", id: "upload-panel",
                h2 { "Uploads" }
                p { class: "muted", "Chunks stored on the server / recorded" }
                for tile in view.tiles.iter() {
                    div { class: "upload-row", "data-participant": "{tile.participant_id}",
                        "data-stored": "{tile.chunks_stored}", "data-recorded": "{tile.chunks_recorded}",
                        "data-pending": if tile.is_me { "{uploads.pending}" } else { "" },
                        Progress { label: if tile.is_me { format!("{} (you)", tile.name) } else { tile.name.clone() },
                            done: tile.chunks_stored, total: tile.chunks_recorded }
                        for bad in tile.rejected.iter() {
                            p { class: "problem", role: "alert", "data-rejected": "{bad.index}",
                                "Chunk {bad.index + 1} of {tile.name} could not be read ({bad.reason}); it is missing from the recording until it is sent again."
                            }
                        }
                    }
                }
                if let Some(ms) = rendered_until {
                    p { id: "rendered-until", class: "muted",
                        "The final video is ready up to {clock(ms as f64)}: only the rest remains after you stop."
                    }
                }
            }
        }
    }
}

#[component]
fn ParticipantTile(tile: Tile) -> Element {
    let video_id = format!("video-{}", tile.participant_id);
    if let Some(stream) = tile.stream.clone() {
        attach_stream(video_id.clone(), stream);
    }
    let state_text = match tile.peer_state.as_str() {
        "local" => "you",
        "connected" => "live",
        "new" | "connecting" => "connecting…",
        "disconnected" => "reconnecting…",
        "failed" => "no video connection",
        _ => "",
    };
    rsx! {
        div { class: "tile", "data-peer-state": "{tile.peer_state}", "data-me": "{tile.is_me}",
            video { id: "{video_id}", autoplay: true, playsinline: true, muted: tile.is_me }
            div { class: "tile-label",
                span { "{tile.name}" }
                span { class: "tile-state", "{state_text}" }
            }
        }
    }
}
