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
use zencast_events::{ChunkIndex, Layout, ParticipantId, RecordingCommand, RoomId};
use zencast_nats::Origin;

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
    let mut projected = running
        .projected
        .clone()
        .context("projector not running")?
        .subscribe();
    wait_projected(
        &running,
        &setup.iter().map(|(r, _, s)| (*r, *s)).collect::<Vec<_>>(),
    )
    .await?;

    let sent: Arc<Mutex<HashMap<Key, Instant>>> = Arc::default();
    let collector = tokio::spawn(async move {
        let mut seen: HashMap<Key, Instant> = HashMap::with_capacity(total);
        let mut lagged = 0u64;
        while seen.len() < total {
            match tokio::time::timeout(Duration::from_secs(30), projected.recv()).await {
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
    for (room, host, _) in setup.clone() {
        let log = log.clone();
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_room {
                let t0 = Instant::now();
                let o = Origin::now(host.to_string());
                let cmd = RecordingCommand::RecordChunk {
                    participant: host,
                    index: ChunkIndex::new(i as u32).expect("bench index in range"),
                    size: 1_000_000,
                    sha256: format!("{:064x}", i),
                    key: format!("{room}/{host}/{i}.webm"),
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
    let mut lat: Vec<Duration> = sent
        .iter()
        .filter_map(|(k, t0)| seen.get(k).map(|t1| t1.duration_since(*t0)))
        .collect();
    running.stop().await;
    anyhow::ensure!(
        lagged == 0 && lat.len() == total,
        "only {} of {total} events observed projected (lagged {lagged})",
        lat.len()
    );

    let (raw_elapsed, mut raw_lat) = raw_baseline(backends, total, rooms).await?;

    let rate = total as f64 / elapsed.as_secs_f64();
    let raw_rate = total as f64 / raw_elapsed.as_secs_f64();
    println!("zencast bench events: {total} ChunkUploaded commands over {rooms} rooms (sequential per room)");
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "path", "events/s", "p50 ms", "p99 ms"
    );
    println!(
        "{:<44} {:>10.0} {:>10.2} {:>10.2}",
        "command → Postgres → JetStream → Redis",
        rate,
        pct(&mut lat, 50.0),
        pct(&mut lat, 99.0)
    );
    println!(
        "{:<44} {:>10.0} {:>10.2} {:>10.2}",
        "raw: INSERT + JetStream publish + HSET",
        raw_rate,
        pct(&mut raw_lat, 50.0),
        pct(&mut raw_lat, 99.0)
    );
    println!("ratio (zencast / raw throughput): {:.2}", rate / raw_rate);
    println!(
        "all commands appended after {:.2} s; all projected after {:.2} s",
        appended_after.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    Ok(())
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
