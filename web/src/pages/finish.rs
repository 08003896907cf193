//! Finish: this participant's uploads to 100 %, then the render, then links to
//! final.mp4 and every track.

use dioxus::prelude::*;
use zencast_events::protocol::{FileView, RenderStatus};
use zencast_events::{Layout, OutputKind, ParticipantId};

use crate::api;
use crate::pages::widgets::{late_names, LateUploads, Progress, Recovered};
use crate::studio_session::session;

#[component]
pub fn Finish(room: String) -> Element {
    let handle = session(&room);
    let view = handle.view.read().clone();
    let uploads = handle.uploads.read().clone();
    let token = view
        .creds
        .as_ref()
        .map(|c| c.token.clone())
        .unwrap_or_default();
    let me = view.creds.as_ref().map(|c| c.participant_id);
    let render = view.room.as_ref().map(|r| r.render.clone());
    let render_status = render.as_ref().and_then(|r| r.status);
    let (percent, stage, error) = render
        .map(|r| (r.percent.unwrap_or(0.0), r.stage, r.error))
        .unwrap_or_default();

    let stored = view
        .room
        .as_ref()
        .and_then(|r| r.participants.iter().find(|p| Some(p.participant_id) == me))
        .map_or(0, |p| p.chunks_stored);
    let total = stored + uploads.pending;
    let uploads_done = uploads.finished && uploads.pending == 0;

    // The files, once the render has completed.
    let room_id = view.creds.as_ref().map(|c| c.room_id);
    let files = {
        let token = token.clone();
        use_resource(use_reactive!(|render_status, room_id| {
            let token = token.clone();
            async move {
                match (render_status, room_id) {
                    (Some(RenderStatus::Completed), Some(room)) => {
                        api::files(room, &token).await.ok()
                    }
                    _ => None,
                }
            }
        }))
    };

    let is_host = view.creds.as_ref().is_some_and(|c| c.is_host());
    let mut layout = use_signal(|| Layout::Grid);
    let mut asked = use_signal(|| None::<String>);
    let render_again = {
        let token = token.clone();
        move |_| {
            let token = token.clone();
            let Some(room) = room_id else { return };
            spawn(async move {
                let answer = match api::request_render(room, &token, *layout.peek()).await {
                    Ok(()) => "Another render is on its way.".to_string(),
                    Err(e) => e.plain(),
                };
                asked.set(Some(answer));
            });
        }
    };

    let names: Vec<(ParticipantId, String)> = view
        .room
        .as_ref()
        .map(|r| {
            r.participants
                .iter()
                .map(|p| (p.participant_id, p.display_name.clone()))
                .collect()
        })
        .unwrap_or_default();

    let render_text = match render_status {
        None => "Waiting for everyone's uploads before the render starts…".to_string(),
        Some(RenderStatus::Pending | RenderStatus::Requested) => {
            "Everything is uploaded: the render starts as soon as a render worker is free."
                .to_string()
        }
        Some(RenderStatus::Running) => match stage {
            Some(stage) => format!("Rendering: {percent:.0} % ({stage})"),
            None => format!("Rendering: {percent:.0} %"),
        },
        Some(RenderStatus::Retrying) => format!(
            "The render failed and is being tried again: {}",
            error.unwrap_or_default()
        ),
        Some(RenderStatus::Completed) => "The render is done.".to_string(),
        Some(RenderStatus::Failed) => {
            format!("The render failed: {}", error.unwrap_or_default())
        }
    };
    let render_percent = match render_status {
        Some(RenderStatus::Completed) => 100,
        Some(RenderStatus::Running) => percent.round() as u32,
        _ => 0,
    };
    let status_name = render_status.map_or("", RenderStatus::as_str);
    let finished = matches!(
        render_status,
        Some(RenderStatus::Completed | RenderStatus::Failed)
    );

    rsx! {
        section { class: "card finish", "data-uploads-done": "{uploads_done}", "data-render-status": "{status_name}",
            h1 { "Finishing up" }
            if let Some(p) = view.problem.clone() {
                p { class: "problem", role: "alert", "{p}" }
            }
            if let Some(p) = uploads.problem.clone() {
                p { class: "notice", role: "status", "{p}" }
            }
            Recovered { count: uploads.recovered, waiting: uploads.pending }
            h2 { "Your upload" }
            Progress { label: "Chunks stored".to_string(), done: stored, total: total }
            p { class: "muted",
                if uploads_done { "All of your recording is on the server. You can close this page." }
                else { "Keep this page open until your upload reaches 100 %." }
            }
            h2 { "Render" }
            Progress { label: "Final video".to_string(), done: render_percent, total: 100 }
            p { id: "render-status", class: "muted", "{render_text}" }
            LateUploads { names: view.room.as_ref().map(late_names).unwrap_or_default() }
            if let Some(Some(list)) = files.read().as_ref() {
                ul { class: "files", id: "files",
                    for f in list.iter() {
                        li {
                            a { href: "{f.url}", download: "{f.name}", "data-kind": "{f.kind.as_str()}", "{file_label(f, &names)}" }
                            span { class: "muted", " {f.size / 1024} KiB" }
                        }
                    }
                }
            }
            if is_host && finished {
                div { class: "render-again",
                    select { value: "{layout().as_str()}",
                        onchange: move |e| {
                            if let Some(l) = Layout::ALL.into_iter().find(|l| l.as_str() == e.value()) {
                                layout.set(l);
                            }
                        },
                        option { value: "grid", "Grid" }
                        option { value: "side-by-side", "Side by side" }
                        option { value: "speaker", "Speaker" }
                        option { value: "audio-only", "Audio only" }
                    }
                    button { class: "secondary", onclick: render_again, "Render again" }
                    if let Some(a) = asked() { span { class: "muted", " {a}" } }
                }
            }
        }
    }
}

/// A file as a person names it: whose track, and what is in it.
fn file_label(file: &FileView, names: &[(ParticipantId, String)]) -> String {
    let who = file
        .participant_id
        .and_then(|id| names.iter().find(|(pid, _)| *pid == id))
        .map_or("Someone", |(_, name)| name.as_str());
    match file.kind {
        OutputKind::Final => format!("The final video ({})", file.name),
        OutputKind::TrackAudio => format!("{who}: audio track (WAV)"),
        OutputKind::TrackVideo => format!("{who}: video track (MP4)"),
    }
}
