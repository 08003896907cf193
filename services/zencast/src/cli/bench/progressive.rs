//! `zencast bench progressive`: how long after the last chunk final.mp4 and
//! every track are ready when the session is rendered while it records,
//! next to the same session whose chunks all arrive at its end (the
//! whole-session render), and one hand-written ffmpeg command writing the
//! same files (final.mp4, each participant's MP4 and WAV) from the same
//! recordings, all in the same run.
//!
//! How it simulates a session: each participant's 720p30 VP8 + Opus
//! recording is cut into 10 s chunks (the web client's default). With
//! `--real-time` a chunk of each arrives every 10 s. Otherwise the next
//! chunks arrive as soon as the worker has caught up with the ones before
//! (every chunk probed, the ingest and window queues empty): the state a
//! real-time session is in when the worker renders faster than real time,
//! which the printed speed shows (above 1× a real-time session keeps up, so
//! its wait after the last chunk is the one printed). The session stops at
//! its start plus its length on its own clock, so the media fit in it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::PullConsumer;
use zencast_eventlog::log::room_events;
use zencast_eventlog::EventLog;
use zencast_events::RoomId;
use zencast_nats::stream;
use zencast_render::assemble::{final_key, track_key};
use zencast_storage::ChunkStore;

use super::render::{chunk_count, hand_written, loudness, make_recording, split, BenchSession};
use super::Scratch;
use crate::config::Config;
use crate::run::{start, Parts};

/// What to measure.
pub struct Runs {
    pub people: usize,
    pub minutes: Vec<u32>,
    pub real_time: bool,
    /// Times the hand-written command and the whole-session render run, alternately.
    pub repeat: usize,
}

pub async fn run(base: &Config, runs: &Runs) -> anyhow::Result<()> {
    let scratch = Scratch::new(base).await?;
    let result = measure(&scratch, runs).await;
    scratch.remove().await;
    result
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One deployment with every render loop (ingest, windows, assembly).
struct Bench {
    log: Arc<EventLog>,
    store: ChunkStore,
    pool: sqlx::PgPool,
    ingest: PullConsumer,
    windows: PullConsumer,
}

/// Seconds from the last chunk to final.mp4 and to the last track.
struct Waits {
    final_mp4: f64,
    tracks: f64,
}

async fn measure(scratch: &Scratch, runs: &Runs) -> anyhow::Result<()> {
    let (people, real_time) = (runs.people, runs.real_time);
    let dir = scratch.config.data_dir.join("bench-progressive");
    std::fs::create_dir_all(&dir)?;
    let inputs_dir = scratch.base.data_dir.join("bench");
    std::fs::create_dir_all(&inputs_dir)?;
    let running = start(
        crate::Backends::connect(&scratch.config).await?,
        Parts {
            api: false,
            relay: true,
            projector: false,
            render: true,
            embedded_s3: true,
        },
    )
    .await?;
    let b = &running.backends;
    let jobs = b.jobs.clone();
    let bench = Bench {
        log: Arc::new(EventLog::new(b.pool.clone(), b.metrics.clone())),
        store: ChunkStore::new(&scratch.config.s3_settings(running.s3_addr)),
        pool: b.pool.clone(),
        ingest: b
            .stream
            .get_consumer(stream::INGEST_CONSUMER)
            .await
            .map_err(|e| anyhow::anyhow!("the ingest consumer: {e}"))?,
        windows: jobs
            .get_consumer(stream::WINDOW_CONSUMER)
            .await
            .map_err(|e| anyhow::anyhow!("the window consumer: {e}"))?,
    };
    let preset = scratch.config.render_preset.clone();
    let track_preset = scratch.config.render_track_preset.clone();
    println!(
        "{people} people, 720p30 VP8 + Opus, 10 s chunks arriving {}",
        if real_time {
            "in real time"
        } else {
            "as fast as the worker catches up"
        }
    );
    println!(
        "{:>7} {:>13} {:>21} {:>28} {:>9} {:>11}",
        "length",
        "hand-written",
        "whole: final / tracks",
        "progressive: final / tracks",
        "speed",
        "throughput"
    );
    for &m in &runs.minutes {
        let seconds = m * 60;
        println!("  making {people} recordings of {seconds} s …");
        let inputs: Vec<PathBuf> = (0..people)
            .map(|i| make_recording(&inputs_dir, i, seconds))
            .collect::<anyhow::Result<_>>()?;
        let (mut hands, mut wholes) = (Vec::new(), Vec::new());
        let (mut hand_cpu, mut whole_cpu) = (Vec::new(), Vec::new());
        for r in 0..runs.repeat {
            let t0 = Instant::now();
            let c0 = cpu_seconds();
            hand_written(&dir, &inputs, seconds, &preset, Some(&track_preset))?;
            hands.push(t0.elapsed().as_secs_f64());
            let c1 = cpu_seconds();
            hand_cpu.push(c1 - c0);
            wholes.push(bench.session(&inputs, seconds, Pace::AtTheEnd).await?);
            whole_cpu.push(cpu_seconds() - c1);
            if runs.repeat > 1 {
                let w = &wholes[r];
                println!(
                    "  run {}: hand-written {:.1} s, whole {:.1} / {:.1} s, throughput {:.2}×",
                    r + 1,
                    hands[r],
                    w.final_mp4,
                    w.tracks,
                    hands[r] / w.tracks
                );
            }
        }
        let hand = median(hands);
        let whole = Waits {
            final_mp4: median(wholes.iter().map(|w| w.final_mp4).collect()),
            tracks: median(wholes.iter().map(|w| w.tracks).collect()),
        };
        let pace = if real_time {
            Pace::RealTime
        } else {
            Pace::CatchUp
        };
        let (waits, fed, room) = bench.session_timed(&inputs, seconds, pace).await?;
        // Speed while recording: media seconds rendered per second (in real
        // time it cannot exceed the pace, so it says nothing).
        let speed = match pace {
            Pace::CatchUp => format!(
                "{:.2}×",
                f64::from(seconds.saturating_sub(10)) / fed.max(1e-3)
            ),
            _ => "-".into(),
        };
        let file = dir.join(format!("final-{m}.mp4"));
        let mut out = tokio::fs::File::create(&file).await?;
        bench.store.append_to(&final_key(room), &mut out).await?;
        println!(
            "{:>5} min {hand:>11.1} s {:>9.1} s / {:>6.1} s {:>15.1} s / {:>6.1} s {speed:>9} {:>10.2}×",
            m,
            whole.final_mp4,
            whole.tracks,
            waits.final_mp4,
            waits.tracks,
            hand / whole.tracks,
        );
        let total = |v: &[Cpu]| median(v.iter().map(|c| c.own + c.tools).collect());
        let (hand_total, whole_total) = (total(&hand_cpu), total(&whole_cpu));
        println!(
            "          final.mp4 integrated loudness {}; CPU seconds: hand-written {hand_total:.0}, \
             whole {whole_total:.0} ({:.0} in ffmpeg and ffprobe, {:.0} in zencast) = {:.2}×",
            loudness(&file)?,
            median(whole_cpu.iter().map(|c| c.tools).collect()),
            median(whole_cpu.iter().map(|c| c.own).collect()),
            hand_total / whole_total.max(1e-3),
        );
    }
    println!(
        "whole: every chunk arrives at the session's end; waits are from the last chunk.\n\
         speed: media seconds rendered per second while recording, when chunks come as fast as the worker \
         catches up (≥ 1× keeps pace with a live session).\n\
         throughput: hand-written time / whole-session time (the same files, all the work at once); \
         1.0 means no overhead. With --repeat, the medians of the runs."
    );
    running.stop().await;
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Pace {
    /// Every chunk stored at the session's end.
    AtTheEnd,
    /// A chunk of each participant every 10 s.
    RealTime,
    /// The next chunks once the worker has caught up.
    CatchUp,
}

impl Bench {
    async fn session(&self, inputs: &[PathBuf], seconds: u32, pace: Pace) -> anyhow::Result<Waits> {
        Ok(self.session_timed(inputs, seconds, pace).await?.0)
    }

    /// Runs a session at `pace`; returns the waits after its last chunk, the
    /// seconds from its first to its last chunk, and its room.
    async fn session_timed(
        &self,
        inputs: &[PathBuf],
        seconds: u32,
        pace: Pace,
    ) -> anyhow::Result<(Waits, f64, RoomId)> {
        let count = chunk_count(seconds);
        let recordings: Vec<Vec<Vec<u8>>> = inputs
            .iter()
            .map(|f| Ok(split(&std::fs::read(f)?, count)))
            .collect::<anyhow::Result<_>>()?;
        let session = BenchSession::open(&self.log, inputs.len()).await?;
        let mut log = Tail::new(session.room);
        let first = Instant::now();
        for i in 0..count {
            if pace == Pace::RealTime {
                let due = first + Duration::from_secs(10 * (i as u64 + 1));
                tokio::time::sleep_until(due.into()).await;
            }
            for (p, chunks) in session.people.iter().zip(&recordings) {
                session
                    .store_chunk(&self.log, &self.store, *p, i, &chunks[i])
                    .await?;
            }
            if pace == Pace::CatchUp && i + 1 < count {
                self.caught_up(&mut log, (i + 1) * inputs.len()).await?;
            }
        }
        let fed = first.elapsed().as_secs_f64();
        let last = Instant::now();
        session.close(&self.log, seconds, count).await?;
        let room = session.room;
        let final_mp4 = self.stored(&mut log, &[final_key(room)], last).await?;
        let tracks: Vec<String> = session
            .people
            .iter()
            .flat_map(|p| ["mp4", "wav"].map(|ext| track_key(session.room, p, ext)))
            .collect();
        let tracks = self.stored(&mut log, &tracks, last).await?;
        Ok((Waits { final_mp4, tracks }, fed, session.room))
    }

    /// Waits until `chunks` chunks have their verdict and neither the ingest
    /// nor the window queue holds work.
    async fn caught_up(&self, log: &mut Tail, chunks: usize) -> anyhow::Result<()> {
        loop {
            log.read(&self.pool).await?;
            if log.judged >= chunks && idle(&self.ingest).await? && idle(&self.windows).await? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Seconds from `since` until every key in `keys` is in the store.
    async fn stored(&self, log: &mut Tail, keys: &[String], since: Instant) -> anyhow::Result<f64> {
        for key in keys {
            while self.store.head(key).await?.is_none() {
                if let Some(failed) = log
                    .read(&self.pool)
                    .await?
                    .iter()
                    .find(|e| e.event_type == "RenderFailed")
                {
                    anyhow::bail!("the render failed: {}", failed.payload);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(since.elapsed().as_secs_f64())
    }
}

/// A room's log read as it grows, each event once. The waits above look ten
/// times a second: reading the whole log each time made the bench's own
/// work (and Postgres's) grow with the session's length times its events,
/// alongside the render it measures.
struct Tail {
    room: RoomId,
    after: u64,
    /// Chunks with a verdict (`ChunkProbed` or `ChunkRejected`) so far.
    judged: usize,
}

impl Tail {
    fn new(room: RoomId) -> Self {
        Tail {
            room,
            after: 0,
            judged: 0,
        }
    }

    /// The events appended since the last read.
    async fn read(&mut self, pool: &sqlx::PgPool) -> anyhow::Result<Vec<zencast_events::Envelope>> {
        let new = room_events(pool, self.room, self.after, None).await?;
        if let Some(last) = new.last() {
            self.after = last.sequence;
        }
        self.judged += new
            .iter()
            .filter(|e| matches!(e.event_type.as_str(), "ChunkProbed" | "ChunkRejected"))
            .count();
        Ok(new)
    }
}

/// CPU seconds used so far by this process (the whole deployment runs in it,
/// the embedded store included) and its finished children (every ffmpeg and
/// ffprobe): what the work cost, whatever else the machine was doing.
fn cpu_seconds() -> Cpu {
    let used = |who| {
        // SAFETY: getrusage only writes the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        secs(u.ru_utime) + secs(u.ru_stime)
    };
    Cpu {
        own: used(libc::RUSAGE_SELF),
        tools: used(libc::RUSAGE_CHILDREN),
    }
}

/// CPU seconds of this process and of its tools (ffmpeg, ffprobe).
#[derive(Clone, Copy)]
struct Cpu {
    own: f64,
    tools: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            own: self.own - o.own,
            tools: self.tools - o.tools,
        }
    }
}

async fn idle(consumer: &PullConsumer) -> anyhow::Result<bool> {
    let mut consumer = consumer.clone();
    let info = consumer
        .info()
        .await
        .map_err(|e| anyhow::anyhow!("consumer info: {e}"))?;
    Ok(info.num_pending == 0 && info.num_ack_pending == 0)
}
