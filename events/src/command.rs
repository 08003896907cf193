//! What can be asked of a recording. Each command is checked against the
//! recording's rules by `Recording::handle`; only the events it yields are stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::{Container, FilledGap, Layout, RenderOutput, Role};
use crate::ids::{ChunkIndex, HostId, ParticipantId, Sha256};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecordingCommand {
    /// Opens the room; the host joins it in the same breath.
    CreateRoom {
        title: String,
        host: ParticipantId,
        host_name: String,
        layout: Layout,
        chunk_seconds: u32,
        max_participants: u32,
        owner: Option<HostId>,
    },
    Join {
        participant: ParticipantId,
        display_name: String,
        role: Role,
        /// The generation of the invite link a new guest joins with (`None`
        /// for someone already in the room coming back).
        invite: Option<u32>,
    },
    /// The host removes a participant (not itself).
    RemoveParticipant {
        by: ParticipantId,
        participant: ParticipantId,
    },
    /// The host replaces the invite link (earlier links stop working).
    IssueInvite {
        by: ParticipantId,
        max_joins: Option<u32>,
    },
    /// The host revokes the invite link.
    RevokeInvite { by: ParticipantId },
    Leave {
        participant: ParticipantId,
        reason: String,
    },
    StartRecording {
        by: ParticipantId,
        at: DateTime<Utc>,
    },
    StopRecording {
        by: ParticipantId,
        at: DateTime<Utc>,
    },
    /// Records that a chunk is durably stored (sent only after the object is in S3).
    RecordChunk {
        participant: ParticipantId,
        index: ChunkIndex,
        size: u64,
        sha256: Sha256,
        key: String,
        starts_segment: bool,
        recorder_started_at: Option<DateTime<Utc>>,
        media_zero_at: Option<DateTime<Utc>>,
    },
    FinishUploads {
        participant: ParticipantId,
        chunk_count: u32,
    },
    /// Sent by the system when the grace period after stop has run out.
    ExpireGracePeriod,
    /// Asks for another render of a completed session.
    RequestRender { layout: Layout, force: bool },
    /// A worker claims the next render attempt; the expected-version append
    /// lets exactly one of several racing workers win it.
    StartRender { worker: String, attempt: u32 },
    CompleteRender {
        attempt: u32,
        key: String,
        size: u64,
        duration_ms: u64,
        outputs: Vec<RenderOutput>,
        filled_gaps: Vec<FilledGap>,
    },
    FailRender {
        attempt: u32,
        reason: String,
        last: bool,
        /// The attempt's worker stopped responding.
        worker_lost: bool,
    },
    /// The ingest worker read a chunk: it decodes (see `ChunkProbed`).
    ProbeChunk {
        participant: ParticipantId,
        index: ChunkIndex,
        sha256: Sha256,
        container: Container,
        video_codec: Option<String>,
        audio_codec: Option<String>,
        media_end_ms: i64,
        resync_at: Option<u64>,
    },
    /// The ingest worker could not read a chunk.
    RejectChunk {
        participant: ParticipantId,
        index: ChunkIndex,
        sha256: Sha256,
        reason: String,
    },
    /// A worker rendered one window of the timeline.
    RecordWindow {
        layout: Layout,
        index: u32,
        from_ms: u64,
        to_ms: u64,
        tracks: Vec<ParticipantId>,
        prefix: String,
        worker: String,
    },
    /// Deletes the recording (its host decided; the api checks who asks).
    DeleteRecording,
    /// The sweeper removed a deleted recording's `objects` from storage.
    RecordSweep { objects: u64 },
}
