//! Set-up: the first host account, from the link the console printed at the
//! first start (`/setup?token=…`). Its API key (for scripts) is shown here
//! once and never again.

use dioxus::prelude::*;

use crate::account::{signed_in, use_account};
use crate::api::{self, HostStep};
use crate::app::Route;

#[component]
pub fn Setup(token: String) -> Element {
    let account = use_account();
    let mut email = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut repeated = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);
    let mut api_key = use_signal(|| None::<String>);

    let create = move |e: FormEvent| {
        e.prevent_default();
        if token.is_empty() {
            problem.set(Some(
                "This link is incomplete: open the whole first-run link from the server's console."
                    .into(),
            ));
            return;
        }
        if *password.read() != *repeated.read() {
            problem.set(Some(
                "The two passwords differ: type the same one twice.".into(),
            ));
            return;
        }
        busy.set(true);
        problem.set(None);
        let token = token.clone();
        spawn(async move {
            let answer = api::setup(&token, email.read().trim(), &password.read()).await;
            busy.set(false);
            match answer {
                Ok(done) => {
                    signed_in(account, done.host);
                    api_key.set(Some(done.api_key.unwrap_or_default()));
                }
                Err(e) => problem.set(Some(e.for_host(HostStep::Setup))),
            }
        });
    };

    if let Some(key) = api_key() {
        return rsx! { ApiKey { api_key: key } };
    }
    rsx! {
        section { class: "card narrow", id: "setup",
            form { onsubmit: create,
                h1 { "Create the host account" }
                p { class: "muted", "The first account of this studio. Whoever signs in with it creates sessions and sees their recordings; more accounts are added with " code { "zencast hosts add" } "." }
                label { "E-mail address"
                    input { id: "setup-email", r#type: "email", autocomplete: "username", value: "{email}", oninput: move |e| email.set(e.value()) }
                }
                label { "Password (at least 10 characters)"
                    input { id: "setup-password", r#type: "password", autocomplete: "new-password", value: "{password}", oninput: move |e| password.set(e.value()) }
                }
                label { "The same password again"
                    input { id: "setup-password2", r#type: "password", autocomplete: "new-password", value: "{repeated}", oninput: move |e| repeated.set(e.value()) }
                }
                if let Some(p) = problem() {
                    p { class: "problem", role: "alert", "{p}" }
                }
                if problem().is_some_and(|p| p.contains("sign in instead")) {
                    Link { to: Route::SignIn {}, "Go to sign-in" }
                }
                button { id: "setup-submit", r#type: "submit", disabled: busy(), "Create account" }
            }
        }
    }
}

/// The new account's API key, once.
#[component]
fn ApiKey(api_key: String) -> Element {
    rsx! {
        section { class: "card narrow", id: "setup-done",
            h1 { "Your account is ready" }
            p { "You are signed in. This is the account's API key, for scripts that create sessions or fetch recordings (" code { "Authorization: Bearer …" } "):" }
            code { id: "api-key", class: "secret", "{api_key}" }
            p { class: "notice", role: "status", "It is shown only this once: copy it somewhere safe now. You don't need it to use Zencast in the browser." }
            Link { to: Route::Dashboard {}, id: "to-dashboard", class: "button", "Go to your dashboard" }
        }
    }
}
