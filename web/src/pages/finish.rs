//! Finish: this participant's uploads to 100 %, then the render, then links to
//! final.mp4 and every track.

use dioxus::prelude::*;

use crate::api;
use crate::pages::widgets::Progress;
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
    let me = view
        .creds
        .as_ref()
        .map(|c| c.participant_id.clone())
        .unwrap_or_default();
    let render = view
        .room
        .as_ref()
        .map(|r| r.render.clone())
        .unwrap_or_default();
    let render_status = render.status.clone().unwrap_or_default();

    let stored = view
        .room
        .as_ref()
        .and_then(|r| r.participants.iter().find(|p| p.participant_id == me))
        .map_or(0, |p| p.chunks_stored);
    let total = stored + uploads.pending;
    let uploads_done = uploads.finished && uploads.pending == 0;

    // The files, once the render has completed.
    let files = {
        let (room, token) = (room.clone(), token.clone());
        use_resource(use_reactive!(|render_status| {
            let (room, token) = (room.clone(), token.clone());
            async move {
                if render_status == "completed" {
                    api::files(&room, &token).await.ok()
                } else {
                    None
                }
            }
        }))
    };

    let is_host = view.creds.as_ref().is_some_and(|c| c.is_host());
    let mut layout = use_signal(|| "grid".to_string());
    let mut asked = use_signal(|| None::<String>);
    let render_again = {
        let (room, token) = (room.clone(), token.clone());
        move |_| {
            let (room, token) = (room.clone(), token.clone());
            spawn(async move {
                let answer = match api::request_render(&room, &token, &layout.peek()).await {
                    Ok(()) => "Another render is on its way.".to_string(),
                    Err(e) => e.plain(),
                };
                asked.set(Some(answer));
            });
        }
    };

    let names: Vec<(String, String)> = view
        .room
        .as_ref()
        .map(|r| {
            r.participants
                .iter()
                .map(|p| (p.participant_id.clone(), p.display_name.clone()))
                .collect()
        })
        .unwrap_or_default();

    let render_text = match render_status.as_str() {
        "" => "Waiting for everyone's uploads before the render starts…".to_string(),
        "pending" | "requested" => {
            "Everything is uploaded: the render starts as soon as a render worker is free."
                .to_string()
        }
        "running" => match render.stage.as_deref() {
            Some(stage) => format!(
                "Rendering: {:.0} % ({stage})",
                render.percent.unwrap_or(0.0)
            ),
            None => format!("Rendering: {:.0} %", render.percent.unwrap_or(0.0)),
        },
        "completed" => "The render is done.".to_string(),
        "failed" => format!(
            "The render failed: {}",
            render.error.clone().unwrap_or_default()
        ),
        other => other.to_string(),
    };
    let render_percent = match render_status.as_str() {
        "completed" => 100,
        "running" => render.percent.unwrap_or(0.0).round() as u32,
        _ => 0,
    };

    rsx! {
        section { class: "card finish", "data-uploads-done": "{uploads_done}", "data-render-status": "{render_status}",
            h1 { "Finishing up" }
            if let Some(p) = view.problem.clone() {
                p { class: "problem", role: "alert", "{p}" }
            }
            if let Some(p) = uploads.problem.clone() {
                p { class: "notice", role: "status", "{p}" }
            }
            h2 { "Your upload" }
            Progress { label: "Chunks stored".to_string(), done: stored, total: total }
            p { class: "muted",
                if uploads_done { "All of your recording is on the server. You can close this page." }
                else { "Keep this page open until your upload reaches 100 %." }
            }
            h2 { "Render" }
            Progress { label: "Final video".to_string(), done: render_percent, total: 100 }
            p { id: "render-status", class: "muted", "{render_text}" }
            if let Some(Some(list)) = files.read().as_ref() {
                ul { class: "files", id: "files",
                    for f in list.iter() {
                        li {
                            a { href: "{f.url}?token={token}", download: "{f.name}", "data-kind": "{f.kind}", "{file_label(f, &names)}" }
                            span { class: "muted", " {f.size / 1024} KiB" }
                        }
                    }
                }
            }
            if is_host && (render_status == "completed" || render_status == "failed") {
                div { class: "render-again",
                    select { value: "{layout}", onchange: move |e| layout.set(e.value()),
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
fn file_label(file: &api::RoomFile, names: &[(String, String)]) -> String {
    let who = file
        .participant_id
        .as_ref()
        .and_then(|id| names.iter().find(|(pid, _)| pid == id))
        .map_or("Someone", |(_, name)| name.as_str());
    match file.kind.as_str() {
        "final" => format!("The final video ({})", file.name),
        "track-audio" => format!("{who}: audio track (WAV)"),
        "track-video" => format!("{who}: video track (MP4)"),
        _ => file.name.clone(),
    }
}
