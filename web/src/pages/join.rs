//! Join: a guest picks a name, a camera and a microphone (with a live preview
//! and an input level meter), then enters the studio.

use std::rc::Rc;

use dioxus::prelude::*;
use web_sys::MediaStream;
use zencast_events::RoomId;

use crate::api;
use crate::app::Route;
use crate::browser::{attach_stream, sleep};
use crate::credentials::Credentials;
use crate::media::{self, Devices, LevelMeter};
use crate::pages::widgets::LevelBar;

#[component]
pub fn Join(room: String, invite: String) -> Element {
    let mut name = use_signal(String::new);
    let mut devices = use_signal(Devices::default);
    let mut camera = use_signal(|| None::<String>);
    let mut microphone = use_signal(|| None::<String>);
    let mut preview = use_signal(|| None::<MediaStream>);
    let mut meter = use_signal(|| None::<Rc<LevelMeter>>);
    let mut level = use_signal(|| 0.0f64);
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

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

    // (Re)open the preview whenever the chosen devices change.
    use_effect(move || {
        let (cam, mic) = (camera(), microphone());
        spawn(async move {
            if let Some(old) = preview.peek().as_ref() {
                media::stop(old);
            }
            match media::open(cam.as_deref(), mic.as_deref()).await {
                Ok(stream) => {
                    attach_stream("preview".into(), stream.clone());
                    meter.set(LevelMeter::new(&stream).ok().map(Rc::new));
                    preview.set(Some(stream));
                    problem.set(None);
                    devices.set(media::list().await);
                }
                Err(e) => problem.set(Some(media::plain_media_error(&e))),
            }
        });
    });

    // The level meter, ten times a second.
    use_future(move || async move {
        loop {
            sleep(100).await;
            let now = meter.peek().as_ref().map_or(0.0, |m| m.level());
            level.set(now);
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
                            camera_id: camera.peek().clone(),
                            microphone_id: microphone.peek().clone(),
                        }
                        .save();
                        // The studio opens the devices again for itself.
                        if let Some(stream) = preview.peek().as_ref() {
                            media::stop(stream);
                        }
                        meter.set(None);
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

    let found = devices.read().clone();
    rsx! {
        section { class: "card join",
            div { class: "preview-side",
                video { id: "preview", class: "preview", autoplay: true, muted: true, playsinline: true }
                LevelBar { level: level() }
            }
            form { id: "join", class: "join-form", onsubmit: join,
                h1 { "Join the session" }
                label { "Your name"
                    input { id: "display-name", value: "{name}", placeholder: "How the others see you", oninput: move |e| name.set(e.value()) }
                }
                label { "Camera"
                    select { id: "camera", onchange: move |e| camera.set(Some(e.value())),
                        for d in found.cameras.iter() {
                            option { value: "{d.id}", selected: camera.read().as_deref() == Some(d.id.as_str()), "{d.label}" }
                        }
                    }
                }
                label { "Microphone"
                    select { id: "microphone", onchange: move |e| microphone.set(Some(e.value())),
                        for d in found.microphones.iter() {
                            option { value: "{d.id}", selected: microphone.read().as_deref() == Some(d.id.as_str()), "{d.label}" }
                        }
                    }
                }
                if let Some(p) = problem() {
                    p { class: "problem", role: "alert", "{p}" }
                }
                button { id: "join-session", r#type: "submit", disabled: busy(), "Join" }
            }
        }
    }
}
