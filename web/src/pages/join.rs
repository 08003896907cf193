//! Join: a guest picks a name, a camera and a microphone (with a live preview
//! and an input level meter), then enters the studio.

use dioxus::prelude::*;
use zencast_events::RoomId;

use crate::api;
use crate::app::Route;
use crate::credentials::Credentials;
use crate::pages::devices::{use_device_choice, DevicePickers, DevicePreview};

#[component]
pub fn Join(room: String, invite: String) -> Element {
    let mut name = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let choice = use_device_choice(problem);

    // Someone who already joined from this browser goes straight back in.
    let known = Credentials::load(&room);
    let room_for_known = room.clone();
    use_effect(move || {
        if known.is_some() {
            navigator().replace(Route::Studio {
                room: room_for_known.clone(),
            });
        }
    });

    let join = {
        let room = room.clone();
        move |e: FormEvent| {
            e.prevent_default();
            let display_name = name.read().trim().to_string();
            if display_name.is_empty() {
                problem.set(Some("Tell the others your name.".into()));
                return;
            }
            let Ok(room_id) = RoomId::parse(&room) else {
                problem.set(Some(
                    "This link is not valid. Ask the host for a new invite link.".into(),
                ));
                return;
            };
            busy.set(true);
            let (room, invite) = (room.clone(), invite.clone());
            spawn(async move {
                match api::join_with_invite(room_id, &display_name, &invite).await {
                    Ok(joined) => {
                        Credentials {
                            room_id,
                            participant_id: joined.participant_id,
                            token: joined.participant_token,
                            role: joined.role,
                            display_name,
                            invite_url: None,
                            camera_id: choice.camera.peek().clone(),
                            microphone_id: choice.microphone.peek().clone(),
                        }
                        .save();
                        // The studio opens the devices again for itself.
                        choice.release();
                        navigator().push(Route::Studio { room });
                    }
                    Err(e) => {
                        problem.set(Some(e.plain()));
                        busy.set(false);
                    }
                }
            });
        }
    };

    rsx! {
        section { class: "card join",
            DevicePreview { choice }
            form { id: "join", class: "join-form", onsubmit: join,
                h1 { "Join the session" }
                label { "Your name"
                    input { id: "display-name", value: "{name}", placeholder: "How the others see you", oninput: move |e| name.set(e.value()) }
                }
                DevicePickers { choice }
                if let Some(p) = problem() {
                    p { class: "problem", role: "alert", "{p}" }
                }
                button { id: "join-session", r#type: "submit", disabled: busy() || !choice.ready(), "Join" }
            }
        }
    }
}
