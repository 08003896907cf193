//! Home: create a session, then go to the studio as its host.

use dioxus::prelude::*;

use crate::api;
use crate::app::Route;
use crate::credentials::Credentials;

const LAYOUTS: [(&str, &str); 4] = [
    ("grid", "Grid"),
    ("side-by-side", "Side by side"),
    ("speaker", "Speaker"),
    ("audio-only", "Audio only"),
];

#[component]
pub fn Home() -> Element {
    let mut title = use_signal(String::new);
    let mut host_name = use_signal(|| "Host".to_string());
    let mut layout = use_signal(|| "grid".to_string());
    let mut chunk_seconds = use_signal(|| "10".to_string());
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

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
            match api::create_room(title.read().trim(), &layout.read(), seconds, &name).await {
                Ok(created) => {
                    Credentials {
                        room_id: created.room_id.clone(),
                        participant_id: created.host_participant_id,
                        token: created.host_token,
                        role: "host".into(),
                        display_name: name,
                        invite_url: Some(created.invite_url),
                        camera_id: None,
                        microphone_id: None,
                    }
                    .save();
                    navigator().push(Route::Studio {
                        room: created.room_id,
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
        section { class: "card narrow",
            h1 { "New session" }
            p { class: "muted", "Everyone records in full quality on their own device; the recording uploads while you talk, and Zencast puts it together when you finish." }
            form { id: "create", onsubmit: create,
                label { "Title"
                    input { id: "title", value: "{title}", placeholder: "Episode 12: on slow software", oninput: move |e| title.set(e.value()) }
                }
                label { "Your name"
                    input { id: "host-name", value: "{host_name}", oninput: move |e| host_name.set(e.value()) }
                }
                label { "Layout of the final video"
                    select { id: "layout", value: "{layout}", onchange: move |e| layout.set(e.value()),
                        for (value, text) in LAYOUTS {
                            option { value: value, selected: *layout.read() == value, "{text}" }
                        }
                    }
                }
                label { "Chunk length (seconds)"
                    input { id: "chunk-seconds", r#type: "number", min: "1", max: "60", value: "{chunk_seconds}", oninput: move |e| chunk_seconds.set(e.value()) }
                }
                if let Some(p) = problem() {
                    p { class: "problem", role: "alert", "{p}" }
                }
                button { id: "create-session", r#type: "submit", disabled: busy(), "Create session" }
            }
        }
    }
}
