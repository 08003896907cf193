//! The session's recorder: started while the room records (a new segment after
//! a reload, numbered on from every chunk stored or waiting, or after a device
//! change, on from the recorder it succeeds), stopped when the host stops.
//! Each half-second slice is kept in IndexedDB as it arrives (by a task of its
//! own, [`keep`]); once the room's chunk length has passed (or the recorder
//! stops) the slices are sealed into the numbered chunk the upload queue sends.

use dioxus::prelude::*;

use zencast_events::protocol::RoomStatus;

use super::Session;
use crate::api;
use crate::chunk_store;
use crate::media;
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::channel::oneshot;
use futures::StreamExt;
use web_sys::MediaStream;
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
        if self.local.is_none() {
            return;
        }
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
        self.launch_recorder(FirstIndex::Known(self.next_index.unwrap_or(0)));
    }

    /// Starts a recorder on the current devices whose chunks are numbered
    /// from `first`.
    fn launch_recorder(&mut self, first: FirstIndex) {
        let Some(local) = self.local.clone() else {
            return;
        };
        let (slices_tx, slices) = unbounded();
        match Recorder::start(&local, slices_tx) {
            Ok(recorder) => {
                let keeper = Keeper {
                    room: self.creds.room_id,
                    me: self.creds.participant_id,
                    first_index: first,
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

    /// The devices changed while recording: a MediaRecorder cannot change its
    /// tracks, so a new one starts on `old`'s successor and the running one
    /// stops (a segment ends), at once, not after the old one's last slice: on a
    /// busy page that hand-over took over 2 s, all of it unrecorded. The new
    /// recorder's chunks are numbered on from the old one's last, so its
    /// keeper holds its slices in memory until the old one has sealed that.
    pub(super) fn hand_over(&mut self, old: MediaStream) {
        let Some(recorder) = self.recorder.take() else {
            media::stop(&old);
            return;
        };
        let (successor, first) = oneshot::channel();
        // Started first, stopped second: the two overlap a little rather
        // than leave a frame unrecorded between them.
        self.launch_recorder(FirstIndex::After(first));
        recorder.stop();
        self.retiring.push_back(Retiring {
            _recorder: recorder,
            stream: old,
            successor,
        });
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

    pub(super) fn on_recorder(&mut self, event: Kept) {
        match event {
            Kept::Sealed(index) => {
                self.next_index = Some(index + 1);
                self.uploads.write().pending += 1;
                self.queue.wake();
            }
            Kept::Refused(e) => self.refused(e),
            // Recorders stop in the order they started, and one that
            // succeeds another seals nothing before it learns its first
            // index: the first stop while a hand-over waits is the old one's.
            Kept::Stopped => match self.retiring.pop_front() {
                Some(Retiring {
                    stream, successor, ..
                }) => {
                    media::stop(&stream);
                    let _ = successor.send(self.next_index.unwrap_or(0));
                }
                None => {
                    self.recorder = None;
                    self.view.write().recording = false;
                    if self.stopped {
                        self.queue.recording_over.set(true);
                        self.leave_studio();
                    }
                    // Any other stop waits for the next reconcile.
                    self.queue.wake();
                }
            },
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

/// A recorder stopped by a device change, until it has delivered its last
/// slice.
pub(super) struct Retiring {
    /// Kept until then: its callbacks go with it.
    _recorder: Recorder,
    /// The devices it records, kept open until then.
    pub stream: MediaStream,
    /// Tells the recorder that succeeds it where its chunks are numbered from.
    pub successor: oneshot::Sender<u32>,
}

/// The index a recorder's first chunk gets: numbered on from everything
/// stored or waiting, or from the last chunk of the recorder it succeeds,
/// once that is sealed.
enum FirstIndex {
    Known(u32),
    After(oneshot::Receiver<u32>),
}

impl FirstIndex {
    /// None if the session went away before the predecessor stopped.
    async fn get(self) -> Option<u32> {
        match self {
            Self::Known(index) => Some(index),
            Self::After(first) => first.await.ok(),
        }
    }
}

/// Where one recorder's slices go.
struct Keeper {
    room: RoomId,
    me: ParticipantId,
    first_index: FirstIndex,
    chunk_ms: u32,
    /// Server time minus local time, when the recorder started.
    clock: ClockSync,
}

/// Keeps one recorder's slices in IndexedDB as they arrive and seals each
/// chunk once the room's chunk length has passed since the last (or the
/// recorder stopped). A task of its own: a slice waits for nothing but its
/// reading (for the media zero) and its write, not for what the session is
/// doing (an HTTP call, a socket frame), so what a crash loses stays at
/// about one slice.
///
/// Chunks are cut by time, not by counting slices: a busy page gets fewer,
/// longer slices than it asked for (twenty of them once took 15 s), which
/// made chunks longer than the room's and kept more on the device.
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
    let chunk_ms = f64::from(k.chunk_ms);
    // Until the first index is known (after a device change) the slices wait
    // in the channel, in memory.
    let Some(mut index) = k.first_index.get().await else {
        return;
    };
    let (mut count, mut start) = (0u32, None);
    // When the current chunk is full, on the local clock.
    let mut chunk_ends: Option<f64> = None;
    let mut zero = MediaZero::default();
    while let Some(event) = slices.next().await {
        match event {
            RecorderEvent::Started { local_ms } => {
                start = Some(local_ms + k.clock.offset_ms());
                chunk_ends = Some(local_ms + chunk_ms);
            }
            RecorderEvent::Slice {
                blob,
                local_ms,
                timecode,
            } => {
                let ends = *chunk_ends.get_or_insert(local_ms + chunk_ms);
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
                // The slice nearest the chunk's end closes it.
                if local_ms + f64::from(SLICE_MS) / 2.0 >= ends {
                    tell(seal(index).await);
                    (index, count) = (index + 1, 0);
                    chunk_ends = Some(next_end(ends, local_ms, chunk_ms));
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

/// The end of the chunk after the one that ended at `ended`, past `now`
/// (a page that stalled for longer than a chunk skips the ends it missed
/// rather than sealing tiny chunks one after another).
fn next_end(ended: f64, now: f64, chunk_ms: f64) -> f64 {
    let mut end = ended + chunk_ms;
    while end <= now {
        end += chunk_ms;
    }
    end
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
