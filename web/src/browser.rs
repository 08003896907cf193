//! Small helpers over `web-sys` that every other module needs.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlMediaElement, MediaStream};

pub fn window() -> web_sys::Window {
    web_sys::window().expect("running in a browser window")
}

/// Local wall-clock time in milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub async fn sleep(ms: u32) {
    gloo_timers::future::TimeoutFuture::new(ms).await;
}

pub fn local_storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// Shows `stream` in the `<video>` or `<audio>` element with this id. The element
/// may not be in the page yet right after a render, so this retries briefly.
pub fn attach_stream(element_id: String, stream: MediaStream) {
    wasm_bindgen_futures::spawn_local(async move {
        for _ in 0..40 {
            let element = window()
                .document()
                .and_then(|d| d.get_element_by_id(&element_id))
                .and_then(|e| e.dyn_into::<HtmlMediaElement>().ok());
            if let Some(media) = element {
                let same = media.src_object().is_some_and(|s| s.id() == stream.id());
                if !same {
                    media.set_src_object(Some(&stream));
                    let _ = media.play();
                }
                return;
            }
            sleep(50).await;
        }
    });
}

/// The name of a DOMException (`NotAllowedError`, …) or the text of any other error.
pub fn error_name(e: &JsValue) -> String {
    if let Some(dom) = e.dyn_ref::<web_sys::DomException>() {
        return dom.name();
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// Copies text to the clipboard; the invite link is also shown in full, so a
/// refusal only means the person copies it by hand.
pub fn copy_to_clipboard(text: &str) {
    let clipboard = window().navigator().clipboard();
    let _ = clipboard.write_text(text);
}
