//! Snapshots of the `Recording` aggregate, against real Postgres: whatever a
//! command appends, and wherever it crosses a snapshot boundary, a later load
//! (snapshot + events after it) equals a replay from the first event.

mod support;

use std::sync::Arc;

use cqrs_es::Aggregate;
use sqlx::PgPool;
use support::TestEnv;
use zencast_eventlog::log::room_events;
use zencast_eventlog::snapshot::SNAPSHOT_EVERY;
use zencast_eventlog::{EventLog, Origin};
use zencast_events::{
    ChunkIndex, Layout, ParticipantId, Phase, Recording, RecordingCommand, RecordingEvent, RoomId,
};
use zencast_runtime::Metrics;

fn sha(i: u32) -> zencast_events::Sha256 {
    zencast_events::Sha256::parse(&format!("{:064x}", i)).unwrap()
}

async fn run(log: &EventLog, room: RoomId, command: RecordingCommand) -> Vec<u64> {
    log.execute(room, command, &Origin::now("test"))
        .await
        .unwrap()
        .iter()
        .map(|e| e.sequence)
        .collect()
}

/// A one-person session whose completion (`ParticipantUploadsFinished` and
/// `SessionCompleted`, appended by one command) lands on `at` and `at + 1`:
/// created (1, 2), started (3), `at - 5` chunks, stopped, finished.
async fn session_completing_at(log: &EventLog, at: u64) -> RoomId {
    let (room, host) = (RoomId::new(), ParticipantId::new());
    let create = RecordingCommand::CreateRoom {
        title: format!("completes at {at}"),
        host,
        host_name: "H".into(),
        layout: Layout::Grid,
        chunk_seconds: 10,
        max_participants: 8,
        owner: None,
    };
    assert_eq!(run(log, room, create).await, [1, 2]);
    let now = chrono::Utc::now();
    run(
        log,
        room,
        RecordingCommand::StartRecording { by: host, at: now },
    )
    .await;
    let chunks = (at - 5) as u32;
    for i in 0..chunks {
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
        run(log, room, chunk).await;
    }
    let stop = RecordingCommand::StopRecording {
        by: host,
        at: chrono::Utc::now(),
    };
    assert_eq!(run(log, room, stop).await, [at - 1]);
    let finish = RecordingCommand::FinishUploads {
        participant: host,
        chunk_count: chunks,
    };
    assert_eq!(run(log, room, finish).await, [at, at + 1], "completion");
    room
}

/// A process that has never seen the room: it loads it from Postgres.
fn fresh_log(pool: &PgPool) -> EventLog {
    EventLog::new(pool.clone(), Arc::new(Metrics::default()))
}

/// The room's snapshot row: (label, the sequence its payload says it holds).
async fn snapshot_row(pool: &PgPool, room: RoomId) -> Option<(u64, u64)> {
    let (label, payload): (i64, serde_json::Value) =
        sqlx::query_as("SELECT last_sequence, payload FROM snapshots WHERE aggregate_id = $1")
            .bind(room.to_string())
            .fetch_optional(pool)
            .await
            .unwrap()?;
    Some((
        label as u64,
        payload["sequence"].as_u64().unwrap_or(u64::MAX),
    ))
}

/// Completion on 98–99, 99–100 (an append that ends on the boundary),
/// 100–101 (one that crosses it: the case cqrs-es 0.5 got wrong), 101–102
/// (right after a snapshot) and 200–201 (the second snapshot). Each room is
/// then loaded by a process that never saw it: it is completed, equals its
/// replay from the first event, and accepts the next command (a render claim)
/// at the next sequence.
#[tokio::test(flavor = "multi_thread")]
async fn completion_across_every_snapshot_boundary_is_seen_by_a_fresh_load() {
    let env = TestEnv::new();
    let b = env.backends().await;
    let writer = Arc::new(fresh_log(&b.pool));
    let tasks: Vec<_> = [98u64, 99, 100, 101, 200]
        .into_iter()
        .map(|at| {
            let writer = writer.clone();
            tokio::spawn(async move { (at, session_completing_at(&writer, at).await) })
        })
        .collect();
    for task in tasks {
        let (at, room) = task.await.unwrap();
        let last = at + 1;
        let reader = fresh_log(&b.pool);
        let (loaded, replayed) = reader.load_both_ways(room).await.unwrap();
        assert_eq!(loaded.sequence, last, "completion at {at}");
        assert_eq!(replayed.sequence, last);
        assert_eq!(loaded.state, replayed.state, "completion at {at}");
        assert_eq!(loaded.state.phase, Phase::Completed, "completion at {at}");

        // Every snapshot says what it holds, and one exists once the room
        // passed a boundary.
        let snapshot = snapshot_row(&b.pool, room).await;
        if last >= SNAPSHOT_EVERY {
            let (label, holds) = snapshot.expect("a snapshot past the boundary");
            assert_eq!(label, holds, "completion at {at}");
            assert_eq!(label / SNAPSHOT_EVERY, last / SNAPSHOT_EVERY);
            assert!(label <= last);
        } else {
            assert_eq!(snapshot, None, "completion at {at}");
        }

        let claim = RecordingCommand::StartRender {
            worker: "w".into(),
            attempt: 1,
        };
        assert_eq!(run(&reader, room, claim).await, [last + 1], "at {at}");
        let (loaded, replayed) = fresh_log(&b.pool).load_both_ways(room).await.unwrap();
        assert_eq!(loaded.state, replayed.state);
        assert_eq!(loaded.state.render.running, Some(1));
    }
}

/// A row as cqrs-es 0.5 wrote it for an append of 99 → 101: the bare state
/// after 100, labelled 101. It is ignored, the room is replayed, and the row is
/// replaced by a correct snapshot: rooms hit before the fix heal on their next load.
#[tokio::test(flavor = "multi_thread")]
async fn a_mislabelled_snapshot_from_before_is_ignored_and_replaced() {
    let env = TestEnv::new();
    let b = env.backends().await;
    let room = session_completing_at(&fresh_log(&b.pool), 100).await;

    let mut after_100 = Recording::default();
    for e in room_events(&b.pool, room, 0, Some(100)).await.unwrap() {
        after_100.apply(e.event().unwrap());
    }
    assert_eq!(
        after_100.phase,
        Phase::Stopped,
        "the old bug's view of the room"
    );
    sqlx::query("UPDATE snapshots SET last_sequence = 101, payload = $2 WHERE aggregate_id = $1")
        .bind(room.to_string())
        .bind(serde_json::to_value(&after_100).unwrap())
        .execute(&b.pool)
        .await
        .unwrap();

    let state = fresh_log(&b.pool).load(room).await.unwrap().unwrap();
    assert_eq!(state.phase, Phase::Completed);
    assert_eq!(snapshot_row(&b.pool, room).await, Some((101, 101)));
    let (loaded, replayed) = fresh_log(&b.pool).load_both_ways(room).await.unwrap();
    assert_eq!(loaded.state, replayed.state);

    // The log itself holds exactly one completion.
    let completions = room_events(&b.pool, room, 0, None)
        .await
        .unwrap()
        .iter()
        .filter(|e| matches!(e.event(), Ok(RecordingEvent::SessionCompleted { .. })))
        .count();
    assert_eq!(completions, 1);
}

/// A snapshot in today's format whose state is wrong (it cannot be told from
/// its row alone): `replay --verify` finds that loading through it differs
/// from replaying the log and exits 1; `zencast replay --room` rewrites it from
/// the log, and verify passes again.
#[tokio::test(flavor = "multi_thread")]
async fn replay_verify_finds_a_wrong_snapshot_and_replay_rewrites_it() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let room = session_completing_at(&running.log, 100).await;
    let state = zencast_projections::RoomState::new(running.backends.redis.clone(), &env.tag);
    support::eventually(
        std::time::Duration::from_secs(10),
        "the room projected",
        || {
            let state = state.clone();
            async move { (state.last_sequence(room).await.ok()? == 101).then_some(()) }
        },
    )
    .await;
    let pool = &running.backends.pool;
    let (code, out) = env.run_cli(&["replay", "--verify"]);
    assert_eq!(code, 0, "{out}");

    // The snapshot (at 101) now says the room is still recording.
    sqlx::query(
        "UPDATE snapshots SET payload = jsonb_set(payload, '{state,phase}', '\"Recording\"')
          WHERE aggregate_id = $1",
    )
    .bind(room.to_string())
    .execute(pool)
    .await
    .unwrap();
    let wrong = fresh_log(pool).load(room).await.unwrap().unwrap();
    assert_eq!(
        wrong.phase,
        Phase::Recording,
        "the tampered snapshot is used"
    );

    let (code, out) = env.run_cli(&["replay", "--verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("room {room}: SNAPSHOT disagrees with the log")),
        "{out}"
    );
    let (code, out) = env.run_cli(&["replay", "--room", &room.to_string()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("snapshot at 101"), "{out}");
    let (code, out) = env.run_cli(&["replay", "--verify"]);
    assert_eq!(code, 0, "{out}");
    let healed = fresh_log(pool).load(room).await.unwrap().unwrap();
    assert_eq!(healed.phase, Phase::Completed);
    running.stop().await;
}
