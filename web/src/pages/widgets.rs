//! Small pieces shared by pages.

use dioxus::prelude::*;
use zencast_events::Layout;

/// The layouts of the final video, as a person names them.
pub const LAYOUTS: [(Layout, &str); 4] = [
    (Layout::Grid, "Grid"),
    (Layout::SideBySide, "Side by side"),
    (Layout::Speaker, "Speaker"),
    (Layout::AudioOnly, "Audio only"),
];

/// An input level from 0 to 1 as a bar.
#[component]
pub fn LevelBar(level: f64) -> Element {
    let percent = (level * 100.0).round();
    rsx! {
        div { class: "level", title: "Input level", "data-level": "{percent}",
            div { class: "level-fill", style: "width: {percent}%" }
        }
    }
}

/// `done` of `total` as a bar with its numbers.
#[component]
pub fn Progress(label: String, done: u32, total: u32) -> Element {
    let percent = if total == 0 {
        100
    } else {
        (done.min(total) * 100) / total
    };
    rsx! {
        div { class: "progress-row",
            span { class: "progress-label", "{label}" }
            div { class: "progress", div { class: "progress-fill", style: "width: {percent}%" } }
            span { class: "progress-numbers", "{done} / {total}" }
        }
    }
}

/// Says plainly that recording an earlier page left behind (a reload, a
/// crash, a closed tab) was found on this device, and whether it is sent.
#[component]
pub fn Recovered(count: u32, waiting: u32) -> Element {
    if count == 0 {
        return rsx! {};
    }
    let state = if waiting > 0 {
        "uploading it now"
    } else {
        "it is uploaded"
    };
    rsx! {
        p { class: "notice", role: "status", "data-recovered": "{count}",
            "Recording kept on this device from before the page was reloaded or closed ({count} chunk(s)): {state}."
        }
    }
}

/// Minutes and seconds, `mm:ss`.
pub fn clock(ms: f64) -> String {
    let s = (ms / 1000.0).max(0.0) as u64;
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// Who finished uploading after the session had ended, if anyone: the files
/// were (or are being) rendered again with it.
#[component]
pub fn LateUploads(names: Vec<String>) -> Element {
    if names.is_empty() {
        return rsx! {};
    }
    let who = names.join(", ");
    rsx! {
        p { class: "notice late-uploads", role: "status",
            "Updated: {who} finished uploading after the session ended, so the files are rendered again to include it."
        }
    }
}

/// The names of the participants whose uploads arrived late.
pub fn late_names(room: &zencast_events::protocol::RoomView) -> Vec<String> {
    room.participants
        .iter()
        .filter(|p| p.arrived_late)
        .map(|p| p.display_name.clone())
        .collect()
}
