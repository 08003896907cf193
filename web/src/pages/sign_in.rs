//! Sign-in: a host's e-mail address and password; the api answers with the
//! sign-in cookie, and the dashboard follows.

use dioxus::prelude::*;

use crate::account::{signed_in, use_account};
use crate::api::{self, HostStep};
use crate::app::Route;

#[component]
pub fn SignIn() -> Element {
    let account = use_account();
    let mut email = use_signal(String::new);
    let mut password = use_signal(String::new);
    let mut problem = use_signal(|| None::<String>);
    let mut busy = use_signal(|| false);

    // Signed in already (another tab, or a bookmark): nothing to do here.
    use_effect(move || {
        if account.read().host().is_some() && !busy() {
            navigator().replace(Route::Dashboard {});
        }
    });

    let submit = move |e: FormEvent| {
        e.prevent_default();
        busy.set(true);
        problem.set(None);
        spawn(async move {
            match api::sign_in(email.read().trim(), &password.read()).await {
                Ok(done) => {
                    signed_in(account, done.host);
                    navigator().push(Route::Dashboard {});
                }
                Err(e) => {
                    problem.set(Some(e.for_host(HostStep::SignIn)));
                    busy.set(false);
                }
            }
        });
    };

    rsx! {
        section { class: "card narrow", id: "signin",
            form { onsubmit: submit,
                h1 { "Sign in" }
                p { class: "muted", "Hosts sign in to create sessions and to find their recordings. Guests need no account: they join with the host's invite link." }
                label { "E-mail address"
                    input { id: "signin-email", r#type: "email", autocomplete: "username", value: "{email}", oninput: move |e| email.set(e.value()) }
                }
                label { "Password"
                    input { id: "signin-password", r#type: "password", autocomplete: "current-password", value: "{password}", oninput: move |e| password.set(e.value()) }
                }
                if let Some(p) = problem() {
                    p { class: "problem", role: "alert", "{p}" }
                }
                button { id: "signin-submit", r#type: "submit", disabled: busy(), "Sign in" }
            }
        }
    }
}
