//! What to render, read from a room's events: each participant's recording as
//! pieces of consecutive chunks, each placed on the session timeline.
//!
//! A recorder's chunks are one WebM byte stream: only its first chunk has the
//! header. A restart (reload, new device) begins a new segment with a header of
//! its own and its own start time. A missing chunk breaks a segment; with
//! `force`, the chunks after the gap become a piece of their own, decoded with
//! the segment's header bytes in front (the demuxer then resynchronises at the
//! next cluster, whose timestamps still count from the segment's start). Gaps
//! are known from the chunk indexes, never from ffmpeg, which skips them silently.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use zencast_events::{Envelope, FilledGap, ParticipantId, RecordingEvent};

/// One stored chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRef {
    pub index: u32,
    pub key: String,
    pub size: u64,
}

/// Consecutive chunks that decode as one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub chunks: Vec<ChunkRef>,
    /// The piece follows a gap: the bytes before the first cluster of these
    /// objects (the segment's chunks before the gap, read in order until the
    /// first cluster) go in front of it.
    pub header_from: Option<Vec<String>>,
    /// Where the segment's time zero lies on the session timeline, in seconds.
    pub start: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub participant: ParticipantId,
    pub name: String,
    pub pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub title: String,
    /// Time zero of the output: the earliest recorder start or the host's start.
    pub origin: DateTime<Utc>,
    /// The host's stop, seconds after `origin`, if known.
    pub stopped: Option<f64>,
    pub tracks: Vec<Track>,
    /// Missing chunks (only possible with `force`; otherwise planning fails).
    pub gaps: Vec<FilledGap>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    #[error("the session is not completed")]
    NotCompleted,
    #[error("chunks are missing: {0}; `zencast render --force ROOM` renders with what is stored")]
    Missing(String),
    #[error("nothing was recorded: no participant has a usable chunk")]
    Empty,
}

#[derive(Default)]
struct Stored {
    name: String,
    chunks: BTreeMap<u32, (ChunkRef, bool, Option<DateTime<Utc>>)>,
}

/// Plans the render of a completed session from its events, in order.
pub fn plan(events: &[Envelope], force: bool) -> Result<Plan, PlanError> {
    let mut title = String::new();
    let mut chunk_seconds = 10u32;
    let mut started: Option<DateTime<Utc>> = None;
    let mut stopped: Option<DateTime<Utc>> = None;
    let mut expected: Option<BTreeMap<ParticipantId, u32>> = None;
    let mut people: BTreeMap<ParticipantId, Stored> = BTreeMap::new();
    // Tracks (and tiles) in the order people joined: the host first.
    let mut joined: Vec<ParticipantId> = Vec::new();
    for env in events {
        let Ok(event) = env.event() else { continue };
        match event {
            RecordingEvent::RoomCreated {
                title: t,
                chunk_seconds: c,
                ..
            } => {
                title = t;
                chunk_seconds = c;
            }
            RecordingEvent::ParticipantJoined {
                participant,
                display_name,
                ..
            } => {
                if !joined.contains(&participant) {
                    joined.push(participant);
                }
                people.entry(participant).or_default().name = display_name
            }
            RecordingEvent::RecordingStarted { at } => started = Some(at),
            RecordingEvent::RecordingStopped { at } => stopped = Some(at),
            RecordingEvent::ChunkUploaded {
                participant,
                index,
                size,
                key,
                starts_segment,
                recorder_started_at,
                ..
            } => {
                let chunk = ChunkRef {
                    index: index.get(),
                    key,
                    size,
                };
                people
                    .entry(participant)
                    .or_default()
                    .chunks
                    .insert(index.get(), (chunk, starts_segment, recorder_started_at));
            }
            RecordingEvent::SessionCompleted {
                expected_chunks, ..
            } => expected = Some(expected_chunks),
            _ => {}
        }
    }
    let expected = expected.ok_or(PlanError::NotCompleted)?;
    let started = started.ok_or(PlanError::Empty)?;

    let mut missing = Vec::new();
    for (p, count) in &expected {
        let stored = people.get(p);
        let absent: Vec<u32> = (0..*count)
            .filter(|i| !stored.is_some_and(|s| s.chunks.contains_key(i)))
            .collect();
        for (from, to) in runs(&absent) {
            missing.push(FilledGap {
                participant: *p,
                from,
                to,
            });
        }
    }
    if !missing.is_empty() && !force {
        let list: Vec<String> = missing
            .iter()
            .map(|g| format!("{} {}–{}", g.participant, g.from, g.to))
            .collect();
        return Err(PlanError::Missing(list.join(", ")));
    }

    // Segments in absolute time first; the origin is known once all are seen.
    let mut absolute: Vec<(
        ParticipantId,
        String,
        Vec<(Vec<ChunkRef>, Option<Vec<String>>, DateTime<Utc>)>,
    )> = Vec::new();
    let mut order: Vec<(ParticipantId, u32)> = expected.iter().map(|(p, c)| (*p, *c)).collect();
    order.sort_by_key(|(p, _)| joined.iter().position(|j| j == p));
    for (p, count) in &order {
        let Some(stored) = people.get(p) else {
            continue;
        };
        let mut pieces = Vec::new();
        // (the segment's chunk keys before any gap, its start) of the segment being read.
        let mut segment: Option<(Vec<String>, DateTime<Utc>)> = None;
        let mut previous: Option<(u32, Option<DateTime<Utc>>)> = None;
        for (index, (chunk, starts_segment, reported)) in stored.chunks.range(..*count) {
            // A recorder's first chunk: chunk 0, bytes that begin with a WebM
            // header, or a new recorder start time. (Chromium may hand over the
            // header's first byte alone, so the bytes are not enough.)
            let restarted =
                matches!((previous, reported), (Some((_, Some(a))), Some(b)) if a != *b);
            if *index == 0 || *starts_segment || restarted {
                let start = reported.unwrap_or_else(|| {
                    started + chrono::Duration::seconds(i64::from(*index * chunk_seconds))
                });
                segment = Some((vec![chunk.key.clone()], start));
                pieces.push((vec![chunk.clone()], None, start));
            } else if let Some((header, start)) = &mut segment {
                if previous.map(|(i, _)| i) == Some(index - 1) {
                    let piece = pieces.last_mut().expect("a segment has a piece");
                    if piece.1.is_none() {
                        header.push(chunk.key.clone());
                    }
                    piece.0.push(chunk.clone());
                } else {
                    pieces.push((vec![chunk.clone()], Some(header.clone()), *start));
                }
            } else {
                // No header to decode it with: counts as missing.
                missing.push(FilledGap {
                    participant: *p,
                    from: *index,
                    to: *index,
                });
                if !force {
                    return Err(PlanError::Missing(format!(
                        "{p} {index}: no segment header before it"
                    )));
                }
            }
            previous = Some((*index, *reported));
        }
        if !pieces.is_empty() {
            absolute.push((*p, stored.name.clone(), pieces));
        }
    }
    if absolute.is_empty() {
        return Err(PlanError::Empty);
    }
    let origin = absolute
        .iter()
        .flat_map(|(_, _, pieces)| pieces.iter().map(|(_, _, s)| *s))
        .chain([started])
        .min()
        .expect("at least the start");
    let seconds = |t: DateTime<Utc>| (t - origin).num_microseconds().unwrap_or(0) as f64 / 1e6;
    Ok(Plan {
        title,
        origin,
        stopped: stopped.map(seconds),
        tracks: absolute
            .into_iter()
            .map(|(participant, name, pieces)| Track {
                participant,
                name,
                pieces: pieces
                    .into_iter()
                    .map(|(chunks, header_from, start)| Piece {
                        chunks,
                        header_from,
                        start: seconds(start),
                    })
                    .collect(),
            })
            .collect(),
        gaps: merge(missing),
    })
}

/// Consecutive runs of sorted numbers, as inclusive ranges.
fn runs(sorted: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &i in sorted {
        match out.last_mut() {
            Some((_, to)) if *to + 1 == i => *to = i,
            _ => out.push((i, i)),
        }
    }
    out
}

fn merge(mut gaps: Vec<FilledGap>) -> Vec<FilledGap> {
    gaps.sort_by_key(|g| (g.participant, g.from));
    let mut out: Vec<FilledGap> = Vec::new();
    for g in gaps {
        match out.last_mut() {
            Some(last) if last.participant == g.participant && last.to + 1 >= g.from => {
                last.to = last.to.max(g.to)
            }
            _ => out.push(g),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zencast_events::{ChunkIndex, CompletionReason, Layout, Role, RoomId, Sha256};

    struct Log {
        room: RoomId,
        events: Vec<Envelope>,
    }

    fn t(seconds: f64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(1_700_000_000_000_000 + (seconds * 1e6) as i64).unwrap()
    }

    impl Log {
        fn new(host: ParticipantId, guest: ParticipantId) -> Self {
            let mut log = Self {
                room: RoomId::new(),
                events: vec![],
            };
            log.push(RecordingEvent::RoomCreated {
                title: "Ep".into(),
                host,
                layout: Layout::Grid,
                chunk_seconds: 2,
                max_participants: 8,
            });
            for (p, name, role) in [(host, "Hana", Role::Host), (guest, "Gus", Role::Guest)] {
                log.push(RecordingEvent::ParticipantJoined {
                    participant: p,
                    display_name: name.into(),
                    role,
                });
            }
            log.push(RecordingEvent::RecordingStarted { at: t(0.0) });
            log
        }
        fn push(&mut self, e: RecordingEvent) {
            let seq = self.events.len() as u64 + 1;
            self.events
                .push(Envelope::new(self.room, seq, &e, "test", Utc::now()));
        }
        fn chunk(&mut self, p: ParticipantId, i: u32, start: Option<f64>) {
            self.push(RecordingEvent::ChunkUploaded {
                participant: p,
                index: ChunkIndex::new(i).unwrap(),
                size: 10,
                sha256: Sha256::from_bytes([i as u8; 32]),
                key: format!("{p}/{i}.webm"),
                starts_segment: start.is_some(),
                recorder_started_at: start.map(t),
            });
        }
        fn complete(&mut self, counts: &[(ParticipantId, u32)]) {
            self.push(RecordingEvent::SessionCompleted {
                expected_chunks: counts.iter().copied().collect(),
                reason: CompletionReason::GracePeriodExpired,
            });
        }
    }

    #[test]
    fn tracks_are_placed_by_their_recorders_start_and_segments_split() {
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        log.chunk(h, 0, Some(0.25));
        log.chunk(h, 1, None);
        log.chunk(g, 0, Some(-0.5)); // a guest whose recorder started first
        log.chunk(g, 1, None);
        log.chunk(g, 2, Some(5.0)); // reloaded: a new segment
        log.complete(&[(h, 2), (g, 3)]);
        let plan = plan(&log.events, false).unwrap();
        assert_eq!(plan.origin, t(-0.5));
        assert!(plan.gaps.is_empty());
        // In the order they joined: the host first.
        let (host, guest) = (&plan.tracks[0], &plan.tracks[1]);
        assert_eq!((host.participant, guest.participant), (h, g));
        assert_eq!(host.name, "Hana");
        assert_eq!(host.pieces.len(), 1);
        assert_eq!(host.pieces[0].start, 0.75);
        assert_eq!(host.pieces[0].chunks.len(), 2);
        assert_eq!(guest.pieces.len(), 2);
        assert_eq!(guest.pieces[0].start, 0.0);
        assert_eq!(guest.pieces[1].start, 5.5);
        assert_eq!(guest.pieces[1].chunks[0].index, 2);
    }

    #[test]
    fn missing_chunks_refuse_a_plain_render_and_become_gaps_when_forced() {
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        for i in [0, 1, 4] {
            log.chunk(h, i, (i == 0).then_some(0.0));
        }
        log.chunk(g, 0, Some(0.0));
        log.complete(&[(h, 6), (g, 1)]);
        let err = plan(&log.events, false).unwrap_err();
        assert!(
            matches!(err, PlanError::Missing(ref m) if m.contains("2–3") && m.contains("5–5")),
            "{err}"
        );

        let plan = plan(&log.events, true).unwrap();
        assert_eq!(
            plan.gaps,
            vec![
                FilledGap {
                    participant: h,
                    from: 2,
                    to: 3
                },
                FilledGap {
                    participant: h,
                    from: 5,
                    to: 5
                },
            ]
        );
        let host = plan.tracks.iter().find(|t| t.participant == h).unwrap();
        assert_eq!(host.pieces.len(), 2);
        assert_eq!(
            host.pieces[1].header_from,
            Some(vec![format!("{h}/0.webm"), format!("{h}/1.webm")])
        );
        assert_eq!(host.pieces[1].start, host.pieces[0].start);
    }

    #[test]
    fn a_recorder_is_known_by_its_start_even_when_its_first_chunk_is_one_byte() {
        // Chromium may hand over the header's first byte as a chunk of its own:
        // neither chunk 0 nor chunk 1 begins with the header's four bytes.
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        let chunk = |log: &mut Log, p, i: u32, start: f64| {
            log.push(RecordingEvent::ChunkUploaded {
                participant: p,
                index: ChunkIndex::new(i).unwrap(),
                size: 10,
                sha256: Sha256::from_bytes([i as u8; 32]),
                key: format!("{p}/{i}.webm"),
                starts_segment: false,
                recorder_started_at: Some(t(start)),
            })
        };
        for i in 0..3 {
            chunk(&mut log, h, i, 0.0);
        }
        // The guest reloaded before chunk 2: a new recorder, again split oddly.
        for (i, start) in [(0, 0.1), (1, 0.1), (2, 4.0), (3, 4.0)] {
            chunk(&mut log, g, i, start);
        }
        log.complete(&[(h, 3), (g, 4)]);
        let plan = plan(&log.events, false).unwrap();
        assert!(plan.gaps.is_empty());
        assert_eq!(plan.tracks[0].pieces.len(), 1);
        let guest = &plan.tracks[1];
        assert_eq!(guest.pieces.len(), 2);
        assert_eq!(guest.pieces[1].chunks[0].index, 2);
        assert_eq!(guest.pieces[1].start, 4.0);
        assert_eq!(guest.pieces[1].header_from, None);
    }

    #[test]
    fn chunks_without_any_header_cannot_be_decoded_and_count_as_missing() {
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        log.chunk(h, 0, Some(0.0));
        log.chunk(g, 1, None);
        log.chunk(g, 2, None);
        log.complete(&[(h, 1), (g, 3)]);
        assert!(plan(&log.events, false).is_err());
        let plan = plan(&log.events, true).unwrap();
        assert_eq!(plan.tracks.len(), 1);
        assert_eq!(
            plan.gaps,
            vec![FilledGap {
                participant: g,
                from: 0,
                to: 2
            }]
        );
    }
}
