//! The routes and the root component. `/join/{roomId}?invite=…` is the form of
//! the api's invite links (`inviteUrl`); `/setup?token=…` the form of the
//! first-run link the console prints.

use dioxus::prelude::*;

use crate::account::{provide_account, use_account};
use crate::pages::dashboard::Dashboard;
use crate::pages::finish::Finish;
use crate::pages::home::Home;
use crate::pages::join::Join;
use crate::pages::setup::Setup;
use crate::pages::sign_in::SignIn;
use crate::pages::studio::Studio;

#[derive(Routable, Clone, PartialEq, Debug)]
#[rustfmt::skip]
pub enum Route {
    #[layout(Frame)]
        #[route("/")]
        Home {},
        #[route("/join/:room?:invite")]
        Join { room: String, invite: String },
        #[route("/studio/:room")]
        Studio { room: String },
        #[route("/finish/:room")]
        Finish { room: String },
        #[route("/setup?:token")]
        Setup { token: String },
        #[route("/signin")]
        SignIn {},
        #[route("/dashboard")]
        Dashboard {},
}

#[component]
pub fn App() -> Element {
    provide_account();
    rsx! { Router::<Route> {} }
}

/// The page frame: a header (with the signed-in host, if any) and the page.
/// Nobody is offered a sign-in here: guests never need one, and a host's
/// home page leads there.
#[component]
fn Frame() -> Element {
    let account = use_account();
    let host = account.read().host().map(|h| h.email.clone());
    rsx! {
        header { class: "top",
            Link { to: Route::Home {}, class: "brand", "Zencast" }
            span { class: "tagline", "record together, upload safely" }
            if let Some(email) = host {
                nav { class: "account",
                    span { id: "signed-in-as", class: "muted", "{email}" }
                    Link { to: Route::Dashboard {}, id: "nav-dashboard", "Dashboard" }
                }
            }
        }
        main { Outlet::<Route> {} }
    }
}
