//! Reading the clock cameras of `web/e2e/session.mjs` (`clockCamera`) back
//! from a rendered track: for each frame, its time on the session timeline
//! and the page clock it shows.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

use super::probe::ffprobe;

/// Frames are read at this size: each of the 27 blocks is 11 pixels wide.
const W: usize = 320;
const H: usize = 180;
/// The blocks' centres at that size (drawn at x = 23 + 22·i, 22 wide, on a
/// 640-wide canvas) and the row through their middle (y 100–260 of 360).
const BLOCKS: usize = 27;
const ROW: usize = 90;

fn centre(i: usize) -> usize {
    (23 + 22 * i + 11) / 2
}

/// The page clock (ms modulo 2^24) a grey frame shows, if it shows one: both
/// guard blocks white and the parity right.
pub fn read_clock(frame: &[u8]) -> Option<u32> {
    let bit = |i: usize| frame[ROW * W + centre(i)] > 128;
    if !bit(0) || !bit(BLOCKS - 1) {
        return None;
    }
    let mut value = 0u32;
    let mut parity = false;
    for i in 1..=24 {
        value = value << 1 | u32::from(bit(i));
        parity ^= bit(i);
    }
    (parity == bit(25)).then_some(value)
}

#[derive(Deserialize)]
struct Frames {
    frames: Vec<Frame>,
}

#[derive(Deserialize)]
struct Frame {
    pts_time: String,
}

/// Every frame of `mp4` that shows a clock and is not the same image as the
/// frame before it (a held frame shows an old time): (seconds on the track's
/// timeline, the clock shown in ms modulo 2^24).
pub fn clock_frames(mp4: &Path) -> Vec<(f64, u32)> {
    let times: Frames = ffprobe(
        mp4,
        &["-select_streams", "v:0", "-show_entries", "frame=pts_time"],
    );
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(mp4)
        .args([
            "-vf",
            &format!("scale={W}:{H},format=gray"),
            "-fps_mode",
            "passthrough",
        ])
        .args(["-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut frames = Vec::new();
    let mut last = None;
    for (pixels, frame) in out.stdout.chunks_exact(W * H).zip(&times.frames) {
        let Ok(at) = frame.pts_time.parse::<f64>() else {
            continue;
        };
        let shown = read_clock(pixels);
        if shown.is_some() && shown != last {
            frames.push((at, shown.unwrap()));
        }
        last = shown;
    }
    frames
}

/// How far each shown clock lies from `origin_ms + at` (ms; positive: the
/// frame shows a later time than the timeline says), modulo-2^24 aware.
pub fn offsets(frames: &[(f64, u32)], origin_ms: i64) -> Vec<(f64, f64)> {
    const WRAP: i64 = 1 << 24;
    frames
        .iter()
        .map(|(at, shown)| {
            let expected = (origin_ms + (at * 1000.0).round() as i64).rem_euclid(WRAP);
            let mut d = i64::from(*shown) - expected;
            if d > WRAP / 2 {
                d -= WRAP;
            } else if d < -WRAP / 2 {
                d += WRAP;
            }
            (*at, d as f64)
        })
        .collect()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
