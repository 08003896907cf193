//! The web client in headless Chromium (fake camera and microphone), driven by
//! `web/e2e/session.mjs` against a real `zencast up`: a host and a guest join,
//! connect over WebRTC, record with 2 s chunks and stop; then the log must hold
//! every chunk of both, with contiguous indexes, and a completed session; the
//! render's final.mp4, downloaded through the finish page's link, has video and
//! audio as long as the recording. Other scenarios of the same script cover a
//! reload, a device change, a chunk that does not decode, refusals and the
//! host's controls; `web/e2e/accounts.mjs` covers host accounts (first-run
//! link, sign-in, dashboard, a second host).
//!
//! Needs `/usr/bin/chromium`, node, `web/e2e/node_modules` and a built web
//! client (`scripts/test.sh` sees to all of them).

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;
use support::probe::probe;
use support::{Process, TestEnv};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `zencast up` for a browser test: a long upload grace, so the session
/// completes because everyone finished, not because time ran out.
fn spawn(env: &TestEnv) -> Process {
    env.spawn_up(&[("ZENCAST_UPLOAD_GRACE_MS", "120000")])
}

/// Runs the browser session `scenario`; returns the script's result line.
async fn run_browser(server: &Process, scenario: &str, extra_env: &[(&str, &str)]) -> Value {
    let mut env = vec![("SCENARIO", scenario), ("RECORD_SECONDS", "20")];
    env.extend_from_slice(extra_env);
    run_script(server, "session.mjs", scenario, &env).await
}

/// Runs `web/e2e/{script}` against `server`; returns its result line. On
/// failure, the room's timeline is printed first, to tell a client fault from a
/// server one.
async fn run_script(server: &Process, script: &str, what: &str, env: &[(&str, &str)]) -> Value {
    let started = Instant::now();
    let out = tokio::process::Command::new("node")
        .arg(repo().join("web/e2e").join(script))
        .env("ZENCAST_URL", format!("http://{}", server.addr))
        .envs(env.iter().copied())
        .output()
        .await
        .expect("node (scripts/test.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    if !out.status.success() {
        if let Some(room) = stdout.lines().find_map(|l| l.strip_prefix("ZENCAST_ROOM ")) {
            for (kind, payload) in events(server, room).await {
                eprintln!("{kind} {payload}");
            }
        }
        panic!("browser scenario {what} ({script}) failed:\n{stderr}");
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ZENCAST_RESULT "))
        .expect("a result line");
    eprintln!(
        "browser scenario {what}: {line} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let result: Value = serde_json::from_str(line).unwrap();
    // The pages did everything they did within the Content-Security-Policy.
    assert_eq!(result["cspViolations"], serde_json::json!([]), "{what}");
    result
}

/// The room's events from the log, as `(type, payload)`.
async fn events(server: &Process, room: &str) -> Vec<(String, Value)> {
    let pool = sqlx::PgPool::connect(&server.database_url).await.unwrap();
    support::room_log(&pool, room)
        .await
        .into_iter()
        .map(|e| (e.event_type, e.payload))
        .collect()
}

/// Every participant's stored chunk indexes, and the session's expected counts.
struct Stored {
    chunks: BTreeMap<String, Vec<u32>>,
    keys: BTreeMap<String, Vec<String>>,
    expected: BTreeMap<String, u32>,
}

async fn stored(server: &Process, room: &str) -> Stored {
    let events = events(server, room).await;
    let mut chunks: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, p) in events.iter().filter(|(t, _)| t == "ChunkUploaded") {
        let who = p["participant"].as_str().unwrap().to_string();
        chunks
            .entry(who.clone())
            .or_default()
            .push(p["index"].as_u64().unwrap() as u32);
        keys.entry(who)
            .or_default()
            .push(p["key"].as_str().unwrap().to_string());
    }
    for list in chunks.values_mut() {
        list.sort_unstable();
    }
    let completed: Vec<&Value> = events
        .iter()
        .filter(|(t, _)| t == "SessionCompleted")
        .map(|(_, p)| p)
        .collect();
    assert_eq!(completed.len(), 1, "exactly one SessionCompleted");
    assert_eq!(
        completed[0]["reason"], "all-finished",
        "everyone reported their uploads finished"
    );
    let expected = completed[0]["expected_chunks"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap() as u32))
        .collect();
    Stored {
        chunks,
        keys,
        expected,
    }
}

/// Both participants stored chunks 0..n with no gap, at least `min_chunks`,
/// and the session expects exactly those.
fn assert_every_chunk_stored(s: &Stored, min_chunks: u32) {
    assert_eq!(
        s.chunks.len(),
        2,
        "host and guest both uploaded: {:?}",
        s.chunks
    );
    for (who, list) in &s.chunks {
        let n = list.len() as u32;
        assert_eq!(
            *list,
            (0..n).collect::<Vec<_>>(),
            "{who}: indexes contiguous from 0"
        );
        assert!(
            n >= min_chunks,
            "{who}: {n} chunks, expected at least {min_chunks}"
        );
        assert_eq!(
            s.expected.get(who),
            Some(&n),
            "{who}: the session expects what is stored"
        );
    }
}

/// The chunk objects of one participant, from the embedded store's files.
fn chunk_bytes(env: &TestEnv, keys: &[String]) -> Vec<Vec<u8>> {
    keys.iter()
        .map(|k| {
            let path = env.data_dir.join("s3").join(&env.config.s3_bucket).join(k);
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

const WEBM_HEADER: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

#[tokio::test(flavor = "multi_thread")]
async fn browser_host_and_guest_record_every_chunk_is_stored_and_final_mp4_renders() {
    let env = TestEnv::new();
    let server = spawn(&env);
    let result = run_browser(&server, "basic", &[("EXPECT_RENDER", "1")]).await;
    let room = result["roomId"].as_str().unwrap();
    let s = stored(&server, room).await;
    assert_every_chunk_stored(&s, 8);
    assert_chunks_hold_the_room_length(&events(&server, room).await, 2_000);
    // While recording, the host saw how far the final video was rendered:
    // at least the first window.
    let until = result["renderedUntil"].as_str().unwrap_or_default();
    let ready_up_to = until
        .split("ready up to ")
        .nth(1)
        .and_then(|t| t.get(..5))
        .and_then(|mm_ss| mm_ss.split_once(':'))
        .and_then(|(m, s)| Some(m.parse::<u32>().ok()? * 60 + s.parse::<u32>().ok()?));
    let window = zencast_render::windows::FIRST as u32;
    assert!(ready_up_to >= Some(window), "{result}");
    assert_final_mp4(&env, &server, &result).await;
    // Refusals are sentences in the page.
    let said = |field: &str| result[field].as_str().unwrap_or_default().to_string();
    assert!(
        said("brokenInvite").contains("link has expired or is not valid"),
        "{result}"
    );
    assert!(
        said("finishedSession").contains("already finished"),
        "{result}"
    );
    // Each participant's chunks, concatenated in order, are one WebM with video and audio.
    for keys in s.keys.values() {
        let mut keys = keys.clone();
        keys.sort_by_key(|k| {
            k.rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".webm")
                .parse::<u32>()
                .unwrap()
        });
        let parts = chunk_bytes(&env, &keys);
        let joined = parts.concat();
        assert_eq!(joined[..4], WEBM_HEADER, "chunk 0 starts the WebM");
        let file = env.data_dir.join("joined.webm");
        std::fs::write(&file, joined).unwrap();
        let mut types = probe(&file).types();
        types.sort();
        assert_eq!(types, ["audio", "video"], "one video and one audio stream");
    }
}

/// A recording that one participant made in two segments (a reload, a
/// device change) and the other in one, read from the log (server ms).
struct SplitRecording {
    /// When the first recorder started.
    first_start: i64,
    /// The first segment's last chunk, and how far its media reaches then
    /// (ms after the first start, as the ingest worker probed it).
    last_of_first: u64,
    media_end: i64,
    /// Where each recorder's media time zero lay, as its browser measured it
    /// at best: each chunk's `media_zero_at` is the least bound over the
    /// slices so far, so its recorder's least is the one from the most
    /// slices (a recorder's first chunk alone was 200 ms late once on a
    /// loaded CI run, every slice of it handed over late).
    first_zero: i64,
    second_zero: i64,
}

/// An event's RFC 3339 time, in milliseconds since 1970.
fn epoch_ms(at: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .timestamp_millis()
}

/// Finds the participant with two segments; `why` says who should have them.
/// (Counting chunks that begin with the WebM header is not enough: Chromium
/// may hand over the header's first byte as a chunk of its own; each chunk's
/// recorder start says which recorder made it.)
fn split_recording(log: &[(String, Value)], why: &str) -> SplitRecording {
    let mut starts: HashMap<String, BTreeMap<u64, i64>> = HashMap::new();
    for (_, p) in log.iter().filter(|(kind, _)| kind == "ChunkUploaded") {
        let at = p["recorder_started_at"].as_str().unwrap();
        starts
            .entry(p["participant"].as_str().unwrap().to_string())
            .or_default()
            .insert(p["index"].as_u64().unwrap(), epoch_ms(at));
    }
    let segments = |c: &BTreeMap<u64, i64>| c.values().collect::<HashSet<_>>().len();
    let mut counts: Vec<usize> = starts.values().map(segments).collect();
    counts.sort();
    assert_eq!(counts, [1, 2], "{why}");
    let (who, chunks) = starts.iter().find(|(_, c)| segments(c) == 2).unwrap();
    let first_start = *chunks.values().min().unwrap();
    let last_of_first = chunks
        .iter()
        .filter(|(_, at)| **at == first_start)
        .map(|(index, _)| *index)
        .max()
        .unwrap();
    let media_end = log
        .iter()
        .filter(|(kind, p)| {
            kind == "ChunkProbed"
                && p["participant"].as_str() == Some(who.as_str())
                && p["index"].as_u64() == Some(last_of_first)
        })
        .filter_map(|(_, p)| p["media_end_ms"].as_i64())
        .max()
        .expect("the first segment's last chunk was probed");
    let best_zero = |first: bool| {
        log.iter()
            .filter(|(kind, p)| {
                kind == "ChunkUploaded"
                    && p["participant"].as_str() == Some(who.as_str())
                    && (p["index"].as_u64().unwrap() <= last_of_first) == first
            })
            .map(|(_, p)| {
                let zero = p["media_zero_at"].as_str();
                epoch_ms(zero.expect("every chunk says where its media zero lay"))
            })
            .min()
            .expect("both recorders have chunks")
    };
    SplitRecording {
        first_start,
        last_of_first,
        media_end,
        first_zero: best_zero(true),
        second_zero: best_zero(false),
    }
}

/// How much media each chunk adds to its recorder, in ms, for every recorder
/// in the log (participant and recorder start), chunks in order.
fn chunk_lengths(log: &[(String, Value)]) -> BTreeMap<(String, String), Vec<i64>> {
    let mut recorder_of = HashMap::new();
    let mut ends: BTreeMap<(String, String), BTreeMap<u64, i64>> = BTreeMap::new();
    for (kind, p) in log {
        let who = p["participant"].as_str().unwrap_or_default().to_string();
        let index = p["index"].as_u64().unwrap_or_default();
        match kind.as_str() {
            "ChunkUploaded" => {
                let start = p["recorder_started_at"].as_str().unwrap().to_string();
                recorder_of.insert((who, index), start);
            }
            // The last probe of a chunk counts (a re-sent one is probed again).
            "ChunkProbed" => {
                let recorder = recorder_of[&(who.clone(), index)].clone();
                let end = p["media_end_ms"].as_i64().unwrap();
                ends.entry((who, recorder)).or_default().insert(index, end);
            }
            _ => {}
        }
    }
    ends.into_iter()
        .map(|(recorder, ends)| {
            let lengths = ends
                .into_values()
                .scan(0, |before, end| Some(end - std::mem::replace(before, end)))
                .collect();
            (recorder, lengths)
        })
        .collect()
}

/// A recorder's chunks (but its first and last) hold the room's chunk length
/// of media: their median within a fifth of it, and none twice it. The page
/// cuts chunks by time, however few slices a busy page gets (counting twenty
/// half-second slices once made every chunk 15 s instead of 10, which left
/// more on a device going offline). A page starved by a loaded CI run hands
/// its slices over late, which moves single cuts without losing media (a
/// chunk's length is the difference of two probed media ends): 10.6 s then
/// 8.58 s of 10, and 0.36 s then 3.48 s of 2.
fn assert_chunks_hold_the_room_length(log: &[(String, Value)], chunk_ms: i64) {
    for ((who, recorder), lengths) in chunk_lengths(log) {
        eprintln!("{who}'s recorder of {recorder}: chunks of {lengths:?} ms");
        let mut inner = lengths
            .get(1..lengths.len().saturating_sub(1))
            .unwrap_or_default()
            .to_vec();
        if inner.is_empty() {
            continue;
        }
        inner.sort_unstable();
        let median = inner[inner.len() / 2];
        assert!(
            (median - chunk_ms).abs() <= chunk_ms / 5 && inner.last() < Some(&(2 * chunk_ms)),
            "{who}'s recorder of {recorder}: chunks of {lengths:?} ms, median {median}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_guest_reload_mid_recording_loses_no_chunk() {
    // The default chunk length: MediaRecorder would hold up to 10 s in memory
    // if the page kept only whole chunks; it keeps every second instead.
    let env = TestEnv::new();
    let server = spawn(&env);
    let result = run_browser(
        &server,
        "reload",
        &[("EXPECT_RENDER", "1"), ("CHUNK_SECONDS", "10")],
    )
    .await;
    let room = result["roomId"].as_str().unwrap();
    let s = stored(&server, room).await;
    // 20 s in 10 s chunks; the guest's two segments each end in a chunk.
    assert_every_chunk_stored(&s, 2);
    // The reload started a second recorder: its chunks report another start.
    let log = events(&server, room).await;
    // What the guest lost: from where its first recorder's media ends (its
    // last chunk, sealed from the slices the page kept) to the reload.
    let SplitRecording {
        first_start,
        last_of_first,
        media_end,
        ..
    } = split_recording(&log, "the host has one segment, the reloaded guest two");
    let reload_at = result["reloadAtMs"].as_i64().unwrap();
    let lost_ms = reload_at - (first_start + media_end);
    eprintln!(
        "reload: the first recorder's media ends {lost_ms} ms before the page went \
         (chunk {last_of_first}, {media_end} ms of media)"
    );
    assert!(
        lost_ms <= 1_000,
        "the reload lost {lost_ms} ms of recording"
    );
    // The reloaded page told the guest what it found and sent.
    let notice = result["recoveredNotice"].as_str().unwrap_or_default();
    assert!(notice.contains("Recording kept on this device"), "{result}");
    // The render fills the reload's gap: final.mp4 still lasts the whole recording.
    assert_final_mp4(&env, &server, &result).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_host_changes_microphone_while_recording_and_nothing_is_lost() {
    // The studio's device picker, mid-recording: the studio opens the new
    // microphone, the guest's connection stays up, and the recording goes
    // on in a second segment of the host's, started before the first one
    // stops (so nothing between them is lost, however busy the page: with
    // the second started after the first one's stop, a loaded machine lost
    // 2129 ms here).
    let env = TestEnv::new();
    let server = spawn(&env);
    let result = run_browser(&server, "devices", &[("EXPECT_RENDER", "1")]).await;
    assert_ne!(result["micBefore"], result["micAfter"], "{result}");
    assert_eq!(result["guestStillLive"], true, "{result}");
    let room = result["roomId"].as_str().unwrap();
    let s = stored(&server, room).await;
    assert_every_chunk_stored(&s, 5);
    let log = events(&server, room).await;
    let SplitRecording {
        media_end,
        first_zero,
        second_zero,
        ..
    } = split_recording(
        &log,
        "the host's change made a second segment, the guest has one",
    );
    // Negative: the two recorders overlap (−12 ms by hand). Each media zero
    // is the browser's estimate, off by up to some 50 ms on a loaded machine
    // (a CI run measured +62 ms), and the first recorder's last frame may lie
    // a frame before its stop: the bound leaves room for that and catches a
    // hand-over that waits for the old recorder (2129 ms under load).
    let gap_ms = second_zero - (first_zero + media_end);
    eprintln!(
        "devices: the second recorder's media begins {gap_ms} ms after the first one's ends \
         (switched {} ms into the recording)",
        result["switchedAtMs"]
    );
    assert!(gap_ms <= 200, "the change lost {gap_ms} ms of recording");
    assert_final_mp4(&env, &server, &result).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_host_sees_a_guest_chunk_that_does_not_decode_while_recording() {
    let env = TestEnv::new();
    let server = spawn(&env);
    // The guest's chunk 2 is replaced by random bytes on its way to the server.
    let result = run_browser(&server, "corrupt", &[]).await;
    let notice = result["rejectedNotice"].as_str().unwrap_or_default();
    assert!(
        notice.contains("Chunk 3 of Gus Guest could not be read"),
        "{result}"
    );
    // Seen while recording: the driver stops right after the notice (both
    // times are read from one clock, and were the same millisecond once).
    assert!(
        result["rejectedAfterMs"].as_u64().unwrap() <= result["recordedMs"].as_u64().unwrap(),
        "{result}"
    );
    let room = result["roomId"].as_str().unwrap();
    let rejected: Vec<Value> = events(&server, room)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "ChunkRejected")
        .map(|(_, payload)| payload)
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0]["index"], 2, "{rejected:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_guests_who_cannot_take_part_are_told_why() {
    // A browser that refuses the camera and microphone, and a full room: each
    // page says what happened and what to do, in words (screenshots of both
    // in docs/screenshots, taken by this scenario); without devices the Join
    // button stays off, so nobody takes a seat they cannot record from.
    let env = TestEnv::new();
    let server = spawn(&env);
    let result = run_browser(&server, "refusals", &[]).await;
    let denied = result["denied"].as_str().unwrap_or_default();
    assert!(
        denied.contains("needs your camera and microphone") && denied.contains("Allow them"),
        "{result}"
    );
    assert_eq!(result["joinDisabled"], true, "{result}");
    let full = result["full"].as_str().unwrap_or_default();
    assert!(full.contains("This session is full"), "{result}");
    // Nobody joined beyond the seats: the log agrees with the page.
    let room = result["roomId"].as_str().unwrap();
    let joined = events(&server, room)
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "ParticipantJoined")
        .count();
    assert_eq!(joined as u64, result["seats"].as_u64().unwrap(), "{result}");
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_host_removes_a_guest_and_revokes_and_renews_the_invite() {
    // The host's page decides who is in: the removed guest's page says so and
    // lets go of the camera; a newcomer with the revoked link is told; the new
    // link (for one guest) lets the newcomer in. Screenshots: removed.png,
    // invite-revoked.png.
    let env = TestEnv::new();
    let server = spawn(&env);
    let result = run_browser(&server, "people", &[]).await;
    let removed = result["removed"].as_str().unwrap_or_default();
    assert!(removed.contains("The host removed you"), "{result}");
    assert_eq!(result["guestTracksLive"], 0, "{result}");
    let revoked = result["revoked"].as_str().unwrap_or_default();
    assert!(revoked.contains("no longer works"), "{result}");
    assert_eq!(result["renewedDiffers"], true, "{result}");
    assert_eq!(result["newcomerIn"], true, "{result}");
    let room = result["roomId"].as_str().unwrap();
    let kinds: Vec<String> = events(&server, room)
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .filter(|k| {
            k.starts_with("Invite") || k == "ParticipantRemoved" || k == "ParticipantJoined"
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ParticipantJoined",
            "ParticipantJoined",
            "ParticipantRemoved",
            "InviteRevoked",
            "InviteIssued",
            "ParticipantJoined"
        ],
        "{result}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_guest_offline_for_15_s_uploads_afterwards() {
    let env = TestEnv::new();
    let server = spawn(&env);
    let result = run_browser(&server, "offline", &[]).await;
    assert!(
        result["pendingWhenBack"].as_u64().unwrap() >= 5,
        "chunks recorded offline waited on the device: {result}"
    );
    // Generous: the whole suite runs beside these browsers on two cores.
    assert!(result["drainMs"].as_u64().unwrap() < 45_000, "{result}");
    let room = result["roomId"].as_str().unwrap();
    let s = stored(&server, room).await;
    assert_every_chunk_stored(&s, 8);
}

/// A file of the embedded store, written to `to` whole: a render's files are
/// composites (a manifest naming ranges of the windows' objects, see
/// `zencast_storage::composite`), read here from the store's directory as
/// the api reads them from the store.
fn stored_file(path_of: &dyn Fn(&str) -> PathBuf, key: &str, to: &Path) {
    let manifest: Value = serde_json::from_slice(&std::fs::read(path_of(key)).unwrap())
        .unwrap_or_else(|e| panic!("{key} is a composite's manifest: {e}"));
    let mut bytes = Vec::new();
    for range in manifest["ranges"].as_array().expect("a manifest's ranges") {
        let object = std::fs::read(path_of(range["key"].as_str().unwrap())).unwrap();
        let offset = range["offset"].as_u64().unwrap() as usize;
        let len = range["len"].as_u64().unwrap() as usize;
        bytes.extend_from_slice(&object[offset..offset + len]);
    }
    assert_eq!(
        bytes.len() as u64,
        manifest["size"].as_u64().unwrap(),
        "{key}"
    );
    std::fs::write(to, bytes).unwrap();
}

/// The file of the room's render whose finish-page link contains `name`,
/// downloaded as a browser would into `to`; its length.
async fn fetch_link(server: &Process, result: &Value, name: &str, to: &Path) -> usize {
    let link = result["files"]
        .as_array()
        .expect("the finish page's file links")
        .iter()
        .filter_map(Value::as_str)
        .find(|u| u.contains(name))
        .unwrap_or_else(|| panic!("a link to {name}"));
    let bytes = reqwest::get(format!("http://{}{link}", server.addr))
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(to, &bytes).unwrap();
    bytes.len()
}

/// The render's final.mp4, fetched through the finish page's link: video and
/// audio, lasting as long as the recording did.
async fn assert_final_mp4(env: &TestEnv, server: &Process, result: &Value) {
    let file = env.data_dir.join("final.mp4");
    let bytes = fetch_link(server, result, "/files/final.mp4", &file).await;
    let probed = probe(&file);
    let mut types = probed.types();
    types.sort();
    assert_eq!(types, ["audio", "video"], "final.mp4 has video and audio");
    let seconds = probed.duration();
    // The session's length is the server's: from `RecordingStarted` to
    // `RecordingStopped`. The driver's own measure starts only once both
    // pages show the recording, which on a busy machine is seconds later.
    let room = result["roomId"].as_str().unwrap();
    let at = |kind: &str, events: &[(String, Value)]| {
        let (_, p) = events.iter().find(|(t, _)| t == kind).unwrap();
        chrono::DateTime::parse_from_rfc3339(p["at"].as_str().unwrap()).unwrap()
    };
    let events = events(&server, room).await;
    let session = (at("RecordingStopped", &events) - at("RecordingStarted", &events))
        .num_milliseconds() as f64
        / 1000.0;
    let recorded = result["recordedMs"].as_f64().unwrap() / 1000.0;
    eprintln!(
        "final.mp4: {bytes} bytes, {seconds:.2} s; session {session:.2} s; the driver saw {recorded:.2} s"
    );
    assert!(
        (seconds - session).abs() < 1.5,
        "final.mp4 lasts {seconds} s, the session {session} s"
    );
    assert!(
        session >= recorded - 0.5,
        "the session outlasts what the driver saw"
    );
}

/// Runs `web/e2e/accounts.mjs` in `phase` against `server`; returns its result line.
async fn run_accounts_phase(server: &Process, phase: &str, extra_env: &[(&str, &str)]) -> Value {
    let mut env = vec![("PHASE", phase)];
    env.extend_from_slice(extra_env);
    run_script(server, "accounts.mjs", phase, &env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn browser_first_run_account_dashboard_and_a_second_host_sees_nothing() {
    // Accounts mode with no account: the console prints the first-run link,
    // and nobody creates a room without signing in.
    let env = TestEnv::new();
    let server = env.spawn_up(&[
        ("ZENCAST_UPLOAD_GRACE_MS", "120000"),
        ("ZENCAST_AUTH", "accounts"),
    ]);
    let link = server
        .first_run_link
        .clone()
        .expect("zencast up printed the first-run link");
    assert!(link.starts_with(&server.url("/setup?token=")), "{link}");
    let api = support::Api::new(server.addr);
    let (status, body) = api
        .post(
            "/api/recordings",
            None,
            serde_json::json!({"title": "Nobody's"}),
        )
        .await;
    assert_eq!(status, 401, "{body}");

    // The first host: set-up, a recording from the dashboard, its files there.
    let final_mp4 = env.data_dir.join("dashboard-final.mp4");
    let first = run_accounts_phase(
        &server,
        "first",
        &[
            ("FIRST_RUN_LINK", link.as_str()),
            ("RECORD_SECONDS", "12"),
            ("DOWNLOAD_TO", final_mp4.to_str().unwrap()),
        ],
    )
    .await;
    let said = |v: &Value, field: &str| v[field].as_str().unwrap_or_default().to_string();
    assert!(
        said(&first, "firstRunCard").contains("first-run link"),
        "{first}"
    );
    assert!(said(&first, "weakPassword").contains("10"), "{first}");
    let key = said(&first, "apiKey");
    assert!(key.starts_with("zc_"), "{first}");
    assert!(
        said(&first, "apiKeyNote").contains("only this once"),
        "{first}"
    );
    assert_eq!(said(&first, "signedInAs"), "host@example.org", "{first}");
    assert!(
        said(&first, "emptyDashboard").contains("No recordings yet"),
        "{first}"
    );
    let row = &first["row"];
    assert_eq!(row["title"], "Accounts episode", "{first}");
    assert_eq!(row["status"], "completed", "{first}");
    assert_eq!(row["people"], "Hana Host", "{first}");
    assert_eq!(row["rerenderEnabled"], true, "{first}");
    let names: Vec<&str> = row["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(names.contains(&"final.mp4"), "{first}");
    // The dashboard's link downloads a video.
    assert_eq!(first["download"]["status"], 200, "{first}");
    let mut types = probe(&final_mp4).types();
    types.sort();
    assert_eq!(types, ["audio", "video"], "the dashboard's final.mp4");
    assert!(
        said(&first, "rerenderAsked").contains("Another render"),
        "{first}"
    );
    // The dashboard's Render again: asked for, and rendered a second time.
    let kinds: Vec<String> = events(&server, &said(&first, "roomId"))
        .await
        .into_iter()
        .map(|(kind, _)| kind)
        .collect();
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(count("RenderRequested"), 1, "{kinds:?}");
    assert_eq!(count("RenderCompleted"), 2, "{kinds:?}");
    assert_eq!(first["dashboardAfterSignOut"], "/signin", "{first}");
    assert_eq!(
        said(&first, "wrongPassword"),
        "Wrong e-mail address or password.",
        "{first}"
    );
    // The page's API key is the account's.
    let (status, me) = api.get("/api/me", Some(&key)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["host"]["email"], "host@example.org", "{me}");

    // A second host, from the console: it sees nothing of the first's.
    let (code, out) = env.run_cli_with_stdin(
        &["hosts", "add", "second@example.org"],
        "the second host's password\n",
    );
    assert_eq!(code, 0, "{out}");
    let second_key = out
        .lines()
        .find_map(|l| l.strip_prefix("api key (shown once): "))
        .unwrap_or_else(|| panic!("an API key in: {out}"))
        .trim()
        .to_string();
    let room = said(&first, "roomId");
    let final_url = row["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "final.mp4")
        .and_then(|f| f["href"].as_str())
        .unwrap()
        .to_string();
    let second = run_accounts_phase(
        &server,
        "second",
        &[
            ("ROOM_ID", room.as_str()),
            ("FINAL_URL", final_url.as_str()),
            ("SECOND_EMAIL", "second@example.org"),
            ("SECOND_PASSWORD", "the second host's password"),
            ("SECOND_API_KEY", second_key.as_str()),
        ],
    )
    .await;
    assert!(
        said(&second, "secondEmpty").contains("No recordings yet"),
        "{second}"
    );
    assert_eq!(second["secondRows"], 0, "{second}");
    assert_eq!(second["secondListWithCookie"], 0, "{second}");
    assert_eq!(second["secondRoomWithCookie"], 403, "{second}");
    assert_eq!(second["secondRoomWithKey"], 403, "{second}");
    // Deleted from the dashboard: gone from the list, and its files with it.
    assert!(
        said(&second, "afterDelete").contains("No recordings yet"),
        "{second}"
    );
    assert_eq!(second["listAfterDelete"], 0, "{second}");
    assert_ne!(second["downloadAfterDelete"], 200, "{second}");
    let deleted = events(&server, &room)
        .await
        .into_iter()
        .any(|(kind, _)| kind == "RecordingDeleted");
    assert!(deleted, "the log records the deletion");
}

/// The mean volume, in dB, of `wav` from `from` to `to` seconds (ffmpeg's
/// volumedetect; digital silence reads about −91 dB).
fn mean_volume(wav: &Path, from: f64, to: f64) -> f64 {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostats",
            "-ss",
            &from.to_string(),
            "-to",
            &to.to_string(),
            "-i",
        ])
        .arg(wav)
        .args(["-af", "volumedetect", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let said = String::from_utf8_lossy(&out.stderr);
    said.lines()
        .find_map(|l| l.split("mean_volume:").nth(1))
        .and_then(|v| v.trim().trim_end_matches("dB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no mean volume for {}:\n{said}", wav.display()))
}

/// A guest's tab closes with chunks still on its device (offline once its
/// first chunk is stored, for the rest of a 34 s recording with the default
/// 10 s chunks, and closed in the middle of a chunk); the session completes
/// when the grace period runs out and renders without them. The guest comes back with the invite link: its page uploads what
/// the device kept and finishes late (`UploadsArrivedLate`), the room renders
/// again by itself, and its audio track now holds what was silence before.
#[tokio::test(flavor = "multi_thread")]
async fn browser_guest_back_after_the_session_completed_uploads_late_and_it_is_rendered_again() {
    let env = TestEnv::new();
    let server = env.spawn_up(&[("ZENCAST_UPLOAD_GRACE_MS", "8000")]);
    let out = env.data_dir.join("late");
    std::fs::create_dir_all(&out).unwrap();
    let result = run_browser(
        &server,
        "late",
        &[
            ("CHUNK_SECONDS", "10"),
            ("RECORD_SECONDS", "34"),
            ("OUT_DIR", out.to_str().unwrap()),
        ],
    )
    .await;
    assert!(result["pendingAtClose"].as_u64().unwrap() >= 1, "{result}");
    assert!(
        result["hostNotice"].as_str().unwrap().contains("Gus Guest"),
        "{result}"
    );
    let room = result["roomId"].as_str().unwrap();
    let log = support::eventually(
        std::time::Duration::from_secs(180),
        "a render completed after the late uploads",
        || async {
            let log = events(&server, room).await;
            let late = log.iter().position(|(t, _)| t == "UploadsArrivedLate")?;
            log[late..]
                .iter()
                .any(|(t, _)| t == "RenderCompleted")
                .then_some(log)
        },
    )
    .await;
    assert_chunks_hold_the_room_length(&log, 10_000);
    let types: Vec<&str> = log.iter().map(|(t, _)| t.as_str()).collect();
    let at = |t: &str| types.iter().position(|x| *x == t).unwrap();
    let completed = &log[at("SessionCompleted")].1;
    assert_eq!(completed["reason"], "grace-period-expired", "{types:?}");
    assert!(
        at("RenderCompleted") < at("UploadsArrivedLate"),
        "{types:?}"
    );
    assert_eq!(
        types[at("UploadsArrivedLate") + 1],
        "RenderRequested",
        "{types:?}"
    );
    let guest = log
        .iter()
        .find(|(t, p)| t == "ParticipantJoined" && p["role"] == "guest")
        .map(|(_, p)| p["participant"].as_str().unwrap().to_string())
        .unwrap();
    let late = &log[at("UploadsArrivedLate")].1;
    assert_eq!(late["participant"], guest.as_str());
    let count = late["chunk_count"].as_u64().unwrap() as u32;
    // The guest goes offline once its first chunk is stored; on a loaded
    // machine the switch can come after the second chunk went up too.
    let stored_before = completed["expected_chunks"][&guest].as_u64().unwrap() as u32;
    assert!(stored_before >= 1, "{completed}");
    assert!(count > stored_before, "chunks arrived late: {late}");
    let mut indexes: Vec<u32> = log
        .iter()
        .filter(|(t, p)| t == "ChunkUploaded" && p["participant"] == guest.as_str())
        .map(|(_, p)| p["index"].as_u64().unwrap() as u32)
        .collect();
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (0..count).collect::<Vec<_>>(),
        "every chunk, late ones too"
    );

    // Offline after those chunks: silence in the first render, sound now
    // (the chunks before the gap hold about 10 s each: 3 s of margin).
    let (from, to) = (10.0 * f64::from(stored_before) + 3.0, 32.0);
    assert!(
        to - from >= 4.0,
        "no gap to listen to: {stored_before} chunks before"
    );
    let before = mean_volume(&out.join("first-guest.wav"), from, to);
    let now = out.join("second-guest.wav");
    let object = |key: &str| {
        env.data_dir
            .join("s3")
            .join(&env.config.s3_bucket)
            .join(key)
    };
    stored_file(
        &object,
        &format!("processed/{room}/tracks/{guest}.wav"),
        &now,
    );
    let after = mean_volume(&now, from, to);
    eprintln!("guest track {from}-{to} s: {before:.1} dB before, {after:.1} dB after");
    assert!(
        before < -70.0,
        "the first render had the guest's gap: {before} dB"
    );
    assert!(
        after > -60.0,
        "the second render has the late chunks: {after} dB"
    );
}

/// Alignment, measured with an oracle a real browser makes: three people
/// with the default 10 s chunks and clock cameras (`clockCamera` in
/// `session.mjs`: every page of the browser films the same clock), one
/// joining 6 s into the recording, one reloading at 14 s, the host changing
/// microphone at 20 s (a second recorder) and the late joiner offline from
/// 22 to 30 s. Measured twice for every recorder's segment, against the
/// host's first: where the browser placed it (its first chunk's frames show
/// where its media zero really lay) and where it is in the rendered track
/// (a frame at time t of the session shows the clock when it was filmed;
/// medians over the segment's frames, since capture and frame timing add
/// tens of milliseconds of noise to single frames).
#[tokio::test(flavor = "multi_thread")]
async fn browser_three_people_joining_late_reloading_changing_microphone_and_offline_are_aligned() {
    use support::clock::{clock_frames, median, offsets};
    let env = TestEnv::new();
    let server = spawn(&env);
    let result = run_browser(
        &server,
        "align",
        &[("CHUNK_SECONDS", "10"), ("RECORD_SECONDS", "40")],
    )
    .await;
    let room = result["roomId"].as_str().unwrap();
    let log = support::eventually(
        std::time::Duration::from_secs(300),
        "the render",
        || async {
            let log = events(&server, room).await;
            log.iter()
                .any(|(t, _)| t == "RenderCompleted")
                .then_some(log)
        },
    )
    .await;
    let started = log
        .iter()
        .find(|(t, _)| t == "RecordingStarted")
        .map(|(_, p)| p["at"].as_str().unwrap().to_string())
        .unwrap();
    let origin_ms = epoch_ms(&started);
    assert_chunks_hold_the_room_length(&log, 10_000);
    let people: Vec<(String, String)> = log
        .iter()
        .filter(|(t, _)| t == "ParticipantJoined")
        .map(|(_, p)| {
            (
                p["participant"].as_str().unwrap().to_string(),
                p["display_name"].as_str().unwrap().to_string(),
            )
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(people.len(), 3, "{people:?}");
    // A time of the log, in ms after the recording started.
    let at_ms = |v: &serde_json::Value| v.as_str().map(|at| epoch_ms(at) - origin_ms);
    let object = |key: &str| {
        env.data_dir
            .join("s3")
            .join(&env.config.s3_bucket)
            .join(key)
    };

    // Where the browsers placed each recorder, apart from the render: a
    // segment's first chunk, as stored, shows where its media zero really
    // lay (the clock a frame shows less its media time); the browser said
    // `media_zero_at`. Each participant's segments in order.
    let mut placed: BTreeMap<(&str, usize), f64> = BTreeMap::new();
    for (p, name) in &people {
        let firsts = log.iter().filter(|(t, e)| {
            t == "ChunkUploaded"
                && e["participant"] == p.as_str()
                && (e["index"] == 0 || e["starts_segment"] == true)
        });
        for (k, (_, e)) in firsts.enumerate() {
            let frames = clock_frames(&object(e["key"].as_str().unwrap()));
            let truth = median(
                offsets(&frames, origin_ms)
                    .iter()
                    .map(|(_, d)| *d)
                    .collect(),
            );
            let said = at_ms(&e["media_zero_at"]).expect("every chunk says its media zero") as f64;
            let start = at_ms(&e["recorder_started_at"])
                .expect("every chunk says its recorder start") as f64;
            eprintln!(
                "{name}, segment {k} (chunk {}): its media zero {truth:.0} ms by its frames, \
                 {said:.0} ms by the browser ({:+.0} ms); its recorder started {:+.0} ms from it",
                e["index"],
                said - truth,
                start - truth
            );
            placed.insert((name.as_str(), k), said - truth);
        }
    }
    let host_placed = placed[&("Hana Host", 0)];

    // The rendered tracks: a frame at time t of the session shows the clock
    // when it was filmed; each segment's median against the host's first.
    let mut lags = BTreeMap::new();
    for (p, name) in &people {
        let track = env.data_dir.join(format!("{p}.mp4"));
        stored_file(&object, &format!("processed/{room}/tracks/{p}.mp4"), &track);
        let frames = clock_frames(&track);
        assert!(frames.len() > 100, "{name}: {} clock frames", frames.len());
        lags.insert(name.clone(), offsets(&frames, origin_ms));
    }
    // Each recorder's segment is placed by one offset: the guest's two (its
    // reload), the host's two (its microphone change), the late guest's one
    // (measured before, while and after it was offline). Times are by the
    // driver's clock, within a second of the session's; frames near a change
    // belong to neither segment for sure and are left out.
    let ms = |key: &str| result[key].as_f64().unwrap() / 1000.0;
    let (reload, switched) = (ms("reloadAtMs"), ms("switchedAtMs"));
    let (offline, online) = (ms("offlineAtMs"), ms("onlineAtMs"));
    let segment_of = |name: &str, at: f64| match name {
        "Gus Guest" if at < reload - 1.5 => Some(("first recorder", 0)),
        "Gus Guest" if at > reload + 3.0 => Some(("after the reload", 1)),
        "Hana Host" if at < switched - 1.5 => Some(("first recorder", 0)),
        "Hana Host" if at > switched + 3.0 => Some(("after changing microphone", 1)),
        "Lea Late" if at < offline => Some(("late join", 0)),
        "Lea Late" if at < online => Some(("late join, while offline", 0)),
        "Lea Late" => Some(("late join, back online", 0)),
        _ => None,
    };
    let reference = median(
        lags["Hana Host"]
            .iter()
            .filter(|(at, _)| segment_of("Hana Host", *at).is_some_and(|(_, k)| k == 0))
            .map(|(_, d)| *d)
            .collect(),
    );
    // The worst of each kind: (placed, rendered), each (ms, which segment).
    // A microphone change is kept apart: see below.
    // The worst segment, placed and rendered.
    let mut worst: [(f64, String); 2] = Default::default();
    for (name, list) in &lags {
        let mut segments: BTreeMap<(&str, usize), Vec<(f64, f64)>> = BTreeMap::new();
        for (at, d) in list {
            if let Some(segment) = segment_of(name, *at) {
                segments.entry(segment).or_default().push((*at, *d));
            }
        }
        for ((segment, k), frames) in segments {
            let (first, last) = (frames[0].0, frames[frames.len() - 1].0);
            // Placed later than the host's: the frames show an earlier clock.
            let by_browser = host_placed - placed[&(name.as_str(), k)];
            let rendered = median(frames.iter().map(|(_, d)| *d).collect()) - reference;
            eprintln!(
                "{name}, {segment} ({first:.1}-{last:.1} s, {} frames): placed {by_browser:+.0} ms, \
                 rendered {rendered:+.0} ms",
                frames.len()
            );
            for (w, off) in worst.iter_mut().zip([by_browser, rendered]) {
                if off.abs() >= w.0.abs() {
                    *w = (off, format!("{name}, {segment}"));
                }
            }
        }
    }
    eprintln!(
        "worst (placed, rendered): {worst:?}; the host's track lags its clock by {reference:.0} ms; \
         the pages' clock offsets at the stop (their error: they share the server's clock): {}",
        result["clockOffsetsMs"]
    );
    // The goal is 20 ms. Measured on this 2-core machine, worst placement of
    // all segments (the first recorders, the late join before, while and
    // after offline, the reload and the host's microphone change) 10, 4, 9,
    // 19, 4 and 11 ms in six runs by hand; rendered 17, 17, 35, 17, 11 and
    // 23 ms (the rendered
    // video adds the 30 fps frame grid: a segment's frames land on the
    // output's nearest frame, up to half a frame, 17 ms, off). Without the
    // microphone change: 7-18 ms in eight earlier runs by hand, 13, 26 and
    // 48 ms in three CI runs (the reloaded recorder's frames came late on
    // the loaded machine). The host's recorder after a microphone
    // change was placed up to 237 ms off while it started only after the old
    // one's stop, on a busy page; started beside the old one, 1-11 ms. Before
    // the frames placed recorders, BlobEvent timecodes did: 23 to 185 ms;
    // before that, the recorder's start: 366 ms. The bounds leave room for
    // CI; they catch the recorder's start and the worst of the timecodes.
    let [placed, rendered] = &worst;
    assert!(placed.0.abs() <= 100.0, "worst placement {placed:?}");
    assert!(rendered.0.abs() <= 120.0, "worst rendered {rendered:?}");
}
