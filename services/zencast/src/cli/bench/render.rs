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

use zencast_events::{ChunkIndex, Layout, ParticipantId, RecordingCommand, Role, RoomId, Sha256};
use zencast_nats::{EventLog, Origin};
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
        hand_written(&dir, inputs, seconds, &preset)?;
        let baseline = t0.elapsed().as_secs_f64();

        // The whole session after it ended: every window, then the assembly.
        let room = seed_room(&log, &store, inputs, n).await?;
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

fn make_recording(dir: &Path, i: usize, seconds: u32) -> anyhow::Result<PathBuf> {
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
    n: usize,
) -> anyhow::Result<RoomId> {
    let room = RoomId::new();
    let o = || Origin::now("bench");
    let people: Vec<ParticipantId> = (0..n).map(|_| ParticipantId::new()).collect();
    log.execute(
        room,
        RecordingCommand::CreateRoom {
            title: "Bench".into(),
            host: people[0],
            host_name: "P0".into(),
            layout: Layout::Grid,
            chunk_seconds: 10,
            max_participants: 16,
        },
        &o(),
    )
    .await?;
    for (i, p) in people.iter().enumerate().skip(1) {
        let join = RecordingCommand::Join {
            participant: *p,
            display_name: format!("P{i}"),
            role: Role::Guest,
        };
        log.execute(room, join, &o()).await?;
    }
    let at = chrono::Utc::now();
    log.execute(
        room,
        RecordingCommand::StartRecording { by: people[0], at },
        &o(),
    )
    .await?;
    let mut counts = Vec::new();
    for (p, input) in people.iter().zip(inputs) {
        let bytes = std::fs::read(input)?;
        // About a MediaRecorder chunk's worth each (the file is ~10 chunks long per 100 s).
        let pieces: Vec<&[u8]> = bytes.chunks(bytes.len().div_ceil(6)).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let index = ChunkIndex::new(i as u32)?;
            let key = chunk_key(room, *p, index);
            let staged = std::env::temp_dir().join(format!("zencast-bench-{room}-{i}"));
            std::fs::write(&staged, piece)?;
            let sha = Sha256::from_bytes(sha2::Sha256::digest(piece).into());
            store
                .put_file(&key, &staged, piece.len() as u64, sha, false)
                .await?;
            let _ = std::fs::remove_file(&staged);
            let chunk = RecordingCommand::RecordChunk {
                participant: *p,
                index,
                size: piece.len() as u64,
                sha256: sha,
                key,
                starts_segment: i == 0,
                recorder_started_at: Some(at),
            };
            log.execute(room, chunk, &o()).await?;
        }
        counts.push((*p, pieces.len() as u32));
    }
    log.execute(
        room,
        RecordingCommand::StopRecording {
            by: people[0],
            at: chrono::Utc::now(),
        },
        &o(),
    )
    .await?;
    for (p, count) in counts {
        let finish = RecordingCommand::FinishUploads {
            participant: p,
            chunk_count: count,
        };
        log.execute(room, finish, &o()).await?;
    }
    Ok(room)
}

/// What an engineer would type: the same grid (tiles cropped to fill), the
/// same mix (`amix normalize=0`, loudnorm to −16 LUFS) and the same encoder
/// settings, straight from the recordings.
fn hand_written(dir: &Path, inputs: &[PathBuf], seconds: u32, preset: &str) -> anyhow::Result<()> {
    let n = inputs.len();
    let grid = compose(Layout::Grid, n, f64::from(seconds), &[]);
    let mut graph = format!("color=c=0x16181d:s=1280x720:r=30:d={seconds}[k0];");
    let mut mix = String::new();
    for (i, p) in grid.placements.iter().enumerate() {
        let Rect { x, y, w, h } = p.rect;
        graph.push_str(&format!(
            "[{i}:v]fps=30,scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},setsar=1[v{i}];\
             [k{i}][v{i}]overlay=x={x}:y={y}[k{}];",
            i + 1
        ));
        mix.push_str(&format!("[{i}:a]"));
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
    let status = cmd
        .args(["-filter_complex", &graph, "-map", "[v]", "-map", "[a]"])
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
        .arg(dir.join("hand-written.mp4"))
        .status()?;
    anyhow::ensure!(status.success(), "the hand-written ffmpeg command failed");
    Ok(())
}

/// Integrated loudness as ffmpeg's loudnorm measures it (ffmpeg 5.1's ebur128
/// cannot be quieted).
fn loudness(file: &Path) -> anyhow::Result<String> {
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
