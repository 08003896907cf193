//! Choosing a camera and a microphone before entering the studio, for the
//! host (home) and the guests (join) alike: a live preview, an input level
//! meter, and a picker for each device. The choice is saved with the
//! participant's credentials and the studio opens those devices.

use std::rc::Rc;

use dioxus::prelude::*;
use web_sys::MediaStream;

use crate::browser::{attach_stream, sleep};
use crate::media::{self, Devices, LevelMeter};
use crate::pages::widgets::LevelBar;

/// The state of a device choice; `camera` and `microphone` hold the ids
/// chosen (`None`: the browser's default).
#[derive(Clone, Copy, PartialEq)]
pub struct DeviceChoice {
    pub camera: Signal<Option<String>>,
    pub microphone: Signal<Option<String>>,
    devices: Signal<Devices>,
    preview: Signal<Option<MediaStream>>,
    meter: Signal<Option<Rc<LevelMeter>>>,
    level: Signal<f64>,
}

impl DeviceChoice {
    /// Whether the chosen devices are open: until they are, there is
    /// nothing to record, so the page does not let anyone in.
    pub fn ready(&self) -> bool {
        self.preview.read().is_some()
    }

    /// Lets the devices go (before the studio opens them for itself).
    pub fn release(mut self) {
        if let Some(stream) = self.preview.peek().as_ref() {
            media::stop(stream);
        }
        self.meter.set(None);
    }
}

/// Opens the chosen devices for the preview, again whenever the choice
/// changes; what goes wrong is said in `problem`. The devices are let go
/// when the page goes.
pub fn use_device_choice(mut problem: Signal<Option<String>>) -> DeviceChoice {
    let choice = DeviceChoice {
        camera: use_signal(|| None),
        microphone: use_signal(|| None),
        devices: use_signal(Devices::default),
        preview: use_signal(|| None),
        meter: use_signal(|| None),
        level: use_signal(|| 0.0),
    };
    let DeviceChoice {
        camera,
        microphone,
        mut devices,
        mut preview,
        mut meter,
        mut level,
    } = choice;
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
    use_drop(move || choice.release());
    choice
}

/// The preview of the chosen camera and the microphone's level.
#[component]
pub fn DevicePreview(choice: DeviceChoice) -> Element {
    rsx! {
        div { class: "preview-side",
            video { id: "preview", class: "preview", autoplay: true, muted: true, playsinline: true }
            LevelBar { level: (choice.level)() }
        }
    }
}

/// A picker for the camera and one for the microphone.
#[component]
pub fn DevicePickers(choice: DeviceChoice) -> Element {
    let DeviceChoice {
        mut camera,
        mut microphone,
        devices,
        ..
    } = choice;
    let found = devices.read().clone();
    rsx! {
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
    }
}
