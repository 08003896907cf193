//! One recording on the dashboard: what it is, where it is, its files, and
//! the host's two actions on it (render again, delete with a confirmation).

use dioxus::prelude::*;
use wasm_bindgen::JsValue;
use zencast_events::protocol::{RenderStatus, RoomStatus, RoomView};
use zencast_events::{Layout, RoomId};

use crate::api::{self, HostStep};
use crate::pages::widgets::{clock, late_names, LateUploads, LAYOUTS};

#[component]
pub fn RecordingRow(
    view: RoomView,
    on_deleted: EventHandler<RoomId>,
    on_changed: EventHandler<()>,
) -> Element {
    let room = view.room_id;
    let mut confirming = use_signal(|| false);
    let mut problem = use_signal(|| None::<String>);
    let mut asked = use_signal(|| None::<String>);
    let mut layout = use_signal(|| None::<Layout>);
    let mut busy = use_signal(|| false);

    let render_status = view.render.status;
    let can_render = view.status == RoomStatus::Completed
        && matches!(
            render_status,
            None | Some(RenderStatus::Completed | RenderStatus::Failed)
        );
    let names = view
        .participants
        .iter()
        .map(|p| {
            if p.removed {
                format!("{} (removed)", p.display_name)
            } else {
                p.display_name.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");

    let render_again = move |_| {
        busy.set(true);
        spawn(async move {
            let answer = match api::rerender(room, *layout.peek()).await {
                Ok(()) => {
                    on_changed.call(());
                    "Another render is on its way.".to_string()
                }
                Err(e) => e.for_host(HostStep::SignedIn),
            };
            asked.set(Some(answer));
            busy.set(false);
        });
    };
    let delete = move |_| {
        busy.set(true);
        spawn(async move {
            match api::delete_recording(room).await {
                Ok(()) => on_deleted.call(room),
                Err(e) => {
                    problem.set(Some(e.for_host(HostStep::SignedIn)));
                    confirming.set(false);
                    busy.set(false);
                }
            }
        });
    };

    rsx! {
        li { class: "recording", "data-room-id": "{room}", "data-status": "{view.status.as_str()}",
            "data-render-status": "{render_status.map_or(\"\", RenderStatus::as_str)}",
            div { class: "recording-head",
                h2 { class: "recording-title", "{view.title}" }
                span { class: "status", "data-status": "{view.status.as_str()}", "{view.status.as_str()}" }
            }
            dl { class: "facts",
                dt { "Created" } dd { class: "created", "{when(view.created_at.as_deref())}" }
                dt { "Length" } dd { class: "length", "{length(&view)}" }
                dt { "People" } dd { class: "people", "{names}" }
                dt { "Uploads" } dd { class: "uploaded", "{view.chunks_total} chunks, {size(view.bytes_total)}" }
                dt { "Render" } dd { class: "render", "{render_text(&view)}" }
            }
            LateUploads { names: late_names(&view) }
            if !view.render.files.is_empty() {
                ul { class: "files",
                    for f in view.render.files.iter() {
                        li {
                            a { class: "download", href: "{f.url}", download: "{f.name}", "{f.name}" }
                            span { class: "muted", " {size(f.size)}" }
                        }
                    }
                }
            }
            div { class: "recording-actions",
                select { class: "rerender-layout", disabled: !can_render,
                    onchange: move |e| layout.set(Layout::ALL.into_iter().find(|l| l.as_str() == e.value())),
                    option { value: "", "Same layout" }
                    for (value, text) in LAYOUTS {
                        option { value: value.as_str(), "{text}" }
                    }
                }
                button { class: "secondary rerender", disabled: !can_render || busy(), onclick: render_again, "Render again" }
                if confirming() {
                    button { class: "danger delete delete-confirm", disabled: busy(), onclick: delete, "Delete for good" }
                    button { class: "secondary keep", onclick: move |_| confirming.set(false), "Keep" }
                } else {
                    button { class: "secondary delete", disabled: busy(), onclick: move |_| confirming.set(true), "Delete" }
                }
            }
            if confirming() {
                p { class: "muted", "Deleting removes the recording and all of its files from the server." }
            }
            if let Some(a) = asked() {
                p { class: "muted rerender-asked", role: "status", "{a}" }
            }
            if let Some(p) = problem() {
                p { class: "problem", role: "alert", "{p}" }
            }
        }
    }
}

/// An RFC 3339 time in the reader's own time zone and language.
fn when(at: Option<&str>) -> String {
    let Some(at) = at else {
        return "—".into();
    };
    let date = js_sys::Date::new(&JsValue::from_str(at));
    if !date.get_time().is_finite() {
        return at.into();
    }
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    date.to_locale_string("default", &options).into()
}

/// From the start of the recording to its stop.
fn length(view: &RoomView) -> String {
    let at = |t: Option<&str>| t.map(js_sys::Date::parse).filter(|t| t.is_finite());
    match (
        at(view.recording_started_at.as_deref()),
        at(view.recording_stopped_at.as_deref()),
    ) {
        (Some(start), Some(stop)) => {
            let ms = stop - start;
            if ms >= 3_600_000.0 {
                format!("{}:{}", (ms / 3_600_000.0) as u64, clock(ms % 3_600_000.0))
            } else {
                clock(ms)
            }
        }
        (Some(_), None) => "recording now".into(),
        _ => "not recorded".into(),
    }
}

fn size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{} KB", (b / 1e3).ceil() as u64)
    }
}

fn render_text(view: &RoomView) -> String {
    let r = &view.render;
    let error = r.error.clone().unwrap_or_default();
    match r.status {
        None if view.status == RoomStatus::Open => "after the recording".into(),
        None => "starts once everyone's uploads are in".into(),
        Some(RenderStatus::Pending | RenderStatus::Requested) => {
            "waiting for a render worker".into()
        }
        Some(RenderStatus::Running) => {
            format!("rendering: {:.0} %", r.percent.unwrap_or(0.0))
        }
        Some(RenderStatus::Retrying) => format!("failed, trying again: {error}"),
        Some(RenderStatus::Completed) => "done".into(),
        Some(RenderStatus::Failed) => format!("failed: {error}"),
    }
}
