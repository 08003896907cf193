//! Cameras and microphones: listing them, opening them at the best quality the
//! device gives, and an input level meter.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AnalyserNode, AudioContext, MediaDeviceInfo, MediaDeviceKind, MediaStream,
    MediaStreamConstraints,
};

use crate::browser::{error_name, window};

#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Devices {
    pub cameras: Vec<Device>,
    pub microphones: Vec<Device>,
}

/// Why the camera or microphone could not be opened, in plain words.
pub fn plain_media_error(e: &JsValue) -> String {
    match error_name(e).as_str() {
        "NotAllowedError" | "SecurityError" => "Zencast needs your camera and microphone. Allow them for this site in your browser's settings, then reload the page.".into(),
        "NotFoundError" | "OverconstrainedError" => "No camera or microphone was found. Plug one in and reload the page.".into(),
        "NotReadableError" | "AbortError" => "Your camera or microphone is busy in another application. Close it there and reload the page.".into(),
        other => format!("The camera or microphone could not be opened ({other})."),
    }
}

/// Opens the chosen devices (or the defaults) at up to 1080p and 48 kHz.
pub async fn open(camera: Option<&str>, microphone: Option<&str>) -> Result<MediaStream, JsValue> {
    let device = |id: Option<&str>| id.map(|id| serde_json::json!({"exact": id}));
    let mut video = serde_json::json!({
        "width": {"ideal": 1920}, "height": {"ideal": 1080}, "frameRate": {"ideal": 30},
    });
    if let Some(d) = device(camera) {
        video["deviceId"] = d;
    }
    let mut audio =
        serde_json::json!({"sampleRate": {"ideal": 48000}, "channelCount": {"ideal": 1}});
    if let Some(d) = device(microphone) {
        audio["deviceId"] = d;
    }
    let constraints: MediaStreamConstraints =
        js_sys::JSON::parse(&serde_json::json!({"video": video, "audio": audio}).to_string())?
            .unchecked_into();
    let devices = window().navigator().media_devices()?;
    let stream = JsFuture::from(devices.get_user_media_with_constraints(&constraints)?).await?;
    Ok(stream.unchecked_into())
}

/// The cameras and microphones (with labels once permission was given).
pub async fn list() -> Devices {
    let mut out = Devices::default();
    let Ok(media) = window().navigator().media_devices() else {
        return out;
    };
    let Ok(promise) = media.enumerate_devices() else {
        return out;
    };
    let Ok(found) = JsFuture::from(promise).await else {
        return out;
    };
    for info in js_sys::Array::from(&found).iter() {
        let info: MediaDeviceInfo = info.unchecked_into();
        let device = Device {
            id: info.device_id(),
            label: info.label(),
        };
        match info.kind() {
            MediaDeviceKind::Videoinput => out.cameras.push(device),
            MediaDeviceKind::Audioinput => out.microphones.push(device),
            _ => {}
        }
    }
    for (n, d) in out.cameras.iter_mut().enumerate() {
        if d.label.is_empty() {
            d.label = format!("Camera {}", n + 1);
        }
    }
    for (n, d) in out.microphones.iter_mut().enumerate() {
        if d.label.is_empty() {
            d.label = format!("Microphone {}", n + 1);
        }
    }
    out
}

pub fn stop(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        track.unchecked_into::<web_sys::MediaStreamTrack>().stop();
    }
}

/// Sets whether the stream's audio (`kind` = "audio") or video tracks are on.
pub fn set_enabled(stream: &MediaStream, kind: &str, on: bool) {
    let tracks = if kind == "audio" {
        stream.get_audio_tracks()
    } else {
        stream.get_video_tracks()
    };
    for track in tracks.iter() {
        track
            .unchecked_into::<web_sys::MediaStreamTrack>()
            .set_enabled(on);
    }
}

/// The loudness of a stream's microphone, read on demand.
pub struct LevelMeter {
    context: AudioContext,
    analyser: AnalyserNode,
}

impl LevelMeter {
    pub fn new(stream: &MediaStream) -> Result<Self, JsValue> {
        let context = AudioContext::new()?;
        let source = context.create_media_stream_source(stream)?;
        let analyser = context.create_analyser()?;
        analyser.set_fft_size(1024);
        source.connect_with_audio_node(&analyser)?;
        let _ = context.resume();
        Ok(Self { context, analyser })
    }

    /// The input level from 0 to 1 (RMS of the latest samples, scaled so speech fills most of it).
    pub fn level(&self) -> f64 {
        let mut samples = vec![0u8; self.analyser.fft_size() as usize];
        self.analyser.get_byte_time_domain_data(&mut samples);
        let sum: f64 = samples
            .iter()
            .map(|&s| {
                let x = (s as f64 - 128.0) / 128.0;
                x * x
            })
            .sum();
        ((sum / samples.len() as f64).sqrt() * 4.0).min(1.0)
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        let _ = self.context.close();
    }
}
