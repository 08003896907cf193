//! ffprobe for the tests: one wrapper, its JSON read into typed structs.

use std::path::Path;
use std::process::Command;

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// ffprobe's JSON (`-of json`) on `file` with `args`, read as `T`.
pub fn ffprobe<T: DeserializeOwned>(file: &Path, args: &[&str]) -> T {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe");
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe's JSON")
}

#[derive(Debug, Clone, Deserialize)]
pub struct Stream {
    pub codec_type: String,
    #[serde(default)]
    pub codec_name: String,
    pub width: Option<u64>,
    pub height: Option<u64>,
    /// ffprobe prints it as a string.
    pub sample_rate: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Format {
    pub duration: Option<String>,
}

/// A file's streams and format (`-show_streams -show_format`).
#[derive(Debug, Deserialize)]
pub struct Probed {
    #[serde(default)]
    pub streams: Vec<Stream>,
    #[serde(default)]
    pub format: Format,
}

impl Probed {
    /// The first stream of `kind` (`video`, `audio`).
    pub fn stream(&self, kind: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.codec_type == kind)
    }
    /// (width, height, codec) of the video.
    pub fn video(&self) -> Option<(u64, u64, String)> {
        let s = self.stream("video")?;
        Some((s.width?, s.height?, s.codec_name.clone()))
    }
    /// (codec, sample rate) of the audio.
    pub fn audio(&self) -> Option<(String, u64)> {
        let s = self.stream("audio")?;
        Some((s.codec_name.clone(), s.sample_rate.as_ref()?.parse().ok()?))
    }
    /// The container's duration in seconds (NaN when ffprobe gives none).
    pub fn duration(&self) -> f64 {
        self.format
            .duration
            .as_deref()
            .and_then(|d| d.parse().ok())
            .unwrap_or(f64::NAN)
    }
    /// The type of every stream, in order.
    pub fn types(&self) -> Vec<String> {
        self.streams.iter().map(|s| s.codec_type.clone()).collect()
    }
}

pub fn probe(file: &Path) -> Probed {
    ffprobe(file, &["-show_streams", "-show_format"])
}

#[derive(Debug, Deserialize)]
pub struct Packet {
    pub pts_time: Option<String>,
    pub flags: String,
}

#[derive(Debug, Deserialize)]
pub struct Packets {
    pub packets: Vec<Packet>,
}

/// The video packets of a file (no decoding): time and flags (`K` keyframe).
pub fn video_packets(file: &Path) -> Vec<Packet> {
    let p: Packets = ffprobe(
        file,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time,flags",
        ],
    );
    p.packets
}
