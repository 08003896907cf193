//! Media work on local disk: reassembling a piece from its chunks (streamed
//! from S3, never whole in memory), remuxing it so it has a duration and cues,
//! probing it, running ffmpeg with progress, and reading audio levels.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::FfmpegEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zencast_api::storage::ChunkStore;

use crate::plan::Piece;
use crate::RenderError;

/// The Matroska/WebM Cluster element id: everything before the first one is
/// the header a continuation needs in front of it.
const CLUSTER_ID: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];

/// Writes the piece's bytes (header first if it follows a gap) to `raw`.
pub async fn reassemble(store: &ChunkStore, piece: &Piece, raw: &Path) -> Result<u64, RenderError> {
    let mut out = tokio::fs::File::create(raw).await?;
    if let Some(keys) = &piece.header_from {
        let header = header_bytes(store, keys).await?;
        out.write_all(&header).await?;
    }
    let mut total = 0;
    for chunk in &piece.chunks {
        let n = store.append_to(&chunk.key, &mut out).await?;
        if n != chunk.size {
            return Err(RenderError::Media(format!(
                "chunk {} is {n} bytes in the store, {} in the log",
                chunk.key, chunk.size
            )));
        }
        total += n;
    }
    out.flush().await?;
    out.sync_all().await?;
    Ok(total)
}

/// The bytes of `keys`, read in order, before the first cluster.
async fn header_bytes(store: &ChunkStore, keys: &[String]) -> Result<Vec<u8>, RenderError> {
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    for key in keys {
        let mut body = store.get(key).await?.body.into_async_read();
        loop {
            let n = body.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
            if let Some(at) = bytes.windows(4).position(|w| w == CLUSTER_ID) {
                bytes.truncate(at);
                return Ok(bytes);
            }
            if bytes.len() > 16 * 1024 * 1024 {
                break;
            }
        }
    }
    Err(RenderError::Media(format!(
        "no WebM cluster in {}",
        keys.join(", ")
    )))
}

/// What ffprobe says of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// The first timestamp, in the recorder's time. A piece after a gap starts
    /// late: its clusters keep the segment's timestamps (the remux keeps them
    /// with `-copyts`). ffmpeg shifts every input to start at 0, so a piece is
    /// placed at its segment's start plus this.
    pub start: f64,
    /// Where the last frame ends, in the recorder's time.
    pub end: f64,
    pub has_audio: bool,
    pub has_video: bool,
}

/// Runs a short tool (`doing` names the work in the error); returns stdout.
async fn run_tool(
    mut command: tokio::process::Command,
    doing: String,
) -> Result<Vec<u8>, RenderError> {
    let output = command
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await?;
    if !output.status.success() {
        return Err(RenderError::Media(format!(
            "{doing}: {}",
            tail(&String::from_utf8_lossy(&output.stderr))
        )));
    }
    Ok(output.stdout)
}

/// Remuxes `raw` into `out` (stream copy: duration and cues, no re-encode;
/// timestamps kept as recorded).
pub async fn remux(ffmpeg: &Path, raw: &Path, out: &Path) -> Result<(), RenderError> {
    let mut command = tokio::process::Command::new(ffmpeg);
    command
        .args(["-y", "-hide_banner", "-loglevel", "error", "-copyts", "-i"])
        .arg(raw)
        .args(["-c", "copy"])
        .arg(out);
    run_tool(command, format!("remuxing {}", raw.display())).await?;
    Ok(())
}

pub async fn probe(ffprobe: &Path, file: &Path) -> Result<Probe, RenderError> {
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args(["-v", "error", "-of", "json", "-show_entries"])
        .arg("format=start_time,duration:stream=codec_type")
        .arg(file);
    let stdout = run_tool(command, format!("probing {}", file.display())).await?;
    let json: serde_json::Value = serde_json::from_slice(&stdout)
        .map_err(|e| RenderError::Media(format!("ffprobe output: {e}")))?;
    let kinds: Vec<&str> = json["streams"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["codec_type"].as_str()).collect())
        .unwrap_or_default();
    let number = |field: &str| {
        json["format"][field]
            .as_str()
            .and_then(|d| d.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let start = number("start_time");
    Ok(Probe {
        start,
        // The WebM muxer's duration runs from 0, or from a negative start (the
        // Opus pre-skip): measured on ffmpeg 5.1.
        end: number("duration") + start.min(0.0),
        has_audio: kinds.contains(&"audio"),
        has_video: kinds.contains(&"video"),
    })
}

/// Runs ffmpeg with `args` through ffmpeg-sidecar, calling `progress` with the
/// output time reached (seconds) about twice a second. Blocks: call it from
/// `spawn_blocking`.
pub fn run_ffmpeg(
    ffmpeg: &Path,
    args: &[String],
    mut progress: impl FnMut(f64),
) -> Result<(), RenderError> {
    let mut command = FfmpegCommand::new_with_path(ffmpeg);
    command.args(args);
    die_with_parent(command.as_inner_mut());
    let mut child = command
        .spawn()
        .map_err(|e| RenderError::Media(format!("cannot run {}: {e}", ffmpeg.display())))?;
    let mut errors: Vec<String> = Vec::new();
    let events = child
        .iter()
        .map_err(|e| RenderError::Media(format!("reading ffmpeg's output: {e}")))?;
    for event in events {
        match event {
            FfmpegEvent::Progress(p) => {
                if let Some(t) = parse_time(&p.time) {
                    progress(t);
                }
            }
            FfmpegEvent::Log(ffmpeg_sidecar::event::LogLevel::Error, line)
            | FfmpegEvent::Log(ffmpeg_sidecar::event::LogLevel::Fatal, line)
            | FfmpegEvent::Error(line) => {
                errors.push(line);
                if errors.len() > 20 {
                    errors.remove(0);
                }
            }
            _ => {}
        }
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(RenderError::Media(format!(
            "ffmpeg exited with {status}: {}",
            tail(&errors.join("\n"))
        )));
    }
    Ok(())
}

/// A worker killed mid-render must not leave its ffmpeg encoding on: the
/// kernel kills the child when the thread that started it goes away.
fn die_with_parent(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches nothing but this process.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `HH:MM:SS.xx` → seconds.
fn parse_time(t: &str) -> Option<f64> {
    let mut seconds = 0.0;
    for part in t.trim().split(':') {
        seconds = seconds * 60.0 + part.parse::<f64>().ok()?;
    }
    (seconds >= 0.0).then_some(seconds)
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(4)..].join(" | ")
}

/// Levels (dBFS) of a 16-bit PCM WAV, per `window` seconds, read streaming.
pub async fn wav_levels(wav: &Path, window: f64) -> Result<Vec<f32>, RenderError> {
    let mut file = tokio::io::BufReader::new(tokio::fs::File::open(wav).await?);
    let mut riff = [0u8; 12];
    file.read_exact(&mut riff).await?;
    let (mut channels, mut rate) = (2u32, 48_000u32);
    // Walk the chunks up to `data`.
    loop {
        let mut head = [0u8; 8];
        file.read_exact(&mut head).await?;
        let size = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if &head[..4] == b"fmt " {
            let mut fmt = vec![0u8; size as usize];
            file.read_exact(&mut fmt).await?;
            channels = u32::from(u16::from_le_bytes([fmt[2], fmt[3]]));
            rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
        } else if &head[..4] == b"data" {
            break;
        } else {
            let mut skip = vec![0u8; size as usize];
            file.read_exact(&mut skip).await?;
        }
    }
    let per_window = ((f64::from(rate) * window) as usize * channels as usize).max(1);
    let mut levels = Vec::new();
    let mut buf = vec![0u8; per_window * 2];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled < 2 {
            break;
        }
        let samples = filled / 2;
        let energy: f64 = buf[..samples * 2]
            .chunks_exact(2)
            .map(|s| {
                let v = f64::from(i16::from_le_bytes([s[0], s[1]])) / 32768.0;
                v * v
            })
            .sum::<f64>()
            / samples as f64;
        levels.push((10.0 * energy.max(1e-12).log10()) as f32);
        if filled < buf.len() {
            break;
        }
    }
    Ok(levels)
}

/// A scratch directory for one attempt, removed when dropped.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub async fn create(path: PathBuf) -> Result<Self, RenderError> {
        let _ = tokio::fs::remove_dir_all(&path).await;
        tokio::fs::create_dir_all(&path).await?;
        Ok(Self(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ffmpeg_times_parse() {
        assert_eq!(super::parse_time("00:01:02.50"), Some(62.5));
        assert_eq!(super::parse_time("N/A"), None);
    }
}
