//! The local recording: a MediaRecorder on the participant's own stream,
//! handing over what it recorded every half second ([`SLICE_MS`]), whatever the
//! room's chunk length: what the browser holds in memory is what a crash
//! loses. Its events go into a channel, in order, for the studio session to
//! store and gather into chunks.

use futures::channel::mpsc::UnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, BlobEvent, MediaRecorder, MediaRecorderOptions, MediaStream, RecordingState};

/// WebM with Opus; VP9 where the browser records it, else VP8.
const CODECS: [&str; 3] = [
    "video/webm;codecs=vp9,opus",
    "video/webm;codecs=vp8,opus",
    "video/webm",
];
/// Generous: the device and the codec decide the real quality.
const VIDEO_BITS_PER_SECOND: u32 = 8_000_000;
const AUDIO_BITS_PER_SECOND: u32 = 192_000;

pub enum RecorderEvent {
    /// The recorder started; local wall-clock time.
    Started { local_ms: f64 },
    /// About [`SLICE_MS`] of recording (the continuation of one byte stream).
    /// What the recorder handed over, when (local wall-clock time, when the
    /// browser made the event: a busy page runs the handler later), and its
    /// `BlobEvent.timecode` where the browser gives one (ms after the first
    /// slice; in Chromium when its muxer wrote, not when the media was filmed).
    Slice {
        blob: Blob,
        local_ms: f64,
        timecode: Option<f64>,
    },
    /// The last slice has been delivered.
    Stopped,
}

pub struct Recorder {
    recorder: MediaRecorder,
    // Kept alive for as long as the recorder may call them.
    _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

/// A keyframe every 2 s: the render enters the recording near any point it
/// needs without decoding a whole chunk's worth of frames first, for a few
/// percent more bytes.
const KEYFRAME_MS: f64 = 2000.0;

/// How often the recorder hands over what it has: at most this much of the
/// recording exists only in the browser's memory.
pub const SLICE_MS: u32 = 500;

/// When the browser made event `e`, in local wall-clock time (ms since the
/// epoch): `Event.timeStamp` is on the page's monotonic clock.
fn made_at(e: &JsValue) -> f64 {
    let now = js_sys::Date::now();
    let made = e.unchecked_ref::<web_sys::Event>().time_stamp();
    let ago = web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| (p.now() - made).max(0.0));
    now - ago
}

/// A slice's bytes (none if the browser cannot read them back).
pub async fn slice_bytes(blob: &Blob) -> Option<Vec<u8>> {
    let buffer = wasm_bindgen_futures::JsFuture::from(blob.array_buffer())
        .await
        .ok()?;
    Some(js_sys::Uint8Array::new(&buffer).to_vec())
}

pub fn best_mime_type() -> &'static str {
    CODECS
        .iter()
        .find(|c| MediaRecorder::is_type_supported(c))
        .copied()
        .unwrap_or("video/webm")
}

impl Recorder {
    /// Starts recording `stream`, with a keyframe every `KEYFRAME_MS` and a
    /// slice every [`SLICE_MS`].
    pub fn start(
        stream: &MediaStream,
        events: UnboundedSender<RecorderEvent>,
    ) -> Result<Self, JsValue> {
        let options = MediaRecorderOptions::new();
        options.set_mime_type(best_mime_type());
        options.set_video_bits_per_second(VIDEO_BITS_PER_SECOND);
        options.set_audio_bits_per_second(AUDIO_BITS_PER_SECOND);
        options.set_video_key_frame_interval_duration(KEYFRAME_MS);
        let recorder =
            MediaRecorder::new_with_media_stream_and_media_recorder_options(stream, &options)?;

        let tx = events.clone();
        let on_start = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let _ = tx.unbounded_send(RecorderEvent::Started {
                local_ms: js_sys::Date::now(),
            });
        });
        let tx = events.clone();
        let on_data = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let local_ms = made_at(&e);
            // Not in web-sys's BlobEvent; Chromium and Firefox set it.
            let timecode = js_sys::Reflect::get(&e, &"timecode".into())
                .ok()
                .and_then(|t| t.as_f64());
            let blob = e.unchecked_into::<BlobEvent>().data();
            if let Some(blob) = blob.filter(|b| b.size() > 0.0) {
                let _ = tx.unbounded_send(RecorderEvent::Slice {
                    blob,
                    local_ms,
                    timecode,
                });
            }
        });
        let tx = events;
        let on_stop = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let _ = tx.unbounded_send(RecorderEvent::Stopped);
        });
        recorder.set_onstart(Some(on_start.as_ref().unchecked_ref()));
        recorder.set_ondataavailable(Some(on_data.as_ref().unchecked_ref()));
        recorder.set_onstop(Some(on_stop.as_ref().unchecked_ref()));
        recorder.start_with_time_slice(SLICE_MS as i32)?;
        Ok(Self {
            recorder,
            _callbacks: vec![on_start, on_data, on_stop],
        })
    }

    /// Stops; the last slice and then `Stopped` follow on the channel.
    pub fn stop(&self) {
        if self.recorder.state() != RecordingState::Inactive {
            let _ = self.recorder.stop();
        }
    }
}
