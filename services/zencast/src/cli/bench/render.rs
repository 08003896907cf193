//! `zencast bench render`: the render worker on N participants × S seconds of
//! 720p30 WebM (VP8 + Opus, split into 10 s chunks in S3), against one
//! hand-written ffmpeg command with the same grid filter graph, preset and
//! audio chain on the same recordings, in the same run.
//!
//! The worker's figure includes everything it does: reading the log, fetching
//! and reassembling the chunks, remuxing, the aligned WAV pass, the encode and
//! the uploads. It is measured without and with the per-participant MP4s
//! (which the hand-written command does not write).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use sha2::Digest;

use zencast_eventlog::{EventLog, Origin};
use zencast_events::{ChunkIndex, Layout, ParticipantId, RecordingCommand, Role, RoomId, Sha256};
use zencast_render::layout::{compose, Rect};
use zencast_render::Next;
use zencast_storage::{chunk_key, ChunkStore};

use super::Scratch;
use crate::config::Config;
use crate::run::{render_worker, start, Parts};

pub async fn run(base: &Config, people: &[usize], seconds: u32) -> anyhow::Result<()> {
    let scratch = Scratch::new(base).await?;
    let result = measure(&scratch, people, seconds).await;
    scratch.remove().await;
    result
}

async fn measure(scratch: &Scratch, people: &[usize], seconds: u32) -> anyhow::Result<()> {
    let dir = scratch.config.data_dir.join("bench-render");
    std::fs::create_dir_all(&dir)?;
    // The recordings are kept between runs (they take minutes to make).
    let inputs_dir = scratch.base.data_dir.join("bench");
    std::fs::create_dir_all(&inputs_dir)?;
    let most = people.iter().copied().max().unwrap_or(2);
    println!("making {most} recordings of {seconds} s at 1280x720 30 fps (VP8 + Opus) …");
    let recordings: Vec<PathBuf> = (0..most)
        .map(|i| make_recording(&inputs_dir, i, seconds))
        .collect::<anyhow::Result<_>>()?;

    let running = start(
        crate::Backends::connect(&scratch.config).await?,
        Parts {
            api: false,
            relay: false,
            projector: false,
            render: false,
            embedded_s3: true,
        },
    )
    .await?;
    let log = Arc::new(EventLog::new(
        running.backends.pool.clone(),
        running.backends.metrics.clone(),
    ));
    let store = ChunkStore::new(&scratch.config.s3_settings(running.s3_addr));
    store.ensure_bucket().await?;
    let preset = scratch.config.render_preset.clone();

    println!(
        "{:>6} {:>14} {:>10} {:>26} {:>10} {:>8}",
        "people", "hand-written", "× real", "worker (final + tracks)", "× real", "ratio"
    );
    for &n in people {
        let inputs = &recordings[..n];
        let t0 = Instant::now();
        hand_written(&dir, inputs, seconds, &preset, None)?;
        let baseline = t0.elapsed().as_secs_f64();

        // The whole session after it ended: every window, then the assembly.
        let room = seed_room(&log, &store, inputs, seconds).await?;
        let worker = render_worker(&running.backends, log.clone(), running.s3_addr)?;
        let t0 = Instant::now();
        while worker.attend(room, || async {}).await? != Next::Ack {}
        let took = t0.elapsed().as_secs_f64();
        let state = log.load(room).await?.expect("room");
        anyhow::ensure!(
            state.render.completed,
            "the bench render of {n} people failed"
        );
        let file = dir.join(format!("final-{n}.mp4"));
        let mut out = tokio::fs::File::create(&file).await?;
        store
            .append_to(&zencast_render::assemble::final_key(room), &mut out)
            .await?;
        println!(
            "       final.mp4 of {n}: integrated loudness {}",
            loudness(&file)?
        );
        let rt = |t: f64| f64::from(seconds) / t;
        println!(
            "{n:>6} {baseline:>12.1} s {:>9.2}× {took:>24.1} s {:>9.2}× {:>8.2}",
            rt(baseline),
            rt(took),
            baseline / took,
        );
    }
    println!("ratio = hand-written time / worker time (the worker also writes every track); 1.0 means no overhead");
    running.stop().await;
    Ok(())
}

pub fn make_recording(dir: &Path, i: usize, seconds: u32) -> anyhow::Result<PathBuf> {
    let out = dir.join(format!("render-{seconds}s-{i}.webm"));
    if out.exists() {
        return Ok(out);
    }
    let partial = dir.join(format!("render-{seconds}s-{i}.part.webm"));
    let status = Command::new("ffmpeg")
        .args([
            "-y",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("testsrc2=size=1280x720:rate=30:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency={}:sample_rate=48000:duration={seconds}",
            300 + 100 * i
        ))
        .args([
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "2M",
            "-g",
            "60",
            "-c:a",
            "libopus",
            "-ac",
            "2",
            "-f",
            "webm",
        ])
        .arg(&partial)
        .status()?;
    anyhow::ensure!(
        status.success(),
        "ffmpeg could not make the bench recording"
    );
    std::fs::rename(&partial, &out)?;
    Ok(out)
}

/// A completed room whose participants' chunks (10 s of bytes each) are in S3.
async fn seed_room(
    log: &EventLog,
    store: &ChunkStore,
    inputs: &[PathBuf],
    seconds: u32,
) -> anyhow::Result<RoomId> {
    let session = BenchSession::open(log, inputs.len()).await?;
    let count = chunk_count(seconds);
    for (p, input) in session.people.iter().zip(inputs) {
        let pieces = split(&std::fs::read(input)?, count);
        for (i, piece) in pieces.iter().enumerate() {
            session.store_chunk(log, store, *p, i, piece).await?;
        }
    }
    session.close(log, seconds, count).await?;
    Ok(session.room)
}

/// Chunks of about 10 s of media, as the web client sends by default.
pub fn chunk_count(seconds: u32) -> usize {
    seconds.div_ceil(10).max(1) as usize
}

/// `bytes` in `count` pieces cut anywhere, as MediaRecorder's chunks are.
pub fn split(bytes: &[u8], count: usize) -> Vec<Vec<u8>> {
    bytes
        .chunks(bytes.len().div_ceil(count))
        .map(<[u8]>::to_vec)
        .collect()
}

/// A recording session driven through the log as the api would drive it.
pub struct BenchSession {
    pub room: RoomId,
    pub people: Vec<ParticipantId>,
    pub started: chrono::DateTime<chrono::Utc>,
}

fn origin() -> Origin {
    Origin::now("bench")
}

impl BenchSession {
    /// A grid room of `n` people, 10 s chunks, recording from now.
    pub async fn open(log: &EventLog, n: usize) -> anyhow::Result<Self> {
        let room = RoomId::new();
        let people: Vec<ParticipantId> = (0..n).map(|_| ParticipantId::new()).collect();
        let create = RecordingCommand::CreateRoom {
            title: "Bench".into(),
            host: people[0],
            host_name: "P0".into(),
            layout: Layout::Grid,
            chunk_seconds: 10,
            max_participants: 16,
            owner: None,
        };
        log.execute(room, create, &origin()).await?;
        for (i, p) in people.iter().enumerate().skip(1) {
            let join = RecordingCommand::Join {
                participant: *p,
                display_name: format!("P{i}"),
                role: Role::Guest,
                invite: Some(0),
            };
            log.execute(room, join, &origin()).await?;
        }
        let started = chrono::Utc::now();
        let start = RecordingCommand::StartRecording {
            by: people[0],
            at: started,
        };
        log.execute(room, start, &origin()).await?;
        Ok(Self {
            room,
            people,
            started,
        })
    }

    /// Stores chunk `i` of participant `p` in S3 and records it.
    pub async fn store_chunk(
        &self,
        log: &EventLog,
        store: &ChunkStore,
        p: ParticipantId,
        i: usize,
        piece: &[u8],
    ) -> anyhow::Result<()> {
        let index = ChunkIndex::new(i as u32)?;
        let key = chunk_key(self.room, p, index);
        let staged = tempfile::NamedTempFile::new()?;
        std::fs::write(staged.path(), piece)?;
        let sha = Sha256::from_bytes(sha2::Sha256::digest(piece).into());
        store
            .put_file(&key, staged.path(), piece.len() as u64, sha, false)
            .await?;
        let chunk = RecordingCommand::RecordChunk {
            participant: p,
            index,
            size: piece.len() as u64,
            sha256: sha,
            key,
            starts_segment: i == 0,
            recorder_started_at: Some(self.started),
            media_zero_at: None,
        };
        log.execute(self.room, chunk, &origin()).await?;
        Ok(())
    }

    /// Stops recording once `seconds` have passed on the session's clock
    /// (which a bench feeding chunks faster than real time runs ahead of
    /// the wall clock); everyone finishes with `count` chunks, so the
    /// session completes.
    pub async fn close(&self, log: &EventLog, seconds: u32, count: usize) -> anyhow::Result<()> {
        let end = self.started + chrono::Duration::seconds(i64::from(seconds));
        let stop = RecordingCommand::StopRecording {
            by: self.people[0],
            at: end.max(chrono::Utc::now()),
        };
        log.execute(self.room, stop, &origin()).await?;
        for p in &self.people {
            let finish = RecordingCommand::FinishUploads {
                participant: *p,
                chunk_count: count as u32,
            };
            log.execute(self.room, finish, &origin()).await?;
        }
        Ok(())
    }
}

/// What an engineer would type: the same grid (tiles cropped to fill), the
/// same mix (`amix normalize=0`, loudnorm to −16 LUFS) and the same encoder
/// settings, straight from the recordings; with `tracks` (the x264 preset of
/// the tracks), also each participant's MP4 (with its AAC audio) and WAV, as
/// the worker writes them.
pub fn hand_written(
    dir: &Path,
    inputs: &[PathBuf],
    seconds: u32,
    preset: &str,
    tracks: Option<&str>,
) -> anyhow::Result<()> {
    let n = inputs.len();
    let grid = compose(Layout::Grid, n, f64::from(seconds), &[]);
    let mut graph = format!("color=c=0x16181d:s=1280x720:r=30:d={seconds}[k0];");
    let mut mix = String::new();
    for (i, p) in grid.placements.iter().enumerate() {
        let Rect { x, y, w, h } = p.rect;
        let source = if tracks.is_some() {
            graph.push_str(&format!(
                "[{i}:v]fps=30,scale=1280:720:force_original_aspect_ratio=decrease,\
                 pad=1280:720:-1:-1:color=black,setsar=1,split=2[s{i}][o{i}];\
                 [{i}:a]asplit=3[a{i}][w{i}][m{i}];"
            ));
            mix.push_str(&format!("[a{i}]"));
            format!("[s{i}]")
        } else {
            mix.push_str(&format!("[{i}:a]"));
            format!("[{i}:v]fps=30,")
        };
        graph.push_str(&format!(
            "{source}scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1[v{i}];\
             [k{i}][v{i}]overlay=x={x}:y={y}[k{}];",
            i + 1
        ));
    }
    graph.push_str(&format!(
        "[k{n}]format=yuv420p[v];{mix}amix=inputs={n}:normalize=0,loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000,\
         aformat=sample_fmts=fltp:channel_layouts=stereo[a]"
    ));
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-y", "-hide_banner", "-loglevel", "error"]);
    for i in inputs {
        cmd.arg("-i").arg(i);
    }
    cmd.args(["-filter_complex", &graph, "-map", "[v]", "-map", "[a]"])
        .args([
            "-c:v", "libx264", "-preset", preset, "-crf", "23", "-pix_fmt", "yuv420p",
        ])
        .args([
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-ar",
            "48000",
            "-movflags",
            "+faststart",
        ])
        .arg(dir.join("hand-written.mp4"));
    if let Some(track_preset) = tracks {
        for i in 0..n {
            cmd.args(["-map", &format!("[o{i}]"), "-c:v", "libx264", "-preset"])
                .args([track_preset, "-crf", "23", "-pix_fmt", "yuv420p"])
                .args(["-map", &format!("[m{i}]"), "-c:a", "aac", "-b:a", "192k"])
                .arg(dir.join(format!("hand-written-{i}.mp4")))
                .args(["-map", &format!("[w{i}]"), "-c:a", "pcm_s16le"])
                .arg(dir.join(format!("hand-written-{i}.wav")));
        }
    }
    let status = cmd.status()?;
    anyhow::ensure!(status.success(), "the hand-written ffmpeg command failed");
    Ok(())
}

/// Integrated loudness as ffmpeg's loudnorm measures it (ffmpeg 5.1's ebur128
/// cannot be quieted).
pub fn loudness(file: &Path) -> anyhow::Result<String> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:a",
            "-af",
            "loudnorm=print_format=summary",
            "-f",
            "null",
            "-",
        ])
        .output()?;
    Ok(String::from_utf8_lossy(&out.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("Input Integrated:"))
        .map_or("unknown".into(), |v| v.trim().to_string()))
}
