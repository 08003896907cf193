//! The frame clock on what Chromium's MediaRecorder really wrote (the
//! recordings the render tests use), against `ffprobe` on the same bytes.

use std::path::PathBuf;
use std::process::Command;

use zencast_webm::FrameClock;

fn recording(codec: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../zencast/tests/fixtures/codecs")
        .join(codec);
    (0..)
        .map(|i| dir.join(format!("{i}.webm")))
        .take_while(|p| p.exists())
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// The time (ms) of each video packet that begins before `end` bytes.
fn video_packets(bytes: &[u8]) -> Vec<(usize, i64)> {
    let file = std::env::temp_dir().join(format!("zencast-webm-{}.webm", std::process::id()));
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["packet=pts,pos", "-of", "csv=p=0"])
        .arg(&file)
        .output()
        .expect("ffprobe");
    std::fs::remove_file(&file).ok();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (pts, pos) = l.split_once(',')?;
            Some((pos.trim().parse().ok()?, pts.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn each_slice_of_a_chromium_recording_says_its_newest_video_frame() {
    for codec in ["vp8", "vp9", "h264"] {
        let bytes = recording(codec);
        let packets = video_packets(&bytes);
        assert!(
            packets.len() > 30,
            "{codec}: {} video packets",
            packets.len()
        );
        // Cut as a recorder hands over: every so many bytes, anywhere.
        let mut clock = FrameClock::default();
        let mut from = 0;
        let (mut slices, mut exact) = (0, 0);
        for size in [2_001usize, 3_331, 409].into_iter().cycle() {
            if from >= bytes.len() {
                break;
            }
            let to = (from + size).min(bytes.len());
            let said = clock.push(&bytes[from..to]);
            // A block counts in the slice that holds its first bytes (its
            // head and time); ffprobe's position is where its head begins.
            let expected = packets
                .iter()
                .filter(|(pos, _)| *pos >= from && *pos + 4 < to)
                .map(|(_, pts)| *pts)
                .max();
            if said == expected {
                exact += 1;
            } else {
                // A block whose head is split by the cut is read in the next slice.
                let split = packets.iter().any(|(pos, _)| *pos < to && *pos + 12 >= to)
                    || packets
                        .iter()
                        .any(|(pos, _)| *pos < from && *pos + 12 >= from);
                assert!(
                    split,
                    "{codec}, bytes {from}..{to}: {said:?}, ffprobe {expected:?}"
                );
            }
            slices += 1;
            from = to;
        }
        assert!(slices > 15, "{codec}: {slices} slices");
        assert!(
            exact * 4 >= slices * 3,
            "{codec}: {exact} of {slices} exact"
        );
    }
}
