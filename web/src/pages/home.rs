//! Home: the host names the session, picks a camera and a microphone (with
//! a live preview and a level meter, as guests do), and goes to the studio.

use dioxus::prelude::*;
use zencast_events::{Layout, Role};

use crate::api;
use crate::app::Route;
use crate::credentials::Credentials;
use crate::pages::devices::{use_device_choice, DevicePickers, DevicePreview};

const LAYOUTS: [(Layout, &str); 4] = [
    (Layout::Grid, "Grid"),
    (Layout::SideBySide, "Side by side"),
    (Layout::Speaker, "Speaker"),
    (Layout::AudioOnly, "Audio only"),
];

#[component]
pub fn Home() -> Element {
    let mut title = use_signal(String::new);
    let mut host_name = use_signal(|| "Host".to_string());
    let mut layout = use_signal(|| Layout::Grid);
    let mut chunk_seconds = use_signal(|| "10".to_string());
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let choice = use_device_choice(problem);

    let create = move |e: FormEvent| {
        e.prevent_default();
        if title.read().trim().is_empty() {
            problem.set(Some("Give the session a title.".into()));
            return;
        }
        let seconds = chunk_seconds
            .read()
            .trim()
            .parse::<u32>()
            .unwrap_or(10)
            .clamp(1, 60);
        busy.set(true);
        spawn(async move {
            let name = host_name.read().trim().to_string();
            match api::create_room(title.read().trim(), *layout.read(), seconds, &name).await {
                Ok(created) => {
                    Credentials {
                        room_id: created.room_id,
                        participant_id: created.host_participant_id,
                        token: created.host_token,
                        role: Role::Host,
                        display_name: name,
                        invite_url: Some(created.invite_url),
                        camera_id: choice.camera.peek().clone(),
                        microphone_id: choice.microphone.peek().clone(),
                    }
                    .save();
                    // The studio opens the devices again for itself.
                    choice.release();
                    navigator().push(Route::Studio {
                        room: created.room_id.to_string(),
                    });
                }
                Err(e) => {
                    problem.set(Some(e.plain()));
                    busy.set(false);
                }
            }
        });
    };

    rsx! {
        section { class: "card join",
            DevicePreview { choice }
            form { id: "create", class: "join-form", onsubmit: create,
                h1 { "New session" }
                p { class: "muted", "Everyone records in full quality on their own device; the recording uploads while you talk, and Zencast puts it together when you finish." }
                label { "Title"
                    input { id: "title", value: "{title}", placeholder: "Episode 12: on slow software", oninput: move |e| title.set(e.value()) }
                }
                label { "Your name"
                    input { id: "host-name", value: "{host_name}", oninput: move |e| host_name.set(e.value()) }
                }
                label { "Layout of the final video"
                    select { id: "layout", value: "{layout().as_str()}",
                        onchange: move |e| {
                            if let Some((l, _)) = LAYOUTS.into_iter().find(|(l, _)| l.as_str() == e.value()) {
                                layout.set(l);
                            }
                        },
                        for (value, text) in LAYOUTS {
                            option { value: value.as_str(), selected: *layout.read() == value, "{text}" }
                        }
                    }
                }
                label { "Chunk length (seconds)"
                    input { id: "chunk-seconds", r#type: "number", min: "1", max: "60", value: "{chunk_seconds}", oninput: move |e| chunk_seconds.set(e.value()) }
                }
                DevicePickers { choice }
                if let Some(p) = problem() {
                    p { class: "problem", role: "alert", "{p}" }
                }
                button { id: "create-session", r#type: "submit", disabled: busy() || !choice.ready(), "Create session" }
            }
        }
    }
}
