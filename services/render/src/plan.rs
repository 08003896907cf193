//! What to render, read from a room's events: each participant's recording as
//! pieces of consecutive chunks, each placed on the session timeline.
//!
//! A recorder's chunks are one byte stream (WebM or fragmented MP4): only its
//! first chunk has the header. A restart (reload, new device) begins a new
//! segment with a header of its own and its own start time. A missing chunk
//! breaks a segment; the chunks after the gap become a piece of their own,
//! decoded with the segment's header bytes in front (the demuxer then resumes
//! at the next cluster or fragment, whose timestamps still count from the
//! segment's start). Gaps are known from the chunk indexes, never from ffmpeg,
//! which skips them silently.
//!
//! The timeline's zero is the server's `RecordingStarted`. A recorder start is
//! believed only within the session (see `RECORDER_START_TOLERANCE`), so one
//! client's clock cannot stretch the render.
//!
//! Why one file of some 480 lines (tests aside): the plan is one pure function
//! of the log, and its parts (pieces, segments, gaps, the window model's
//! limits) share the same private types; split, each part would expose them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use zencast_events::{Container, Envelope, FilledGap, ParticipantId, RecordingEvent};

/// How far a recorder start may lie outside the session (clock-sync error).
pub const RECORDER_START_TOLERANCE: f64 = 2.0;
/// A participant with nothing stored this long (plus two chunk lengths) after
/// both the recording's start and their join no longer holds up the windows:
/// they are not recording (an open tab in another room, a recorder that never
/// started). Should they upload later, the windows are rendered again with them.
pub const ABSENT_AFTER: f64 = 10.0;

/// One stored chunk, with what the ingest worker learnt of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRef {
    pub index: u32,
    pub key: String,
    pub size: u64,
    /// How far the recorder's media reaches with this chunk (seconds of the
    /// segment's own time); `None` until probed.
    pub media_end: Option<f64>,
    /// Where decoding can resume inside this chunk.
    pub resync_at: Option<u64>,
    /// The ingest worker found it does not decode.
    pub rejected: bool,
    pub container: Option<Container>,
    /// Where its recorder's media time zero lies, as the browser measured
    /// it (server time).
    pub media_zero: Option<DateTime<Utc>>,
}

/// Consecutive chunks that decode as one stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub chunks: Vec<ChunkRef>,
    /// The piece follows a gap: the bytes before the first cluster of these
    /// objects (the segment's chunks before the gap, read in order until the
    /// first cluster) go in front of it.
    pub header_from: Option<Vec<String>>,
    /// The segment's first chunks: its header is read from them when a slice
    /// of the piece starts after its first chunk.
    pub segment_head: Vec<String>,
    /// Where the segment's time zero lies on the session timeline, in seconds.
    pub start: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub participant: ParticipantId,
    pub name: String,
    /// When the participant joined, on the timeline (seconds; negative before
    /// recording started). No recorder of theirs can start earlier.
    pub joined: f64,
    pub pieces: Vec<Piece>,
    /// Declared its chunk count, and every chunk below it is probed: nothing
    /// more will come from this participant.
    pub done: bool,
    /// Nothing stored long after they could have sent it (see `ABSENT_AFTER`).
    pub absent: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub title: String,
    /// Time zero of the output: the host's `RecordingStarted`.
    pub origin: DateTime<Utc>,
    /// The host's stop, seconds after `origin`, if known.
    pub stopped: Option<f64>,
    pub chunk_seconds: f64,
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

/// Which chunks a plan takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// The completed session: every expected chunk (missing ones fail the
    /// plan unless `force`).
    Final { force: bool },
    /// The session as it goes on: every participant that joined, with what
    /// is stored so far.
    Live,
}

#[derive(Default)]
struct Stored {
    name: String,
    joined: Option<DateTime<Utc>>,
    finished: Option<u32>,
    chunks: BTreeMap<u32, (ChunkRef, bool, Option<DateTime<Utc>>, String)>,
}

struct Facts {
    title: String,
    chunk_seconds: u32,
    started: Option<DateTime<Utc>>,
    stopped: Option<DateTime<Utc>>,
    expected: Option<BTreeMap<ParticipantId, u32>>,
    people: BTreeMap<ParticipantId, Stored>,
    joined: Vec<ParticipantId>,
}

fn facts(events: &[Envelope]) -> Facts {
    let mut f = Facts {
        title: String::new(),
        chunk_seconds: 10,
        started: None,
        stopped: None,
        expected: None,
        people: BTreeMap::new(),
        joined: Vec::new(),
    };
    for env in events {
        let Ok(event) = env.event() else { continue };
        match event {
            RecordingEvent::RoomCreated {
                title,
                chunk_seconds,
                ..
            } => {
                f.title = title;
                f.chunk_seconds = chunk_seconds;
            }
            RecordingEvent::ParticipantJoined {
                participant,
                display_name,
                ..
            } => {
                if !f.joined.contains(&participant) {
                    f.joined.push(participant);
                }
                let p = f.people.entry(participant).or_default();
                p.name = display_name;
                p.joined.get_or_insert(env.occurred_at);
            }
            RecordingEvent::RecordingStarted { at } => f.started = Some(at),
            RecordingEvent::RecordingStopped { at } => f.stopped = Some(at),
            RecordingEvent::ChunkUploaded {
                participant,
                index,
                size,
                sha256,
                key,
                starts_segment,
                recorder_started_at,
                media_zero_at,
            } => {
                let chunk = ChunkRef {
                    index: index.get(),
                    key,
                    size,
                    media_end: None,
                    resync_at: None,
                    rejected: false,
                    container: None,
                    media_zero: media_zero_at,
                };
                f.people.entry(participant).or_default().chunks.insert(
                    index.get(),
                    (
                        chunk,
                        starts_segment,
                        recorder_started_at,
                        sha256.to_string(),
                    ),
                );
            }
            RecordingEvent::ChunkProbed {
                participant,
                index,
                sha256,
                media_end_ms,
                resync_at,
                container,
                ..
            } => {
                if let Some((c, _, _, sha)) = f
                    .people
                    .get_mut(&participant)
                    .and_then(|p| p.chunks.get_mut(&index.get()))
                    .filter(|(_, _, _, sha)| *sha == sha256.to_string())
                {
                    let _ = sha;
                    c.media_end = Some(media_end_ms as f64 / 1000.0);
                    c.resync_at = resync_at;
                    c.container = Some(container);
                    c.rejected = false;
                }
            }
            // Bytes that do not decode count as missing until sent again.
            RecordingEvent::ChunkRejected {
                participant,
                index,
                sha256,
                ..
            } => {
                if let Some(p) = f.people.get_mut(&participant) {
                    if p.chunks
                        .get(&index.get())
                        .is_some_and(|(_, _, _, sha)| *sha == sha256.to_string())
                    {
                        p.chunks.remove(&index.get());
                    }
                }
            }
            RecordingEvent::ParticipantUploadsFinished {
                participant,
                chunk_count,
            } => f.people.entry(participant).or_default().finished = Some(chunk_count),
            RecordingEvent::SessionCompleted {
                expected_chunks, ..
            } => f.expected = Some(expected_chunks),
            RecordingEvent::UploadsArrivedLate {
                participant,
                chunk_count,
            } => {
                if let Some(expected) = f.expected.as_mut() {
                    expected.insert(participant, chunk_count);
                }
            }
            _ => {}
        }
    }
    f
}

/// Plans the render of a session from its events, in order.
pub fn plan(events: &[Envelope], mode: Mode) -> Result<Plan, PlanError> {
    let f = facts(events);
    let started = f.started.ok_or(PlanError::Empty)?;
    let force = matches!(mode, Mode::Final { force: true });
    // Which participants, with how many chunks each.
    let counts: Vec<(ParticipantId, u32)> = match mode {
        Mode::Final { .. } => {
            let expected = f.expected.as_ref().ok_or(PlanError::NotCompleted)?;
            let mut order: Vec<(ParticipantId, u32)> =
                expected.iter().map(|(p, c)| (*p, *c)).collect();
            order.sort_by_key(|(p, _)| f.joined.iter().position(|j| j == p));
            order
        }
        Mode::Live => f
            .joined
            .iter()
            .map(|p| {
                let stored = &f.people[p];
                let top = stored.chunks.last_key_value().map_or(0, |(i, _)| i + 1);
                (*p, top)
            })
            .collect(),
    };

    let mut missing = Vec::new();
    if let Mode::Final { .. } = mode {
        for (p, count) in &counts {
            let stored = f.people.get(p);
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
    }

    let seconds = |t: DateTime<Utc>| (t - started).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let stopped = f.stopped.map(seconds);
    // The log's own clock: when its newest event happened.
    let now = events.last().map_or(0.0, |e| seconds(e.occurred_at));
    // A recorder start is believed only within the session.
    let bound = |t: f64| {
        let upper = stopped.map_or(f64::INFINITY, |s| s + RECORDER_START_TOLERANCE);
        t.clamp(-RECORDER_START_TOLERANCE, upper)
    };
    let mut tracks = Vec::new();
    for (p, count) in &counts {
        let Some(stored) = f.people.get(p) else {
            continue;
        };
        let joined = stored.joined.map_or(0.0, seconds);
        let mut pieces: Vec<Piece> = Vec::new();
        // (the segment's chunk keys before any gap, its start) of the segment being read.
        let mut segment: Option<(Vec<String>, f64)> = None;
        let mut previous: Option<(u32, Option<DateTime<Utc>>)> = None;
        for (index, (chunk, starts_segment, reported, _)) in stored.chunks.range(..*count) {
            // A recorder's first chunk: chunk 0, bytes that begin with a
            // header, or a new recorder start time. (Chromium may hand over the
            // header's first byte alone, so the bytes are not enough.)
            let restarted =
                matches!((previous, reported), (Some((_, Some(a))), Some(b)) if a != *b);
            if *index == 0 || *starts_segment || restarted {
                let start = bound(segment_zero(chunk, seconds).unwrap_or_else(|| {
                    reported.map_or_else(|| f64::from(*index * f.chunk_seconds), seconds)
                }));
                segment = Some((vec![chunk.key.clone()], start));
                pieces.push(Piece {
                    chunks: vec![chunk.clone()],
                    header_from: None,
                    segment_head: vec![chunk.key.clone()],
                    start,
                });
            } else if let Some((head, start)) = &mut segment {
                if previous.map(|(i, _)| i) == Some(index - 1) {
                    let piece = pieces.last_mut().expect("a segment has a piece");
                    if piece.header_from.is_none() {
                        head.push(chunk.key.clone());
                        piece.segment_head.push(chunk.key.clone());
                    }
                    piece.chunks.push(chunk.clone());
                } else {
                    pieces.push(Piece {
                        chunks: vec![chunk.clone()],
                        header_from: Some(head.clone()),
                        segment_head: head.clone(),
                        start: *start,
                    });
                }
            } else if let Mode::Final { .. } = mode {
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
        let done = stored.finished.is_some_and(|n| {
            (0..n).all(|i| {
                stored
                    .chunks
                    .get(&i)
                    .is_some_and(|(c, ..)| c.media_end.is_some())
            })
        });
        let absent = stored.chunks.is_empty()
            && now - joined.max(0.0) > 2.0 * f64::from(f.chunk_seconds) + ABSENT_AFTER;
        if !pieces.is_empty() || mode == Mode::Live {
            tracks.push(Track {
                participant: *p,
                name: stored.name.clone(),
                joined,
                pieces,
                done,
                absent,
            });
        }
    }
    if tracks.iter().all(|t| t.pieces.is_empty()) && mode != Mode::Live {
        return Err(PlanError::Empty);
    }
    Ok(Plan {
        title: f.title,
        origin: started,
        stopped,
        chunk_seconds: f64::from(f.chunk_seconds),
        tracks,
        gaps: merge(missing),
    })
}

/// Where a segment's time zero lies on the timeline, by the browser's
/// measure of its media (`ChunkUploaded.media_zero_at`, see there) rather
/// than the moment it said the recorder started, which after a reload or a
/// late join was measured 0.3 s off (`browser_three_people_joining_late_reloading_changing_microphone_and_offline_are_aligned`).
/// The first chunk's alone, so the answer never changes once windows are
/// rendered by it.
fn segment_zero(first: &ChunkRef, seconds: impl Fn(DateTime<Utc>) -> f64) -> Option<f64> {
    first.media_zero.map(seconds)
}

impl Track {
    /// How far this participant's recording is stored and readable, on the
    /// timeline: the contiguous probed chunks from the first, each segment
    /// placed at its start. Nothing before the participant joined can come.
    pub fn reach(&self) -> f64 {
        if self.done || self.absent {
            return f64::INFINITY;
        }
        let mut reach = self.joined.max(0.0);
        let mut next = 0u32;
        for piece in &self.pieces {
            for c in &piece.chunks {
                if c.index != next || c.rejected {
                    return reach;
                }
                let Some(end) = c.media_end else {
                    return reach;
                };
                reach = reach.max(piece.start + end);
                next += 1;
            }
        }
        reach
    }
}

impl Plan {
    /// Stored chunks without a verdict from the ingest yet.
    pub fn unread_chunks(&self) -> usize {
        self.tracks
            .iter()
            .flat_map(|t| &t.pieces)
            .flat_map(|p| &p.chunks)
            .filter(|c| c.media_end.is_none() && !c.rejected)
            .count()
    }

    /// The timeline up to which every participant's recording is stored.
    pub fn finished_until(&self) -> f64 {
        self.tracks
            .iter()
            .map(Track::reach)
            .fold(f64::INFINITY, f64::min)
    }

    /// The length of the output: where the last probed media ends, bounded by
    /// the session's own length. A guest's recorder stops only when the stop
    /// reaches their page (seconds later on a slow device), and what it records
    /// meanwhile is after the session; a clock cannot stretch it either.
    pub fn duration(&self) -> f64 {
        let end = self
            .tracks
            .iter()
            .flat_map(|t| t.pieces.iter())
            .map(|p| {
                let last = p.chunks.iter().rev().find_map(|c| c.media_end);
                let fallback = p.chunks.len() as f64 * self.chunk_seconds;
                p.start + last.unwrap_or(fallback)
            })
            .fold(0.0, f64::max);
        match self.stopped {
            Some(stop) => end.min(stop),
            None => end,
        }
    }
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
        /// When the next event happens, on the timeline.
        clock: f64,
    }

    fn t(seconds: f64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(1_700_000_000_000_000 + (seconds * 1e6) as i64).unwrap()
    }

    impl Log {
        fn new(host: ParticipantId, guest: ParticipantId) -> Self {
            let mut log = Self {
                room: RoomId::new(),
                events: vec![],
                clock: -1.0,
            };
            log.push(RecordingEvent::RoomCreated {
                title: "Ep".into(),
                host,
                layout: Layout::Grid,
                chunk_seconds: 2,
                max_participants: 8,
                owner: None,
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
                .push(Envelope::new(self.room, seq, &e, "test", t(self.clock)));
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
                media_zero_at: None,
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
        let plan = plan(&log.events, Mode::Final { force: false }).unwrap();
        assert_eq!(plan.origin, t(0.0), "time zero is the server's start");
        assert!(plan.gaps.is_empty());
        // In the order they joined: the host first.
        let (host, guest) = (&plan.tracks[0], &plan.tracks[1]);
        assert_eq!((host.participant, guest.participant), (h, g));
        assert_eq!(host.name, "Hana");
        assert_eq!(host.pieces.len(), 1);
        assert_eq!(host.pieces[0].start, 0.25);
        assert_eq!(host.pieces[0].chunks.len(), 2);
        assert_eq!(guest.pieces.len(), 2);
        assert_eq!(guest.pieces[0].start, -0.5);
        assert_eq!(guest.pieces[1].start, 5.0);
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
        let err = plan(&log.events, Mode::Final { force: false }).unwrap_err();
        assert!(
            matches!(err, PlanError::Missing(ref m) if m.contains("2–3") && m.contains("5–5")),
            "{err}"
        );

        let plan = plan(&log.events, Mode::Final { force: true }).unwrap();
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
                media_zero_at: None,
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
        let plan = plan(&log.events, Mode::Final { force: false }).unwrap();
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
        assert!(plan(&log.events, Mode::Final { force: false }).is_err());
        let plan = plan(&log.events, Mode::Final { force: true }).unwrap();
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

    fn probe(log: &mut Log, p: ParticipantId, i: u32, media_end: f64) {
        log.push(RecordingEvent::ChunkProbed {
            participant: p,
            index: ChunkIndex::new(i).unwrap(),
            sha256: Sha256::from_bytes([i as u8; 32]),
            container: Container::Webm,
            video_codec: Some("vp8".into()),
            audio_codec: Some("opus".into()),
            media_end_ms: (media_end * 1000.0) as i64,
            resync_at: Some(10),
        });
    }

    #[test]
    fn a_recorder_start_outside_the_session_is_not_believed() {
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        log.chunk(h, 0, Some(0.1));
        // A guest whose clock says 1970, and one far in the future.
        log.push(RecordingEvent::ChunkUploaded {
            participant: g,
            index: ChunkIndex::new(0).unwrap(),
            size: 10,
            sha256: Sha256::from_bytes([0; 32]),
            key: format!("{g}/0.webm"),
            starts_segment: true,
            recorder_started_at: DateTime::from_timestamp_millis(1),
            media_zero_at: None,
        });
        log.chunk(g, 1, Some(1e9));
        probe(&mut log, h, 0, 6.0);
        log.push(RecordingEvent::RecordingStopped { at: t(6.0) });
        log.complete(&[(h, 1), (g, 2)]);
        let plan = plan(&log.events, Mode::Final { force: false }).unwrap();
        let guest = &plan.tracks[1];
        assert_eq!(guest.pieces[0].start, -RECORDER_START_TOLERANCE);
        assert_eq!(guest.pieces[1].start, 6.0 + RECORDER_START_TOLERANCE);
        assert!(plan.duration() <= 6.0);
    }

    #[test]
    fn what_a_guest_records_after_the_hosts_stop_is_not_in_the_output() {
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        log.chunk(h, 0, Some(0.1));
        log.chunk(g, 0, Some(0.2));
        log.push(RecordingEvent::RecordingStopped { at: t(6.0) });
        // The stop reached the guest's page 2.5 s late.
        probe(&mut log, h, 0, 5.9);
        probe(&mut log, g, 0, 8.3);
        log.complete(&[(h, 1), (g, 1)]);
        let plan = plan(&log.events, Mode::Final { force: false }).unwrap();
        assert_eq!(plan.duration(), 6.0);
    }

    #[test]
    fn the_slowest_participant_decides_how_far_the_timeline_is_final() {
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        let live = |log: &Log| plan(&log.events, Mode::Live).unwrap();
        // Nobody has stored anything: nothing is final.
        assert_eq!(live(&log).finished_until(), 0.0);
        log.chunk(h, 0, Some(0.5));
        log.chunk(h, 1, None);
        probe(&mut log, h, 0, 10.0);
        probe(&mut log, h, 1, 20.0);
        log.chunk(g, 0, Some(1.0));
        assert_eq!(
            live(&log).finished_until(),
            0.0,
            "the guest's chunk is not probed"
        );
        probe(&mut log, g, 0, 10.0);
        assert_eq!(live(&log).finished_until(), 11.0);
        // A gap holds the guest back even when later chunks are probed.
        log.chunk(g, 2, None);
        probe(&mut log, g, 2, 30.0);
        assert_eq!(live(&log).finished_until(), 11.0);
        log.chunk(g, 1, None);
        probe(&mut log, g, 1, 20.0);
        assert_eq!(
            live(&log).finished_until(),
            20.5,
            "now the host is the slowest"
        );
        log.push(RecordingEvent::ParticipantUploadsFinished {
            participant: h,
            chunk_count: 2,
        });
        assert_eq!(live(&log).finished_until(), 31.0, "the host is done");
    }

    #[test]
    fn a_participant_who_never_records_holds_the_windows_only_for_a_while() {
        let (h, g) = (ParticipantId::new(), ParticipantId::new());
        let mut log = Log::new(h, g);
        let live = |log: &Log| plan(&log.events, Mode::Live).unwrap();
        // The host records; the guest joined and sends nothing.
        log.clock = 10.5;
        log.chunk(h, 0, Some(0.0));
        probe(&mut log, h, 0, 10.0);
        assert_eq!(live(&log).finished_until(), 0.0, "the guest may still send");
        // Two chunk lengths (2 s here) and `ABSENT_AFTER` later, they may not.
        for i in 1..6 {
            let end = 10.0 * f64::from(i + 1);
            log.clock = end + 0.5;
            log.chunk(h, i, None);
            probe(&mut log, h, i, end);
        }
        assert!(log.clock > 2.0 * 2.0 + ABSENT_AFTER);
        let plan = live(&log);
        assert_eq!(plan.finished_until(), 60.0, "the guest holds nothing now");
        let windows = crate::windows::live(&plan);
        assert_eq!(windows.len(), 2, "0–16 s and 16–40 s");
        assert!(
            windows.iter().all(|w| w.tracks == [0]),
            "and is in no window"
        );
        // Should the guest record after all, their windows include them.
        let from = crate::windows::FIRST + 4.0;
        log.chunk(g, 0, Some(from));
        probe(&mut log, g, 0, 60.0 - from);
        let plan = live(&log);
        assert_eq!(plan.finished_until(), 60.0);
        let windows = crate::windows::live(&plan);
        assert_eq!(
            windows[1].tracks,
            [0, 1],
            "the guest recorded from {from} s"
        );
        assert_eq!(windows[0].tracks, [0], "not before");
    }
}
