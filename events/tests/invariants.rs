//! Invariants of the event log, checked on random command sequences: whatever the
//! clients send, in whatever order, the events `Recording::decide` lets through
//! must form a log the rest of the system can trust.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};
use uuid::Uuid;
use zencast_events::{
    ChunkIndex, CompletionReason, Layout, ParticipantId, Phase, Recording, RecordingCommand as C,
    RecordingEvent as E, Role,
};

/// 0 is the host, 1..=3 are guests, 4 is a stranger who never joins.
const HOST: usize = 0;
const STRANGER: usize = 4;
const HASHES: [&str; 2] = [
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
];

fn pid(i: usize) -> ParticipantId {
    ParticipantId::from(Uuid::from_u128(0x1000 + i as u128))
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

fn anyone() -> impl Strategy<Value = ParticipantId> {
    (0..=STRANGER).prop_map(pid)
}

/// Mostly the host, sometimes someone else.
fn mostly_host() -> impl Strategy<Value = ParticipantId> {
    prop_oneof![3 => Just(pid(HOST)), 1 => anyone()]
}

fn create_room() -> impl Strategy<Value = C> {
    // Now and then an invalid chunk length, so that a refused creation happens too.
    prop_oneof![9 => Just(5u32), 1 => prop_oneof![Just(0u32), Just(61u32)]].prop_map(
        |chunk_seconds| C::CreateRoom {
            title: "Episode".into(),
            host: pid(HOST),
            host_name: "Hannah".into(),
            layout: Layout::Grid,
            chunk_seconds,
            max_participants: 8,
            owner: None,
        },
    )
}

fn command() -> impl Strategy<Value = C> {
    let join =
        (0..STRANGER, prop::bool::weighted(0.9), 0..2u32).prop_map(|(i, right_role, invite)| {
            let role = if (i == HOST) == right_role {
                Role::Host
            } else {
                Role::Guest
            };
            C::Join {
                participant: pid(i),
                display_name: format!("Guest {i}"),
                role,
                invite: Some(invite),
            }
        });
    let remove = (mostly_host(), anyone())
        .prop_map(|(by, participant)| C::RemoveParticipant { by, participant });
    let issue_invite = (
        mostly_host(),
        prop_oneof![Just(None), (1..3u32).prop_map(Some)],
    )
        .prop_map(|(by, max_joins)| C::IssueInvite { by, max_joins });
    let revoke_invite = mostly_host().prop_map(|by| C::RevokeInvite { by });
    let leave = anyone().prop_map(|participant| C::Leave {
        participant,
        reason: "bye".into(),
    });
    let start = (mostly_host(), 0..100i64).prop_map(|(by, t)| C::StartRecording { by, at: at(t) });
    let stop = (mostly_host(), 0..100i64).prop_map(|(by, t)| C::StopRecording { by, at: at(t) });
    let chunk = (
        anyone(),
        0..3u32,
        0..HASHES.len(),
        prop_oneof![9 => Just(1000u64), 1 => Just(0u64)],
    )
        .prop_map(|(participant, index, hash, size)| C::RecordChunk {
            participant,
            index: ChunkIndex::new(index).unwrap(),
            size,
            sha256: zencast_events::Sha256::parse(HASHES[hash]).unwrap(),
            key: format!("{participant}/{index}"),
            starts_segment: index == 0,
            recorder_started_at: None,
            media_zero_at: None,
        });
    // Half of the finishes are a well-behaved client's: the count it stored
    // (`AS_STORED`, resolved by `run`); the others are any count.
    let finish =
        (anyone(), prop_oneof![Just(AS_STORED), 0..4u32]).prop_map(|(participant, chunk_count)| {
            C::FinishUploads {
                participant,
                chunk_count,
            }
        });
    let start_render = (1..4u32, prop::bool::ANY).prop_map(|(attempt, w)| C::StartRender {
        worker: if w { "w1" } else { "w2" }.into(),
        attempt,
    });
    let complete_render = (1..4u32).prop_map(|attempt| C::CompleteRender {
        attempt,
        key: format!("render/{attempt}.mp4"),
        size: 5000,
        duration_ms: 60_000,
        outputs: vec![],
        filled_gaps: vec![],
    });
    let fail_render =
        (1..4u32, prop::bool::weighted(0.3)).prop_map(|(attempt, last)| C::FailRender {
            attempt,
            reason: "boom".into(),
            last,
            worker_lost: false,
        });
    let request_render =
        (0..Layout::ALL.len(), prop::bool::weighted(0.3)).prop_map(|(l, force)| C::RequestRender {
            layout: Layout::ALL[l],
            force,
        });
    prop_oneof![
        1 => create_room(),
        5 => join,
        2 => leave,
        1 => prop_oneof![remove, issue_invite, revoke_invite],
        3 => start,
        3 => stop,
        12 => chunk,
        6 => finish,
        1 => Just(C::ExpireGracePeriod),
        4 => start_render,
        2 => complete_render,
        3 => fail_render,
        1 => request_render,
    ]
}

/// A CreateRoom most of the time, then up to 80 random commands.
fn script() -> impl Strategy<Value = Vec<C>> {
    (
        prop_oneof![9 => create_room(), 1 => command()],
        prop::collection::vec(command(), 0..80),
    )
        .prop_map(|(first, rest)| {
            let mut commands = vec![first];
            commands.extend(rest);
            commands
        })
}

// ---------------------------------------------------------------------------
// Running a script
// ---------------------------------------------------------------------------

struct Run {
    live: Recording,
    /// (sequence, event), sequence counting from 1.
    log: Vec<(u64, E)>,
}

/// A `FinishUploads` count standing for "as many chunks as it has stored".
const AS_STORED: u32 = u32::MAX;

/// The command as sent on this state (`AS_STORED` becomes the stored count).
fn resolve(state: &Recording, command: &C) -> C {
    match command {
        C::FinishUploads {
            participant,
            chunk_count: AS_STORED,
        } => C::FinishUploads {
            participant: *participant,
            chunk_count: state
                .participants
                .get(participant)
                .map_or(0, |p| p.chunk_count()),
        },
        other => other.clone(),
    }
}

fn run(commands: &[C]) -> Run {
    let mut live = Recording::default();
    let mut log = Vec::new();
    for command in commands {
        if let Ok(events) = live.decide(resolve(&live, command)) {
            for event in events {
                live.apply(event.clone());
                log.push((log.len() as u64 + 1, event));
            }
        }
    }
    Run { live, log }
}

/// The same script through cqrs-es's `Aggregate::handle`, as the command bus runs it.
fn run_through_handle(commands: &[C]) -> (Recording, Vec<E>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut aggregate = Recording::default();
        let mut events = Vec::new();
        for command in commands {
            let mut attempt = aggregate.clone();
            let sink = EventSink::<Recording>::default();
            let command = resolve(&aggregate, command);
            if attempt.handle(command, &(), &sink).await.is_ok() {
                aggregate = attempt;
                events.extend(sink.collect().await);
            }
        }
        (aggregate, events)
    })
}

fn check_log(run: &Run) -> Result<(), TestCaseError> {
    let log = &run.log;

    // Sequences are 1, 2, 3 … without gaps.
    for (i, (sequence, _)) in log.iter().enumerate() {
        prop_assert_eq!(*sequence, i as u64 + 1);
    }

    // RoomCreated first, and once.
    if let Some((_, first)) = log.first() {
        prop_assert!(
            matches!(first, E::RoomCreated { .. }),
            "first event is {first:?}"
        );
    }
    let created = log
        .iter()
        .filter(|(_, e)| matches!(e, E::RoomCreated { .. }))
        .count();
    prop_assert!(created <= 1, "RoomCreated {created} times");

    let mut joined = BTreeSet::new();
    let mut removed = BTreeSet::new();
    let mut hashes: BTreeMap<(ParticipantId, ChunkIndex), &zencast_events::Sha256> =
        BTreeMap::new();
    let mut stopped = false;
    let mut completed = false;
    let mut attempts = BTreeSet::new();
    let mut last_attempt = 0;
    let mut running: Option<u32> = None;
    let mut rendered = false;
    let mut started = false;
    let mut expected: BTreeMap<ParticipantId, u32> = BTreeMap::new();

    // Who had declared its count; at completion, the others may still
    // upload and finish late.
    let mut finished: BTreeSet<ParticipantId> = BTreeSet::new();
    let mut late: BTreeSet<ParticipantId> = BTreeSet::new();
    for (sequence, event) in log {
        if completed {
            // A removal after completion only closes the door: the recording stays.
            let late_upload = match event {
                E::ChunkUploaded { participant, .. }
                | E::ParticipantUploadsFinished { participant, .. } => late.contains(participant),
                E::UploadsArrivedLate { participant, .. } => {
                    finished.contains(participant) && late.contains(participant)
                }
                _ => false,
            };
            prop_assert!(
                event.is_render_event()
                    || event.is_media_event()
                    || late_upload
                    || matches!(event, E::ParticipantRemoved { .. }),
                "event {sequence} after SessionCompleted: {event:?}"
            );
        }
        match event {
            E::ParticipantUploadsFinished { participant, .. } => {
                prop_assert!(
                    finished.insert(*participant),
                    "event {sequence}: {participant} finished twice"
                );
            }
            E::UploadsArrivedLate {
                participant,
                chunk_count,
            } => {
                expected.insert(*participant, *chunk_count);
                late.remove(participant);
            }
            _ => {}
        }
        match event {
            E::ParticipantJoined { participant, .. } => {
                prop_assert_ne!(*participant, pid(STRANGER));
                prop_assert!(
                    !removed.contains(participant),
                    "event {sequence}: {participant} joined again after being removed"
                );
                joined.insert(*participant);
            }
            E::ParticipantRemoved { participant, .. } => {
                prop_assert!(
                    joined.contains(participant),
                    "event {sequence}: removed a stranger"
                );
                prop_assert_ne!(*participant, pid(HOST), "the host removed");
                prop_assert!(
                    removed.insert(*participant),
                    "event {sequence}: removed twice"
                );
            }
            E::ChunkUploaded {
                participant,
                index,
                sha256,
                ..
            } => {
                prop_assert!(
                    joined.contains(participant),
                    "event {sequence}: chunk of {participant}, who has not joined"
                );
                prop_assert!(
                    !removed.contains(participant),
                    "event {sequence}: chunk of {participant}, who was removed"
                );
                // Never two hashes for one chunk; in fact a stored chunk is never
                // uploaded again at all (a retry is a no-op).
                if let Some(previous) = hashes.insert((*participant, *index), sha256) {
                    prop_assert!(
                        false,
                        "event {sequence}: chunk {index} of {participant} again \
                         ({previous} then {sha256})"
                    );
                }
            }
            E::RecordingStarted { .. } => started = true,
            E::RecordingStopped { .. } => stopped = true,
            E::SessionCompleted {
                expected_chunks,
                reason,
            } => {
                prop_assert!(!completed, "event {sequence}: second SessionCompleted");
                prop_assert!(stopped, "event {sequence}: completed before stop");
                completed = true;
                late = joined.difference(&finished).copied().collect();
                late.retain(|p| !removed.contains(p));
                expected = expected_chunks.clone();
                let keys: BTreeSet<_> = expected_chunks.keys().copied().collect();
                prop_assert_eq!(&keys, &joined);
                if *reason == CompletionReason::AllFinished {
                    for (p, count) in expected_chunks {
                        let participant = &run.live.participants[p];
                        prop_assert_eq!(participant.finished, Some(*count), "count of {}", p);
                        prop_assert!(
                            participant.missing_chunks(*count).is_empty(),
                            "event {}: completed with chunks of {} missing",
                            sequence,
                            p
                        );
                    }
                }
            }
            E::RenderStarted { attempt, .. } => {
                prop_assert!(completed, "event {sequence}: render before completion");
                prop_assert!(!rendered, "event {sequence}: render after a done render");
                prop_assert!(
                    attempts.insert(*attempt),
                    "event {sequence}: attempt {attempt} started twice"
                );
                prop_assert_eq!(*attempt, last_attempt + 1);
                last_attempt = *attempt;
                running = Some(*attempt);
            }
            E::RenderRequested { .. } => {
                prop_assert!(
                    completed,
                    "event {sequence}: render asked before completion"
                );
                prop_assert_eq!(running, None, "event {}: asked while rendering", sequence);
                rendered = false;
            }
            E::RenderCompleted { attempt, .. } | E::RenderFailed { attempt, .. } => {
                prop_assert_eq!(
                    running,
                    Some(*attempt),
                    "event {}: attempt {} finished but not running",
                    sequence,
                    attempt
                );
                running = None;
                if matches!(event, E::RenderCompleted { .. }) {
                    rendered = true;
                }
            }
            _ => {}
        }
    }

    // The live aggregate says what its log says …
    let live = &run.live;
    let phase = match (completed, stopped, started) {
        (true, _, _) => Phase::Completed,
        (_, true, _) => Phase::Stopped,
        (_, _, true) => Phase::Recording,
        _ => Phase::Open,
    };
    prop_assert_eq!(live.phase, phase);
    prop_assert_eq!(live.room.is_some(), created == 1);
    let members: BTreeSet<_> = live.participants.keys().copied().collect();
    prop_assert_eq!(&members, &joined);
    let stored: BTreeMap<(ParticipantId, ChunkIndex), &zencast_events::Sha256> = live
        .participants
        .iter()
        .flat_map(|(p, part)| part.chunks.iter().map(|(i, h)| ((*p, *i), h)))
        .collect();
    prop_assert_eq!(&stored, &hashes);
    prop_assert_eq!(&live.expected_chunks, &expected);
    prop_assert_eq!(live.render.attempts, last_attempt);
    prop_assert_eq!(live.render.running, running);
    prop_assert_eq!(live.render.completed, rendered);

    // … is exactly the fold of its log …
    let mut rebuilt = Recording::default();
    for (_, event) in log {
        rebuilt.apply(event.clone());
    }
    prop_assert_eq!(&rebuilt, &run.live);

    // … and survives being stored as a snapshot.
    let json = serde_json::to_string(&run.live).unwrap();
    let back: Recording = serde_json::from_str(&json).unwrap();
    prop_assert_eq!(&back, &run.live);

    // Every event survives the store's JSON form too.
    for (_, event) in log {
        let back: E = serde_json::from_value(serde_json::to_value(event).unwrap()).unwrap();
        prop_assert_eq!(&back, event);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_log_keeps_its_invariants(commands in script()) {
        let run = run(&commands);
        check_log(&run)?;
    }

    #[test]
    fn handle_yields_what_decide_yields(commands in script()) {
        let run = run(&commands);
        let (aggregate, events) = run_through_handle(&commands);
        let logged: Vec<E> = run.log.into_iter().map(|(_, e)| e).collect();
        prop_assert_eq!(events, logged);
        prop_assert_eq!(aggregate, run.live);
    }
}

/// Guards the property tests against being vacuous: the generator reaches a
/// completed session, renders, conflicts and grace-period completions often enough.
#[test]
fn the_generator_reaches_every_phase() {
    let mut runner = TestRunner::deterministic();
    let strategy = script();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let cases = 500;
    for _ in 0..cases {
        let commands = strategy.new_tree(&mut runner).unwrap().current();
        let run = run(&commands);
        for (_, event) in &run.log {
            let name = match event {
                E::SessionCompleted {
                    reason: CompletionReason::AllFinished,
                    ..
                } => "SessionCompleted/AllFinished",
                E::SessionCompleted {
                    reason: CompletionReason::GracePeriodExpired,
                    ..
                } => "SessionCompleted/GracePeriodExpired",
                E::RenderStarted { attempt: 2.., .. } => "RenderStarted/retry",
                other => other.type_name(),
            };
            *seen.entry(name).or_default() += 1;
        }
    }
    for name in [
        "RoomCreated",
        "ParticipantJoined",
        "ParticipantLeft",
        "ParticipantRemoved",
        "InviteIssued",
        "InviteRevoked",
        "RecordingStarted",
        "RecordingStopped",
        "ChunkUploaded",
        "ParticipantUploadsFinished",
        "SessionCompleted/AllFinished",
        "SessionCompleted/GracePeriodExpired",
        "RenderStarted",
        "RenderStarted/retry",
        "RenderCompleted",
        "RenderFailed",
        "RenderRequested",
    ] {
        let n = seen.get(name).copied().unwrap_or(0);
        assert!(n >= 5, "only {n} {name} in {cases} scripts: {seen:?}");
    }
}
