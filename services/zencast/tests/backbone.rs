//! The event backbone, end to end, against real Postgres, NATS JetStream and Redis.

mod support;

use std::time::{Duration, Instant};

use support::{eventually, stream_messages, TestEnv};
use zencast::Parts;
use zencast_eventlog::log::{room_events, rooms};
use zencast_eventlog::{EventLog, Origin};
use zencast_events::{ChunkIndex, Layout, ParticipantId, RecordingCommand, Role, RoomId};
use zencast_projections::model::RoomModel;
use zencast_runtime::Metrics;

/// A room with a host, created through `log`.
async fn create_room(log: &EventLog, room: RoomId, host: ParticipantId, title: &str) {
    let create = RecordingCommand::CreateRoom {
        title: title.into(),
        host,
        host_name: "H".into(),
        layout: Layout::Grid,
        chunk_seconds: 10,
        max_participants: 8,
        owner: None,
    };
    log.execute(room, create, &Origin::now("test"))
        .await
        .unwrap();
}

fn sha(i: u32) -> zencast_events::Sha256 {
    zencast_events::Sha256::parse(&format!("{:064x}", i)).unwrap()
}

/// A created room is in Postgres, on its subject with `Nats-Msg-Id` = event id,
/// and in Redis within a second of the POST, with `zencast up` as a process.
#[tokio::test(flavor = "multi_thread")]
async fn a_created_room_reaches_postgres_jetstream_and_redis_within_a_second() {
    let env = TestEnv::new();
    let up = env.spawn_up(&[]);
    let b = env.backends().await;
    let http = reqwest::Client::new();

    let t0 = Instant::now();
    let created: serde_json::Value = http
        .post(up.url("/api/recordings"))
        .json(&serde_json::json!({"title": "Episode 1", "layout": "side-by-side"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let answered = t0.elapsed();
    let room = RoomId::parse(created["roomId"].as_str().unwrap()).unwrap();
    assert!(created["hostToken"].as_str().unwrap().contains('.'));

    let logged = room_events(&b.pool, room, 0, None).await.unwrap();
    let in_postgres = t0.elapsed();
    assert_eq!(logged[0].event_type, "RoomCreated");
    assert_eq!(logged[0].sequence, 1);
    assert_eq!(logged[0].payload["layout"], "side-by-side");

    let subject = b.subjects.event(room, "RoomCreated");
    let msg = eventually(Duration::from_secs(5), "RoomCreated on JetStream", || {
        let (stream, subject) = (b.stream.clone(), subject.clone());
        async move { stream.get_last_raw_message_by_subject(&subject).await.ok() }
    })
    .await;
    let on_nats = t0.elapsed();
    let headers = msg.headers.clone();
    assert_eq!(
        headers.get("Nats-Msg-Id").map(|v| v.as_str().to_string()),
        Some(logged[0].event_id.to_string())
    );
    assert_eq!(
        headers
            .get("Zencast-Sequence")
            .map(|v| v.as_str().to_string()),
        Some("1".into())
    );
    let body: zencast_events::Envelope = serde_json::from_slice(&msg.payload).unwrap();
    assert_eq!(body, logged[0]);

    // Wait for everything the creation appended (its reply says up to which sequence).
    let created_up_to = created["sequence"].as_u64().unwrap();
    let host_token = created["hostToken"].as_str().unwrap();
    let view: serde_json::Value = eventually(Duration::from_secs(5), "room in Redis", || {
        let req = http
            .get(up.url(&format!("/api/recordings/{room}")))
            .bearer_auth(host_token);
        async move {
            let r = req.send().await.ok()?;
            let v: serde_json::Value = r.json().await.ok()?;
            (v["lastSequence"].as_u64() == Some(created_up_to)).then_some(v)
        }
    })
    .await;
    let in_redis = t0.elapsed();
    assert_eq!(view["title"], "Episode 1");
    assert_eq!(view["status"], "open");
    assert_eq!(view["participants"][0]["role"], "host");

    eprintln!(
        "timing: POST answered {answered:?}, in Postgres {in_postgres:?}, on JetStream {on_nats:?}, in Redis {in_redis:?}"
    );
    assert!(in_redis < Duration::from_secs(1), "took {in_redis:?}");
    assert!(on_nats < Duration::from_secs(1), "took {on_nats:?}");
}

/// Crash with the event committed but not yet published, and crash with it
/// published but not marked: after a restart each event is on the stream once
/// and the projection is right.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_around_publishing_loses_nothing_and_duplicates_nothing() {
    for failpoint in ["relay.before_publish", "relay.after_publish"] {
        let env = TestEnv::new();
        let b = env.backends().await;
        let mut crashing = env.spawn_up(&[("ZENCAST_FAILPOINTS", failpoint)]);
        // The relay aborts the process at the fail point, possibly before the
        // api has answered: the outcome of the POST does not matter.
        let _ = reqwest::Client::new()
            .post(crashing.url("/api/recordings"))
            .json(&serde_json::json!({"title": "Crash test"}))
            .send()
            .await;
        let status = crashing.wait_exit(Duration::from_secs(10));
        assert!(
            !status.success(),
            "{failpoint}: process should have aborted"
        );
        drop(crashing);

        let room = rooms(&b.pool).await.unwrap()[0];
        let logged = room_events(&b.pool, room, 0, None).await.unwrap();
        assert_eq!(
            logged.len(),
            2,
            "RoomCreated and the host's ParticipantJoined"
        );
        let host = ParticipantId::parse(logged[0].payload["host"].as_str().unwrap()).unwrap();
        let token = env.token(room, host, zencast_events::Role::Host);
        let before = stream_messages(&b).await;
        match failpoint {
            "relay.before_publish" => {
                assert_eq!(before, 0, "nothing was published before the crash")
            }
            _ => assert_eq!(before, 2, "both were published before the crash"),
        }

        let up = env.spawn_up(&[]);
        let view: serde_json::Value =
            eventually(Duration::from_secs(10), "projection after restart", || {
                let req = reqwest::Client::new()
                    .get(up.url(&format!("/api/recordings/{room}")))
                    .bearer_auth(&token);
                async move {
                    let r = req.send().await.ok()?;
                    let v: serde_json::Value = r.json().await.ok()?;
                    (v["lastSequence"] == 2).then_some(v)
                }
            })
            .await;
        assert_eq!(view["title"], "Crash test");
        // Give a wrongly re-publishing relay time to show itself.
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(
            stream_messages(&b).await,
            2,
            "{failpoint}: each event exactly once on the stream"
        );
        let (code, out) = env.run_cli(&["replay", "--verify"]);
        assert_eq!(code, 0, "{failpoint}: {out}");
    }
}

/// Redis wiped → `zencast replay` rebuilds identical state; a tampered value →
/// `replay --verify` names it and exits non-zero.
#[tokio::test(flavor = "multi_thread")]
async fn replay_rebuilds_wiped_state_and_verify_names_tampering() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let (room, host, guest) = (RoomId::new(), ParticipantId::new(), ParticipantId::new());
    let o = Origin::now("test");
    let log = &running.log;
    let commands = [
        RecordingCommand::CreateRoom {
            title: "Replay me".into(),
            host,
            host_name: "Ada".into(),
            layout: Layout::Speaker,
            chunk_seconds: 2,
            max_participants: 8,
            owner: None,
        },
        RecordingCommand::Join {
            participant: guest,
            display_name: "Grace".into(),
            role: Role::Guest,
            invite: Some(0),
        },
        RecordingCommand::StartRecording { by: host, at: o.at },
    ];
    for c in commands {
        log.execute(room, c, &o).await.unwrap();
    }
    for (p, i) in [(host, 0), (host, 1), (guest, 0), (host, 2), (guest, 1)] {
        log.execute(
            room,
            RecordingCommand::RecordChunk {
                participant: p,
                index: ChunkIndex::new(i).unwrap(),
                size: 100 + i as u64,
                sha256: sha(i),
                key: format!("{room}/{p}/{i}.webm"),
                starts_segment: i == 0,
                recorder_started_at: None,
                media_zero_at: None,
            },
            &o,
        )
        .await
        .unwrap();
    }
    log.execute(
        room,
        RecordingCommand::Leave {
            participant: guest,
            reason: "network".into(),
        },
        &o,
    )
    .await
    .unwrap();
    let last = room_events(&running.backends.pool, room, 0, None)
        .await
        .unwrap()
        .len() as u64;
    let state = zencast_projections::RoomState::new(running.backends.redis.clone(), &env.tag);
    eventually(Duration::from_secs(5), "projection", || {
        let s = state.clone();
        async move { (s.last_sequence(room).await.ok()? == last).then_some(()) }
    })
    .await;
    let redis = running.backends.redis.clone();
    let live = RoomModel::read_live(&redis, &env.tag, room).await.unwrap();
    assert!(
        live.keys.len() >= 3,
        "room hash, chunk sets: {:?}",
        live.keys.keys()
    );
    running.stop().await;

    // Wipe this deployment's keys (the shared Redis also serves other tests).
    let mut conn = redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", env.tag))
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(RoomModel::read_live(&redis, &env.tag, room)
        .await
        .unwrap()
        .keys
        .is_empty());

    let (code, out) = env.run_cli(&["replay"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("room {room}: rebuilt from {last} events")),
        "{out}"
    );
    let rebuilt = RoomModel::read_live(&redis, &env.tag, room).await.unwrap();
    assert_eq!(
        rebuilt, live,
        "replayed state equals the live state it replaced"
    );
    let (code, out) = env.run_cli(&["replay", "--verify", "--room", &room.to_string()]);
    assert_eq!(code, 0, "{out}");

    // Tamper: a changed field and a vanished chunk.
    let room_key = format!("{}:room:{room}", env.tag);
    let chunks_key = format!("{}:room:{room}:chunks:{host}", env.tag);
    let _: () = redis::cmd("HSET")
        .arg(&room_key)
        .arg("title")
        .arg("Tampered")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("SREM")
        .arg(&chunks_key)
        .arg("1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let (code, out) = env.run_cli(&["replay", "--verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "{room_key} title: live Tampered ≠ rebuilt Replay me"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("{chunks_key} member 1")), "{out}");
}

/// 50 commands racing on one room, from two independent event logs (as two api
/// nodes would be): contiguous sequences, every accepted command exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_commands_on_one_room_append_contiguously() {
    let env = TestEnv::new();
    let running = env
        .start(Parts {
            api: false,
            relay: true,
            projector: true,
            render: false,
            embedded_s3: false,
        })
        .await;
    let pool = running.backends.pool.clone();
    let metrics = std::sync::Arc::new(Metrics::default());
    let nodes = [
        std::sync::Arc::new(EventLog::new(pool.clone(), metrics.clone())),
        std::sync::Arc::new(EventLog::new(pool.clone(), metrics.clone())),
    ];
    let (room, host) = (RoomId::new(), ParticipantId::new());
    let o = Origin::now("test");
    create_room(&nodes[0], room, host, "Race").await;
    nodes[0]
        .execute(
            room,
            RecordingCommand::StartRecording { by: host, at: o.at },
            &o,
        )
        .await
        .unwrap();

    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let node = nodes[i as usize % 2].clone();
        tasks.push(tokio::spawn(async move {
            let o = Origin::now("test");
            node.execute(
                room,
                RecordingCommand::RecordChunk {
                    participant: host,
                    index: ChunkIndex::new(i).unwrap(),
                    size: 1,
                    sha256: sha(i),
                    key: format!("k{i}"),
                    starts_segment: i == 0,
                    recorder_started_at: None,
                    media_zero_at: None,
                },
                &o,
            )
            .await
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(events) => {
                assert_eq!(events.len(), 1);
                accepted += 1;
            }
            Err(zencast_eventlog::CommandError::Conflict) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let logged = room_events(&pool, room, 0, None).await.unwrap();
    let seqs: Vec<u64> = logged.iter().map(|e| e.sequence).collect();
    assert_eq!(
        seqs,
        (1..=logged.len() as u64).collect::<Vec<_>>(),
        "contiguous from 1"
    );
    let mut indexes: Vec<u64> = logged
        .iter()
        .filter(|e| e.event_type == "ChunkUploaded")
        .map(|e| e.payload["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes.len(), accepted, "one event per accepted command");
    indexes.sort();
    indexes.dedup();
    assert_eq!(indexes.len(), accepted, "no index twice");
    assert_eq!(accepted, 50, "bounded retries absorbed every conflict");
    eprintln!(
        "expected-version conflicts retried: {}",
        metrics.append_conflicts.get()
    );

    let total = logged.len() as u64;
    eventually(
        Duration::from_secs(10),
        "every event on the stream and in Redis",
        || {
            let b = running.backends.clone();
            async move {
                let state =
                    zencast_projections::RoomState::new(b.redis.clone(), b.subjects.prefix());
                (stream_messages(&b).await == total
                    && state.last_sequence(room).await.ok()? == total)
                    .then_some(())
            }
        },
    )
    .await;
    let mut conn = running.backends.redis.clone();
    let stored: u64 = redis::cmd("SCARD")
        .arg(format!("{}:room:{room}:chunks:{host}", env.tag))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, 50);
    running.stop().await;
}

/// The projector fills a gap from Postgres and skips what it has applied.
#[tokio::test(flavor = "multi_thread")]
async fn the_projector_fills_gaps_from_the_log_and_skips_duplicates() {
    let env = TestEnv::new();
    // Only the log: nothing is published or projected on its own.
    let running = env.start(Parts::NONE).await;
    let b = running.backends.clone();
    let (room, host) = (RoomId::new(), ParticipantId::new());
    let o = Origin::now("test");
    create_room(&running.log, room, host, "Gap").await;
    let started = running
        .log
        .execute(
            room,
            RecordingCommand::StartRecording { by: host, at: o.at },
            &o,
        )
        .await
        .unwrap();
    let third = &started[0];
    assert_eq!(third.sequence, 3);

    let consumer = zencast_nats::stream::ensure_consumer(
        &b.stream,
        &b.subjects,
        "projector",
        zencast_nats::stream::PROJECTOR_ACK_WAIT,
        zencast_nats::stream::MAX_DELIVER,
    )
    .await
    .unwrap();
    let state = zencast_projections::RoomState::new(b.redis.clone(), &env.tag);
    let projector = zencast_projections::Projector::new(
        consumer,
        state.clone(),
        b.pool.clone(),
        b.metrics.clone(),
    );
    // Event 3 arrives first: 1 and 2 are read from Postgres.
    projector.project(third).await.unwrap();
    assert_eq!(state.last_sequence(room).await.unwrap(), 3);
    let view = zencast_projections::view::read_room(&b.redis, &env.tag, room)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            view.status.as_str(),
            view.title.as_str(),
            view.participants.len()
        ),
        ("recording", "Gap", 1)
    );
    assert_eq!(b.metrics.projection_gaps_filled.get(), 2);
    // A redelivery changes nothing.
    assert_eq!(
        state.apply(third).await.unwrap(),
        zencast_projections::Outcome::AlreadyApplied
    );
    let events = room_events(&b.pool, room, 0, None).await.unwrap();
    let rebuilt = RoomModel::rebuild(&env.tag, room, &events).unwrap();
    let live = RoomModel::read_live(&b.redis, &env.tag, room)
        .await
        .unwrap();
    assert_eq!(live.diff(&rebuilt), vec![]);
    running.stop().await;
}

/// The log itself refuses edits, deletes and gaps, whoever writes.
#[tokio::test(flavor = "multi_thread")]
async fn the_event_log_is_append_only_and_gap_free() {
    let env = TestEnv::new();
    let running = env.start(Parts::NONE).await;
    let pool = running.backends.pool.clone();
    let (room, host) = (RoomId::new(), ParticipantId::new());
    create_room(&running.log, room, host, "Immutable").await;
    let update = sqlx::query("UPDATE events SET payload = '{}'")
        .execute(&pool)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM events").execute(&pool).await;
    assert!(delete.unwrap_err().to_string().contains("append-only"));
    let gap = sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, event_id)
         VALUES ('Recording', $1, 9, 'RecordingStarted', '1', '{}', '{}', gen_random_uuid())",
    )
    .bind(room.to_string())
    .execute(&pool)
    .await;
    assert!(gap.unwrap_err().to_string().contains("no predecessor"));
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(outbox, 2, "one outbox row per event, written with it");
    running.stop().await;
}

/// `zencast audit` prints the room's timeline from Postgres; `zencast tail`
/// follows the stream as any ops tool would, filtered by room and type.
#[tokio::test(flavor = "multi_thread")]
async fn audit_and_tail_show_the_events() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let (room, host) = (RoomId::new(), ParticipantId::new());
    let o = Origin::now("test");
    create_room(&running.log, room, host, "Audited").await;

    let (code, out) = env.run_cli(&["audit", &room.to_string(), "--json"]);
    assert_eq!(code, 0, "{out}");
    let timeline: Vec<zencast_events::Envelope> = serde_json::from_str(&out).unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|e| e.event_type.as_str())
            .collect::<Vec<_>>(),
        ["RoomCreated", "ParticipantJoined"]
    );
    let (code, _) = env.run_cli(&["audit", &RoomId::new().to_string()]);
    assert_eq!(code, 2, "an unknown room is an error");

    // tail from the start of the stream, only this room's RecordingStarted.
    let mut tail = std::process::Command::new(env!("CARGO_BIN_EXE_zencast"))
        .args([
            "tail",
            "--all",
            "--json",
            "--room",
            &room.to_string(),
            "--type",
            "RecordingStarted",
        ])
        .envs(env.env_vars())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    running
        .log
        .execute(
            room,
            RecordingCommand::StartRecording { by: host, at: o.at },
            &o,
        )
        .await
        .unwrap();
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("tail printed the event");
    let env_line: zencast_events::Envelope = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (
            env_line.room_id,
            env_line.event_type.as_str(),
            env_line.sequence
        ),
        (room, "RecordingStarted", 3)
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "nothing else matches the filter"
    );
    let _ = tail.kill();
    let _ = tail.wait();
    running.stop().await;
}

/// `RecordingStopped` is committed but never reaches the stream: no grace
/// watcher hears of it and no later event reveals the projector's gap. The
/// projection reconciler shows the room stopped within seconds, and the
/// completion reconciler completes it once the grace period is over, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_that_never_reaches_the_stream_is_projected_and_completed_from_postgres() {
    let mut env = TestEnv::new();
    env.config.upload_grace_ms = 4_000;
    let period = Duration::from_millis(env.config.reconcile_ms);
    let grace = Duration::from_millis(env.config.upload_grace_ms);
    let running = env.start(support::NO_RENDER).await;
    support::lose_on_the_way_to_the_stream(&running.backends.pool, "RecordingStopped").await;
    let api = support::Api::new(running.http_addr.unwrap());
    let room = api.create("Lost stop").await;
    let id = support::s(&room["roomId"]).to_string();
    let token = support::s(&room["hostToken"]).to_string();
    for action in ["start", "stop"] {
        let (status, v) = api
            .post(
                &format!("/api/recordings/{id}/{action}"),
                Some(&token),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(status, 200, "{action}: {v}");
    }
    let stopped = Instant::now();
    let path = format!("/api/recordings/{id}");
    eventually(
        period * 2 + Duration::from_secs(3),
        "the room shown stopped",
        || async { (api.get(&path, Some(&token)).await.1["status"] == "stopped").then_some(()) },
    )
    .await;
    eprintln!("shown stopped {:?} after the stop", stopped.elapsed());
    assert!(
        stopped.elapsed() < grace,
        "projected before completion could hide the gap"
    );

    let room_id = RoomId::parse(&id).unwrap();
    let completions = || async {
        room_events(&running.backends.pool, room_id, 0, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type == "SessionCompleted")
            .collect::<Vec<_>>()
    };
    eventually(
        grace + period * 2 + Duration::from_secs(5),
        "completion",
        || async { (!completions().await.is_empty()).then_some(()) },
    )
    .await;
    let took = stopped.elapsed();
    eprintln!("completed {took:?} after the stop (grace {grace:?}, period {period:?})");
    assert!(took >= grace, "completed before the grace period was over");
    eventually(
        period * 2 + Duration::from_secs(3),
        "the room shown completed",
        || async { (api.get(&path, Some(&token)).await.1["status"] == "completed").then_some(()) },
    )
    .await;
    // Later passes find nothing more to do.
    tokio::time::sleep(period * 2).await;
    assert_eq!(completions().await.len(), 1);
    running.stop().await;
}

/// A projection held behind its log (its projector stopped while commands go
/// on) is lag for a moment and a failure beyond the bound: `replay --verify`
/// exits 1 naming the room, and 0 while the lag is younger than the bound.
#[tokio::test(flavor = "multi_thread")]
async fn replay_verify_fails_on_a_projection_held_behind_its_log() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let (room, host) = (RoomId::new(), ParticipantId::new());
    create_room(&running.log, room, host, "Held back").await;
    let state = zencast_projections::RoomState::new(running.backends.redis.clone(), &env.tag);
    eventually(Duration::from_secs(5), "projection", || {
        let state = state.clone();
        async move { (state.last_sequence(room).await.ok()? == 2).then_some(()) }
    })
    .await;
    let (code, out) = env.run_cli(&["replay", "--verify", "--max-lag-ms", "500"]);
    assert_eq!(code, 0, "{out}");
    running.stop().await;

    // Nothing projects any more; the log goes on.
    let log = EventLog::new(
        env.backends().await.pool,
        std::sync::Arc::new(Metrics::default()),
    );
    let o = Origin::now("test");
    let start = RecordingCommand::StartRecording { by: host, at: o.at };
    log.execute(room, start, &o).await.unwrap();
    let (code, out) = env.run_cli(&["replay", "--verify", "--max-lag-ms", "60000"]);
    assert_eq!(code, 0, "young lag is not a failure: {out}");
    assert!(
        out.contains("1 events behind the log, within the lag bound"),
        "{out}"
    );

    let behind_since = Instant::now();
    let (code, out) = eventually(
        Duration::from_secs(10),
        "the lag to outgrow the bound",
        || {
            let env = &env;
            async move {
                let (code, out) = env.run_cli(&["replay", "--verify", "--max-lag-ms", "500"]);
                (code != 0).then_some((code, out))
            }
        },
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("room {room}: BEHIND its log by 1 events")),
        "{out}"
    );
    assert!(behind_since.elapsed() < Duration::from_secs(5));
}

/// The stream lost (deleted): `zencast republish --room` refills it from the
/// log, in order, with the original `Nats-Msg-Id`s; run again, JetStream drops
/// every message as a duplicate. `--since` selects by the time events were stored.
#[tokio::test(flavor = "multi_thread")]
async fn republish_refills_a_lost_stream_with_the_same_message_ids() {
    let env = TestEnv::new();
    let relay_only = Parts {
        api: false,
        relay: true,
        projector: false,
        render: false,
        embedded_s3: false,
    };
    let running = env.start(relay_only).await;
    let b = running.backends.clone();
    let (room, host) = (RoomId::new(), ParticipantId::new());
    create_room(&running.log, room, host, "Refill me").await;
    let o = Origin::now("test");
    let start = RecordingCommand::StartRecording { by: host, at: o.at };
    running.log.execute(room, start, &o).await.unwrap();
    eventually(Duration::from_secs(5), "3 events on the stream", || async {
        (stream_messages(&b).await == 3).then_some(())
    })
    .await;
    running.stop().await;

    b.js.delete_stream(b.subjects.stream()).await.unwrap();
    let (code, out) = env.run_cli(&["republish", "--room", &room.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("republished 3 events"), "{out}");
    assert!(out.contains("0 already there"), "{out}");
    let stream = b.js.get_stream(b.subjects.stream()).await.unwrap();
    let logged = room_events(&b.pool, room, 0, None).await.unwrap();
    for (i, event) in logged.iter().enumerate() {
        let msg = stream.get_raw_message(i as u64 + 1).await.unwrap();
        let header = |name: &str| msg.headers.get(name).map(|v| v.as_str().to_string());
        assert_eq!(header("Nats-Msg-Id"), Some(event.event_id.to_string()));
        assert_eq!(header("Zencast-Sequence"), Some(event.sequence.to_string()));
        assert_eq!(
            msg.subject.as_str(),
            b.subjects.event(room, &event.event_type)
        );
    }

    let (code, out) = env.run_cli(&["republish", "--room", &room.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("3 already there"), "{out}");
    assert_eq!(stream_messages(&b).await, 3);

    // Another room, stored after `since`: only its events are sent.
    let since = chrono::Utc::now();
    let log = EventLog::new(b.pool.clone(), std::sync::Arc::new(Metrics::default()));
    let later = RoomId::new();
    create_room(&log, later, ParticipantId::new(), "Later").await;
    let (code, out) = env.run_cli(&["republish", "--since", &since.to_rfc3339()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("republished 2 events"), "{out}");
    assert!(out.contains("0 already there"), "{out}");
    assert_eq!(stream_messages(&b).await, 5);
}

/// Under a backlog every room makes progress: one pass of the relay over a
/// room with 600 waiting events (whose id sorts first) and a room with 2
/// (whose id sorts last) publishes both rooms' first events, each room's in
/// order; `/metrics` shows the lag of each room meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_serves_every_room_under_a_backlog() {
    let env = TestEnv::new();
    let api_only = Parts {
        api: true,
        relay: false,
        projector: false,
        render: false,
        embedded_s3: true,
    };
    let running = env.start(api_only).await;
    let b = running.backends.clone();
    let busy = RoomId::parse("00000000-0000-4000-8000-000000000001").unwrap();
    let quiet = RoomId::parse("ffffffff-ffff-4fff-bfff-ffffffffffff").unwrap();
    let host = ParticipantId::new();
    create_room(&running.log, busy, host, "Busy").await;
    let o = Origin::now("test");
    let start = RecordingCommand::StartRecording { by: host, at: o.at };
    running.log.execute(busy, start, &o).await.unwrap();
    for i in 0..597 {
        let chunk = RecordingCommand::RecordChunk {
            participant: host,
            index: ChunkIndex::new(i).unwrap(),
            size: 1,
            sha256: sha(i),
            key: format!("k{i}"),
            starts_segment: i == 0,
            recorder_started_at: None,
            media_zero_at: None,
        };
        running.log.execute(busy, chunk, &o).await.unwrap();
    }
    create_room(&running.log, quiet, ParticipantId::new(), "Quiet").await;

    let metrics = reqwest::get(format!("http://{}/metrics", running.http_addr.unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "zencast_relay_room_lag_events{{room=\"{busy}\"}} 600"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "zencast_relay_room_lag_events{{room=\"{quiet}\"}} 2"
        )),
        "{metrics}"
    );

    let relay = zencast_eventlog::outbox::Relay::new(
        b.pool.clone(),
        b.config.database_url.clone(),
        b.js.clone(),
        b.subjects.clone(),
        b.metrics.clone(),
        running.log.appended(),
    );
    let read = relay.drain_once().await.unwrap();
    assert_eq!(read, 512, "one full batch");
    let waiting = |room: RoomId| {
        let pool = b.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE aggregate_id = $1")
                .bind(room.to_string())
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(waiting(quiet).await, 0, "the quiet room was not starved");
    assert_eq!(waiting(busy).await, 600 - 510);
    // Each room's part of the batch went out in order, from its first event.
    let stream = b.js.get_stream(b.subjects.stream()).await.unwrap();
    let mut seen: std::collections::HashMap<String, u64> = Default::default();
    for n in 1..=512u64 {
        let msg = stream.get_raw_message(n).await.unwrap();
        let header = |name: &str| msg.headers.get(name).unwrap().as_str().to_string();
        let sequence: u64 = header("Zencast-Sequence").parse().unwrap();
        let last = seen.entry(header("Zencast-Room")).or_insert(0);
        assert_eq!(sequence, *last + 1);
        *last = sequence;
    }
    running.stop().await;
}

/// A rebuild that read the log before the projector applied the latest events
/// (the race of `zencast replay` with a live projector) writes an older state
/// over a newer one; installing it catches up from the log at once, so the
/// events in between are not lost.
#[tokio::test(flavor = "multi_thread")]
async fn a_rebuild_that_raced_the_projector_loses_no_event() {
    let env = TestEnv::new();
    let b = env.backends().await;
    let log = EventLog::new(b.pool.clone(), std::sync::Arc::new(Metrics::default()));
    let (room, host) = (RoomId::new(), ParticipantId::new());
    create_room(&log, room, host, "Raced").await;
    let o = Origin::now("test");
    let start = RecordingCommand::StartRecording { by: host, at: o.at };
    log.execute(room, start, &o).await.unwrap();
    for i in 0..3 {
        let chunk = RecordingCommand::RecordChunk {
            participant: host,
            index: ChunkIndex::new(i).unwrap(),
            size: 10,
            sha256: sha(i),
            key: format!("k{i}"),
            starts_segment: i == 0,
            recorder_started_at: None,
            media_zero_at: None,
        };
        log.execute(room, chunk, &o).await.unwrap();
    }
    let events = room_events(&b.pool, room, 0, None).await.unwrap();
    assert_eq!(events.len(), 6);
    let prefix = b.subjects.prefix();
    let state = zencast_projections::RoomState::new(b.redis.clone(), prefix);
    // The rebuild read 3 events; the projector has applied all 6 meanwhile.
    let stale = RoomModel::rebuild(prefix, room, &events[..3]).unwrap();
    RoomModel::rebuild(prefix, room, &events)
        .unwrap()
        .write(&b.redis, prefix, room)
        .await
        .unwrap();
    // Written alone, the stale model wins the race and hides 3 events.
    stale.write(&b.redis, prefix, room).await.unwrap();
    assert_eq!(state.last_sequence(room).await.unwrap(), 3);

    zencast_projections::replay::install(&b.pool, &b.redis, prefix, room, &stale)
        .await
        .unwrap();
    assert_eq!(state.last_sequence(room).await.unwrap(), 6);
    let check = zencast_projections::replay::verify_room(&b.pool, &b.redis, prefix, room)
        .await
        .unwrap();
    assert_eq!(check.behind, 0);
    assert!(check.differences.is_empty(), "{:?}", check.differences);
}

/// The next message of `consumer`, if one comes within `wait`.
async fn next_message(
    consumer: &async_nats::jetstream::consumer::PullConsumer,
    wait: Duration,
) -> Option<async_nats::jetstream::Message> {
    use futures::StreamExt;
    let mut batch = consumer
        .batch()
        .max_messages(1)
        .expires(wait)
        .messages()
        .await
        .unwrap();
    batch.next().await.map(Result::unwrap)
}

/// A message its consumer fails on every delivery is delivered `max_deliver`
/// times, then set aside, and the deployment says so (its log and
/// `/metrics`, by consumer) instead of redelivering it for ever.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_that_keeps_failing_is_set_aside_and_reported() {
    use async_nats::jetstream::AckKind;
    let env = TestEnv::new();
    let running = env.start(Parts::NONE).await;
    let b = running.backends.clone();
    let consumer = zencast_nats::stream::ensure_filtered_consumer(
        &b.stream,
        "always-fails",
        b.subjects.all_events(),
        Duration::from_secs(30),
        3,
    )
    .await
    .unwrap();
    let subject = b.subjects.event(RoomId::new(), "RoomCreated");
    b.js.publish(subject.clone(), "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    for delivery in 1..=3 {
        let m = next_message(&consumer, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("delivery {delivery} did not come"));
        assert_eq!(m.info().unwrap().delivered, delivery);
        m.ack_with(AckKind::Nak(None)).await.unwrap();
    }
    // Not a fourth time (the server sets it aside when it would deliver it).
    assert!(next_message(&consumer, Duration::from_secs(2))
        .await
        .is_none());
    let line = "zencast_messages_set_aside_total{consumer=\"always-fails\"} 1";
    eventually(Duration::from_secs(10), "the set-aside report", || {
        let text = b.metrics.render(&Default::default());
        async move { text.contains(line).then_some(()) }
    })
    .await;
    running.stop().await;
}
