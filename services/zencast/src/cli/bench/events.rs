//! `zencast bench events`: ChunkUploaded commands through the whole path
//! (command → Postgres log + outbox → relay → JetStream → projector → Redis),
//! next to a raw baseline measured in the same run with the same concurrency:
//! a plain INSERT, a JetStream publish awaiting its ack, and a Redis HSET.
//!
//! Runs in its own throwaway database, stream and key prefix, removed at the end.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::stream;
use tokio::sync::Mutex;
use zencast_eventlog::Origin;
use zencast_events::{ChunkIndex, Layout, ParticipantId, RecordingCommand, RoomId, Sha256};

use super::{pct, Scratch};
use crate::{Backends, Config, Parts};

type Key = (RoomId, u64);

pub async fn run(base: &Config, count: usize, rooms: usize) -> anyhow::Result<()> {
    anyhow::ensure!(rooms >= 1 && count >= rooms, "need count >= rooms >= 1");
    let scratch = Scratch::new(base).await?;
    let result = measure(&scratch.backends, count, rooms).await;
    scratch.remove().await;
    result
}

async fn measure(backends: &Backends, count: usize, rooms: usize) -> anyhow::Result<()> {
    let running = crate::start(
        backends.clone(),
        Parts {
            api: false,
            relay: true,
            projector: true,
            render: false,
            embedded_s3: false,
        },
    )
    .await?;
    let log = running.log.clone();
    let per_room = count / rooms;
    let total = per_room * rooms;

    // Rooms, each recording with its host.
    let mut setup = Vec::new();
    for _ in 0..rooms {
        let (room, host) = (RoomId::new(), ParticipantId::new());
        let o = Origin::now(host.to_string());
        log.execute(
            room,
            RecordingCommand::CreateRoom {
                title: "bench".into(),
                host,
                host_name: "Host".into(),
                layout: Layout::Grid,
                chunk_seconds: 10,
                max_participants: 8,
                owner: None,
            },
            &o,
        )
        .await?;
        let started = log
            .execute(
                room,
                RecordingCommand::StartRecording { by: host, at: o.at },
                &o,
            )
            .await?;
        setup.push((room, host, started.last().map_or(3, |e| e.sequence)));
    }
    // Wait until the set-up events are projected, so they do not count.
    let projected = running.projected.clone().context("projector not running")?;
    wait_projected(
        &running,
        &setup.iter().map(|(r, _, s)| (*r, *s)).collect::<Vec<_>>(),
    )
    .await?;
    let rooms: Vec<(RoomId, ParticipantId)> = setup.iter().map(|(r, h, _)| (*r, *h)).collect();

    // As fast as it goes: throughput (latency here is mostly queueing).
    let burst = phase(&log, &projected, &rooms, 0, per_room, None).await?;
    let rate = total as f64 / burst.elapsed.as_secs_f64();
    // Then at half that rate, so nothing queues: latency.
    let offered = rate / 2.0;
    let steady_per_room = (per_room / 2).max(1);
    let interval = Duration::from_secs_f64(rooms.len() as f64 / offered);
    let mut steady = phase(
        &log,
        &projected,
        &rooms,
        per_room,
        steady_per_room,
        Some(interval),
    )
    .await?;
    running.stop().await;

    let (raw_elapsed, mut raw_lat) = raw_baseline(backends, total, rooms.len()).await?;
    let raw_rate = total as f64 / raw_elapsed.as_secs_f64();
    let mut burst_lat = burst.latencies;
    println!(
        "zencast bench events: {total} ChunkUploaded commands over {} rooms (sequential per room)",
        rooms.len()
    );
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        "path", "events/s", "p50 ms", "p99 ms"
    );
    println!(
        "{:<52} {:>10.0} {:>10.2} {:>10.2}",
        "command → Postgres → JetStream → Redis, flat out",
        rate,
        pct(&mut burst_lat, 50.0),
        pct(&mut burst_lat, 99.0)
    );
    println!(
        "{:<52} {:>10.0} {:>10.2} {:>10.2}",
        format!("same, offered {offered:.0} events/s"),
        steady.latencies.len() as f64 / steady.elapsed.as_secs_f64(),
        pct(&mut steady.latencies, 50.0),
        pct(&mut steady.latencies, 99.0)
    );
    println!(
        "{:<52} {:>10.0} {:>10.2} {:>10.2}",
        "raw: INSERT + JetStream publish + HSET, flat out",
        raw_rate,
        pct(&mut raw_lat, 50.0),
        pct(&mut raw_lat, 99.0)
    );
    println!("ratio (zencast / raw throughput): {:.2}", rate / raw_rate);
    println!(
        "flat out: all commands appended after {:.2} s, all projected after {:.2} s",
        burst.appended_after.as_secs_f64(),
        burst.elapsed.as_secs_f64()
    );
    Ok(())
}

struct Phase {
    /// From the first command to the last event projected.
    elapsed: Duration,
    appended_after: Duration,
    /// Command sent → event visible in Redis, per event.
    latencies: Vec<Duration>,
}

/// `per_room` chunk commands in every room (indexes from `first`), all rooms at
/// once, each room sequential, optionally one command per `interval` per room.
async fn phase(
    log: &Arc<zencast_eventlog::EventLog>,
    projected: &tokio::sync::broadcast::Sender<Arc<zencast_events::Envelope>>,
    rooms: &[(RoomId, ParticipantId)],
    first: usize,
    per_room: usize,
    interval: Option<Duration>,
) -> anyhow::Result<Phase> {
    let total = per_room * rooms.len();
    let mut feed = projected.subscribe();
    let sent: Arc<Mutex<HashMap<Key, Instant>>> = Arc::default();
    let collector = tokio::spawn(async move {
        let mut seen: HashMap<Key, Instant> = HashMap::with_capacity(total);
        let mut lagged = 0u64;
        while seen.len() < total {
            match tokio::time::timeout(Duration::from_secs(30), feed.recv()).await {
                Ok(Ok(env)) if env.event_type == "ChunkUploaded" => {
                    seen.insert((env.room_id, env.sequence), Instant::now());
                }
                Ok(Ok(_)) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => lagged += n,
                _ => break,
            }
        }
        (seen, lagged)
    });

    let start = Instant::now();
    let mut tasks = Vec::new();
    for (n, &(room, host)) in rooms.iter().enumerate() {
        let log = log.clone();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = interval.map(|i| {
                // Rooms start spread over one interval, not all at once.
                let offset = i.mul_f64(n as f64 / 16.0 % 1.0);
                tokio::time::interval_at(tokio::time::Instant::now() + offset, i)
            });
            for i in first..first + per_room {
                if let Some(t) = tick.as_mut() {
                    t.tick().await;
                }
                let t0 = Instant::now();
                let o = Origin::now(host.to_string());
                let cmd = RecordingCommand::RecordChunk {
                    participant: host,
                    index: ChunkIndex::new(i as u32).expect("bench index in range"),
                    size: 1_000_000,
                    sha256: Sha256::parse(&format!("{:064x}", i)).expect("64 hex digits"),
                    key: format!("{room}/{host}/{i}.webm"),
                    starts_segment: i == 0,
                    recorder_started_at: None,
                    media_zero_at: None,
                };
                let appended = log.execute(room, cmd, &o).await?;
                let mut s = sent.lock().await;
                for e in appended {
                    s.insert((room, e.sequence), t0);
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let appended_after = start.elapsed();
    let (seen, lagged) = collector.await?;
    let elapsed = seen
        .values()
        .max()
        .map_or(start.elapsed(), |t| t.duration_since(start));
    let sent = sent.lock().await;
    let latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(k, t0)| seen.get(k).map(|t1| t1.duration_since(*t0)))
        .collect();
    anyhow::ensure!(
        lagged == 0 && latencies.len() == total,
        "only {} of {total} events observed projected (lagged {lagged})",
        latencies.len()
    );
    Ok(Phase {
        elapsed,
        appended_after,
        latencies,
    })
}

/// The same work without the event store: INSERT, publish with ack, HSET.
async fn raw_baseline(
    b: &Backends,
    total: usize,
    rooms: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    sqlx::query("CREATE TABLE IF NOT EXISTS bench_raw (room text, seq bigint, payload jsonb, PRIMARY KEY (room, seq))")
        .execute(&b.pool)
        .await?;
    let subject_root = format!("{}.rawbench", b.subjects.prefix());
    let raw_stream = format!("{}_RAWBENCH", b.subjects.prefix().to_uppercase());
    b.js.get_or_create_stream(stream::Config {
        name: raw_stream.clone(),
        subjects: vec![format!("{subject_root}.>")],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await?;
    let per_room = total / rooms;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..rooms {
        let (pool, js, mut redis) = (b.pool.clone(), b.js.clone(), b.redis.clone());
        let room = RoomId::new();
        let subject = format!("{subject_root}.{room}");
        let key = format!("{}:rawbench:{room}", b.subjects.prefix());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_room);
            for i in 0..per_room {
                let t0 = Instant::now();
                let payload = serde_json::json!({"index": i, "size": 1_000_000, "sha256": format!("{:064x}", i)});
                sqlx::query("INSERT INTO bench_raw (room, seq, payload) VALUES ($1, $2, $3)")
                    .bind(room.to_string())
                    .bind(i as i64)
                    .bind(&payload)
                    .execute(&pool)
                    .await?;
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", format!("{room}/{i}").as_str());
                js.publish_with_headers(subject.clone(), headers, serde_json::to_vec(&payload)?.into())
                    .await?
                    .await?;
                redis::cmd("HSET").arg(&key).arg("last").arg(i).query_async::<()>(&mut redis).await?;
                lat.push(t0.elapsed());
            }
            anyhow::Ok(lat)
        }));
    }
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed();
    let _ = b.js.delete_stream(&raw_stream).await;
    Ok((elapsed, all))
}

async fn wait_projected(running: &crate::Running, targets: &[(RoomId, u64)]) -> anyhow::Result<()> {
    let state = zencast_projections::RoomState::new(
        running.backends.redis.clone(),
        running.backends.subjects.prefix(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    for (room, seq) in targets {
        while state.last_sequence(*room).await? < *seq {
            anyhow::ensure!(
                Instant::now() < deadline,
                "set-up events were not projected within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}
