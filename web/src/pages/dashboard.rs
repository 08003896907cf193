//! Dashboard: the signed-in host's recordings, newest first, each with its
//! files, a way to render it again and a way to delete it. The list refreshes
//! every few seconds while a session is still recording, uploading or
//! rendering, and otherwise now and then.

use dioxus::prelude::*;
use futures::StreamExt;
use zencast_events::protocol::{RenderStatus, RoomStatus, RoomView};
use zencast_events::RoomId;

use crate::account::{signed_out, use_account};
use crate::api::{self, ApiError, HostStep};
use crate::app::Route;
use crate::browser::sleep;
use crate::pages::recording::RecordingRow;

/// How often the list refreshes while something is on its way, and otherwise.
const BUSY_MS: u32 = 3_000;
const IDLE_MS: u32 = 30_000;

#[component]
pub fn Dashboard() -> Element {
    let account = use_account();
    let mut recordings = use_signal(|| None::<Vec<RoomView>>);
    let mut deleted = use_signal(Vec::<RoomId>::new);
    let mut problem = use_signal(|| None::<String>);

    // Loads the list, then waits (less while anything is on its way); a
    // message wakes it early (after asking for a render).
    let refresh = use_coroutine(move |mut wake: UnboundedReceiver<()>| async move {
        loop {
            match api::dashboard().await {
                Ok(list) => {
                    problem.set(None);
                    recordings.set(Some(list));
                }
                Err(ApiError::Http { status: 401, .. }) => {
                    signed_out(account);
                    navigator().replace(Route::SignIn {});
                    return;
                }
                Err(e) => problem.set(Some(e.for_host(HostStep::SignedIn))),
            }
            let busy = recordings
                .peek()
                .as_ref()
                .is_some_and(|list| list.iter().any(on_its_way));
            let wait = if busy { BUSY_MS } else { IDLE_MS };
            let _ = futures::future::select(wake.next(), Box::pin(sleep(wait))).await;
        }
    });

    let mut signing_out = use_signal(|| false);
    let sign_out = move |_| {
        signing_out.set(true);
        spawn(async move {
            match api::sign_out().await {
                Ok(()) => {
                    signed_out(account);
                    navigator().push(Route::SignIn {});
                }
                Err(e) => {
                    problem.set(Some(e.for_host(HostStep::SignedIn)));
                    signing_out.set(false);
                }
            }
        });
    };

    let email = account.read().host().map(|h| h.email.clone());
    let shown: Option<Vec<RoomView>> = recordings.read().as_ref().map(|list| {
        list.iter()
            .filter(|r| !deleted.read().contains(&r.room_id))
            .cloned()
            .collect()
    });

    rsx! {
        section { class: "card dashboard", id: "dashboard",
            div { class: "dashboard-bar",
                h1 { "Recordings"
                    if let Some(email) = email {
                        span { class: "muted host-email", " of {email}" }
                    }
                }
                div { class: "controls",
                    Link { to: Route::Home {}, id: "new-session", class: "button", "New session" }
                    button { id: "sign-out", class: "secondary", disabled: signing_out(), onclick: sign_out, "Sign out" }
                }
            }
            if let Some(p) = problem() {
                p { class: "problem", role: "alert", "{p}" }
            }
            match shown {
                None => rsx! { p { class: "muted", "Loading your recordings…" } },
                Some(list) if list.is_empty() => rsx! {
                    p { id: "no-recordings", class: "muted",
                        "No recordings yet. Start one with New session: it shows up here, with its files once it is rendered."
                    }
                },
                Some(list) => rsx! {
                    ul { class: "recordings",
                        for view in list {
                            RecordingRow {
                                key: "{view.room_id}",
                                view: view.clone(),
                                on_deleted: move |room| deleted.write().push(room),
                                on_changed: move |_| refresh.send(()),
                            }
                        }
                    }
                },
            }
        }
    }
}

/// A session still recording, uploading or rendering: its row will change soon.
fn on_its_way(view: &RoomView) -> bool {
    match view.status {
        RoomStatus::Recording | RoomStatus::Stopped => true,
        RoomStatus::Completed => !matches!(
            view.render.status,
            Some(RenderStatus::Completed | RenderStatus::Failed)
        ),
        RoomStatus::Open | RoomStatus::Deleted => false,
    }
}
