//! The browser media the render tests feed in, checked with the system
//! ffprobe: Chromium's MediaRecorder chunks in VP9, H.264 and VP8 (committed,
//! see `fixtures/chromium/record-codecs.mjs`) and a Safari-like fragmented
//! MP4 cut mid-fragment (made with ffmpeg, `support::media`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::media::{
    codec_fixture, codec_fixture_manifest, safari_like_mp4, split_bytes, top_level_boxes,
};
use support::probe::{probe, video_packets};

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// Decodes every frame; the errors ffmpeg reports (empty when clean).
fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Remuxes (stream copy) into Matroska, which gives MediaRecorder's WebM a
/// duration and takes H.264 too (WebM does not).
fn remuxed(file: &Path) -> PathBuf {
    let out = file.with_extension("mkv");
    let status = Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-i"])
        .arg(file)
        .args(["-c", "copy", "-f", "matroska"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

#[test]
fn chromium_codec_fixtures_are_whole_recordings_when_concatenated() {
    let scratch = tempfile::tempdir().unwrap();
    for (name, mime, video) in [
        ("vp9", "video/webm;codecs=vp9,opus", "vp9"),
        ("h264", "video/webm;codecs=h264,opus", "h264"),
        ("vp8", "video/webm;codecs=vp8,opus", "vp8"),
    ] {
        let manifest = codec_fixture_manifest(name);
        let chunks = codec_fixture(name);
        assert_eq!(manifest["mimeType"], mime);
        assert_eq!(manifest["timesliceMs"], 1000);
        assert_eq!(manifest["chunks"].as_u64(), Some(chunks.len() as u64));
        assert!(chunks.len() >= 4, "{name}: {} chunks", chunks.len());
        // Only chunk 0 starts with the header (and may be a single byte of it).
        assert!(EBML_MAGIC.starts_with(&chunks[0][..chunks[0].len().min(4)]));
        assert!(
            chunks[1..].iter().all(|c| !c.starts_with(&EBML_MAGIC)),
            "{name}"
        );

        let file = scratch.path().join(format!("{name}.webm"));
        std::fs::write(&file, chunks.concat()).unwrap();
        let p = probe(&file);
        assert_eq!(p.video(), Some((320, 240, video.to_string())), "{name}");
        assert_eq!(p.audio(), Some(("opus".to_string(), 48_000)), "{name}");
        assert_eq!(decode_errors(&file), "", "{name} decodes cleanly");
        let duration = probe(&remuxed(&file)).duration();
        assert!((duration - 4.0).abs() < 0.3, "{name}: {duration} s");
    }
}

#[test]
fn a_safari_like_mp4_cut_mid_fragment_is_whole_when_concatenated() {
    let scratch = tempfile::tempdir().unwrap();
    let mp4 = safari_like_mp4(scratch.path(), 4.0, 1.5);
    assert_eq!(&mp4[4..8], b"ftyp");
    let pieces = split_bytes(&mp4, 5);
    assert_eq!(pieces.len(), 5);
    assert_eq!(pieces.concat(), mp4);
    let box_types: [&[u8]; 4] = [b"ftyp", b"moov", b"moof", b"mdat"];
    assert!(
        pieces[1..].iter().all(|p| !box_types.contains(&&p[4..8])),
        "the cuts fall inside boxes, not between them"
    );

    let file = scratch.path().join("concatenated.mp4");
    std::fs::write(&file, pieces.concat()).unwrap();
    let p = probe(&file);
    let duration = p.duration();
    assert_eq!(p.video(), Some((320, 240, "h264".to_string())));
    assert_eq!(p.audio(), Some(("aac".to_string(), 48_000)));
    assert!((duration - 4.0).abs() < 0.1, "{duration} s");
    assert_eq!(decode_errors(&file), "");
    // Fragmented: ftyp, an empty moov (with mvex), then moof+mdat pairs, one
    // per second (and a last short one for the audio's tail), each from a
    // keyframe.
    let boxes = top_level_boxes(&mp4);
    let kinds: Vec<&str> = boxes.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(kinds[..2], ["ftyp", "moov"]);
    assert!(
        kinds[2..].chunks(2).all(|pair| pair == ["moof", "mdat"]),
        "{kinds:?}"
    );
    assert!(kinds.len() >= 2 + 2 * 4, "{kinds:?}");
    let (moov_at, _, moov_size) = boxes[1];
    assert!(mp4[moov_at..moov_at + moov_size]
        .windows(4)
        .any(|w| w == b"mvex"));
    let keys: Vec<f64> = video_packets(&file)
        .iter()
        .filter(|p| p.flags.starts_with('K'))
        .map(|p| p.pts_time.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(keys, vec![0.0, 1.0, 2.0, 3.0]);
    // Silence but for the beep at 1.5 s, heard after the AAC priming.
    let onset = first_loud_sample(&file) as f64 / 48_000.0;
    let priming = 1024.0 / 48_000.0;
    assert!(
        (onset - (1.5 + priming)).abs() < 0.002,
        "beep heard at {onset} s"
    );
}

#[test]
fn chromium_chunks_are_entered_at_a_keyframe_not_at_their_first_cluster() {
    // Chromium opens a cluster where a chunk is cut, and it usually begins
    // with an inter frame: entered there, the decoder has no reference until
    // the next keyframe. The resync point is a cluster that opens with one.
    use zencast_events::Container;
    use zencast_render::media::{header_end, resync_offset};
    let scratch = tempfile::tempdir().unwrap();
    let mut first_cluster_breaks = 0;
    for name in ["vp9", "h264", "vp8"] {
        let chunks = codec_fixture(name);
        let whole = chunks.concat();
        let header = &whole[..header_end(&whole, Container::Webm).unwrap()];
        let mut entered = 0;
        for k in 1..chunks.len() {
            let decode_from = |at: usize| {
                let file = scratch.path().join(format!("{name}-{k}-{at}.webm"));
                let rest = chunks[k + 1..].concat();
                std::fs::write(&file, [header, &chunks[k][at..], &rest].concat()).unwrap();
                (decode_errors(&file), video_packets(&file))
            };
            let first = header_end(&chunks[k], Container::Webm).unwrap();
            if !decode_from(first).0.is_empty() {
                first_cluster_breaks += 1;
            }
            let Some(at) = resync_offset(header, &chunks[k], Container::Webm) else {
                continue;
            };
            entered += 1;
            let (errors, packets) = decode_from(at);
            assert_eq!(errors, "", "{name} chunk {k} entered at {at}");
            assert!(!packets.is_empty(), "{name} chunk {k}: video after {at}");
        }
        assert!(entered >= chunks.len() - 2, "{name}: {entered} ways in");
    }
    // The fixtures hold the case this is about (VP9's chunks 2 and 3).
    assert!(
        first_cluster_breaks > 0,
        "every first cluster opened with a keyframe"
    );
}

#[tokio::test]
async fn a_slice_without_a_decodable_frame_is_probed_as_such() {
    // Entered at a cluster that opens with an inter frame and cut before the
    // next keyframe, nothing decodes: the window shows it as missing video
    // instead of handing ffmpeg a stream it refuses ("Cannot determine
    // format of input stream").
    use zencast_events::Container;
    use zencast_render::media::{header_end, probe, resync_offset};
    let scratch = tempfile::tempdir().unwrap();
    let chunks = codec_fixture("vp9");
    let whole = chunks.concat();
    let header = &whole[..header_end(&whole, Container::Webm).unwrap()];
    let chunk = &chunks[2];
    let first = header_end(chunk, Container::Webm).unwrap();
    let key = resync_offset(header, chunk, Container::Webm).unwrap();
    assert!(
        first < key,
        "the fixture's chunk 2 opens with an inter frame"
    );
    let probed = |name: &str, body: &[u8]| {
        let file = scratch.path().join(name);
        std::fs::write(&file, [header, body].concat()).unwrap();
        async move { probe(Path::new("ffprobe"), &file).await.unwrap() }
    };
    let inter_only = probed("inter.webm", &chunk[first..key]).await;
    assert_eq!(inter_only.video_codec.as_deref(), Some("vp9"));
    assert!(!inter_only.video_decodes);
    assert!(inter_only.audio_codec.is_some());
    let from_key = probed("key.webm", &chunk[key..]).await;
    assert!(from_key.video_decodes);
}

/// The index of the first decoded audio sample (48 kHz mono) above −26 dBFS.
fn first_loud_sample(file: &Path) -> usize {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-vn", "-ac", "1", "-ar", "48000", "-f", "f32le", "-"])
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
        .chunks_exact(4)
        .position(|s| f32::from_le_bytes(s.try_into().unwrap()).abs() > 0.05)
        .expect("a beep")
}
