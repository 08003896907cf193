//! The rules of what the media workers record: the ingest worker's verdict on
//! each stored chunk, and the windows rendered while the session goes on.
//! Both are facts about stored bytes, so they are accepted in any phase, and a
//! repeat (two workers on the same message) records nothing.

use crate::aggregate::{window_key, Recording};
use crate::command::RecordingCommand;
use crate::error::RecordingError;
use crate::event::RecordingEvent;
use crate::ids::{ChunkIndex, ParticipantId, Sha256};

/// Longest reason kept in a `ChunkRejected` (ffmpeg's words can be long).
const MAX_REASON_CHARS: usize = 500;

impl Recording {
    pub(crate) fn decide_media(
        &self,
        command: RecordingCommand,
    ) -> Result<Vec<RecordingEvent>, RecordingError> {
        use RecordingCommand as C;
        use RecordingEvent as E;
        match command {
            C::ProbeChunk {
                participant,
                index,
                sha256,
                container,
                video_codec,
                audio_codec,
                media_end_ms,
                resync_at,
            } => {
                if !self.needs_check(participant, index, sha256)? {
                    return Ok(vec![]);
                }
                Ok(vec![E::ChunkProbed {
                    participant,
                    index,
                    sha256,
                    container,
                    video_codec,
                    audio_codec,
                    media_end_ms,
                    resync_at,
                }])
            }
            C::RejectChunk {
                participant,
                index,
                sha256,
                reason,
            } => {
                if !self.needs_check(participant, index, sha256)? {
                    return Ok(vec![]);
                }
                let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
                Ok(vec![E::ChunkRejected {
                    participant,
                    index,
                    sha256,
                    reason,
                }])
            }
            C::RecordWindow {
                layout,
                index,
                from_ms,
                to_ms,
                tracks,
                prefix,
                worker,
            } => {
                if from_ms >= to_ms {
                    return Err(RecordingError::Invalid(format!(
                        "window {index} is empty ({from_ms}–{to_ms} ms)"
                    )));
                }
                if self
                    .windows
                    .contains(&window_key(layout, index, to_ms, &tracks))
                {
                    return Ok(vec![]);
                }
                Ok(vec![E::WindowRendered {
                    layout,
                    index,
                    from_ms,
                    to_ms,
                    tracks,
                    prefix,
                    worker,
                }])
            }
            other => Err(RecordingError::Invalid(format!(
                "not a media command: {other:?}"
            ))),
        }
    }

    /// Whether the stored chunk with these bytes still awaits its verdict.
    /// Bytes that are no longer the stored ones (re-sent meanwhile) are refused.
    fn needs_check(
        &self,
        participant: ParticipantId,
        index: ChunkIndex,
        sha256: Sha256,
    ) -> Result<bool, RecordingError> {
        let p = self
            .participants
            .get(&participant)
            .ok_or(RecordingError::NotAParticipant(participant))?;
        match p.chunks.get(&index) {
            Some(stored) if *stored == sha256 => {
                Ok(p.checked.get(&index).map(|c| c.0) != Some(sha256))
            }
            _ => Err(RecordingError::Invalid(format!(
                "chunk {index} of {participant} is not stored with these bytes"
            ))),
        }
    }

    pub(crate) fn check(
        &mut self,
        participant: ParticipantId,
        index: ChunkIndex,
        sha256: Sha256,
        decodes: bool,
    ) {
        if let Some(p) = self.participants.get_mut(&participant) {
            p.checked.insert(index, (sha256, decodes));
        }
    }
}
