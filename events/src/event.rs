//! The events of a recording, as the rest of the system sees them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ChunkIndex, HostId, ParticipantId, Sha256};

/// The schema version every event is written with today. A change of payload
/// shape bumps it; readers upcast older versions (see `envelope::upcast`).
pub const SCHEMA_VERSION: &str = "2";

/// How the final video is composed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    #[default]
    Grid,
    SideBySide,
    Speaker,
    AudioOnly,
}

impl Layout {
    pub const ALL: [Layout; 4] = [
        Layout::Grid,
        Layout::SideBySide,
        Layout::Speaker,
        Layout::AudioOnly,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Grid => "grid",
            Layout::SideBySide => "side-by-side",
            Layout::Speaker => "speaker",
            Layout::AudioOnly => "audio-only",
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Host,
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Host => "host",
            Role::Guest => "guest",
        }
    }
}

/// Why a session was declared complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CompletionReason {
    /// Recording stopped and every participant reported its uploads finished.
    AllFinished,
    /// Recording stopped and the grace period ran out; participants that never
    /// finished count with the chunks they have stored.
    GracePeriodExpired,
}

/// What a file written by a render is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// The composed video with the mixed audio.
    Final,
    /// One participant's audio alone, on the session timeline (WAV).
    TrackAudio,
    /// One participant's video and audio alone, on the session timeline (MP4).
    TrackVideo,
}

impl OutputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Final => "final",
            OutputKind::TrackAudio => "track-audio",
            OutputKind::TrackVideo => "track-video",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderOutput {
    pub kind: OutputKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<ParticipantId>,
    pub key: String,
    pub size: u64,
}

/// Chunks `from..=to` of a participant were missing and rendered as a gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilledGap {
    pub participant: ParticipantId,
    pub from: u32,
    pub to: u32,
}

/// Everything that can happen to a recording. Serialized externally tagged
/// (`{"ChunkUploaded": {...}}`), which is the form cqrs-es stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RecordingEvent {
    RoomCreated {
        title: String,
        host: ParticipantId,
        layout: Layout,
        chunk_seconds: u32,
        /// Participants that may be in the room at once, host included.
        max_participants: u32,
        /// The host account that created the room (none when the api runs
        /// without accounts, and in rooms from before accounts).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<HostId>,
    },
    ParticipantJoined {
        participant: ParticipantId,
        display_name: String,
        role: Role,
    },
    ParticipantLeft {
        participant: ParticipantId,
        reason: String,
    },
    /// The host removed a participant (the envelope's actor): its tokens stop
    /// working, its socket closes and its uploads are refused. What it
    /// recorded stays: its first `chunk_count` chunks count as its recording,
    /// as if it had finished uploading.
    ParticipantRemoved {
        participant: ParticipantId,
        chunk_count: u32,
    },
    /// The host made a new guest invite link: links of earlier generations
    /// stop working. At most `max_joins` new guests may join with it (none
    /// given: as many as the room holds).
    InviteIssued {
        generation: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_joins: Option<u32>,
    },
    /// The host revoked the invite link: no link lets anyone new in until a
    /// new one is issued. Those already in the room stay.
    InviteRevoked {
        generation: u32,
    },
    RecordingStarted {
        at: DateTime<Utc>,
    },
    RecordingStopped {
        at: DateTime<Utc>,
    },
    ChunkUploaded {
        participant: ParticipantId,
        index: ChunkIndex,
        size: u64,
        sha256: Sha256,
        key: String,
        /// The chunk begins with a WebM header: the first chunk of a recorder
        /// (a reload or a device change starts a new one, a new segment).
        /// Schema 2; schema-1 events are upcast with `index == 0`.
        #[serde(default)]
        starts_segment: bool,
        /// When the recorder that produced this chunk started, in server time
        /// (the client's clock corrected by the WebSocket clock sync). Places
        /// the segment on the session timeline.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recorder_started_at: Option<DateTime<Utc>>,
        /// Where the recorder's media time zero lies, in server time, as the
        /// browser measured it: each slice's hand-over time less the media
        /// time of the newest video frame in it (the least of these, so a
        /// slice handed over late does not count). Better evidence than
        /// `recorder_started_at`, which is when the browser said recording
        /// started, not when its media begins.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_zero_at: Option<DateTime<Utc>>,
    },
    ParticipantUploadsFinished {
        participant: ParticipantId,
        chunk_count: u32,
    },
    SessionCompleted {
        expected_chunks: BTreeMap<ParticipantId, u32>,
        reason: CompletionReason,
    },
    /// Another render of a completed session (the host asked, with a layout,
    /// or an operator forced one with what is stored).
    RenderRequested {
        layout: Layout,
        /// Render even with chunks missing: gaps become silence and black.
        force: bool,
    },
    RenderStarted {
        worker: String,
        layout: Layout,
        attempt: u32,
        /// Rendering with what is stored, gaps filled (`zencast render --force`).
        #[serde(default)]
        forced: bool,
    },
    RenderCompleted {
        attempt: u32,
        /// The composed file, `processed/{roomId}/final.mp4`.
        key: String,
        size: u64,
        duration_ms: u64,
        /// Every file written: the composed one and each participant's tracks.
        #[serde(default)]
        outputs: Vec<RenderOutput>,
        /// Spans rendered as silence and black because their chunks are missing.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        filled_gaps: Vec<FilledGap>,
    },
    RenderFailed {
        attempt: u32,
        reason: String,
        /// No further attempt will be made.
        last: bool,
        /// The attempt's worker stopped responding (killed, lost its machine)
        /// rather than failing the render itself.
        #[serde(default)]
        worker_lost: bool,
    },
    /// The ingest worker read a stored chunk as part of its recorder's stream:
    /// it decodes, and with it the recorder's media reaches `media_end_ms`.
    ChunkProbed {
        participant: ParticipantId,
        index: ChunkIndex,
        /// The bytes this probe read (a re-sent chunk is probed again).
        sha256: Sha256,
        container: Container,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        video_codec: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audio_codec: Option<String>,
        /// How far the recorder's media reaches once this chunk is stored, in
        /// the recorder's own time (ms after its start).
        media_end_ms: i64,
        /// Where in this chunk the first WebM cluster or MP4 fragment begins:
        /// decoding can resume there without the chunks before it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resync_at: Option<u64>,
    },
    /// A stored chunk does not decode (or is a codec we cannot read). The
    /// participant may send other bytes for the same index.
    ChunkRejected {
        participant: ParticipantId,
        index: ChunkIndex,
        sha256: Sha256,
        reason: String,
    },
    /// One window of the session timeline is rendered (its files are under
    /// `prefix`): during the session, so that only the last window and the
    /// assembly remain after the last chunk.
    WindowRendered {
        layout: Layout,
        index: u32,
        from_ms: u64,
        to_ms: u64,
        /// The participants shown, in order; a window is reused only for the
        /// same people.
        tracks: Vec<ParticipantId>,
        prefix: String,
        worker: String,
    },
    /// A participant who had not finished its uploads when the session
    /// completed (it closed the tab, its grace period ran out) finished them
    /// later: the completed session now expects `chunk_count` chunks of it,
    /// windows rendered before this are stale, and the room is rendered again.
    UploadsArrivedLate {
        participant: ParticipantId,
        chunk_count: u32,
    },
    /// The host deleted the recording: its objects are removed from storage
    /// (then `RecordingSwept`); the log keeps every fact, and the room refuses
    /// everything from now on.
    RecordingDeleted {},
    /// Every stored object of a deleted recording is gone from storage.
    RecordingSwept {
        objects: u64,
    },
}

/// The container a recorder writes, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// Matroska or WebM (Chromium, Firefox).
    Webm,
    /// MP4, fragmented (Safari).
    Mp4,
}

impl Container {
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Webm => "webm",
            Container::Mp4 => "mp4",
        }
    }
}

impl RecordingEvent {
    /// Every event type name, in the order of the architecture's table.
    pub const TYPES: [&'static str; 21] = [
        "RoomCreated",
        "ParticipantJoined",
        "ParticipantLeft",
        "ParticipantRemoved",
        "InviteIssued",
        "InviteRevoked",
        "RecordingStarted",
        "RecordingStopped",
        "ChunkUploaded",
        "ParticipantUploadsFinished",
        "SessionCompleted",
        "RenderRequested",
        "RenderStarted",
        "RenderCompleted",
        "RenderFailed",
        "ChunkProbed",
        "ChunkRejected",
        "WindowRendered",
        "RecordingDeleted",
        "RecordingSwept",
        "UploadsArrivedLate",
    ];

    pub fn type_name(&self) -> &'static str {
        match self {
            Self::RoomCreated { .. } => "RoomCreated",
            Self::ParticipantJoined { .. } => "ParticipantJoined",
            Self::ParticipantLeft { .. } => "ParticipantLeft",
            Self::ParticipantRemoved { .. } => "ParticipantRemoved",
            Self::InviteIssued { .. } => "InviteIssued",
            Self::InviteRevoked { .. } => "InviteRevoked",
            Self::RecordingStarted { .. } => "RecordingStarted",
            Self::RecordingStopped { .. } => "RecordingStopped",
            Self::ChunkUploaded { .. } => "ChunkUploaded",
            Self::ParticipantUploadsFinished { .. } => "ParticipantUploadsFinished",
            Self::SessionCompleted { .. } => "SessionCompleted",
            Self::RenderRequested { .. } => "RenderRequested",
            Self::RenderStarted { .. } => "RenderStarted",
            Self::RenderCompleted { .. } => "RenderCompleted",
            Self::RenderFailed { .. } => "RenderFailed",
            Self::ChunkProbed { .. } => "ChunkProbed",
            Self::ChunkRejected { .. } => "ChunkRejected",
            Self::WindowRendered { .. } => "WindowRendered",
            Self::RecordingDeleted {} => "RecordingDeleted",
            Self::RecordingSwept { .. } => "RecordingSwept",
            Self::UploadsArrivedLate { .. } => "UploadsArrivedLate",
        }
    }

    /// What the media workers record about stored bytes: allowed in any phase.
    pub fn is_media_event(&self) -> bool {
        matches!(
            self,
            Self::ChunkProbed { .. } | Self::ChunkRejected { .. } | Self::WindowRendered { .. }
        )
    }

    pub fn is_render_event(&self) -> bool {
        matches!(
            self,
            Self::RenderRequested { .. }
                | Self::RenderStarted { .. }
                | Self::RenderCompleted { .. }
                | Self::RenderFailed { .. }
        )
    }
}

#[cfg(feature = "domain")]
impl cqrs_es::DomainEvent for RecordingEvent {
    fn event_type(&self) -> String {
        self.type_name().to_string()
    }
    fn event_version(&self) -> String {
        SCHEMA_VERSION.to_string()
    }
}
