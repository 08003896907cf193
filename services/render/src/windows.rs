//! Rendering while recording: the timeline in windows.
//!
//! The part of the timeline that every participant has stored (and the
//! ingest worker has read) is final, so it is rendered in windows as the
//! session goes on: each window is a self-contained video starting with a
//! keyframe plus AAC frames cut to join without a click (see `aac`). After
//! the last chunk only the last window and the assembly (stream copies)
//! remain. A window shows the participants whose recording began before its
//! end (not those who joined without recording: the same window whether it
//! was rendered live or after the session).

use zencast_events::ParticipantId;

use crate::media::Slice;
use crate::plan::{Piece, Plan, Track};

/// The first window's length: 480 frames at 30 fps and 750 AAC frames at
/// 48 kHz, so windows join on a frame of both. Short, so the host sees the
/// render begin soon and a session of half a minute is two short windows (a
/// worker killed mid-window loses that window's work, and short windows
/// still finish on a deployment whose workers die every few seconds).
pub const FIRST: f64 = 16.0;
/// Every later window's length (720 frames, 1125 AAC frames). Each window
/// pays a fixed cost (fetching and probing its slices, decoding from a
/// keyframe before it, the loudness normaliser's pre-roll, two ffmpeg runs,
/// x264 starting up, the upload): run by hand on the benchmark's recordings,
/// 16 s windows cost 13 % more CPU than one command over the same 64 s, 24 s
/// ones what the command costs over 96 s; the last window, all that is left
/// after the last chunk, still renders within seconds.
pub const WINDOW: f64 = 24.0;
/// Every duration is a multiple of this: one video frame and one AAC frame
/// (16 frames at 30 fps = 25 AAC frames of 1024 samples at 48 kHz).
pub const GRAIN: f64 = 16.0 / 30.0;

/// One window of the timeline, with who is in it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    pub index: u32,
    pub from: f64,
    pub to: f64,
    /// Indexes into the plan's tracks.
    pub tracks: Vec<usize>,
}

impl WindowSpec {
    pub fn people(&self, plan: &Plan) -> Vec<ParticipantId> {
        self.tracks
            .iter()
            .map(|t| plan.tracks[*t].participant)
            .collect()
    }
    pub fn from_ms(&self) -> u64 {
        (self.from * 1000.0).round() as u64
    }
    pub fn to_ms(&self) -> u64 {
        (self.to * 1000.0).round() as u64
    }
}

fn spec(plan: &Plan, index: u32, from: f64, to: f64) -> WindowSpec {
    let tracks = (0..plan.tracks.len())
        .filter(|t| plan.tracks[*t].pieces.iter().any(|p| p.start < to))
        .collect();
    WindowSpec {
        index,
        from,
        to,
        tracks,
    }
}

/// Where window `k` begins on the timeline.
pub fn start(k: u32) -> f64 {
    match k {
        0 => 0.0,
        k => FIRST + f64::from(k - 1) * WINDOW,
    }
}

/// Where window `k` ends, unless the session ends first.
pub fn end(k: u32) -> f64 {
    start(k + 1)
}

/// The whole windows that lie before the point every participant has
/// stored: what can be rendered now (those already rendered included).
pub fn live(plan: &Plan) -> Vec<WindowSpec> {
    let until = plan.finished_until().min(plan.duration());
    (0..)
        .take_while(|k| end(*k) <= until + 1e-6)
        .map(|k| spec(plan, k, start(k), end(k)))
        .collect()
}

/// How many windows a timeline of `total` seconds has (at least one).
pub fn count(total: f64) -> u32 {
    let after_first = ((total - FIRST) / WINDOW - 1e-6).ceil().max(0.0);
    1 + after_first as u32
}

/// Every window of a completed session of `duration` seconds (rounded up to
/// the grain); the last may be shorter.
pub fn all(plan: &Plan, duration: f64) -> Vec<WindowSpec> {
    let total = (duration / GRAIN - 1e-6).ceil().max(1.0) * GRAIN;
    (0..count(total))
        .map(|k| spec(plan, k, start(k), end(k).min(total)))
        .collect()
}

/// What of a participant's recording a window needs: for each piece that
/// reaches into `[from − lead, to)`, its chunks from one that starts at
/// least `lead` seconds before the window (so decoding passes a keyframe
/// before the window begins) to the first that reaches past the window.
pub fn slices(track: &Track, from: f64, to: f64, lead: f64) -> Vec<(Slice, &Piece)> {
    let mut out = Vec::new();
    for (k, piece) in track.pieces.iter().enumerate() {
        let (first, last) = (piece.chunks.first(), piece.chunks.last());
        let (Some(_), Some(last)) = (first, last) else {
            continue;
        };
        // Without every chunk's reach, take the whole piece.
        if piece.chunks.iter().any(|c| c.media_end.is_none()) {
            out.push((Slice::whole(piece), piece));
            continue;
        }
        let end = piece.start + last.media_end.unwrap_or(0.0);
        // Ended before the window: its last frame still shows until the
        // participant's next recorder starts.
        let next_starts_later = track.pieces.get(k + 1).is_none_or(|next| next.start > from);
        if (end <= from && !next_starts_later) || piece.start >= to {
            continue;
        }
        let want_from = from - piece.start - lead;
        let want_to = to - piece.start;
        let mut begin = 0usize;
        for (i, c) in piece.chunks.iter().enumerate().skip(1) {
            let before = piece.chunks[i - 1].media_end.unwrap_or(0.0);
            if before <= want_from && c.resync_at.is_some() {
                begin = i;
            }
        }
        if end <= from {
            // Only the held last frame: enter at the last chunk we can.
            begin = (0..piece.chunks.len())
                .rev()
                .find(|i| *i == 0 || piece.chunks[*i].resync_at.is_some())
                .unwrap_or(0);
        }
        let stop = piece
            .chunks
            .iter()
            .position(|c| c.media_end.unwrap_or(0.0) >= want_to)
            .unwrap_or(piece.chunks.len() - 1);
        let chunks = piece.chunks[begin..=stop.max(begin)].to_vec();
        let slice = if begin == 0 {
            Slice {
                chunks,
                // After a gap: entered at the chunk's first cluster.
                resync_at: piece.header_from.as_ref().and(piece.chunks[0].resync_at),
                header_from: piece.header_from.clone(),
            }
        } else {
            Slice {
                resync_at: piece.chunks[begin].resync_at,
                chunks,
                header_from: Some(piece.segment_head.clone()),
            }
        };
        out.push((slice, piece));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ChunkRef;

    fn piece(start: f64, ends: &[f64], first_index: u32) -> Piece {
        Piece {
            chunks: ends
                .iter()
                .enumerate()
                .map(|(i, e)| ChunkRef {
                    index: first_index + i as u32,
                    key: format!("k{}", first_index + i as u32),
                    size: 1,
                    media_end: Some(*e),
                    resync_at: Some(100),
                    rejected: false,
                    container: None,
                    media_zero: None,
                })
                .collect(),
            header_from: None,
            segment_head: vec![format!("k{first_index}")],
            start,
        }
    }

    fn track(pieces: Vec<Piece>) -> Track {
        Track {
            participant: ParticipantId::new(),
            name: "P".into(),
            joined: 0.0,
            pieces,
            done: false,
            absent: false,
        }
    }

    #[test]
    fn a_window_reads_from_a_chunk_well_before_it_to_the_first_past_it() {
        let t = track(vec![piece(1.0, &[10.0, 20.0, 30.0, 40.0, 50.0], 0)]);
        // Window 32–40 with a 10 s lead: media 21–39 of the recorder.
        let s = slices(&t, 32.0, 40.0, 10.0);
        assert_eq!(s.len(), 1);
        let idx: Vec<u32> = s[0].0.chunks.iter().map(|c| c.index).collect();
        assert_eq!(idx, vec![2, 3]);
        assert_eq!(s[0].0.resync_at, Some(100));
        assert_eq!(s[0].0.header_from, Some(vec!["k0".to_string()]));
        // The first window starts at the segment's start.
        let s = slices(&t, 0.0, 8.0, 10.0);
        assert_eq!(s[0].0.chunks.len(), 1);
        assert_eq!(s[0].0.resync_at, None);
        assert_eq!(s[0].0.header_from, None);
    }

    #[test]
    fn a_recorder_restart_keeps_the_last_frame_of_the_first_until_the_second() {
        let t = track(vec![piece(0.0, &[10.0, 20.0], 0), piece(30.0, &[10.0], 2)]);
        let s = slices(&t, 24.0, 32.0, 10.0);
        let idx: Vec<Vec<u32>> = s
            .iter()
            .map(|(s, _)| s.chunks.iter().map(|c| c.index).collect())
            .collect();
        assert_eq!(idx, vec![vec![1], vec![2]]);
        // Later, only the second recorder's last chunk, for its last frame.
        let s = slices(&t, 48.0, 56.0, 10.0);
        let idx: Vec<Vec<u32>> = s
            .iter()
            .map(|(s, _)| s.chunks.iter().map(|c| c.index).collect())
            .collect();
        assert_eq!(idx, vec![vec![2]]);
    }

    #[test]
    fn windows_cover_the_session_and_the_last_is_cut_to_the_grain() {
        let t = track(vec![piece(0.0, &[10.0, 20.0], 0)]);
        let plan = Plan {
            title: "T".into(),
            origin: chrono::Utc::now(),
            stopped: Some(20.0),
            chunk_seconds: 10.0,
            tracks: vec![t],
            gaps: vec![],
        };
        let w = all(&plan, 20.0);
        assert_eq!(w.len(), 2);
        let last = w.last().unwrap();
        assert_eq!(last.to_ms(), 20267, "20 s rounded up to the grain");
        let grains = (last.to - last.from) / GRAIN;
        assert!((grains - grains.round()).abs() < 1e-6, "{grains}");
        let live = live(&plan);
        assert_eq!(live.len(), 1, "the whole windows before 20 s");
    }

    #[test]
    fn the_first_window_is_short_and_the_others_long_all_on_the_grain() {
        let spans: Vec<(f64, f64)> = (0..4).map(|k| (start(k), end(k))).collect();
        assert_eq!(
            spans,
            [(0.0, 16.0), (16.0, 40.0), (40.0, 64.0), (64.0, 88.0)]
        );
        for (from, to) in spans {
            for t in [from, to] {
                assert!(((t / GRAIN) - (t / GRAIN).round()).abs() < 1e-9, "{t}");
            }
        }
        assert_eq!(count(16.0), 1);
        assert_eq!(count(16.5), 2);
        assert_eq!(count(40.0), 2);
        assert_eq!(count(180.0), 8);
    }
}
