//! Ingest: every stored chunk is read as soon as it arrives, while the
//! participant can still send it again.
//!
//! A worker on the durable consumer `ingest` (any number share it) takes a
//! `ChunkUploaded`, reads the room from the Postgres log, and checks each of
//! that participant's chunks still without a verdict, in index order: it
//! rebuilds the stream around the chunk (the segment's header, the chunk
//! before it entered at a cluster or fragment, the chunk), lists its packets
//! and decodes it. The verdict is an event: `ChunkProbed` (codecs, how far
//! the recorder's media now reaches, where decoding can resume inside the
//! chunk) or `ChunkRejected` (why). Then the windows that became final are
//! published as jobs.

use std::path::Path;
use std::sync::Arc;

use zencast_events::{Container, ParticipantId, RecordingCommand, RoomId};

use crate::jobs::Jobs;
use crate::media::{self, Slice};
use crate::plan::{plan, ChunkRef, Mode, Piece};
use crate::RenderError;

/// Codecs the browsers' MediaRecorders write, and the render reads.
const VIDEO_CODECS: [&str; 4] = ["vp8", "vp9", "av1", "h264"];
const AUDIO_CODECS: [&str; 3] = ["opus", "aac", "vorbis"];
/// A chunk this small may hold nothing but part of a header (Chromium has
/// sent a header's first byte alone): it cannot be judged by itself.
const TOO_SMALL_TO_JUDGE: u64 = 4096;

/// What the worker found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Probed {
        container: Container,
        video_codec: Option<String>,
        audio_codec: Option<String>,
        media_end_ms: i64,
        resync_at: Option<u64>,
    },
    Rejected(String),
}

pub struct Ingest {
    pub jobs: Arc<Jobs>,
}

impl Ingest {
    /// Checks the participant's chunks without a verdict; then publishes due windows.
    pub async fn attend(
        &self,
        room: RoomId,
        participant: ParticipantId,
    ) -> Result<(), RenderError> {
        let j = &self.jobs;
        // One reader per participant, across workers: each verdict feeds the
        // next chunk's check, so two side by side would read the same chunks.
        let claim = j.claim(&format!("ingest/{room}/{participant}")).await?;
        let events = j.events(room).await?;
        let plan = plan(&events, Mode::Live)?;
        if let Some(track) = plan.tracks.iter().find(|t| t.participant == participant) {
            for piece in &track.pieces {
                // Each verdict is used by the next chunk's check (where to
                // enter, where the media was): kept here as it is recorded,
                // so a backlog is read chunk by chunk, not from the start.
                let mut piece = piece.clone();
                for k in 0..piece.chunks.len() {
                    let chunk = piece.chunks[k].clone();
                    if chunk.media_end.is_some() || chunk.rejected {
                        continue;
                    }
                    let t0 = std::time::Instant::now();
                    let verdict = self.check(&piece, k).await?;
                    let took_ms = t0.elapsed().as_millis() as u64;
                    tracing::debug!(%room, index = chunk.index, took_ms, "chunk checked");
                    let ok = matches!(verdict, Verdict::Probed { .. });
                    if let Verdict::Probed {
                        media_end_ms,
                        resync_at,
                        ..
                    } = &verdict
                    {
                        piece.chunks[k].media_end = Some(*media_end_ms as f64 / 1000.0);
                        piece.chunks[k].resync_at = *resync_at;
                    }
                    self.record(room, participant, &chunk, &events, verdict)
                        .await?;
                    if !ok {
                        break;
                    }
                    // Windows become due as the backlog is read, not after it.
                    j.publish_due(room).await?;
                }
            }
        }
        claim.commit().await?;
        j.publish_due(room).await
    }

    async fn record(
        &self,
        room: RoomId,
        participant: ParticipantId,
        chunk: &ChunkRef,
        events: &[zencast_events::Envelope],
        verdict: Verdict,
    ) -> Result<(), RenderError> {
        let Some(sha256) = stored_sha(events, participant, chunk.index) else {
            return Ok(());
        };
        let index = zencast_events::ChunkIndex::new(chunk.index)
            .map_err(|e| RenderError::Media(e.to_string()))?;
        let command = match verdict {
            Verdict::Probed {
                container,
                video_codec,
                audio_codec,
                media_end_ms,
                resync_at,
            } => RecordingCommand::ProbeChunk {
                participant,
                index,
                sha256,
                container,
                video_codec,
                audio_codec,
                media_end_ms,
                resync_at,
            },
            Verdict::Rejected(reason) => {
                tracing::warn!(%room, %participant, index = chunk.index, %reason, "chunk rejected");
                RecordingCommand::RejectChunk {
                    participant,
                    index,
                    sha256,
                    reason,
                }
            }
        };
        match self.jobs.execute(room, command).await {
            Ok(_) | Err(zencast_eventlog::CommandError::Rejected(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The verdict on chunk `k` of `piece` (the chunks before it in the piece
    /// have theirs).
    pub async fn check(&self, piece: &Piece, k: usize) -> Result<Verdict, RenderError> {
        let r = &self.jobs.renderer;
        let s = &r.settings;
        let chunk = &piece.chunks[k];
        let bytes = r.store.bytes(&chunk.key).await?;
        let header = media::header_bytes(&r.store, &piece.segment_head).await;
        let before = k
            .checked_sub(1)
            .and_then(|i| piece.chunks[i].media_end)
            .unwrap_or(0.0);
        // Enter at the nearest earlier chunk with a cluster or fragment; at the
        // segment's start; or, after a gap, at this chunk's own first one.
        let entry = (0..k)
            .rev()
            .find(|i| piece.chunks[*i].resync_at.is_some() && !piece.chunks[*i].rejected);
        // Where decoding can resume inside this chunk: its first cluster
        // opening on a keyframe (WebM) or its first fragment (MP4).
        let own_resync = header
            .as_deref()
            .ok()
            .and_then(|h| Some((h, media::container_of(h)?)))
            .and_then(|(h, c)| media::resync_offset(h, &bytes, c))
            .map(|o| o as u64);
        let slice = match (entry, &piece.header_from, own_resync) {
            (Some(i), _, _) if header.is_ok() => Slice {
                chunks: piece.chunks[i..=k].to_vec(),
                resync_at: piece.chunks[i].resync_at,
                header_from: Some(piece.segment_head.clone()),
            },
            (_, None, _) => Slice {
                chunks: piece.chunks[..=k].to_vec(),
                resync_at: None,
                header_from: None,
            },
            (_, Some(head), Some(at)) => Slice {
                chunks: vec![chunk.clone()],
                resync_at: Some(at),
                header_from: Some(head.clone()),
            },
            // After a gap, no cluster yet to enter at: nothing decodable so
            // far, which is not an error (the next cluster comes later).
            (_, Some(_), None) => {
                return Ok(Verdict::Probed {
                    container: header
                        .as_deref()
                        .ok()
                        .and_then(media::container_of)
                        .unwrap_or(Container::Webm),
                    video_codec: None,
                    audio_codec: None,
                    media_end_ms: (before * 1000.0).round() as i64,
                    resync_at: None,
                })
            }
        };
        let container = match header.as_deref().ok().and_then(media::container_of) {
            Some(c) => c,
            None if chunk.size < TOO_SMALL_TO_JUDGE && piece.header_from.is_none() => {
                // Part of a header: judged with the chunks that complete it.
                return Ok(Verdict::Probed {
                    container: media::container_of(&bytes).unwrap_or(Container::Webm),
                    video_codec: None,
                    audio_codec: None,
                    media_end_ms: 0,
                    resync_at: None,
                });
            }
            None => {
                return Ok(Verdict::Rejected(
                    "the recording does not begin with a WebM or MP4 header".into(),
                ))
            }
        };
        let dir = media::scratch(&s.work_dir, "ingest-").await?;
        let file = dir.path().join("slice.in");
        media::reassemble(&r.store, &slice, &file).await?;
        let info = match media::probe(&s.ffprobe, &file).await {
            Ok(info) => info,
            Err(e) => return Ok(Verdict::Rejected(clean(&e.to_string(), dir.path()))),
        };
        if let Some(v) = info
            .video_codec
            .as_deref()
            .filter(|v| !VIDEO_CODECS.contains(v))
        {
            return Ok(Verdict::Rejected(format!(
                "video codec {v} is not supported"
            )));
        }
        if let Some(a) = info
            .audio_codec
            .as_deref()
            .filter(|a| !AUDIO_CODECS.contains(a))
        {
            return Ok(Verdict::Rejected(format!(
                "audio codec {a} is not supported"
            )));
        }
        // Entered at a cluster, the first frames may lack their references
        // ("Not all references are available"): the decoder drops them and
        // goes on. What counts is whether the stream goes on past the chunk
        // before; the decoder's words only explain why when it does not.
        // The chunks before this one decoded when they were checked: start a
        // second before this one (WebM: ffmpeg finds the keyframe before).
        let from = info
            .start
            .filter(|_| info.format.contains("matroska"))
            .map(|start| before - 1.0 - start)
            .filter(|f| *f > 1.0);
        let errors = media::decode_errors(&s.ffmpeg, &file, from).await?;
        // The container's own complaints (bytes that are not a stream) reject.
        if let Some(bad) = errors
            .iter()
            .find(|e| e.starts_with("[matroska") || e.starts_with("[mov,mp4"))
        {
            return Ok(Verdict::Rejected(format!(
                "does not decode: {}",
                clean(bad, dir.path())
            )));
        }
        let end = info.end.unwrap_or(0.0);
        if end <= before + 1e-3 && chunk.size >= TOO_SMALL_TO_JUDGE && header.is_ok() {
            let why = errors
                .first()
                .map(|e| format!(": {}", clean(e, dir.path())))
                .unwrap_or_default();
            return Ok(Verdict::Rejected(format!(
                "no decodable media in it: the stream does not go on{why}"
            )));
        }
        Ok(Verdict::Probed {
            container,
            video_codec: info.video_codec,
            audio_codec: info.audio_codec,
            media_end_ms: (end.max(before) * 1000.0).round() as i64,
            resync_at: own_resync,
        })
    }
}

/// ffmpeg's words without this machine's paths.
fn clean(line: &str, dir: &Path) -> String {
    let line = line.replace(&dir.display().to_string(), "");
    match line.find("] ") {
        Some(at) if line.starts_with('[') => line[at + 2..].to_string(),
        _ => line,
    }
}

fn stored_sha(
    events: &[zencast_events::Envelope],
    participant: ParticipantId,
    index: u32,
) -> Option<zencast_events::Sha256> {
    events.iter().rev().find_map(|e| match e.event().ok()? {
        zencast_events::RecordingEvent::ChunkUploaded {
            participant: p,
            index: i,
            sha256,
            ..
        } if p == participant && i.get() == index => Some(sha256),
        _ => None,
    })
}
