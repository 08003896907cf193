//! Home: the host names the session, picks a camera and a microphone (with
//! a live preview and a level meter, as guests do), and goes to the studio.
//! Where the api admits only signed-in hosts, someone signed out is sent to
//! the sign-in page, or, before the first account exists, told where the
//! first-run link is.

use dioxus::prelude::*;
use zencast_events::{Layout, Role};

use crate::account::{use_account, Account};
use crate::api::{self, HostStep};
use crate::app::Route;
use crate::credentials::Credentials;
use crate::pages::devices::{use_device_choice, DevicePickers, DevicePreview};
use crate::pages::widgets::LAYOUTS;

#[component]
pub fn Home() -> Element {
    let account = use_account();
    use_effect(move || {
        let a = account.read();
        if a.must_sign_in() && !a.needs_setup() {
            navigator().replace(Route::SignIn {});
        }
    });
    let a = account.read().clone();
    match a {
        // A moment, until the api says how it admits hosts.
        Account::Asking => rsx! {},
        a if a.needs_setup() => rsx! { FirstRun {} },
        a if a.must_sign_in() => rsx! {},
        _ => rsx! { NewSession { accounts: a.host().is_some() } },
    }
}

/// Before the first host account: the link is in the server's console only,
/// so that nobody else who reaches the page can take the studio.
#[component]
fn FirstRun() -> Element {
    rsx! {
        section { class: "card narrow", id: "needs-setup",
            h1 { "Welcome to Zencast" }
            p { "This studio has no host account yet. Open the first-run link that zencast printed in the server's console when it started (the line that begins " code { "zencast: no host account yet" } "): it creates the first account." }
            p { class: "muted", "Lost the link? Restart zencast: it prints a new one as long as no account exists." }
        }
    }
}

/// The form that creates a session (`accounts`: signed in, so refusals are
/// a host's, such as a quota or a sign-in that ended).
#[component]
fn NewSession(accounts: bool) -> Element {
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
                    let text = if accounts {
                        e.for_host(HostStep::SignedIn)
                    } else {
                        e.plain()
                    };
                    problem.set(Some(text));
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
