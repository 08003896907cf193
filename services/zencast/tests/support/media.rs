//! Browser-like media for tests: the Chromium codec fixtures committed under
//! `tests/fixtures/codecs/`, and a fragmented MP4 like Safari's MediaRecorder
//! makes (Safari itself cannot run here), made with the system ffmpeg.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A recording like Safari's MediaRecorder writes it: fragmented MP4 (an
/// empty `moov`, then a `moof`+`mdat` fragment per second, each starting with
/// a video keyframe at exactly 0, 1, 2, … s; no `mfra` at the end), H.264
/// without B-frames + AAC-LC at 48 kHz mono, 320×240 at 30 fps: a test
/// picture and silence but for a 200 ms 1 kHz beep from `beep_at` seconds
/// (sample-exact in the source). As in any AAC, the decoded audio starts with
/// the encoder's 1024 samples of priming, which this MP4 has no edit list to
/// trim: the beep is heard 1024/48000 s (21.3 ms) after `beep_at`. Written to
/// `dir/safari-{seconds}s.mp4`; returns its bytes.
pub fn safari_like_mp4(dir: &Path, seconds: f64, beep_at: f64) -> Vec<u8> {
    let out = dir.join(format!("safari-{seconds}s.mp4"));
    let beep = format!(
        "aevalsrc=exprs='if(between(t,{beep_at},{end}),0.5*sin(2*PI*1000*t),0)':s=48000:d={seconds}",
        end = beep_at + 0.2
    );
    let status = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=320x240:rate=30:duration={seconds}"))
        .args(["-f", "lavfi", "-i", &beep])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .args(["-bf", "0", "-b:v", "200k"])
        // A keyframe every second exactly, so every fragment starts with one.
        .args(["-g", "30", "-keyint_min", "30", "-sc_threshold", "0"])
        .args(["-c:a", "aac", "-ar", "48000", "-ac", "1", "-b:a", "64k"])
        .args([
            "-movflags",
            "+frag_keyframe+empty_moov+default_base_moof+skip_trailer",
            "-frag_duration",
            "1000000",
        ])
        // Without it, ffmpeg moves the video fragments after the first one
        // 21 ms later (the AAC priming), so keyframes land at 1.021 s, ….
        .args(["-avoid_negative_ts", "make_non_negative", "-f", "mp4"])
        .arg(&out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not make {}", out.display());
    std::fs::read(out).unwrap()
}

/// A WebM as Chromium's MediaRecorder writes it (VP8 at `bitrate` with a
/// keyframe every `gop` frames, Opus 48 kHz stereo) from the lavfi sources
/// `picture` and `sound`, written to `out`; returns its bytes.
pub fn browser_like_webm(
    out: &Path,
    picture: &str,
    sound: &str,
    bitrate: &str,
    gop: u32,
) -> Vec<u8> {
    let status = Command::new("ffmpeg")
        .args(["-y", "-hide_banner", "-loglevel", "error"])
        .args(["-f", "lavfi", "-i", picture, "-f", "lavfi", "-i", sound])
        .args(["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8"])
        .args(["-b:v", bitrate, "-g", &gop.to_string()])
        .args(["-c:a", "libopus", "-ar", "48000", "-ac", "2", "-f", "webm"])
        .arg(out)
        .status()
        .expect("run ffmpeg");
    assert!(status.success(), "ffmpeg could not make {}", out.display());
    std::fs::read(out).unwrap()
}

/// Cuts `bytes` into `n` pieces of (nearly) equal size, as a recorder's
/// timeslice does: the cuts ignore the container, so they fall mid-box or
/// mid-cluster, and only the first piece has the header.
pub fn split_bytes(bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    let len = bytes.len();
    assert!(n > 0 && n <= len, "cannot cut {len} bytes into {n}");
    (0..n)
        .map(|k| bytes[k * len / n..(k + 1) * len / n].to_vec())
        .collect()
}

/// The chunks of a committed Chromium codec fixture (`vp9`, `h264`, `vp8`:
/// one recorder each, `0.webm`, `1.webm`, … as MediaRecorder's
/// `dataavailable` gave them; see `fixtures/chromium/record-codecs.mjs`).
pub fn codec_fixture(name: &str) -> Vec<Vec<u8>> {
    let count = codec_fixture_manifest(name)["chunks"]
        .as_u64()
        .expect("chunks in the manifest");
    (0..count)
        .map(|i| std::fs::read(codec_dir(name).join(format!("{i}.webm"))).unwrap())
        .collect()
}

/// The manifest of a committed codec fixture: `mimeType`, `chunks`,
/// `chunkSizes`, `timesliceMs`, `durationMs`, …
pub fn codec_fixture_manifest(name: &str) -> serde_json::Value {
    let bytes = std::fs::read(codec_dir(name).join("manifest.json"))
        .unwrap_or_else(|e| panic!("codec fixture {name}: {e}"));
    serde_json::from_slice(&bytes).unwrap()
}

fn codec_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/codecs")
        .join(name)
}

/// (offset, type, size) of each top-level MP4 box.
pub fn top_level_boxes(mp4: &[u8]) -> Vec<(usize, String, usize)> {
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= mp4.len() {
        let mut size = u32::from_be_bytes(mp4[at..at + 4].try_into().unwrap()) as usize;
        if size == 1 {
            // A 64-bit size follows the type.
            size = u64::from_be_bytes(mp4[at + 8..at + 16].try_into().unwrap()) as usize;
        }
        assert!(size >= 8, "box at {at}: size {size}");
        boxes.push((
            at,
            String::from_utf8_lossy(&mp4[at + 4..at + 8]).into_owned(),
            size,
        ));
        at += size;
    }
    assert_eq!(at, mp4.len(), "boxes fill the file exactly");
    boxes
}
