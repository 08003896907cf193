//! The session's recorder: started while the room records (a new segment after
//! a reload, numbered on from every chunk stored or waiting), stopped when the
//! host stops. Each second's slice is kept in IndexedDB as it arrives; once a
//! chunk's slices make the room's chunk length (or the recorder stops) they
//! are sealed into the numbered chunk the upload queue sends.

use dioxus::prelude::*;

use zencast_events::protocol::RoomStatus;

use super::Session;
use crate::api;
use crate::browser::now_ms;
use crate::chunk_store;
use crate::recorder::{Recorder, RecorderEvent, SLICE_MS};

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
        if room_recording && !self.stopped && self.recorder.is_none() && self.synced {
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
        self.slices = 0;
        match Recorder::start(&local, self.recorder_events.clone()) {
            Ok(recorder) => {
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

    pub(super) async fn on_recorder(&mut self, event: RecorderEvent) {
        match event {
            RecorderEvent::Started { local_ms } => {
                self.segment_start_ms = Some(self.clock.to_server(local_ms))
            }
            RecorderEvent::Slice(blob) => {
                let index = self.next_index.unwrap_or(0);
                let start = self
                    .segment_start_ms
                    .unwrap_or_else(|| self.clock.to_server(now_ms()));
                let (room, me) = (self.creds.room_id, self.creds.participant_id);
                if let Err(e) =
                    chunk_store::put_slice(room, me, index, self.slices, start, &blob).await
                {
                    self.refused(e);
                }
                self.slices += 1;
                let chunk_ms = self.room.as_ref().map_or(10, |r| r.chunk_seconds.max(1)) * 1_000;
                if self.slices * SLICE_MS >= chunk_ms {
                    self.seal().await;
                }
            }
            RecorderEvent::Stopped => {
                // The last chunk is as long as the recording left it.
                if self.slices > 0 {
                    self.seal().await;
                }
                self.recorder = None;
                self.view.write().recording = false;
                if self.stopped {
                    self.queue.recording_over.set(true);
                    self.leave_studio();
                }
                self.queue.wake();
            }
        }
    }

    /// Turns the current chunk's slices into the chunk the queue uploads.
    async fn seal(&mut self) {
        let index = self.next_index.unwrap_or(0);
        match chunk_store::seal(self.creds.room_id, self.creds.participant_id, index).await {
            Ok(()) => self.uploads.write().pending += 1,
            Err(e) => self.refused(e),
        }
        self.next_index = Some(index + 1);
        self.slices = 0;
        self.queue.wake();
    }

    fn refused(&mut self, e: chunk_store::StoreError) {
        self.view.write().problem = Some(format!(
            "This browser refused to keep the recording (storage full?): {e}"
        ));
    }
}
