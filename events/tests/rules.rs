//! The rules of `Recording::decide`, one test per rule, written as
//! given (events) / when (command) / then (events or error).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::test::{AggregateTestExecutor, TestFramework};
use uuid::Uuid;
use zencast_events::aggregate::{MAX_NAME_CHARS, MAX_TITLE_CHARS, RECORDER_START_TOLERANCE};
use zencast_events::{
    ChunkIndex, CompletionReason, Layout, ParticipantId, Recording, RecordingCommand as C,
    RecordingError, RecordingEvent as E, Role,
};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

fn host() -> ParticipantId {
    ParticipantId::from(Uuid::from_u128(0x1000))
}
fn ada() -> ParticipantId {
    ParticipantId::from(Uuid::from_u128(0x2001))
}
fn bob() -> ParticipantId {
    ParticipantId::from(Uuid::from_u128(0x2002))
}
fn stranger() -> ParticipantId {
    ParticipantId::from(Uuid::from_u128(0x9999))
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn idx(i: u32) -> ChunkIndex {
    ChunkIndex::new(i).unwrap()
}

const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const HASH_B: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn key(p: ParticipantId, i: u32) -> String {
    format!("rooms/r/{p}/{i}.webm")
}

fn given(events: Vec<E>) -> AggregateTestExecutor<Recording> {
    TestFramework::<Recording>::with(()).given(events)
}

fn nothing() -> AggregateTestExecutor<Recording> {
    TestFramework::<Recording>::with(()).given_no_previous_events()
}

// Commands.

fn create_room(title: &str, host_name: &str, chunk_seconds: u32) -> C {
    C::CreateRoom {
        title: title.into(),
        host: host(),
        host_name: host_name.into(),
        layout: Layout::Grid,
        chunk_seconds,
        max_participants: 8,
        owner: None,
    }
}
fn join(p: ParticipantId, name: &str, role: Role) -> C {
    C::Join {
        participant: p,
        display_name: name.into(),
        role,
        invite: Some(0),
    }
}
fn leave(p: ParticipantId) -> C {
    C::Leave {
        participant: p,
        reason: "closed the tab".into(),
    }
}
fn start(by: ParticipantId) -> C {
    C::StartRecording { by, at: at(10) }
}
fn stop(by: ParticipantId) -> C {
    C::StopRecording { by, at: at(20) }
}
fn chunk_cmd(p: ParticipantId, i: u32, sha256: &str) -> C {
    C::RecordChunk {
        participant: p,
        index: idx(i),
        size: 1000,
        sha256: zencast_events::Sha256::parse(sha256).unwrap(),
        key: key(p, i),
        starts_segment: i == 0,
        recorder_started_at: None,
        media_zero_at: None,
    }
}
fn finish_cmd(p: ParticipantId, chunk_count: u32) -> C {
    C::FinishUploads {
        participant: p,
        chunk_count,
    }
}
fn start_render(worker: &str, attempt: u32) -> C {
    C::StartRender {
        worker: worker.into(),
        attempt,
    }
}
fn complete_render(attempt: u32) -> C {
    C::CompleteRender {
        attempt,
        key: "renders/r/final.mp4".into(),
        size: 5000,
        duration_ms: 60_000,
        outputs: vec![],
        filled_gaps: vec![],
    }
}
fn fail_render(attempt: u32, last: bool) -> C {
    C::FailRender {
        attempt,
        reason: "ffmpeg exited with 1".into(),
        last,
        worker_lost: false,
    }
}

// Events.

fn room_created() -> E {
    E::RoomCreated {
        title: "Episode 1".into(),
        host: host(),
        layout: Layout::Grid,
        chunk_seconds: 5,
        max_participants: 8,
        owner: None,
    }
}
fn joined(p: ParticipantId, name: &str, role: Role) -> E {
    E::ParticipantJoined {
        participant: p,
        display_name: name.into(),
        role,
    }
}
fn left(p: ParticipantId) -> E {
    E::ParticipantLeft {
        participant: p,
        reason: "closed the tab".into(),
    }
}
fn started() -> E {
    E::RecordingStarted { at: at(10) }
}
fn stopped() -> E {
    E::RecordingStopped { at: at(20) }
}
fn chunk(p: ParticipantId, i: u32, sha256: &str) -> E {
    E::ChunkUploaded {
        participant: p,
        index: idx(i),
        size: 1000,
        sha256: zencast_events::Sha256::parse(sha256).unwrap(),
        key: key(p, i),
        starts_segment: i == 0,
        recorder_started_at: None,
        media_zero_at: None,
    }
}
fn finished(p: ParticipantId, chunk_count: u32) -> E {
    E::ParticipantUploadsFinished {
        participant: p,
        chunk_count,
    }
}
fn completed(counts: &[(ParticipantId, u32)], reason: CompletionReason) -> E {
    E::SessionCompleted {
        expected_chunks: counts.iter().copied().collect::<BTreeMap<_, _>>(),
        reason,
    }
}
fn render_started(worker: &str, attempt: u32) -> E {
    E::RenderStarted {
        worker: worker.into(),
        layout: Layout::Grid,
        attempt,
        forced: false,
    }
}
fn render_completed(attempt: u32) -> E {
    E::RenderCompleted {
        attempt,
        key: "renders/r/final.mp4".into(),
        size: 5000,
        duration_ms: 60_000,
        outputs: vec![],
        filled_gaps: vec![],
    }
}
fn render_failed(attempt: u32, last: bool) -> E {
    E::RenderFailed {
        attempt,
        reason: "ffmpeg exited with 1".into(),
        last,
        worker_lost: false,
    }
}

// Histories.

/// The room exists; the host and Ada are in it.
fn open_room() -> Vec<E> {
    vec![
        room_created(),
        joined(host(), "Hannah", Role::Host),
        joined(ada(), "Ada", Role::Guest),
    ]
}

fn recording() -> Vec<E> {
    let mut events = open_room();
    events.push(started());
    events
}

/// Recording stopped; the host has stored chunks 0 and 1, Ada chunk 0; nobody finished.
fn stopped_room() -> Vec<E> {
    let mut events = recording();
    events.extend([
        chunk(host(), 0, HASH_A),
        chunk(host(), 1, HASH_A),
        chunk(ada(), 0, HASH_A),
        stopped(),
    ]);
    events
}

/// `stopped_room` completed: both finished (host 2 chunks, Ada 1).
fn completed_room() -> Vec<E> {
    let mut events = stopped_room();
    events.extend([
        finished(host(), 2),
        finished(ada(), 1),
        completed(&[(host(), 2), (ada(), 1)], CompletionReason::AllFinished),
    ]);
    events
}

fn with(mut events: Vec<E>, more: impl IntoIterator<Item = E>) -> Vec<E> {
    events.extend(more);
    events
}

fn invalid(message: &str) -> RecordingError {
    RecordingError::Invalid(message.into())
}

fn render_error(message: &str) -> RecordingError {
    RecordingError::Render(message.into())
}

// ---------------------------------------------------------------------------
// Creating a room
// ---------------------------------------------------------------------------

#[test]
fn creating_a_room_is_the_first_event_and_the_host_joins_with_it() {
    nothing()
        .when(create_room("Episode 1", "Hannah", 5))
        .then_expect_events(vec![room_created(), joined(host(), "Hannah", Role::Host)]);
}

#[test]
fn creating_a_room_twice_is_refused() {
    given(open_room())
        .when(create_room("Episode 1", "Hannah", 5))
        .then_expect_error(RecordingError::RoomExists);
}

#[test]
fn every_other_command_needs_an_existing_room() {
    for command in [
        join(ada(), "Ada", Role::Guest),
        leave(ada()),
        start(host()),
        stop(host()),
        chunk_cmd(ada(), 0, HASH_A),
        finish_cmd(ada(), 1),
        C::ExpireGracePeriod,
        start_render("w1", 1),
        complete_render(1),
        fail_render(1, false),
    ] {
        nothing()
            .when(command)
            .then_expect_error(RecordingError::RoomNotFound);
    }
}

#[test]
fn the_title_and_host_name_are_trimmed() {
    nothing()
        .when(create_room("  Episode 1\t", " Hannah ", 5))
        .then_expect_events(vec![room_created(), joined(host(), "Hannah", Role::Host)]);
}

#[test]
fn a_bad_title_is_refused() {
    nothing()
        .when(create_room("   ", "Hannah", 5))
        .then_expect_error(invalid("the title cannot be empty"));
    nothing()
        .when(create_room(&"t".repeat(MAX_TITLE_CHARS + 1), "Hannah", 5))
        .then_expect_error(invalid("the title is longer than 200 characters"));
    nothing()
        .when(create_room("Episode\n1", "Hannah", 5))
        .then_expect_error(invalid("the title contains control characters"));
    // The limit counts characters, not bytes.
    let longest = "é".repeat(MAX_TITLE_CHARS);
    assert!(nothing()
        .when(create_room(&longest, "Hannah", 5))
        .inspect_result()
        .is_ok());
}

#[test]
fn a_bad_host_name_is_refused() {
    nothing()
        .when(create_room("Episode 1", "", 5))
        .then_expect_error(invalid("the display name cannot be empty"));
    nothing()
        .when(create_room("Episode 1", &"n".repeat(MAX_NAME_CHARS + 1), 5))
        .then_expect_error(invalid("the display name is longer than 80 characters"));
}

#[test]
fn a_bad_chunk_length_is_refused() {
    for seconds in [0, 61, u32::MAX] {
        nothing()
            .when(create_room("Episode 1", "Hannah", seconds))
            .then_expect_error(invalid("chunk length must be 1 to 60 seconds"));
    }
    for seconds in [1, 60] {
        assert!(nothing()
            .when(create_room("Episode 1", "Hannah", seconds))
            .inspect_result()
            .is_ok());
    }
}

// ---------------------------------------------------------------------------
// Joining and leaving
// ---------------------------------------------------------------------------

#[test]
fn a_guest_joins_the_room() {
    given(open_room())
        .when(join(bob(), "Bob", Role::Guest))
        .then_expect_events(vec![joined(bob(), "Bob", Role::Guest)]);
}

#[test]
fn a_guest_may_join_while_recording_or_after_stop() {
    given(recording())
        .when(join(bob(), "Bob", Role::Guest))
        .then_expect_events(vec![joined(bob(), "Bob", Role::Guest)]);
    given(stopped_room())
        .when(join(bob(), "Bob", Role::Guest))
        .then_expect_events(vec![joined(bob(), "Bob", Role::Guest)]);
}

#[test]
fn joining_after_the_session_completed_is_refused() {
    given(completed_room())
        .when(join(bob(), "Bob", Role::Guest))
        .then_expect_error(RecordingError::SessionCompleted);
    given(completed_room())
        .when(join(ada(), "Ada", Role::Guest))
        .then_expect_error(RecordingError::SessionCompleted);
}

#[test]
fn a_re_join_of_a_present_participant_is_a_no_op() {
    given(open_room())
        .when(join(ada(), "Ada", Role::Guest))
        .then_expect_events(vec![]);
    given(open_room())
        .when(join(ada(), "Another name", Role::Guest))
        .then_expect_events(vec![]);
    given(open_room())
        .when(join(host(), "Hannah", Role::Host))
        .then_expect_events(vec![]);
}

#[test]
fn a_re_join_after_leaving_keeps_the_original_name_and_role() {
    given(with(open_room(), [left(ada())]))
        .when(join(ada(), "Ada Lovelace", Role::Guest))
        .then_expect_events(vec![joined(ada(), "Ada", Role::Guest)]);
    given(with(recording(), [left(host())]))
        .when(join(host(), "H.", Role::Host))
        .then_expect_events(vec![joined(host(), "Hannah", Role::Host)]);
}

#[test]
fn the_host_role_is_for_the_host_alone() {
    given(open_room())
        .when(join(bob(), "Bob", Role::Host))
        .then_expect_error(invalid("the host role belongs to the room's host alone"));
    // A guest cannot turn host by re-joining either.
    given(with(open_room(), [left(ada())]))
        .when(join(ada(), "Ada", Role::Host))
        .then_expect_error(invalid("the host role belongs to the room's host alone"));
    // And the host does not join as a guest.
    given(with(open_room(), [left(host())]))
        .when(join(host(), "Hannah", Role::Guest))
        .then_expect_error(invalid("the host role belongs to the room's host alone"));
}

#[test]
fn a_bad_display_name_is_refused() {
    given(open_room())
        .when(join(bob(), " ", Role::Guest))
        .then_expect_error(invalid("the display name cannot be empty"));
    given(open_room())
        .when(join(bob(), &"b".repeat(MAX_NAME_CHARS + 1), Role::Guest))
        .then_expect_error(invalid("the display name is longer than 80 characters"));
    given(open_room())
        .when(join(bob(), "Bob\u{7}", Role::Guest))
        .then_expect_error(invalid("the display name contains control characters"));
}

#[test]
fn a_present_participant_leaves() {
    given(open_room())
        .when(leave(ada()))
        .then_expect_events(vec![left(ada())]);
    given(stopped_room())
        .when(leave(host()))
        .then_expect_events(vec![left(host())]);
}

#[test]
fn leaving_twice_is_a_no_op() {
    given(with(open_room(), [left(ada())]))
        .when(leave(ada()))
        .then_expect_events(vec![]);
}

#[test]
fn only_a_participant_may_leave() {
    given(open_room())
        .when(leave(stranger()))
        .then_expect_error(RecordingError::NotAParticipant(stranger()));
}

#[test]
fn leaving_after_the_session_completed_is_refused() {
    given(completed_room())
        .when(leave(ada()))
        .then_expect_error(RecordingError::SessionCompleted);
}

#[test]
fn a_leave_reason_must_be_valid_text() {
    given(open_room())
        .when(C::Leave {
            participant: ada(),
            reason: "".into(),
        })
        .then_expect_error(invalid("the reason cannot be empty"));
}

// ---------------------------------------------------------------------------
// Starting and stopping
// ---------------------------------------------------------------------------

#[test]
fn the_host_starts_recording() {
    given(open_room())
        .when(start(host()))
        .then_expect_events(vec![started()]);
}

#[test]
fn only_the_host_starts_recording() {
    given(open_room())
        .when(start(ada()))
        .then_expect_error(RecordingError::NotHost);
    given(open_room())
        .when(start(stranger()))
        .then_expect_error(RecordingError::NotHost);
}

#[test]
fn recording_starts_only_once() {
    given(recording())
        .when(start(host()))
        .then_expect_error(RecordingError::AlreadyStarted);
    given(stopped_room())
        .when(start(host()))
        .then_expect_error(RecordingError::AlreadyStarted);
}

#[test]
fn the_host_stops_recording() {
    given(recording())
        .when(stop(host()))
        .then_expect_events(vec![stopped()]);
}

#[test]
fn only_the_host_stops_recording() {
    given(recording())
        .when(stop(ada()))
        .then_expect_error(RecordingError::NotHost);
}

#[test]
fn only_a_running_recording_stops() {
    given(open_room())
        .when(stop(host()))
        .then_expect_error(RecordingError::NotRecording);
    given(stopped_room())
        .when(stop(host()))
        .then_expect_error(RecordingError::NotRecording);
}

#[test]
fn starting_or_stopping_after_completion_is_refused() {
    given(completed_room())
        .when(start(host()))
        .then_expect_error(RecordingError::SessionCompleted);
    given(completed_room())
        .when(stop(host()))
        .then_expect_error(RecordingError::SessionCompleted);
}

// ---------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------

#[test]
fn a_joined_participant_records_a_chunk_while_recording() {
    given(recording())
        .when(chunk_cmd(ada(), 0, HASH_A))
        .then_expect_events(vec![chunk(ada(), 0, HASH_A)]);
}

#[test]
fn chunks_may_still_arrive_after_stop() {
    given(stopped_room())
        .when(chunk_cmd(ada(), 1, HASH_B))
        .then_expect_events(vec![chunk(ada(), 1, HASH_B)]);
}

#[test]
fn a_participant_who_left_may_still_upload_its_chunks() {
    given(with(recording(), [left(ada())]))
        .when(chunk_cmd(ada(), 0, HASH_A))
        .then_expect_events(vec![chunk(ada(), 0, HASH_A)]);
}

#[test]
fn only_a_joined_participant_records_chunks() {
    given(recording())
        .when(chunk_cmd(stranger(), 0, HASH_A))
        .then_expect_error(RecordingError::NotAParticipant(stranger()));
}

#[test]
fn no_chunk_before_recording_started() {
    given(open_room())
        .when(chunk_cmd(ada(), 0, HASH_A))
        .then_expect_error(RecordingError::NotRecording);
}

#[test]
fn a_chunk_with_the_same_hash_twice_is_a_no_op() {
    given(with(recording(), [chunk(ada(), 0, HASH_A)]))
        .when(chunk_cmd(ada(), 0, HASH_A))
        .then_expect_events(vec![]);
}

#[test]
fn a_chunk_retry_is_a_no_op_even_after_completion() {
    given(completed_room())
        .when(chunk_cmd(host(), 1, HASH_A))
        .then_expect_events(vec![]);
}

#[test]
fn a_chunk_with_the_same_index_and_another_hash_is_a_conflict() {
    given(with(recording(), [chunk(ada(), 0, HASH_A)]))
        .when(chunk_cmd(ada(), 0, HASH_B))
        .then_expect_error(RecordingError::ChunkConflict {
            participant: ada(),
            index: idx(0),
        });
    given(completed_room())
        .when(chunk_cmd(host(), 1, HASH_B))
        .then_expect_error(RecordingError::ChunkConflict {
            participant: host(),
            index: idx(1),
        });
}

#[test]
fn the_same_index_of_another_participant_is_not_a_conflict() {
    given(with(recording(), [chunk(ada(), 0, HASH_A)]))
        .when(chunk_cmd(host(), 0, HASH_B))
        .then_expect_events(vec![chunk(host(), 0, HASH_B)]);
}

#[test]
fn a_new_chunk_after_completion_is_refused() {
    given(completed_room())
        .when(chunk_cmd(ada(), 1, HASH_A))
        .then_expect_error(RecordingError::SessionCompleted);
}

#[test]
fn a_chunk_at_or_past_the_declared_count_is_refused_after_finishing() {
    let history = with(recording(), [chunk(ada(), 0, HASH_A), finished(ada(), 3)]);
    for i in [3, 4, 100] {
        given(history.clone())
            .when(chunk_cmd(ada(), i, HASH_A))
            .then_expect_error(RecordingError::UploadsFinished(ada()));
    }
    // A missing chunk below the declared count is still welcome.
    given(history)
        .when(chunk_cmd(ada(), 2, HASH_B))
        .then_expect_events(vec![chunk(ada(), 2, HASH_B)]);
}

#[test]
fn an_empty_chunk_is_refused() {
    given(recording())
        .when(C::RecordChunk {
            participant: ada(),
            index: idx(0),
            size: 0,
            sha256: zencast_events::Sha256::parse(HASH_A).unwrap(),
            key: key(ada(), 0),
            starts_segment: true,
            recorder_started_at: None,
            media_zero_at: None,
        })
        .then_expect_error(invalid("a chunk cannot be empty"));
}

/// Ada's chunk 0 from a recorder that started at `start` (started() is at(10),
/// stopped() at(20)).
fn chunk_started_at(start: DateTime<Utc>) -> C {
    C::RecordChunk {
        participant: ada(),
        index: idx(0),
        size: 1000,
        sha256: zencast_events::Sha256::parse(HASH_A).unwrap(),
        key: key(ada(), 0),
        starts_segment: true,
        recorder_started_at: Some(start),
        media_zero_at: None,
    }
}
fn chunk_uploaded_started_at(start: DateTime<Utc>) -> E {
    E::ChunkUploaded {
        participant: ada(),
        index: idx(0),
        size: 1000,
        sha256: zencast_events::Sha256::parse(HASH_A).unwrap(),
        key: key(ada(), 0),
        starts_segment: true,
        recorder_started_at: Some(start),
        media_zero_at: None,
    }
}
fn ms(t: DateTime<Utc>, ms: i64) -> DateTime<Utc> {
    t + chrono::TimeDelta::milliseconds(ms)
}
fn outside(start: DateTime<Utc>, stopped: Option<DateTime<Utc>>) -> RecordingError {
    RecordingError::RecorderStartOutsideSession {
        start,
        started: at(10),
        stopped,
    }
}

#[test]
fn a_recorder_start_within_the_tolerance_of_the_session_is_believed() {
    assert_eq!(RECORDER_START_TOLERANCE, chrono::TimeDelta::seconds(2));
    for start in [ms(at(10), -2_000), at(10), at(15), ms(at(12), 1)] {
        given(recording())
            .when(chunk_started_at(start))
            .then_expect_events(vec![chunk_uploaded_started_at(start)]);
    }
    for start in [ms(at(10), -2_000), at(20), ms(at(20), 2_000)] {
        given(with(recording(), [stopped()]))
            .when(chunk_started_at(start))
            .then_expect_events(vec![chunk_uploaded_started_at(start)]);
    }
}

#[test]
fn a_recorder_start_long_before_the_recording_started_is_refused() {
    let epoch_plus_1ms = DateTime::from_timestamp_millis(1).unwrap();
    for start in [epoch_plus_1ms, at(0), ms(at(10), -2_001)] {
        given(recording())
            .when(chunk_started_at(start))
            .then_expect_error(outside(start, None));
    }
}

#[test]
fn a_recorder_start_long_after_the_recording_stopped_is_refused() {
    for start in [ms(at(20), 2_001), at(60), at(1_000_000_000)] {
        given(with(recording(), [stopped()]))
            .when(chunk_started_at(start))
            .then_expect_error(outside(start, Some(at(20))));
    }
}

#[test]
fn while_recording_a_late_recorder_start_is_left_to_the_api_which_has_a_clock() {
    // No stop yet: the domain knows no upper bound (the api refuses a start
    // later than its own now plus the tolerance).
    given(recording())
        .when(chunk_started_at(at(3_600)))
        .then_expect_events(vec![chunk_uploaded_started_at(at(3_600))]);
}

#[test]
fn a_refused_recorder_start_says_the_window_in_words() {
    let error = outside(DateTime::from_timestamp_millis(1).unwrap(), Some(at(20)));
    assert_eq!(
        error.to_string(),
        "the recorder start 1970-01-01T00:00:00.001Z lies outside this session \
         (recording started 2023-11-14T22:13:30.000Z and stopped 2023-11-14T22:13:40.000Z; \
         allowed from 2 s before the start until 2 s after the stop)"
    );
}

#[test]
fn a_retry_of_a_stored_chunk_is_a_no_op_whatever_its_recorder_start() {
    // The same bytes again: already recorded, nothing is decided anew.
    given(with(recording(), [chunk(ada(), 0, HASH_A), stopped()]))
        .when(chunk_started_at(at(0)))
        .then_expect_events(vec![]);
}

#[test]
fn a_snapshot_taken_before_the_session_times_were_kept_still_loads() {
    // Snapshots of the aggregate are JSON in Postgres; older ones lack
    // `started_at`/`stopped_at`, which then stay unknown (and unchecked).
    let mut state = Recording::default();
    for e in recording() {
        cqrs_es::Aggregate::apply(&mut state, e);
    }
    assert_eq!(state.started_at, Some(at(10)));
    let mut old = serde_json::to_value(&state).unwrap();
    let fields = old.as_object_mut().unwrap();
    fields.remove("started_at");
    fields.remove("stopped_at");
    let loaded: Recording = serde_json::from_value(old).unwrap();
    assert_eq!((loaded.started_at, loaded.stopped_at), (None, None));
    assert_eq!(loaded.check_recorder_start(at(-1_000_000)), Ok(()));
}

// ---------------------------------------------------------------------------
// Finishing uploads and completing the session
// ---------------------------------------------------------------------------

#[test]
fn a_participant_finishes_its_uploads() {
    given(with(recording(), [chunk(ada(), 0, HASH_A)]))
        .when(finish_cmd(ada(), 1))
        .then_expect_events(vec![finished(ada(), 1)]);
}

#[test]
fn finishing_uploads_twice_with_the_same_count_is_a_no_op() {
    given(with(recording(), [finished(ada(), 0)]))
        .when(finish_cmd(ada(), 0))
        .then_expect_events(vec![]);
    given(completed_room())
        .when(finish_cmd(host(), 2))
        .then_expect_events(vec![]);
}

#[test]
fn finishing_again_with_another_count_is_refused() {
    given(with(recording(), [finished(ada(), 3)]))
        .when(finish_cmd(ada(), 4))
        .then_expect_error(RecordingError::ChunkCount(
            "uploads already finished with 3 chunks".into(),
        ));
}

#[test]
fn a_count_not_above_a_stored_index_is_refused() {
    let history = with(
        recording(),
        [chunk(ada(), 0, HASH_A), chunk(ada(), 4, HASH_A)],
    );
    for count in [0, 2, 4] {
        given(history.clone())
            .when(finish_cmd(ada(), count))
            .then_expect_error(RecordingError::ChunkCount(format!(
                "chunk 4 is stored, so the count cannot be {count}"
            )));
    }
    given(history)
        .when(finish_cmd(ada(), 5))
        .then_expect_events(vec![finished(ada(), 5)]);
}

#[test]
fn a_count_beyond_the_largest_chunk_index_is_refused() {
    given(recording())
        .when(finish_cmd(ada(), ChunkIndex::MAX + 2))
        .then_expect_error(RecordingError::ChunkCount(
            "a chunk count above 100001 is not possible".into(),
        ));
    given(recording())
        .when(finish_cmd(ada(), ChunkIndex::MAX + 1))
        .then_expect_events(vec![finished(ada(), ChunkIndex::MAX + 1)]);
}

#[test]
fn only_a_joined_participant_finishes_uploads() {
    given(recording())
        .when(finish_cmd(stranger(), 0))
        .then_expect_error(RecordingError::NotAParticipant(stranger()));
}

#[test]
fn no_finish_before_recording_started() {
    given(open_room())
        .when(finish_cmd(ada(), 0))
        .then_expect_error(RecordingError::NotRecording);
}

#[test]
fn a_first_finish_after_completion_is_a_late_one() {
    // The grace period completed the session without Ada having finished:
    // her finish now says her uploads arrived late (no render has started,
    // so the one to come reads them; no other is asked for).
    let history = with(
        stopped_room(),
        [completed(
            &[(host(), 2), (ada(), 1)],
            CompletionReason::GracePeriodExpired,
        )],
    );
    given(history)
        .when(finish_cmd(ada(), 1))
        .then_expect_events(vec![
            finished(ada(), 1),
            E::UploadsArrivedLate {
                participant: ada(),
                chunk_count: 1,
            },
        ]);
}

#[test]
fn finishing_while_recording_does_not_complete_the_session() {
    given(with(recording(), [finished(host(), 0)]))
        .when(finish_cmd(ada(), 0))
        .then_expect_events(vec![finished(ada(), 0)]);
}

#[test]
fn stopping_with_someone_unfinished_does_not_complete_the_session() {
    given(with(recording(), [finished(host(), 0)]))
        .when(stop(host()))
        .then_expect_events(vec![stopped()]);
}

#[test]
fn the_last_finish_after_stop_completes_the_session() {
    given(with(stopped_room(), [finished(host(), 2)]))
        .when(finish_cmd(ada(), 1))
        .then_expect_events(vec![
            finished(ada(), 1),
            completed(&[(host(), 2), (ada(), 1)], CompletionReason::AllFinished),
        ]);
}

#[test]
fn a_finish_with_chunks_missing_waits_for_them_before_completing() {
    let history = with(stopped_room(), [finished(host(), 2)]);
    given(history.clone())
        .when(finish_cmd(ada(), 3))
        .then_expect_events(vec![finished(ada(), 3)]);
    let history = with(history, [finished(ada(), 3)]);
    given(history.clone())
        .when(chunk_cmd(ada(), 2, HASH_B))
        .then_expect_events(vec![chunk(ada(), 2, HASH_B)]);
    given(with(history, [chunk(ada(), 2, HASH_B)]))
        .when(chunk_cmd(ada(), 1, HASH_B))
        .then_expect_events(vec![
            chunk(ada(), 1, HASH_B),
            completed(&[(host(), 2), (ada(), 3)], CompletionReason::AllFinished),
        ]);
}

#[test]
fn stopping_after_everyone_finished_completes_the_session() {
    let history = with(
        recording(),
        [
            chunk(host(), 0, HASH_A),
            finished(host(), 1),
            chunk(ada(), 0, HASH_A),
            chunk(ada(), 1, HASH_B),
            finished(ada(), 2),
        ],
    );
    given(history).when(stop(host())).then_expect_events(vec![
        stopped(),
        completed(&[(host(), 1), (ada(), 2)], CompletionReason::AllFinished),
    ]);
}

#[test]
fn participants_who_left_must_finish_too() {
    // Bob joined and left without uploading: the session waits for him (or the grace period).
    let history = with(
        stopped_room(),
        [
            joined(bob(), "Bob", Role::Guest),
            left(bob()),
            finished(host(), 2),
        ],
    );
    given(history.clone())
        .when(finish_cmd(ada(), 1))
        .then_expect_events(vec![finished(ada(), 1)]);
    given(with(history, [finished(ada(), 1)]))
        .when(finish_cmd(bob(), 0))
        .then_expect_events(vec![
            finished(bob(), 0),
            completed(
                &[(host(), 2), (ada(), 1), (bob(), 0)],
                CompletionReason::AllFinished,
            ),
        ]);
}

// ---------------------------------------------------------------------------
// Grace period
// ---------------------------------------------------------------------------

#[test]
fn the_grace_period_expires_only_after_stop() {
    given(open_room())
        .when(C::ExpireGracePeriod)
        .then_expect_error(RecordingError::NotRecording);
    given(recording())
        .when(C::ExpireGracePeriod)
        .then_expect_error(RecordingError::NotRecording);
}

#[test]
fn grace_period_expiry_counts_finished_counts_or_stored_chunks() {
    // Host finished with 5 (chunks 2..4 never arrived), Ada stored 1 chunk, Bob none.
    let history = with(
        stopped_room(),
        [joined(bob(), "Bob", Role::Guest), finished(host(), 5)],
    );
    given(history)
        .when(C::ExpireGracePeriod)
        .then_expect_events(vec![completed(
            &[(host(), 5), (ada(), 1), (bob(), 0)],
            CompletionReason::GracePeriodExpired,
        )]);
}

#[test]
fn grace_period_expiry_counts_up_to_the_highest_stored_chunk_across_a_gap() {
    // Ada stored chunks 0 and 3: she counts 4, so chunks 1 and 2 show as missing.
    let history = with(
        stopped_room(),
        [chunk(ada(), 3, HASH_A), finished(host(), 2)],
    );
    given(history)
        .when(C::ExpireGracePeriod)
        .then_expect_events(vec![completed(
            &[(host(), 2), (ada(), 4)],
            CompletionReason::GracePeriodExpired,
        )]);
}

#[test]
fn a_second_expiry_after_completion_is_a_no_op() {
    given(completed_room())
        .when(C::ExpireGracePeriod)
        .then_expect_events(vec![]);
    given(with(
        stopped_room(),
        [completed(
            &[(host(), 2), (ada(), 1)],
            CompletionReason::GracePeriodExpired,
        )],
    ))
    .when(C::ExpireGracePeriod)
    .then_expect_events(vec![]);
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

#[test]
fn a_render_starts_only_after_completion() {
    for history in [open_room(), recording(), stopped_room()] {
        given(history)
            .when(start_render("w1", 1))
            .then_expect_error(render_error("the session is not completed yet"));
    }
}

#[test]
fn the_first_render_is_attempt_1() {
    given(completed_room())
        .when(start_render("w1", 1))
        .then_expect_events(vec![render_started("w1", 1)]);
    for attempt in [0, 2] {
        given(completed_room())
            .when(start_render("w1", attempt))
            .then_expect_error(render_error(&format!(
                "render attempt {attempt} is not next (attempts so far: 0)"
            )));
    }
}

#[test]
fn a_second_worker_with_the_same_attempt_is_refused() {
    given(with(completed_room(), [render_started("w1", 1)]))
        .when(start_render("w2", 1))
        .then_expect_error(render_error("render attempt 1 is in progress"));
    given(with(completed_room(), [render_started("w1", 1)]))
        .when(start_render("w2", 2))
        .then_expect_error(render_error("render attempt 1 is in progress"));
}

#[test]
fn another_render_can_be_asked_for_only_after_completion_and_not_while_one_runs() {
    let ask = C::RequestRender {
        layout: Layout::Speaker,
        force: false,
    };
    given(stopped_room())
        .when(ask.clone())
        .then_expect_error(render_error("the session is not completed yet"));
    given(with(completed_room(), [render_started("w1", 1)]))
        .when(ask.clone())
        .then_expect_error(render_error("render attempt 1 is in progress"));
    given(with(
        completed_room(),
        [render_started("w1", 1), render_completed(1)],
    ))
    .when(ask)
    .then_expect_events(vec![E::RenderRequested {
        layout: Layout::Speaker,
        force: false,
    }]);
}

#[test]
fn a_requested_render_starts_with_its_layout_and_the_next_attempt_number() {
    let history = with(
        completed_room(),
        [
            render_started("w1", 1),
            render_failed(1, true),
            E::RenderRequested {
                layout: Layout::AudioOnly,
                force: true,
            },
        ],
    );
    given(history)
        .when(start_render("w2", 2))
        .then_expect_events(vec![E::RenderStarted {
            worker: "w2".into(),
            layout: Layout::AudioOnly,
            attempt: 2,
            forced: true,
        }]);
}

#[test]
fn a_render_failed_for_good_starts_again_only_when_asked() {
    given(with(
        completed_room(),
        [render_started("w1", 1), render_failed(1, true)],
    ))
    .when(start_render("w1", 2))
    .then_expect_error(render_error("the render failed for good; ask for another"));
}

#[test]
fn a_failed_render_is_retried_with_the_next_attempt() {
    let history = with(
        completed_room(),
        [render_started("w1", 1), render_failed(1, false)],
    );
    given(history.clone())
        .when(start_render("w2", 2))
        .then_expect_events(vec![render_started("w2", 2)]);
    given(history)
        .when(start_render("w2", 1))
        .then_expect_error(render_error(
            "render attempt 1 is not next (attempts so far: 1)",
        ));
}

#[test]
fn a_render_completes_only_for_the_running_attempt() {
    let history = with(completed_room(), [render_started("w1", 1)]);
    given(history.clone())
        .when(complete_render(1))
        .then_expect_events(vec![render_completed(1)]);
    given(history)
        .when(complete_render(2))
        .then_expect_error(render_error("render attempt 2 is not running"));
    given(completed_room())
        .when(complete_render(1))
        .then_expect_error(render_error("render attempt 1 is not running"));
}

#[test]
fn a_render_fails_only_for_the_running_attempt() {
    let history = with(completed_room(), [render_started("w1", 1)]);
    given(history.clone())
        .when(fail_render(1, true))
        .then_expect_events(vec![render_failed(1, true)]);
    given(history)
        .when(fail_render(3, false))
        .then_expect_error(render_error("render attempt 3 is not running"));
}

#[test]
fn a_finished_attempt_neither_completes_nor_fails_again() {
    let failed = with(
        completed_room(),
        [render_started("w1", 1), render_failed(1, false)],
    );
    given(failed.clone())
        .when(complete_render(1))
        .then_expect_error(render_error("render attempt 1 is not running"));
    given(failed)
        .when(fail_render(1, false))
        .then_expect_error(render_error("render attempt 1 is not running"));
    let done = with(
        completed_room(),
        [render_started("w1", 1), render_completed(1)],
    );
    given(done.clone())
        .when(complete_render(1))
        .then_expect_error(render_error("render attempt 1 is not running"));
    given(done)
        .when(fail_render(1, true))
        .then_expect_error(render_error("render attempt 1 is not running"));
}

#[test]
fn a_superseded_attempt_neither_completes_nor_fails() {
    // Attempt 2 started while attempt 1 was still running: only 2 may finish.
    let history = with(
        completed_room(),
        [render_started("w1", 1), render_started("w2", 2)],
    );
    given(history.clone())
        .when(complete_render(1))
        .then_expect_error(render_error("render attempt 1 is not running"));
    given(history)
        .when(complete_render(2))
        .then_expect_events(vec![render_completed(2)]);
}

#[test]
fn no_render_starts_after_a_completed_render() {
    given(with(
        completed_room(),
        [render_started("w1", 1), render_completed(1)],
    ))
    .when(start_render("w2", 2))
    .then_expect_error(render_error("the render is already done"));
}

#[test]
fn a_full_room_refuses_a_new_participant_but_not_a_returning_one() {
    let small = E::RoomCreated {
        title: "Small".into(),
        host: host(),
        layout: Layout::Grid,
        chunk_seconds: 5,
        max_participants: 2,
        owner: None,
    };
    let full = vec![
        small,
        joined(host(), "Hannah", Role::Host),
        joined(ada(), "Ada", Role::Guest),
    ];
    given(full.clone())
        .when(join(bob(), "Bob", Role::Guest))
        .then_expect_error(RecordingError::RoomFull(2));
    // Ada left: her place is free again, for Bob or for Ada herself.
    let freed = with(full, [left(ada())]);
    given(freed.clone())
        .when(join(bob(), "Bob", Role::Guest))
        .then_expect_events(vec![joined(bob(), "Bob", Role::Guest)]);
    given(freed)
        .when(join(ada(), "Ada", Role::Guest))
        .then_expect_events(vec![joined(ada(), "Ada", Role::Guest)]);
}

#[test]
fn a_room_size_outside_one_to_sixteen_is_refused() {
    for max_participants in [0, 17] {
        nothing()
            .when(C::CreateRoom {
                title: "Episode 1".into(),
                host: host(),
                host_name: "Hannah".into(),
                layout: Layout::Grid,
                chunk_seconds: 5,
                max_participants,
                owner: None,
            })
            .then_expect_error(invalid("a room holds 1 to 16 participants"));
    }
}

#[test]
fn lost_workers_are_counted_apart_from_failed_renders_and_in_a_row_until_a_window() {
    use cqrs_es::Aggregate;
    let lost = |attempt| E::RenderFailed {
        attempt,
        reason: "the worker stopped responding".into(),
        last: false,
        worker_lost: true,
    };
    let mut state = Recording::default();
    let history = with(
        completed_room(),
        [
            render_started("w1", 1),
            lost(1),
            render_started("w2", 2),
            render_failed(2, false),
            render_started("w2", 3),
            lost(3),
        ],
    );
    for e in history {
        state.apply(e);
    }
    assert_eq!(state.render.request_attempts, 3);
    assert_eq!(state.render.request_workers_lost, 2);
    assert_eq!(state.render.workers_lost_in_a_row, 2);
    // A window rendered between losses: the render moves on, so the losses
    // in a row start again (the request's own count does not).
    state.apply(E::WindowRendered {
        layout: Layout::Grid,
        index: 0,
        from_ms: 0,
        to_ms: 16_000,
        tracks: vec![],
        prefix: "processed/w0".into(),
        worker: "w2".into(),
    });
    assert_eq!(state.render.workers_lost_in_a_row, 0);
    state.apply(render_started("w3", 4));
    state.apply(lost(4));
    assert_eq!(state.render.workers_lost_in_a_row, 1);
    assert_eq!(state.render.request_workers_lost, 3);
    state.apply(E::RenderRequested {
        layout: Layout::Grid,
        force: false,
    });
    assert_eq!(state.render.request_workers_lost, 0);
    assert_eq!(state.render.workers_lost_in_a_row, 0);
    // Events written before the field existed read as failed renders.
    let old: E = serde_json::from_value(serde_json::json!(
        {"RenderFailed": {"attempt": 1, "reason": "ffmpeg", "last": false}}
    ))
    .unwrap();
    assert!(matches!(
        old,
        E::RenderFailed {
            worker_lost: false,
            ..
        }
    ));
}

// ---------------------------------------------------------------------------
// Who is in: removing a participant, the invite link
// ---------------------------------------------------------------------------

fn remove(by: ParticipantId, participant: ParticipantId) -> C {
    C::RemoveParticipant { by, participant }
}

fn join_with(p: ParticipantId, name: &str, invite: Option<u32>) -> C {
    C::Join {
        participant: p,
        display_name: name.into(),
        role: Role::Guest,
        invite,
    }
}

fn removed(p: ParticipantId, chunk_count: u32) -> E {
    E::ParticipantRemoved {
        participant: p,
        chunk_count,
    }
}

#[test]
fn the_host_removes_a_guest_who_keeps_what_it_stored_and_is_refused_after() {
    let history = with(
        recording(),
        [chunk(ada(), 0, HASH_A), chunk(ada(), 1, HASH_A)],
    );
    given(history.clone())
        .when(remove(host(), ada()))
        .then_expect_events(vec![removed(ada(), 2)]);
    let gone = with(history, [removed(ada(), 2)]);
    given(gone.clone())
        .when(remove(host(), ada()))
        .then_expect_events(vec![]);
    for refused in [
        chunk_cmd(ada(), 2, HASH_A),
        finish_cmd(ada(), 2),
        join_with(ada(), "Ada", None),
    ] {
        given(gone.clone())
            .when(refused)
            .then_expect_error(RecordingError::Removed(ada()));
    }
}

#[test]
fn only_the_host_removes_and_never_itself() {
    given(recording())
        .when(remove(ada(), host()))
        .then_expect_error(RecordingError::NotHost);
    given(recording())
        .when(remove(host(), host()))
        .then_expect_error(invalid("the host cannot remove itself"));
    given(recording())
        .when(remove(host(), stranger()))
        .then_expect_error(RecordingError::NotAParticipant(stranger()));
}

#[test]
fn removing_the_last_one_a_stopped_session_waits_for_completes_it() {
    // The host finished; Ada never will.
    let history = with(stopped_room(), [finished(host(), 2)]);
    given(history)
        .when(remove(host(), ada()))
        .then_expect_events(vec![
            removed(ada(), 1),
            completed(&[(host(), 2), (ada(), 1)], CompletionReason::AllFinished),
        ]);
}

#[test]
fn a_new_invite_link_retires_the_old_one_and_admits_as_many_as_it_says() {
    let renewed = with(
        open_room(),
        [E::InviteIssued {
            generation: 1,
            max_joins: Some(1),
        }],
    );
    given(open_room())
        .when(C::IssueInvite {
            by: host(),
            max_joins: Some(1),
        })
        .then_expect_events(vec![renewed[3].clone()]);
    given(renewed.clone())
        .when(join_with(bob(), "Bob", Some(0)))
        .then_expect_error(RecordingError::InviteRevoked);
    given(renewed.clone())
        .when(join_with(bob(), "Bob", Some(1)))
        .then_expect_events(vec![joined(bob(), "Bob", Role::Guest)]);
    given(with(renewed, [joined(bob(), "Bob", Role::Guest)]))
        .when(join_with(stranger(), "Sam", Some(1)))
        .then_expect_error(RecordingError::InviteUsedUp(1));
}

#[test]
fn a_revoked_link_admits_nobody_new_but_those_in_come_back() {
    let revoked = with(
        open_room(),
        [left(ada()), E::InviteRevoked { generation: 0 }],
    );
    given(open_room())
        .when(C::RevokeInvite { by: host() })
        .then_expect_events(vec![E::InviteRevoked { generation: 0 }]);
    given(revoked.clone())
        .when(join_with(bob(), "Bob", Some(0)))
        .then_expect_error(RecordingError::InviteRevoked);
    given(revoked.clone())
        .when(join_with(ada(), "Ada", None))
        .then_expect_events(vec![joined(ada(), "Ada", Role::Guest)]);
    given(revoked)
        .when(C::RevokeInvite { by: host() })
        .then_expect_events(vec![]);
    given(open_room())
        .when(C::RevokeInvite { by: ada() })
        .then_expect_error(RecordingError::NotHost);
}

#[test]
fn a_recording_is_deleted_once_when_not_recording_and_refuses_everything_after() {
    for room in [open_room(), stopped_room(), completed_room()] {
        given(room)
            .when(C::DeleteRecording)
            .then_expect_events(vec![E::RecordingDeleted {}]);
    }
    given(recording())
        .when(C::DeleteRecording)
        .then_expect_error(RecordingError::StillRecording);
    let deleted = with(completed_room(), [E::RecordingDeleted {}]);
    given(deleted.clone())
        .when(C::DeleteRecording)
        .then_expect_events(vec![]);
    given(deleted.clone())
        .when(C::RequestRender {
            layout: Layout::Grid,
            force: false,
        })
        .then_expect_error(RecordingError::Deleted);
    given(deleted.clone())
        .when(join_with(bob(), "Bob", Some(0)))
        .then_expect_error(RecordingError::Deleted);
}

#[test]
fn only_a_deleted_recording_is_swept_and_only_once() {
    given(completed_room())
        .when(C::RecordSweep { objects: 3 })
        .then_expect_error(RecordingError::NotDeleted(
            "only a deleted recording is swept",
        ));
    let deleted = with(completed_room(), [E::RecordingDeleted {}]);
    given(deleted.clone())
        .when(C::RecordSweep { objects: 3 })
        .then_expect_events(vec![E::RecordingSwept { objects: 3 }]);
    given(with(deleted, [E::RecordingSwept { objects: 3 }]))
        .when(C::RecordSweep { objects: 0 })
        .then_expect_events(vec![]);
}

/// `stopped_room` completed by the grace period: the host finished (2
/// chunks), Ada never did (her tab closed with chunk 1 still on her device).
fn completed_without_ada() -> Vec<E> {
    with(
        stopped_room(),
        [
            finished(host(), 2),
            completed(
                &[(host(), 2), (ada(), 1)],
                CompletionReason::GracePeriodExpired,
            ),
        ],
    )
}

fn late(p: ParticipantId, chunk_count: u32) -> E {
    E::UploadsArrivedLate {
        participant: p,
        chunk_count,
    }
}

fn render_again() -> E {
    E::RenderRequested {
        layout: Layout::Grid,
        force: false,
    }
}

#[test]
fn one_who_had_not_finished_uploads_and_finishes_late_and_the_room_renders_again() {
    let rendered = with(
        completed_without_ada(),
        [render_started("w1", 1), render_completed(1)],
    );
    given(rendered.clone())
        .when(chunk_cmd(ada(), 1, HASH_B))
        .then_expect_events(vec![chunk(ada(), 1, HASH_B)]);
    let back = with(rendered, [chunk(ada(), 1, HASH_B)]);
    given(back.clone())
        .when(finish_cmd(ada(), 2))
        .then_expect_events(vec![finished(ada(), 2), late(ada(), 2), render_again()]);
    // Not before every chunk it declares is stored.
    given(back)
        .when(finish_cmd(ada(), 3))
        .then_expect_error(RecordingError::ChunkCount(
            "the session is completed: send chunks [2] before finishing late".into(),
        ));
    // One who had finished sends nothing new after completion.
    given(completed_without_ada())
        .when(chunk_cmd(host(), 2, HASH_B))
        .then_expect_error(RecordingError::SessionCompleted);
}

#[test]
fn late_uploads_during_a_render_ask_for_another_when_it_ends_and_none_before_it_starts() {
    let back = with(completed_without_ada(), [chunk(ada(), 1, HASH_B)]);
    // No render has started yet: the one to come reads them.
    given(back.clone())
        .when(finish_cmd(ada(), 2))
        .then_expect_events(vec![finished(ada(), 2), late(ada(), 2)]);
    // One runs: its end asks for the next, whether it completes or fails for good.
    let during = with(
        back,
        [render_started("w1", 1), finished(ada(), 2), late(ada(), 2)],
    );
    given(during.clone())
        .when(complete_render(1))
        .then_expect_events(vec![render_completed(1), render_again()]);
    given(during.clone())
        .when(fail_render(1, true))
        .then_expect_events(vec![render_failed(1, true), render_again()]);
    // A retry starts afresh and reads them: nothing more when it completes.
    let retried = with(during, [render_failed(1, false), render_started("w1", 2)]);
    given(retried)
        .when(complete_render(2))
        .then_expect_events(vec![render_completed(2)]);
}
