//! What the pages draw of a session: one [`StudioView`], rebuilt from the
//! actor's state after every input.

use web_sys::MediaStream;

use dioxus::prelude::*;

use super::Session;
use crate::browser::now_ms;
use crate::credentials::Credentials;
use zencast_events::protocol::{RejectedChunk, RoomView};
use zencast_events::ParticipantId;

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Connection {
    #[default]
    Connecting,
    Online,
    /// Lost; trying again.
    Reconnecting,
    /// Nothing more to connect to (the session is over, or we are not in it).
    Closed,
}

/// One participant as the studio shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub participant_id: ParticipantId,
    pub name: String,
    pub is_me: bool,
    pub online: bool,
    /// The WebRTC connection state (`new`, `connecting`, `connected`, …); "local" for our own tile.
    pub peer_state: String,
    pub stream: Option<MediaStream>,
    pub chunks_stored: u32,
    pub chunks_recorded: u32,
    pub rejected: Vec<RejectedChunk>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StudioView {
    pub creds: Option<Credentials>,
    pub connection: Connection,
    pub room: Option<RoomView>,
    pub tiles: Vec<Tile>,
    pub local_stream: Option<MediaStream>,
    pub mic_on: bool,
    pub camera_on: bool,
    /// Our recorder is running.
    pub recording: bool,
    /// When the room's recording started, in server time.
    pub recording_started_ms: Option<f64>,
    /// The host stopped the recording (seen by this page or before it).
    pub stopped: bool,
    /// Server time minus local time.
    pub clock_offset_ms: f64,
    /// Chunks our recorders have produced (the next index).
    pub chunks_recorded: u32,
    /// Plain words on what is wrong, if anything.
    pub problem: Option<String>,
    /// The host removed us from the session.
    pub removed: bool,
}

impl Session {
    /// Copies the actor's state into the view the pages draw.
    pub(super) fn publish(&mut self) {
        let me = self.creds.participant_id;
        let room = self.room.clone();
        let started = room
            .as_ref()
            .and_then(|r| r.recording_started_at.as_deref())
            .map(js_sys::Date::parse)
            .filter(|t| t.is_finite());
        let stopped_at = room
            .as_ref()
            .and_then(|r| r.recording_stopped_at.as_deref())
            .map(js_sys::Date::parse)
            .filter(|t| t.is_finite());
        let chunk_ms = room
            .as_ref()
            .map_or(10_000.0, |r| r.chunk_seconds.max(1) as f64 * 1_000.0);
        // Other people's recorders are not visible here: estimate from the room's clock.
        let server_now = now_ms() + self.clock.offset_ms();
        let expected = started.map_or(0, |s| {
            ((stopped_at.unwrap_or(server_now) - s) / chunk_ms)
                .floor()
                .max(0.0) as u32
        });
        let tiles = room
            .as_ref()
            .map(|r| {
                r.participants
                    .iter()
                    .filter(|p| {
                        !p.removed
                            && (p.participant_id == me
                                || p.present
                                || self.online.contains(&p.participant_id))
                    })
                    .map(|p| {
                        let is_me = p.participant_id == me;
                        let peer = self.peers.get(&p.participant_id);
                        Tile {
                            participant_id: p.participant_id,
                            name: p.display_name.clone(),
                            is_me,
                            online: is_me || self.online.contains(&p.participant_id),
                            peer_state: if is_me {
                                "local".into()
                            } else {
                                peer.map_or("new".into(), |p| p.state.clone())
                            },
                            stream: if is_me {
                                self.local.clone()
                            } else {
                                peer.and_then(|p| p.stream.clone())
                            },
                            chunks_stored: p.chunks_stored,
                            rejected: p.rejected_chunks.clone(),
                            chunks_recorded: if is_me {
                                self.next_index.unwrap_or(0).max(p.chunks_stored)
                            } else {
                                p.chunks_finished.unwrap_or(expected.max(p.chunks_stored))
                            },
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut v = self.view.write();
        v.room = room;
        v.tiles = tiles;
        v.local_stream = self.local.clone();
        v.recording_started_ms = started;
        v.stopped = self.stopped;
        v.chunks_recorded = self.next_index.unwrap_or(0);
    }
}
