//! The routes and the root component. `/join/{roomId}?invite=…` is the form of
//! the api's invite links (`inviteUrl`).

use dioxus::prelude::*;

use crate::pages::finish::Finish;
use crate::pages::home::Home;
use crate::pages::join::Join;
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
}

#[component]
pub fn App() -> Element {
    rsx! { Router::<Route> {} }
}

/// The page frame: a header and the page.
#[component]
fn Frame() -> Element {
    rsx! {
        header { class: "top",
            Link { to: Route::Home {}, class: "brand", "Zencast" }
            span { class: "tagline", "record together, upload safely" }
        }
        main { Outlet::<Route> {} }
    }
}
