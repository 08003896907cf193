//! The session's recorder: started while the room records (a new segment after
//! a reload, numbered on from every chunk stored or waiting), stopped when the
//! host stops. Each half-second slice is kept in IndexedDB as it arrives (by a task of
//! its own, [`keep`]); once a
//! chunk's slices make the room's chunk length (or the recorder stops) they
//! are sealed into the numbered chunk the upload queue sends.

use dioxus::prelude::*;

use zencast_events::protocol::RoomStatus;

use super::Session;
use crate::api;
use crate::chunk_store;
use crate::media;
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use zencast_events::{ParticipantId, RoomId};

use crate::recorder::{slice_bytes, Recorder, RecorderEvent, SLICE_MS};
use crate::socket::ClockSync;

impl Session {
    /// Brings the recorder in line with the room: recording while the room
    /// records (a new segment after a reload), stopped once the host stopped.
    pub(super) async fn reconcile(&mut self) {
        let room_recording = self
            .room
            .as_ref()
            .is_some_and(|r| r.status == RoomStatus::Recording);
        if self.session_over() && !self.stopped {
            self.recording_stopped();
        }
        if room_recording
            && !self.stopped
            && !self.removed
            && self.recorder.is_none()
            && self.synced
        {
            self.start_recorder().await;
        }
    }

    async fn start_recorder(&mut self) {
        let Some(local) = self.local.clone() else {
            return;
        };
        if self.next_index.is_none() {
            // After a reload, carry on numbering after everything stored or waiting.
            let (room, me, token) = (
                self.creds.room_id,
                self.creds.participant_id,
                &self.creds.token,
            );
            // Either answer missing: try again on the next reconcile rather than guess.
            let Ok(stored) = api::stored_chunks(room, me, token).await else {
                return;
            };
            let Ok(waiting) = chunk_store::pending(room, me).await else {
                return;
            };
            let highest = stored
                .into_iter()
                .chain(waiting.iter().map(|c| c.index))
                .max();
            self.next_index = Some(highest.map_or(0, |h| h + 1));
        }
        let (slices_tx, slices) = unbounded();
        match Recorder::start(&local, slices_tx) {
            Ok(recorder) => {
                let keeper = Keeper {
                    room: self.creds.room_id,
                    me: self.creds.participant_id,
                    first_index: self.next_index.unwrap_or(0),
                    chunk_ms: self.room.as_ref().map_or(10, |r| r.chunk_seconds.max(1)) * 1_000,
                    clock: self.clock.clone(),
                };
                wasm_bindgen_futures::spawn_local(keep(
                    keeper,
                    slices,
                    self.recorder_events.clone(),
                ));
                self.recorder = Some(recorder);
                self.view.write().recording = true;
            }
            Err(_) => {
                self.view.write().problem =
                    Some("This browser cannot record video (MediaRecorder failed to start).".into())
            }
        }
    }

    pub(super) fn recording_stopped(&mut self) {
        self.stopped = true;
        if let Some(room) = &mut self.room {
            if room.status == RoomStatus::Recording {
                room.status = RoomStatus::Stopped;
            }
        }
        match &self.recorder {
            Some(recorder) => recorder.stop(),
            // Nothing to wait for: whatever is stored or waiting is all there is.
            None => {
                self.queue.recording_over.set(true);
                self.queue.wake();
                self.leave_studio();
            }
        }
        self.view.write().stopped = true;
    }

    pub(super) async fn on_recorder(&mut self, event: Kept) {
        match event {
            Kept::Sealed(index) => {
                self.next_index = Some(index + 1);
                self.uploads.write().pending += 1;
                self.queue.wake();
            }
            Kept::Refused(e) => self.refused(e),
            Kept::Stopped => {
                self.recorder = None;
                self.view.write().recording = false;
                let switched = self.retired.take().inspect(media::stop).is_some();
                if self.stopped {
                    self.queue.recording_over.set(true);
                    self.leave_studio();
                } else if switched {
                    // A device change ended the segment: the next one starts
                    // now (any other stop waits for the next reconcile).
                    self.reconcile().await;
                }
                self.queue.wake();
            }
        }
    }

    fn refused(&mut self, e: chunk_store::StoreError) {
        self.view.write().problem = Some(format!(
            "This browser refused to keep the recording (storage full?): {e}"
        ));
    }
}

/// What the slice keeper tells the session.
pub(super) enum Kept {
    /// Chunk `index` is sealed and waits for upload.
    Sealed(u32),
    /// IndexedDB refused to keep a slice or a chunk.
    Refused(chunk_store::StoreError),
    /// The recorder delivered its last slice, and it is sealed.
    Stopped,
}

/// Where one recorder's slices go.
struct Keeper {
    room: RoomId,
    me: ParticipantId,
    /// The index its first chunk gets (numbered on from everything stored
    /// or waiting).
    first_index: u32,
    chunk_ms: u32,
    /// Server time minus local time, when the recorder started.
    clock: ClockSync,
}

/// Keeps one recorder's slices in IndexedDB as they arrive and seals each
/// chunk once it has the room's chunk length (or the recorder stopped). A
/// task of its own: a slice waits for nothing but its reading (for the media
/// zero) and its write, not for what
/// the session is doing (an HTTP call, a socket frame), so what a crash
/// loses stays at about one slice.
async fn keep(
    k: Keeper,
    mut slices: UnboundedReceiver<RecorderEvent>,
    session: UnboundedSender<Kept>,
) {
    let tell = |kept: Kept| {
        let _ = session.unbounded_send(kept);
    };
    let seal = |index: u32| async move {
        match chunk_store::seal(k.room, k.me, index).await {
            Ok(()) => Kept::Sealed(index),
            Err(e) => Kept::Refused(e),
        }
    };
    let (mut index, mut count, mut start) = (k.first_index, 0u32, None);
    let mut zero = MediaZero::default();
    while let Some(event) = slices.next().await {
        match event {
            RecorderEvent::Started { local_ms } => start = Some(local_ms + k.clock.offset_ms()),
            RecorderEvent::Slice {
                blob,
                local_ms,
                timecode,
            } => {
                let bytes = slice_bytes(&blob).await.unwrap_or_default();
                let offset = k.clock.offset_ms();
                let slice = chunk_store::Slice {
                    blob: &blob,
                    recording_start_ms: start.unwrap_or(local_ms + offset),
                    // Measured on the local clock, moved to the server's by
                    // the best offset so far.
                    media_zero_ms: zero.next(local_ms, timecode, &bytes).map(|z| z + offset),
                };
                if let Err(e) = chunk_store::put_slice(k.room, k.me, index, count, slice).await {
                    tell(Kept::Refused(e));
                }
                count += 1;
                if count * SLICE_MS >= k.chunk_ms {
                    tell(seal(index).await);
                    (index, count) = (index + 1, 0);
                }
            }
            RecorderEvent::Stopped => {
                // The last chunk is as long as the recording left it.
                if count > 0 {
                    tell(seal(index).await);
                }
                tell(Kept::Stopped);
                return;
            }
        }
    }
}

/// Where the recorder's media time zero lies, on the local clock.
///
/// From the video frames (see `zencast_webm::clock`): a slice handed over at
/// h whose newest video frame is at media time t puts zero at most at h − t;
/// the least of these over the slices so far. A slice counts once the next
/// one arrives: the last one, handed over by `stop()`, comes sooner after its
/// media than the others and would move the estimate of a short recording by
/// some 50 ms.
///
/// Without video frames (audio only, or a container other than WebM), from
/// `BlobEvent.timecode`: slice k, handed over at h(k), holds what came before
/// slice k+1's timecode c(k+1), so zero is at most h(k) − c(k+1). Chromium's
/// timecode says when its muxer wrote, not when the media was filmed: on a
/// loaded machine that put recorders up to 670 ms off, the frames 72–77 ms
/// (the same for every recorder, so it cancels out).
#[derive(Default)]
struct MediaZero {
    frames: zencast_webm::FrameClock,
    /// The bound from the slice before, counted once another follows it.
    waiting: Option<f64>,
    by_frames: Option<f64>,
    previous: Option<f64>,
    by_timecode: Option<f64>,
}

fn least(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a.map_or(b, |a| a.min(b)))
}

impl MediaZero {
    /// Takes the slice `bytes` handed over at `handed_over`, starting at
    /// `timecode`; returns the estimate so far.
    fn next(&mut self, handed_over: f64, timecode: Option<f64>, bytes: &[u8]) -> Option<f64> {
        if let Some(bound) = self.waiting.take() {
            self.by_frames = least(self.by_frames, bound);
        }
        self.waiting = self
            .frames
            .push(bytes)
            .map(|newest| handed_over - newest as f64);
        if let (Some(previous), Some(timecode)) = (self.previous, timecode) {
            if timecode > 0.0 {
                self.by_timecode = least(self.by_timecode, previous - timecode);
            }
        }
        self.previous = Some(handed_over);
        self.by_frames.or(self.by_timecode)
    }
}
