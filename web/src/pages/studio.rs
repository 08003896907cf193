//! The studio: a tile per participant with live video, mute and camera
//! toggles, the host's start and stop, the recording indicator, and the upload
//! panel (chunks stored versus recorded, for everyone).

use dioxus::prelude::*;
use zencast_events::protocol::RoomStatus;

use crate::app::Route;
use crate::browser::{attach_stream, copy_to_clipboard, now_ms, sleep};
use crate::media;
use crate::pages::widgets::{clock, Progress, Recovered};
use crate::studio_session::{session, Command, Connection, SessionHandle, Tile};

#[component]
pub fn Studio(room: String) -> Element {
    let handle = session(&room);
    let view = handle.view.read().clone();
    let uploads = handle.uploads.read().clone();
    let mut now = use_signal(now_ms);

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

    if view.removed {
        return rsx! {
            section { class: "card", id: "removed",
                h1 { "You have left the session" }
                p { class: "problem", role: "alert", "{view.problem.clone().unwrap_or_default()}" }
            }
        };
    }
    let is_host = view.creds.as_ref().is_some_and(|c| c.is_host());
    let invite_revoked = view.room.as_ref().is_some_and(|r| r.invite.revoked);
    let camera_id = view.creds.as_ref().and_then(|c| c.camera_id.clone());
    let microphone_id = view.creds.as_ref().and_then(|c| c.microphone_id.clone());
    let invite_limit = view.room.as_ref().and_then(|r| r.invite.max_joins);
    let invite = view
        .creds
        .as_ref()
        .and_then(|c| c.invite_url.clone())
        .filter(|_| !invite_revoked);
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
            // Server time minus this browser's, as the clock sync has it (tests read it).
            "data-clock-offset": "{view.clock_offset_ms:.1}",
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
            if is_host {
                InvitePanel { link: invite, limit: invite_limit, handle }
            }
            DeviceSwitcher { handle, camera: camera_id, microphone: microphone_id }
            div { class: "tiles",
                for tile in view.tiles.iter() {
                    ParticipantTile { key: "{tile.participant_id}", tile: tile.clone(), can_remove: is_host && !tile.is_me, handle }
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

/// The host's invite link: copy it, replace it (for at most so many guests),
/// or revoke it.
#[component]
fn InvitePanel(link: Option<String>, limit: Option<u32>, handle: SessionHandle) -> Element {
    let mut copied = use_signal(|| false);
    let mut max_joins = use_signal(|| None::<u32>);
    let limit_text = limit.map(|n| format!(" (for {n} guest{})", if n == 1 { "" } else { "s" }));
    rsx! {
        div { class: "invite", id: "invite-panel",
            if let Some(link) = link {
                span { "Invite link for guests{limit_text.clone().unwrap_or_default()}" }
                input { id: "invite-link", readonly: true, value: "{link}" }
                button { class: "secondary", onclick: move |_| { copy_to_clipboard(&link); copied.set(true); },
                    if copied() { "Copied" } else { "Copy" }
                }
                button { id: "revoke-invite", class: "secondary", onclick: move |_| handle.send(Command::RevokeInvite), "Revoke" }
            } else {
                span { id: "invite-revoked", "The invite link is revoked: nobody new can join." }
            }
            select { id: "invite-limit", "aria-label": "Guests the new link admits",
                onchange: move |e| max_joins.set(e.value().parse().ok()),
                option { value: "", "Any number of guests" }
                for n in [1u32, 2, 3, 5] {
                    option { value: "{n}", if n == 1 { "1 guest" } else { "{n} guests" } }
                }
            }
            button { id: "renew-invite", class: "secondary",
                onclick: move |_| { copied.set(false); handle.send(Command::RenewInvite(max_joins())) },
                "New link"
            }
        }
    }
}

/// The camera and microphone, changed during the session too: the peers get
/// the new ones at once, and the recording goes on in a new segment.
#[component]
fn DeviceSwitcher(
    handle: SessionHandle,
    camera: Option<String>,
    microphone: Option<String>,
) -> Element {
    let devices = use_resource(media::list);
    let found = devices.read().clone().unwrap_or_default();
    let (cam, mic) = (camera.clone(), microphone.clone());
    rsx! {
        div { class: "devices", id: "device-switcher",
            label { "Camera"
                select { id: "switch-camera",
                    onchange: move |e| handle.send(Command::SwitchDevices { camera: Some(e.value()), microphone: mic.clone() }),
                    for d in found.cameras.iter() {
                        option { value: "{d.id}", selected: camera.as_deref() == Some(d.id.as_str()), "{d.label}" }
                    }
                }
            }
            label { "Microphone"
                select { id: "switch-microphone",
                    onchange: move |e| handle.send(Command::SwitchDevices { camera: cam.clone(), microphone: Some(e.value()) }),
                    for d in found.microphones.iter() {
                        option { value: "{d.id}", selected: microphone.as_deref() == Some(d.id.as_str()), "{d.label}" }
                    }
                }
            }
        }
    }
}

#[component]
fn ParticipantTile(tile: Tile, can_remove: bool, handle: SessionHandle) -> Element {
    let mut confirming = use_signal(|| false);
    let who = tile.participant_id;
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
                if can_remove {
                    if confirming() {
                        button { class: "danger remove-confirm", "data-participant": "{who}",
                            onclick: move |_| handle.send(Command::Remove(who)), "Remove {tile.name} for good" }
                        button { class: "secondary", onclick: move |_| confirming.set(false), "Keep" }
                    } else {
                        button { class: "secondary remove", "data-participant": "{who}",
                            onclick: move |_| confirming.set(true), "Remove" }
                    }
                }
            }
        }
    }
}
