//! Media work on local disk: reassembling a slice of a recorder's stream from
//! its chunks (from S3), entering it at a cluster or fragment, probing and
//! decoding it, running ffmpeg with progress, and reading audio levels.
//!
//! Why one file of some 440 lines (tests aside): every function here runs
//! ffmpeg or ffprobe on local files with the same error type and process
//! handling; the render modules call into it and nothing of it calls back.

use std::path::Path;
use std::process::Stdio;

use ffmpeg_sidecar::command::FfmpegCommand;
use ffmpeg_sidecar::event::FfmpegEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zencast_storage::ChunkStore;

use zencast_events::Container;

use crate::plan::{ChunkRef, Piece};
use crate::RenderError;
use zencast_webm as webm;

/// The Matroska/WebM Cluster element id: everything before the first one is
/// the header a continuation needs in front of it.
const CLUSTER_ID: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];
const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// The container of a recorder's stream, from its first bytes.
pub fn container_of(first: &[u8]) -> Option<Container> {
    if first.starts_with(&EBML_MAGIC) {
        Some(Container::Webm)
    } else if first.len() >= 8 && &first[4..8] == b"ftyp" {
        Some(Container::Mp4)
    } else {
        None
    }
}

/// Where the first cluster (WebM) or movie fragment (MP4) begins in `bytes`:
/// everything before it is the header a continuation needs in front of it.
pub fn header_end(bytes: &[u8], container: Container) -> Option<usize> {
    match container {
        Container::Webm => bytes.windows(4).position(|w| w == CLUSTER_ID),
        Container::Mp4 => first_fragment(bytes),
    }
}

/// Where a demuxer given `header` and the bytes from there decodes on: a
/// WebM cluster that opens with a video keyframe ([`zencast_webm::resync`]), or an MP4 movie
/// fragment.
pub fn resync_offset(header: &[u8], bytes: &[u8], container: Container) -> Option<usize> {
    match container {
        Container::Webm => webm::keyframe_cluster(bytes, webm::video_track(header)),
        Container::Mp4 => first_fragment(bytes),
    }
}

fn first_fragment(bytes: &[u8]) -> Option<usize> {
    (4..bytes.len().saturating_sub(4)).find_map(|i| {
        (&bytes[i..i + 4] == b"moof")
            .then_some(i - 4)
            .filter(|&at| {
                let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap_or_default());
                (16..64 << 20).contains(&size)
            })
    })
}

/// A part of a piece to decode: its chunks from `chunks[0]`, entered at
/// `resync_at` of the first (from the segment's start when `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    pub chunks: Vec<ChunkRef>,
    pub resync_at: Option<u64>,
    /// The keys the segment's header is read from, when the slice does not
    /// begin with it.
    pub header_from: Option<Vec<String>>,
}

impl Slice {
    /// The whole piece.
    pub fn whole(piece: &Piece) -> Self {
        Self {
            chunks: piece.chunks.clone(),
            resync_at: None,
            header_from: piece.header_from.clone(),
        }
    }
}

/// Writes the slice's bytes (header first where needed) to `raw`.
pub async fn reassemble(store: &ChunkStore, slice: &Slice, raw: &Path) -> Result<u64, RenderError> {
    let mut out = tokio::fs::File::create(raw).await?;
    if let Some(keys) = &slice.header_from {
        let header = header_bytes(store, keys).await?;
        out.write_all(&header).await?;
    }
    let mut total = 0;
    for (k, chunk) in slice.chunks.iter().enumerate() {
        let n = match slice.resync_at.filter(|_| k == 0) {
            Some(at) => {
                let bytes = store.bytes(&chunk.key).await?;
                let from = (at as usize).min(bytes.len());
                out.write_all(&bytes[from..]).await?;
                if bytes.len() as u64 != chunk.size {
                    return Err(size_mismatch(chunk, bytes.len() as u64));
                }
                (bytes.len() - from) as u64
            }
            None => {
                let n = store.append_to(&chunk.key, &mut out).await?;
                if n != chunk.size {
                    return Err(size_mismatch(chunk, n));
                }
                n
            }
        };
        total += n;
    }
    out.flush().await?;
    drop(out);
    complete_boxes(raw).await?;
    Ok(total)
}

/// Cuts an MP4 slice after its last whole box: a fragment's samples are
/// described by its `moof` and run on into the next chunk, and half a
/// fragment does not decode (a WebM cluster cut short still does).
async fn complete_boxes(file: &Path) -> Result<(), RenderError> {
    let bytes = tokio::fs::read(file).await?;
    if container_of(&bytes) != Some(Container::Mp4) {
        return Ok(());
    }
    let end = whole_boxes(&bytes);
    if end < bytes.len() {
        tokio::fs::write(file, &bytes[..end]).await?;
    }
    Ok(())
}

/// Where the last whole top-level box of `bytes` ends (a `moof` whose
/// `mdat` is cut off goes too: it describes samples that are not there).
pub fn whole_boxes(bytes: &[u8]) -> usize {
    let mut at = 0usize;
    let mut moof_at: Option<usize> = None;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap_or_default()) as u64;
        let size = match size {
            1 if at + 16 <= bytes.len() => {
                u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap_or_default())
            }
            0 | 1 => break,
            n => n,
        };
        if size < 8 || at as u64 + size > bytes.len() as u64 {
            break;
        }
        moof_at = (&bytes[at + 4..at + 8] == b"moof").then_some(at);
        at += size as usize;
    }
    moof_at.unwrap_or(at)
}

fn size_mismatch(chunk: &ChunkRef, n: u64) -> RenderError {
    RenderError::Media(format!(
        "chunk {} is {n} bytes in the store, {} in the log",
        chunk.key, chunk.size
    ))
}

/// The bytes of `keys`, read in order, before the first cluster or fragment.
pub async fn header_bytes(store: &ChunkStore, keys: &[String]) -> Result<Vec<u8>, RenderError> {
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
            let found = container_of(&bytes).and_then(|c| header_end(&bytes, c));
            if let Some(at) = found {
                bytes.truncate(at);
                return Ok(bytes);
            }
            if bytes.len() > 16 * 1024 * 1024 {
                break;
            }
        }
    }
    Err(RenderError::Media(format!(
        "no cluster or fragment in {}",
        keys.join(", ")
    )))
}

/// What ffprobe says of a file's streams, from its packets (no decoding).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StreamInfo {
    pub format: String,
    pub video_codec: Option<String>,
    /// Whether a video frame decodes: ffprobe names no pixel format when
    /// none does (a slice entered at an inter frame that ends before the
    /// next keyframe), and ffmpeg would refuse the whole command for it.
    pub video_decodes: bool,
    pub audio_codec: Option<String>,
    /// Where the first packet starts and the last ends, in the recorder's
    /// time (seconds).
    pub start: Option<f64>,
    pub end: Option<f64>,
}

#[derive(serde::Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    #[serde(default)]
    packets: Vec<ProbePacket>,
    format: Option<ProbeFormat>,
}

#[derive(serde::Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    pix_fmt: Option<String>,
}

#[derive(serde::Deserialize)]
struct ProbePacket {
    pts_time: Option<String>,
    duration_time: Option<String>,
}

#[derive(serde::Deserialize)]
struct ProbeFormat {
    format_name: Option<String>,
}

/// Runs a short tool (`doing` names the work in the error); returns stdout
/// and stderr.
async fn run_tool(
    mut command: tokio::process::Command,
    doing: String,
) -> Result<(Vec<u8>, String), RenderError> {
    let output = command
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(RenderError::Media(format!("{doing}: {}", tail(&stderr))));
    }
    Ok((output.stdout, stderr))
}

/// The codecs and the media end of `file`, from its packets.
pub async fn probe(ffprobe: &Path, file: &Path) -> Result<StreamInfo, RenderError> {
    let mut command = tokio::process::Command::new(ffprobe);
    command
        .args(["-v", "error", "-of", "json", "-show_entries"])
        .arg(
            "format=format_name:stream=codec_type,codec_name,pix_fmt:packet=pts_time,duration_time",
        )
        .arg(file);
    let (stdout, _) = run_tool(command, "reading the recording".into()).await?;
    let json: ProbeJson = serde_json::from_slice(&stdout)
        .map_err(|e| RenderError::Media(format!("ffprobe output: {e}")))?;
    let stream = |kind: &str| {
        json.streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some(kind))
    };
    let codec = |kind: &str| stream(kind).and_then(|s| s.codec_name.clone());
    let number = |v: &Option<String>| v.as_deref().and_then(|v| v.parse::<f64>().ok());
    let end = json
        .packets
        .iter()
        .filter_map(|p| Some(number(&p.pts_time)? + number(&p.duration_time).unwrap_or(0.0)))
        .fold(None, |max: Option<f64>, t| {
            Some(max.map_or(t, |m| m.max(t)))
        });
    let start = json
        .packets
        .iter()
        .filter_map(|p| number(&p.pts_time))
        .fold(None, |min: Option<f64>, t| {
            Some(min.map_or(t, |m| m.min(t)))
        });
    Ok(StreamInfo {
        format: json.format.and_then(|f| f.format_name).unwrap_or_default(),
        video_codec: codec("video"),
        video_decodes: stream("video").is_some_and(|s| s.pix_fmt.is_some()),
        audio_codec: codec("audio"),
        start,
        end,
    })
}

/// Reads `file` (from `from` seconds after its first packet, else entirely),
/// decoding its audio and demuxing its video; the demuxer's and the audio
/// decoder's complaints, if any. Video is not decoded: a frame that lacks its
/// references is normal where a stream is entered mid-way, so only the
/// container decides a verdict, and decoding a 10 s chunk of 720p VP8 costs
/// about 0.5 s of CPU against 0.06 s to demux it. The end of a stream cut
/// mid-cluster is not a complaint: every chunk but the last ends so.
pub async fn decode_errors(
    ffmpeg: &Path,
    file: &Path,
    from: Option<f64>,
) -> Result<Vec<String>, RenderError> {
    let mut command = tokio::process::Command::new(ffmpeg);
    command.args(["-hide_banner", "-v", "error", "-copyts"]);
    if let Some(from) = from {
        command.args(["-ss", &format!("{from:.3}")]);
    }
    command
        .arg("-i")
        .arg(file)
        .args(["-map", "0", "-c:v", "copy", "-f", "null", "-"]);
    let (_, stderr) = run_tool(command, "decoding the recording".into()).await?;
    Ok(stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("ended prematurely"))
        .map(str::to_string)
        .collect())
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

/// Levels (dBFS) of a 16-bit PCM WAV, per `window` seconds, read streaming
/// (`hound`, on a blocking thread: it reads with `std::io`).
pub async fn wav_levels(wav: &Path, window: f64) -> Result<Vec<f32>, RenderError> {
    let wav = wav.to_path_buf();
    tokio::task::spawn_blocking(move || levels(&wav, window))
        .await
        .map_err(|e| RenderError::Media(format!("reading levels: {e}")))?
}

fn levels(wav: &Path, window: f64) -> Result<Vec<f32>, RenderError> {
    let unreadable = |e: hound::Error| RenderError::Media(format!("{}: {e}", wav.display()));
    let reader = hound::WavReader::open(wav).map_err(unreadable)?;
    let spec = reader.spec();
    let per_window =
        ((f64::from(spec.sample_rate) * window) as usize * usize::from(spec.channels)).max(1);
    let mut levels = Vec::new();
    let (mut energy, mut count) = (0.0f64, 0usize);
    for sample in reader.into_samples::<i16>() {
        let v = f64::from(sample.map_err(unreadable)?) / 32768.0;
        energy += v * v;
        count += 1;
        if count == per_window {
            levels.push(dbfs(energy, count));
            (energy, count) = (0.0, 0);
        }
    }
    // A last, shorter window counts too.
    if count > 0 {
        levels.push(dbfs(energy, count));
    }
    Ok(levels)
}

fn dbfs(energy: f64, samples: usize) -> f32 {
    (10.0 * (energy / samples as f64).max(1e-12).log10()) as f32
}

/// A scratch directory under `work_dir`, removed when dropped.
pub async fn scratch(work_dir: &Path, prefix: &str) -> Result<tempfile::TempDir, RenderError> {
    tokio::fs::create_dir_all(work_dir).await?;
    Ok(tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(work_dir)?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_mp4_slice_ends_after_its_last_whole_box() {
        let mut b = vec![0, 0, 0, 16];
        b.extend(b"ftypisom\0\0\0\0");
        b.extend([0, 0, 0, 12]);
        b.extend(b"moof1234");
        b.extend([0, 0, 0, 100]);
        b.extend(b"mdat123");
        // The moof's mdat is cut off: the moof goes too.
        assert_eq!(super::whole_boxes(&b), 16);
    }

    #[test]
    fn levels_are_per_window_in_dbfs_with_the_last_window_short() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("levels.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 1000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        // 0.5 s of silence, then 0.75 s at half of full scale (stereo, interleaved).
        for i in 0..2500 {
            w.write_sample(if i < 1000 { 0i16 } else { 16384 }).unwrap();
        }
        w.finalize().unwrap();
        let levels = super::levels(&path, 0.5).unwrap();
        assert_eq!(levels.len(), 3, "{levels:?}");
        assert!(levels[0] < -100.0, "{levels:?}");
        // Half of full scale is 20·log10(0.5) = −6.02 dBFS.
        assert!((levels[1] + 6.02).abs() < 0.01, "{levels:?}");
        assert!((levels[2] + 6.02).abs() < 0.01, "{levels:?}");
    }

    #[test]
    fn ffmpeg_times_parse() {
        assert_eq!(super::parse_time("00:01:02.50"), Some(62.5));
        assert_eq!(super::parse_time("N/A"), None);
    }
}
