//! The upload queue: sends each chunk waiting in IndexedDB, oldest first, with
//! retries and backoff, and deletes it only once the server confirmed it. When
//! the recording is over and nothing waits, it tells the server the uploads are
//! finished (`POST /api/uploads/complete`).

use std::cell::Cell;
use std::rc::Rc;

use dioxus::core::spawn_forever;
use dioxus::prelude::*;
use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;

use crate::api::{self, ApiError};
use crate::browser::sleep;
use crate::chunk_store::{self, PendingChunk};
use crate::credentials::Credentials;

/// What the person sees of their own uploads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadProgress {
    /// Chunks in IndexedDB, not yet confirmed by the server.
    pub pending: u32,
    /// Confirmed since this page was opened.
    pub confirmed: u32,
    /// The server has been told the uploads are finished.
    pub finished: bool,
    /// Plain words on why uploads are waiting, while they are.
    pub problem: Option<String>,
    /// The host removed this participant: uploads have stopped for good.
    pub removed: bool,
    /// Chunks an earlier page of this participant left unsealed (it was
    /// reloaded, crashed or closed), sealed and queued by this one.
    pub recovered: u32,
}

/// Wakes the queue (a new chunk was stored, or the recording ended).
#[derive(Clone)]
pub struct UploadQueue {
    wake: UnboundedSender<()>,
    /// Set once this participant's recorder has delivered its last chunk.
    pub recording_over: Rc<Cell<bool>>,
}

impl UploadQueue {
    pub fn wake(&self) {
        let _ = self.wake.unbounded_send(());
    }
}

const FIRST_BACKOFF_MS: u32 = 500;
const MAX_BACKOFF_MS: u32 = 3_000;

/// Starts the queue for this participant, as a task that outlives any page.
pub fn start(creds: Credentials, progress: Signal<UploadProgress>) -> UploadQueue {
    let (wake, woken) = unbounded();
    let queue = UploadQueue {
        wake,
        recording_over: Rc::new(Cell::new(false)),
    };
    spawn_forever(run(creds, progress, queue.recording_over.clone(), woken));
    queue
}

async fn run(
    creds: Credentials,
    mut progress: Signal<UploadProgress>,
    over: Rc<Cell<bool>>,
    mut woken: UnboundedReceiver<()>,
) {
    loop {
        let pending = chunk_store::pending(creds.room_id, creds.participant_id)
            .await
            .unwrap_or_default();
        progress.write().pending = pending.len() as u32;
        for chunk in pending {
            if !upload(&creds, chunk, &mut progress).await {
                break;
            }
        }
        if progress.peek().removed {
            return;
        }
        let nothing_left = progress.peek().pending == 0;
        if nothing_left && over.get() && !progress.peek().finished {
            finish(&creds, &mut progress).await;
        }
        // A new chunk wakes us; the timer is a safety net.
        let _ = futures::future::select(woken.next(), Box::pin(sleep(2_000))).await;
    }
}

/// Sends one chunk until it is stored; false if it cannot be (the queue then waits).
async fn upload(
    creds: &Credentials,
    chunk: PendingChunk,
    progress: &mut Signal<UploadProgress>,
) -> bool {
    let mut backoff = FIRST_BACKOFF_MS;
    loop {
        let sent = api::put_chunk(creds.room_id, creds.participant_id, &creds.token, &chunk).await;
        match sent {
            Ok(()) => {
                let _ = chunk_store::remove(creds.room_id, creds.participant_id, chunk.index).await;
                let mut p = progress.write();
                p.pending = p.pending.saturating_sub(1);
                p.confirmed += 1;
                p.problem = None;
                return true;
            }
            Err(e) if e.is_transient() => {
                progress.write().problem = Some(match e {
                    ApiError::Network => "Connection lost: your recording is kept on this device and uploads when the connection is back.".into(),
                    _ => "The server is busy: uploads will retry.".into(),
                });
                sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF_MS);
            }
            Err(e) if e.is_removed() => {
                let mut p = progress.write();
                p.removed = true;
                p.problem = Some(api::REMOVED_TEXT.into());
                return false;
            }
            Err(e) => {
                progress.write().problem = Some(format!(
                    "Chunk {} could not be uploaded: {}",
                    chunk.index,
                    e.plain()
                ));
                sleep(10_000).await;
                return false;
            }
        }
    }
}

/// Tells the server how many chunks this participant recorded (the highest
/// stored index plus one: every one of them is stored by now).
async fn finish(creds: &Credentials, progress: &mut Signal<UploadProgress>) {
    let stored = match api::stored_chunks(creds.room_id, creds.participant_id, &creds.token).await {
        Ok(list) => list,
        Err(_) => return, // tried again on the next round
    };
    let count = stored.iter().max().map_or(0, |last| last + 1);
    match api::uploads_complete(creds.room_id, creds.participant_id, &creds.token, count).await {
        Ok(()) => progress.write().finished = true,
        Err(e) if e.is_transient() => {}
        // Already reported (a reload after finishing) or the session is over: nothing left to do.
        Err(ApiError::Http { status: 409, .. }) => progress.write().finished = true,
        Err(e) => progress.write().problem = Some(e.plain()),
    }
}
