//! The render consumer against real Postgres, NATS, Redis, the embedded S3
//! store and the system ffmpeg: chunks of WebM recordings (VP8 + Opus 48 kHz,
//! split mid-cluster like MediaRecorder's) become final.mp4 and per-track
//! files, aligned by each recorder's start in server time.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use support::probe::probe;
use support::{eventually, s, Api, TestEnv};
use zencast::{Parts, Running};
use zencast_eventlog::log::room_events;
use zencast_eventlog::{EventLog, Origin};
use zencast_events::{ParticipantId, RecordingCommand, RecordingEvent, Role, RoomId};

/// The api, relay and projector in this process; render workers are started
/// by each test as it needs them.
const NO_WORKER: Parts = Parts {
    api: true,
    relay: true,
    projector: true,
    render: false,
    embedded_s3: true,
};

/// A recording as a browser makes it: VP8 + Opus at 48 kHz in WebM, a test
/// picture, silence but for a 200 ms beep of `freq` Hz at `beep_at` seconds.
fn recording(dir: &Path, name: &str, seconds: f64, beep_at: f64, freq: u32) -> Vec<u8> {
    let out = dir.join(format!("{name}.webm"));
    let beep = format!(
        "aevalsrc=exprs='if(between(t,{beep_at},{end}),0.5*sin(2*PI*{freq}*t),0)':s=48000:d={seconds}",
        end = beep_at + 0.2
    );
    support::media::browser_like_webm(
        &out,
        &format!("testsrc2=size=320x240:rate=15:duration={seconds}"),
        &beep,
        "300k",
        15,
    )
}

/// Splits like MediaRecorder with a timeslice: only chunk 0 has the header,
/// boundaries fall anywhere (mid-cluster).
fn chunks(bytes: &[u8], n: usize) -> Vec<Vec<u8>> {
    let size = bytes.len().div_ceil(n);
    bytes.chunks(size).map(<[u8]>::to_vec).collect()
}

struct Session {
    api: Api,
    room: Value,
    guest: Value,
    /// Server time of `RecordingStarted`, ms since the epoch.
    started_ms: f64,
}

async fn recording_session(running: &Running, title: &str, layout: &str) -> Session {
    recording_session_of(running, title, layout, 2).await
}

async fn recording_session_of(
    running: &Running,
    title: &str,
    layout: &str,
    chunk_seconds: u32,
) -> Session {
    let api = Api::new(running.http_addr.unwrap());
    let (status, room) = api
        .post(
            "/api/recordings",
            None,
            json!({"title": title, "layout": layout, "chunkSeconds": chunk_seconds, "hostName": "Hana"}),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let guest = api
        .join(s(&room["roomId"]), "Gus", s(&room["inviteToken"]))
        .await;
    let (status, started) = api
        .post(
            &format!("/api/recordings/{}/start", s(&room["roomId"])),
            Some(s(&room["hostToken"])),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let at = chrono::DateTime::parse_from_rfc3339(s(&started["at"])).unwrap();
    Session {
        api,
        room,
        guest,
        started_ms: at.timestamp_micros() as f64 / 1000.0,
    }
}

impl Session {
    fn room_id(&self) -> &str {
        s(&self.room["roomId"])
    }

    /// Uploads `parts` as `participant`'s chunks, its recorder having started
    /// `offset` seconds after the host pressed start, and finishes.
    async fn upload(&self, participant: &str, token: &str, parts: &[Vec<u8>], offset: f64) {
        let all: Vec<usize> = (0..parts.len()).collect();
        self.upload_some(participant, token, &[(offset, parts.to_vec())], &all)
            .await;
        self.finish(participant, token, parts.len()).await;
    }

    /// Uploads the chunks numbered in `only` of recorder segments given as
    /// (start offset after the host's start, chunks); indexes run on across
    /// segments, as a client's do after a reload.
    async fn upload_some(
        &self,
        participant: &str,
        token: &str,
        segments: &[(f64, Vec<Vec<u8>>)],
        only: &[usize],
    ) {
        let numbered = segments.iter().flat_map(|(offset, parts)| {
            let start = format!("{:.3}", self.started_ms + offset * 1000.0);
            parts.iter().map(move |p| (start.clone(), p))
        });
        for (i, (start, body)) in numbered.enumerate() {
            if !only.contains(&i) {
                continue;
            }
            let r = self
                .api
                .http
                .put(format!(
                    "{}/api/recordings/{}/participants/{participant}/chunks/{i}",
                    self.api.base,
                    self.room_id()
                ))
                .bearer_auth(token)
                .header("Zencast-Recording-Start", &start)
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 201, "chunk {i}");
        }
    }

    async fn finish(&self, participant: &str, token: &str, count: usize) {
        let (status, v) = self
            .api
            .post(
                "/api/uploads/complete",
                Some(token),
                json!({"roomId": self.room_id(), "participantId": participant, "chunkCount": count}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    /// Stops once the session has lasted `seconds`: a session is at least as
    /// long as what its recorders recorded (the render is bounded by it).
    async fn stop_after(&self, seconds: f64) {
        let until = self.started_ms + seconds * 1000.0;
        let now = chrono::Utc::now().timestamp_micros() as f64 / 1000.0;
        if until > now {
            tokio::time::sleep(Duration::from_millis((until - now) as u64)).await;
        }
        self.stop().await;
    }

    async fn stop(&self) {
        let (status, v) = self
            .api
            .post(
                &format!("/api/recordings/{}/stop", self.room_id()),
                Some(s(&self.room["hostToken"])),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }

    async fn view(&self) -> Value {
        let path = format!("/api/recordings/{}", self.room_id());
        self.api
            .get(&path, Some(s(&self.guest["participantToken"])))
            .await
            .1
    }

    /// Waits for the render's end; returns the room view.
    async fn rendered(&self, limit: Duration) -> Value {
        self.rendered_after(0, limit).await
    }

    /// Waits for a render with an attempt number above `attempt` to end.
    async fn rendered_after(&self, attempt: u64, limit: Duration) -> Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let v = self.view().await;
            let newer = v["render"]["attempt"].as_u64().unwrap_or(0) > attempt;
            match v["render"]["status"].as_str() {
                Some("completed") if newer => return v,
                Some("failed") => panic!("render failed: {v}"),
                _ => {}
            }
            // The room as it stands says where the render got stuck.
            assert!(
                std::time::Instant::now() < deadline,
                "the render did not complete within {limit:?}: {}",
                v["render"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Downloads a file by the signed link the room view gives (no token).
    async fn download(&self, name: &str, to: &Path) {
        let view = self.view().await;
        let url = view["render"]["files"]
            .as_array()
            .and_then(|files| files.iter().find(|f| f["name"] == name))
            .map(|f| s(&f["url"]).to_string())
            .unwrap_or_else(|| panic!("no {name} in {view}"));
        assert!(url.contains("signature="), "{url}");
        let get = |url: String| self.api.http.get(format!("{}{url}", self.api.base)).send();
        let unsigned = url.split_once('?').unwrap().0.to_string();
        assert_eq!(
            get(unsigned).await.unwrap().status().as_u16(),
            401,
            "{name}"
        );
        let r = get(url).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{name}");
        std::fs::write(to, r.bytes().await.unwrap()).unwrap();
    }
}

/// Onsets (seconds) of the beeps in a file's audio: where the signal first
/// rises above a third of its peak after at least half a second of quiet.
fn beeps(file: &Path) -> Vec<f64> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(file)
        .args([
            "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "s16le", "-",
        ])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let samples: Vec<f64> = out
        .stdout
        .chunks_exact(2)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])).abs())
        .collect();
    let peak = samples.iter().copied().fold(0.0, f64::max);
    assert!(peak > 1000.0, "no sound in {}", file.display());
    let mut onsets = Vec::new();
    let mut last_loud: Option<usize> = None;
    for (i, x) in samples.iter().enumerate() {
        if *x > peak / 3.0 {
            if last_loud.is_none_or(|l| i - l > 24_000) {
                onsets.push(i as f64 / 48_000.0);
            }
            last_loud = Some(i);
        }
    }
    onsets
}

fn near(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance
}

async fn render_events(running: &Running, room: &str) -> Vec<RecordingEvent> {
    support::room_log(&running.backends.pool, room)
        .await
        .iter()
        .map(|e| e.event().unwrap())
        .filter(RecordingEvent::is_render_event)
        .collect()
}

/// Host: 6 s, recorder started 0.2 s after start, beep 2.0 s in (2.2 s on
/// the timeline). Guest: 6 s, started 1.3 s after, beep 3.0 s in (4.3 s).
async fn two_person_session(running: &Running, dir: &Path, title: &str, layout: &str) -> Session {
    let session = recording_session(running, title, layout).await;
    let host = recording(dir, "host", 6.0, 2.0, 1000);
    let guest = recording(dir, "guest", 6.0, 3.0, 1500);
    session
        .upload(
            s(&session.room["hostParticipantId"]),
            s(&session.room["hostToken"]),
            &chunks(&host, 3),
            0.2,
        )
        .await;
    session.stop_after(7.3).await;
    session
        .upload(
            s(&session.guest["participantId"]),
            s(&session.guest["participantToken"]),
            &chunks(&guest, 4),
            1.3,
        )
        .await;
    session
}

/// A test deployment whose upload grace period outlasts a slow upload on a
/// busy machine (the missing-chunk test waits for it to run out).
fn test_env() -> TestEnv {
    let mut env = TestEnv::new();
    env.config.upload_grace_ms = 5_000;
    env
}

fn scratch(env: &TestEnv) -> PathBuf {
    let dir = env.data_dir.join("fixtures");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_renders_aligned_tracks_and_final_mp4_in_every_layout() {
    let env = test_env();
    let running = env.start(Parts::ALL).await;
    let dir = scratch(&env);
    // Progress on core NATS, as any client (or the room's WebSocket) sees it.
    let mut progress = running
        .backends
        .nats
        .subscribe(format!("{}.progress.*", env.tag))
        .await
        .unwrap();
    let session = two_person_session(&running, &dir, "Aligned: 100% {live}", "grid").await;
    let view = session.rendered(Duration::from_secs(120)).await;
    let mut frames = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(
        Duration::from_millis(200),
        futures::StreamExt::next(&mut progress),
    )
    .await
    {
        frames.push(serde_json::from_slice::<Value>(&m.payload).unwrap());
    }
    let percents: Vec<f64> = frames
        .iter()
        .map(|f| f["percent"].as_f64().unwrap())
        .collect();
    assert!(frames
        .iter()
        .all(|f| f["type"] == "progress" && f["roomId"] == session.room_id()));
    assert!(
        frames.iter().any(|f| f["stage"] == "encoding"),
        "{frames:?}"
    );
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert_eq!(percents.last(), Some(&100.0), "{percents:?}");
    let (host, guest) = (
        s(&session.room["hostParticipantId"]).to_string(),
        s(&session.guest["participantId"]).to_string(),
    );

    // The files the render lists, downloaded through the api.
    let names: Vec<&str> = view["render"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| s(&f["name"]))
        .collect();
    for want in [
        "final.mp4".to_string(),
        format!("tracks/{host}.wav"),
        format!("tracks/{host}.mp4"),
        format!("tracks/{guest}.wav"),
        format!("tracks/{guest}.mp4"),
    ] {
        assert!(names.contains(&want.as_str()), "{want} not in {names:?}");
    }
    let final_mp4 = dir.join("final.mp4");
    session.download("final.mp4", &final_mp4).await;
    let p = probe(&final_mp4);
    assert_eq!(p.video(), Some((1280, 720, "h264".into())), "{p:?}");
    assert_eq!(p.audio(), Some(("aac".into(), 48_000)), "{p:?}");
    // Its index comes first (a browser plays it while it downloads), then
    // the windows' samples, in one box.
    let boxes = support::media::top_level_boxes(&std::fs::read(&final_mp4).unwrap());
    let kinds: Vec<&str> = boxes.iter().map(|(_, kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["ftyp", "moov", "mdat"], "{kinds:?}");
    // The guest's recorder ran from 1.3 s to 7.3 s.
    assert!(near(p.duration(), 7.3, 0.5), "duration {}", p.duration());
    assert!(near(
        view["render"]["finalDurationMs"].as_f64().unwrap() / 1000.0,
        7.3,
        0.5
    ));

    // Each beep where it belongs on the timeline: in the mix and in each track.
    let onsets = beeps(&final_mp4);
    eprintln!("beeps in final.mp4 at {onsets:?} s; they belong at 2.2 and 4.3");
    assert_eq!(onsets.len(), 2, "{onsets:?}");
    assert!(
        near(onsets[0], 2.2, 0.020),
        "host beep at {} s, want 2.2",
        onsets[0]
    );
    assert!(
        near(onsets[1], 4.3, 0.020),
        "guest beep at {} s, want 4.3",
        onsets[1]
    );
    for (who, at) in [(&host, 2.2), (&guest, 4.3)] {
        for ext in ["wav", "mp4"] {
            let file = dir.join(format!("{who}.{ext}"));
            session
                .download(&format!("tracks/{who}.{ext}"), &file)
                .await;
            let b = beeps(&file);
            assert_eq!(b.len(), 1, "{ext}: {b:?}");
            assert!(
                near(b[0], at, 0.020),
                "{ext} of {who}: beep at {} s, want {at}",
                b[0]
            );
            let p = probe(&file);
            assert!(near(p.duration(), 7.3, 0.5), "{ext}: {}", p.duration());
            if ext == "mp4" {
                assert_eq!(p.video(), Some((1280, 720, "h264".into())));
            }
        }
    }

    // Another render in each other layout, asked for by the host.
    let mut attempt = view["render"]["attempt"].as_u64().unwrap();
    for (layout, video) in [
        ("side-by-side", (1280, 720)),
        ("speaker", (1280, 720)),
        ("audio-only", (1280, 720)),
    ] {
        let (status, v) = session
            .api
            .post(
                &format!("/api/recordings/{}/render", session.room_id()),
                Some(s(&session.room["hostToken"])),
                json!({"layout": layout}),
            )
            .await;
        assert_eq!(status, 202, "{v}");
        let view = session
            .rendered_after(attempt, Duration::from_secs(120))
            .await;
        attempt = view["render"]["attempt"].as_u64().unwrap();
        assert_eq!(view["render"]["layout"], layout);
        let file = dir.join(format!("{layout}.mp4"));
        session.download("final.mp4", &file).await;
        let p = probe(&file);
        assert_eq!(
            p.video(),
            Some((video.0, video.1, "h264".into())),
            "{layout}"
        );
        assert_eq!(p.audio(), Some(("aac".into(), 48_000)), "{layout}");
        assert!(near(p.duration(), 7.3, 0.5), "{layout}: {}", p.duration());
    }
    // Windows another machine rendered: with this worker's cache gone, a
    // render in the first layout again reuses the stored windows, fetching
    // only their indexes and headers, and makes the same file byte for byte.
    let cache = env.config.data_dir.join("render").join("cache");
    std::fs::remove_dir_all(&cache).unwrap();
    let (status, v) = session
        .api
        .post(
            &format!("/api/recordings/{}/render", session.room_id()),
            Some(s(&session.room["hostToken"])),
            json!({"layout": "grid"}),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let view = session
        .rendered_after(attempt, Duration::from_secs(120))
        .await;
    assert_eq!(view["render"]["layout"], "grid");
    let again = dir.join("grid-again.mp4");
    session.download("final.mp4", &again).await;
    assert!(
        std::fs::read(&again).unwrap() == std::fs::read(&final_mp4).unwrap(),
        "final.mp4 from fetched windows differs from the first"
    );
    let fetched = cache.join("processed").join(session.room_id());
    let on_disk: u64 = walk_sizes(&fetched).into_iter().map(|(_, used)| used).sum();
    let stated: u64 = walk_sizes(&fetched).into_iter().map(|(len, _)| len).sum();
    assert!(
        on_disk * 4 < stated,
        "the fetched windows take {on_disk} bytes on disk of their {stated}"
    );

    // A guest cannot ask for renders.
    let (status, _) = session
        .api
        .post(
            &format!("/api/recordings/{}/render", session.room_id()),
            Some(s(&session.guest["participantToken"])),
            json!({}),
        )
        .await;
    assert_eq!(status, 403);

    let started = render_events(&running, session.room_id())
        .await
        .into_iter()
        .filter(|e| matches!(e, RecordingEvent::RenderStarted { .. }))
        .count();
    assert_eq!(started, 5);
    running.stop().await;
}

/// (length, bytes on disk) of every file under `dir`.
fn walk_sizes(dir: &Path) -> Vec<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            out.extend(walk_sizes(&entry.path()));
        } else {
            out.push((meta.len(), meta.blocks() * 512));
        }
    }
    out
}

fn fixture(who: &str, from: usize, count: usize) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/chromium")
        .join(who);
    (from..from + count)
        .map(|i| std::fs::read(dir.join(format!("{i}.webm"))).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_recordings_with_a_restarted_recorder_render_whole() {
    // Real MediaRecorder chunks (see tests/fixtures/chromium/record.mjs and
    // manifest.json): `a` one recorder of 5.0 s; `b` two recorders of 2.0 s
    // started 0.19 s and 3.01 s after `a`, as after a reload.
    let env = test_env();
    let running = env.start(Parts::ALL).await;
    let dir = scratch(&env);
    let session = recording_session(&running, "Chromium", "speaker").await;
    let (host, guest) = (
        s(&session.room["hostParticipantId"]).to_string(),
        s(&session.guest["participantId"]).to_string(),
    );
    session
        .upload(
            &host,
            s(&session.room["hostToken"]),
            &fixture("a", 0, 5),
            0.1,
        )
        .await;
    session.stop_after(5.1).await;
    let token = s(&session.guest["participantToken"]).to_string();
    let segments = [
        (0.1 + 0.193, fixture("b", 0, 2)),
        (0.1 + 3.009, fixture("b", 2, 2)),
    ];
    session
        .upload_some(&guest, &token, &segments, &[0, 1, 2, 3])
        .await;
    session.finish(&guest, &token, 4).await;

    let view = session.rendered(Duration::from_secs(120)).await;
    assert_eq!(view["render"]["layout"], "speaker");
    let final_mp4 = dir.join("final.mp4");
    session.download("final.mp4", &final_mp4).await;
    let p = probe(&final_mp4);
    assert_eq!(p.video(), Some((1280, 720, "h264".into())), "{p:?}");
    assert_eq!(p.audio(), Some(("aac".into(), 48_000)), "{p:?}");
    // `b`'s second recorder ends last: 0.1 + 3.009 + 1.98 s.
    assert!(near(p.duration(), 5.09, 0.5), "duration {}", p.duration());
    let wav = dir.join("b.wav");
    session.download(&format!("tracks/{guest}.wav"), &wav).await;
    assert!(near(probe(&wav).duration(), 5.09, 0.5));
    let events = room_events(
        &running.backends.pool,
        RoomId::parse(session.room_id()).unwrap(),
        0,
        None,
    )
    .await
    .unwrap();
    let segment_starts = events
        .iter()
        .filter_map(|e| match e.event().unwrap() {
            RecordingEvent::ChunkUploaded {
                participant,
                index,
                starts_segment: true,
                recorder_started_at: Some(_),
                ..
            } => Some((participant.to_string(), index.get())),
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(
        segment_starts,
        vec![(host.clone(), 0), (guest.clone(), 0), (guest.clone(), 2)]
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_chunks_fail_the_render_visibly_until_an_operator_forces_it() {
    let env = test_env();
    let running = env.start(Parts::ALL).await;
    let dir = scratch(&env);
    let session = recording_session(&running, "Gappy", "grid").await;
    let (host, guest) = (
        s(&session.room["hostParticipantId"]).to_string(),
        s(&session.guest["participantId"]).to_string(),
    );
    let guest_chunks = chunks(&recording(&dir, "g", 6.0, 3.0, 1500), 4);
    session
        .upload(
            &host,
            s(&session.room["hostToken"]),
            &chunks(&recording(&dir, "h", 6.0, 2.0, 1000), 3),
            0.2,
        )
        .await;
    session.stop_after(7.3).await;
    // The guest's chunk 1 never arrives; it says it recorded 4.
    let token = s(&session.guest["participantToken"]).to_string();
    session
        .upload_some(&guest, &token, &[(1.3, guest_chunks)], &[0, 2, 3])
        .await;
    session.finish(&guest, &token, 4).await;

    // The grace period completes the session; the render refuses, visibly.
    let failed = eventually(Duration::from_secs(60), "the render to fail", || async {
        let v = session.view().await;
        (v["render"]["status"] == "failed").then_some(v)
    })
    .await;
    let error = failed["render"]["error"].as_str().unwrap();
    assert!(
        error.contains("chunks are missing") && error.contains(&format!("{guest} 1–1")),
        "{error}"
    );
    assert!(error.contains("--force"), "{error}");

    // The operator renders with what is stored.
    let out = Command::new(env!("CARGO_BIN_EXE_zencast"))
        .args(["render", "--force", session.room_id()])
        .envs(env.env_vars())
        .env(
            "ZENCAST_S3_ENDPOINT",
            format!("http://{}", running.s3_addr.unwrap()),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("render completed"), "{stdout}");
    let view = session.rendered(Duration::from_secs(30)).await;
    assert_eq!(view["render"]["forced"], true);
    let events = render_events(&running, session.room_id()).await;
    let filled = events.iter().find_map(|e| match e {
        RecordingEvent::RenderCompleted { filled_gaps, .. } => Some(filled_gaps.clone()),
        _ => None,
    });
    let filled = filled.expect("a completed render");
    assert_eq!(filled.len(), 1, "{filled:?}");
    assert_eq!(
        (
            filled[0].participant.to_string(),
            filled[0].from,
            filled[0].to
        ),
        (guest.clone(), 1, 1)
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, RecordingEvent::RenderRequested { force: true, .. })));
    assert!(events
        .iter()
        .any(|e| matches!(e, RecordingEvent::RenderStarted { forced: true, .. })));
    // The chunks after the gap still play, at their place: full length.
    let final_mp4 = dir.join("final.mp4");
    session.download("final.mp4", &final_mp4).await;
    assert!(near(probe(&final_mp4).duration(), 7.3, 0.5));
    // During the missing chunk (about 2.8–4.3 s) the guest's tile is black;
    // the host's is not.
    let guest_tile = mean_luma(&final_mp4, 3.6, (640, 180, 640, 360));
    let host_tile = mean_luma(&final_mp4, 3.6, (0, 180, 640, 360));
    assert!(guest_tile < 20.0, "guest tile luma {guest_tile}");
    assert!(host_tile > 40.0, "host tile luma {host_tile}");
    running.stop().await;
}

/// The mean luma of a rectangle (x, y, w, h) of the frame at `at` seconds.
fn mean_luma(file: &Path, at: f64, (x, y, w, h): (u32, u32, u32, u32)) -> f64 {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &at.to_string(), "-i"])
        .arg(file)
        .args([
            "-frames:v",
            "1",
            "-vf",
            &format!("crop={w}:{h}:{x}:{y},format=gray"),
        ])
        .args(["-f", "rawvideo", "-"])
        .output()
        .unwrap();
    assert!(!out.stdout.is_empty());
    out.stdout.iter().map(|b| f64::from(*b)).sum::<f64>() / out.stdout.len() as f64
}

/// Whether a running process has `text` in its command line.
fn any_process_mentions(text: &str) -> bool {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmdline| String::from_utf8_lossy(&cmdline).contains(text))
}

/// `zencast render` as a child process (a worker of its own).
fn spawn_worker(env: &TestEnv, running: &Running, extra: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_zencast"))
        .arg("render")
        .envs(env.env_vars())
        .env(
            "ZENCAST_S3_ENDPOINT",
            format!("http://{}", running.s3_addr.unwrap()),
        )
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_workers_render_once_and_a_killed_worker_is_retried() {
    let env = test_env();
    let running = env.start(NO_WORKER).await;
    let dir = scratch(&env);

    // Two workers with their own event logs (as two processes) attend one room at once.
    let session = two_person_session(&running, &dir, "Race", "grid").await;
    let room = RoomId::parse(session.room_id()).unwrap();
    eventually(Duration::from_secs(10), "completion", || async {
        (session.view().await["status"] == "completed").then_some(())
    })
    .await;
    let worker = |name: &str| {
        let mut w = zencast::run::render_worker(
            &running.backends,
            Arc::new(EventLog::new(
                running.backends.pool.clone(),
                running.backends.metrics.clone(),
            )),
            running.s3_addr,
        )
        .unwrap();
        w.settings.name = name.into();
        w
    };
    let (a, b) = (worker("a"), worker("b"));
    let (ra, rb) = tokio::join!(a.attend(room, || async {}), b.attend(room, || async {}));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let events = render_events(&running, session.room_id()).await;
    let started: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RecordingEvent::RenderStarted {
                worker, attempt, ..
            } => Some((worker.clone(), *attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{events:?}");
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, RecordingEvent::RenderCompleted { .. }))
            .count(),
        1,
        "{events:?}"
    );
    assert!(
        [ra, rb].contains(&zencast_render::Next::Ack),
        "the winner is done with the job: {ra:?} {rb:?}"
    );

    // A worker killed with SIGKILL mid-render; another one takes over.
    let session = two_person_session(&running, &dir, "Crash", "grid").await;
    let mut slow = spawn_worker(
        &env,
        &running,
        &[
            ("ZENCAST_RENDER_PRESET", "veryslow"),
            ("ZENCAST_RENDER_CRF", "0"),
        ],
    );
    // Its window renders run in directories named by the room.
    let room_files = format!("window-{}-", session.room_id());
    eventually(
        Duration::from_secs(60),
        "the slow worker encoding",
        || async {
            let v = session.view().await;
            (v["render"]["stage"] == "encoding" && any_process_mentions(&room_files)).then_some(())
        },
    )
    .await;
    Command::new("kill")
        .args(["-9", &slow.id().to_string()])
        .status()
        .unwrap();
    let _ = slow.wait();
    // Its ffmpeg dies with it (nothing keeps encoding attempt 1 in the background).
    eventually(
        Duration::from_secs(5),
        "the killed worker's ffmpeg to exit",
        || {
            let gone = !any_process_mentions(&room_files);
            async move { gone.then_some(()) }
        },
    )
    .await;
    let mut fast = spawn_worker(&env, &running, &[]);
    let view = session.rendered(Duration::from_secs(120)).await;
    let _ = fast.kill();
    let _ = fast.wait();
    assert_eq!(view["render"]["attempt"], 2, "{view}");
    let events = render_events(&running, session.room_id()).await;
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e {
            RecordingEvent::RenderStarted { attempt, .. } => format!("started {attempt}"),
            RecordingEvent::RenderFailed {
                attempt,
                reason,
                last,
                worker_lost,
            } => {
                assert!(reason.contains("stopped responding"), "{reason}");
                format!("failed {attempt} last={last} lost={worker_lost}")
            }
            RecordingEvent::RenderCompleted { attempt, .. } => format!("completed {attempt}"),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            "started 1",
            "failed 1 last=false lost=true",
            "started 2",
            "completed 2"
        ],
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_browsers_codec_renders_in_one_room() {
    // Chromium's VP8, VP9 and H.264-in-WebM (real MediaRecorder chunks, see
    // tests/fixtures/codecs) and a fragmented MP4 cut mid-fragment as Safari
    // records: one room, every file decodes, every length within 0.5 s.
    let env = test_env();
    let running = env.start(Parts::ALL).await;
    let dir = scratch(&env);
    let session = recording_session(&running, "Codecs", "grid").await;
    let invite = s(&session.room["inviteToken"]).to_string();
    let mut people = vec![(
        s(&session.room["hostParticipantId"]).to_string(),
        s(&session.room["hostToken"]).to_string(),
        support::media::codec_fixture("vp8"),
    )];
    people.push((
        s(&session.guest["participantId"]).to_string(),
        s(&session.guest["participantToken"]).to_string(),
        support::media::codec_fixture("vp9"),
    ));
    let mp4 = support::media::safari_like_mp4(&dir, 4.0, 1.5);
    for (name, chunks) in [
        ("H264", support::media::codec_fixture("h264")),
        ("Safari", support::media::split_bytes(&mp4, 4)),
    ] {
        let g = session.api.join(session.room_id(), name, &invite).await;
        people.push((
            s(&g["participantId"]).to_string(),
            s(&g["participantToken"]).to_string(),
            chunks,
        ));
    }
    for (p, token, chunks) in &people {
        session.upload(p, token, chunks, 0.3).await;
    }
    session.stop_after(4.4).await;
    let view = eventually(Duration::from_secs(120), "the render to end", || async {
        let v = session.view().await;
        matches!(v["render"]["status"].as_str(), Some("completed" | "failed")).then_some(v)
    })
    .await;
    let events = room_events(
        &running.backends.pool,
        session.room_id().parse::<RoomId>().unwrap(),
        0,
        None,
    )
    .await
    .unwrap();
    let rejected: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "ChunkRejected")
        .map(|e| e.event().unwrap())
        .collect();
    assert!(rejected.is_empty(), "{rejected:?}");
    let final_mp4 = dir.join("final.mp4");
    session.download("final.mp4", &final_mp4).await;
    let p = probe(&final_mp4);
    assert_eq!(p.video(), Some((1280, 720, "h264".into())), "{p:?}");
    assert!(
        near(p.duration(), 4.3, 0.5),
        "final.mp4 lasts {}",
        p.duration()
    );
    for (participant, _, _) in &people {
        for ext in ["mp4", "wav"] {
            let file = dir.join(format!("{participant}.{ext}"));
            session
                .download(&format!("tracks/{participant}.{ext}"), &file)
                .await;
            let t = probe(&file);
            assert!(t.audio().is_some(), "{participant}.{ext}: {t:?}");
            assert!(
                near(t.duration(), 4.3, 0.5),
                "{participant}.{ext} lasts {}",
                t.duration()
            );
        }
    }
    assert_eq!(view["render"]["status"], "completed");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunk_that_does_not_decode_is_known_within_seconds_while_recording() {
    let env = test_env();
    let running = env.start(Parts::ALL).await;
    let session = recording_session(&running, "Garbage", "grid").await;
    let host = s(&session.room["hostParticipantId"]).to_string();
    let mut chunks = support::media::codec_fixture("vp8");
    // Chunk 2 is noise of the same size.
    chunks[2] = (0..chunks[2].len())
        .map(|i| (i * 7919 % 251) as u8)
        .collect();
    let token = s(&session.room["hostToken"]).to_string();
    session
        .upload_some(&host, &token, &[(0.2, chunks.clone())], &[0, 1, 2])
        .await;
    let uploaded = std::time::Instant::now();
    let view = eventually(
        Duration::from_secs(20),
        "the chunk to be rejected",
        || async {
            let v = session.view().await;
            let host_view = v["participants"]
                .as_array()?
                .iter()
                .find(|p| p["participantId"] == host.as_str())?
                .clone();
            (host_view["rejectedChunks"].as_array()?.len() == 1).then_some(host_view)
        },
    )
    .await;
    assert!(uploaded.elapsed() < Duration::from_secs(20));
    assert_eq!(view["rejectedChunks"][0]["index"], 2, "{view}");
    let reason = view["rejectedChunks"][0]["reason"].as_str().unwrap();
    assert!(!reason.contains("/tmp"), "no server paths in {reason}");
    // The session is still recording: the participant can still send it again.
    assert_eq!(session.view().await["status"], "recording");
    running.stop().await;
}

/// A camera-like recording: 640x480 at 30 fps (Chromium's fake camera), a
/// keyframe every 2 s, a tone of `freq` Hz throughout.
fn camera_recording(dir: &Path, name: &str, seconds: u32, freq: u32) -> Vec<u8> {
    support::media::browser_like_webm(
        &dir.join(format!("{name}.webm")),
        &format!("testsrc2=size=640x480:rate=30:duration={seconds}"),
        &format!("sine=frequency={freq}:sample_rate=48000:duration={seconds}"),
        "1M",
        60,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_three_minute_session_is_rendered_while_it_records() {
    // Two people, the default 10 s chunks arriving in real time (a chunk of
    // each every 10 s), as browsers send them during a 3-minute session.
    // Runs alone (.config/nextest.toml): the promise is about one machine.
    const SECONDS: u32 = 180;
    const CHUNK: u32 = 10;
    let env = test_env();
    let running = env.start(Parts::ALL).await;
    let dir = scratch(&env);
    let people = [
        camera_recording(&dir, "host", SECONDS, 440),
        camera_recording(&dir, "guest", SECONDS, 660),
    ];
    let session = recording_session_of(&running, "Real time", "grid", CHUNK).await;
    let who = [
        (
            s(&session.room["hostParticipantId"]).to_string(),
            s(&session.room["hostToken"]).to_string(),
        ),
        (
            s(&session.guest["participantId"]).to_string(),
            s(&session.guest["participantToken"]).to_string(),
        ),
    ];
    let count = (SECONDS / CHUNK) as usize;
    let recorder_start = 0.2;
    let segments: Vec<[(f64, Vec<Vec<u8>>); 1]> = people
        .iter()
        .map(|b| [(recorder_start, chunks(b, count))])
        .collect();
    for i in 0..count {
        // Chunk i leaves the browser when its slice of time has been recorded.
        let due =
            session.started_ms + (recorder_start + f64::from(CHUNK) * (i + 1) as f64) * 1000.0;
        let now = chrono::Utc::now().timestamp_micros() as f64 / 1000.0;
        if due > now {
            tokio::time::sleep(Duration::from_millis((due - now) as u64)).await;
        }
        let only = [i];
        let uploads = who
            .iter()
            .zip(&segments)
            .map(|((p, token), segment)| session.upload_some(p, token, segment, &only));
        futures::future::join_all(uploads).await;
    }
    let last_chunk = std::time::Instant::now();
    session.stop().await;
    for (p, token) in &who {
        session.finish(p, token, count).await;
    }
    session.rendered(Duration::from_secs(90)).await;
    let waited = last_chunk.elapsed();
    let final_mp4 = dir.join("final.mp4");
    session.download("final.mp4", &final_mp4).await;
    let p = probe(&final_mp4);
    let length = f64::from(SECONDS) + recorder_start;
    assert!(
        near(p.duration(), length, 0.5),
        "final.mp4 lasts {}",
        p.duration()
    );
    for (participant, _) in &who {
        let file = dir.join(format!("{participant}.mp4"));
        session
            .download(&format!("tracks/{participant}.mp4"), &file)
            .await;
        let t = probe(&file);
        assert!(
            near(t.duration(), length, 0.5),
            "track lasts {}",
            t.duration()
        );
    }
    // Windows were rendered while the session went on, not after it.
    let events = room_events(
        &running.backends.pool,
        session.room_id().parse::<RoomId>().unwrap(),
        0,
        None,
    )
    .await
    .unwrap();
    let stopped = events
        .iter()
        .position(|e| e.event_type == "RecordingStopped")
        .unwrap();
    let during = events[..stopped]
        .iter()
        .filter(|e| e.event_type == "WindowRendered")
        .count();
    let windows = zencast_render::windows::count(length) as usize;
    println!("{during} of {windows} windows rendered during the session; final.mp4 {waited:?} after the last chunk");
    assert!(
        during >= windows - 4,
        "only {during} of {windows} windows during the session"
    );
    assert!(
        waited <= Duration::from_secs(30),
        "final.mp4 took {waited:?} after the last chunk"
    );
    running.stop().await;
}

/// The sequences and times of the room's events of `event_type`, from the log.
async fn logged(
    running: &Running,
    room: &str,
    event_type: &str,
) -> Vec<(u64, chrono::DateTime<chrono::Utc>)> {
    room_events(
        &running.backends.pool,
        RoomId::parse(room).unwrap(),
        0,
        None,
    )
    .await
    .unwrap()
    .iter()
    .filter(|e| e.event_type == event_type)
    .map(|e| (e.sequence, e.occurred_at))
    .collect()
}

/// The session of the issue: its completion lands on sequences 100–101, one
/// past a snapshot boundary, in one append (the guest's `FinishUploads`:
/// `ParticipantUploadsFinished` and `SessionCompleted`). Before snapshots were
/// labelled with the state they hold, every later load saw the room stopped
/// and the render never came. A worker started afterwards renders it at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_session_completing_on_sequences_100_and_101_renders_at_once() {
    let env = test_env();
    let running = env.start(NO_WORKER).await;
    let dir = scratch(&env);
    let session = recording_session(&running, "Completes on 100-101", "grid").await;
    // The guest's connection drops and comes back 43 times: 86 events, so
    // that a few chunks (quick to ingest and render) take the log to the boundary.
    let guest_id = ParticipantId::parse(s(&session.guest["participantId"])).unwrap();
    let room_id = RoomId::parse(session.room_id()).unwrap();
    let origin = Origin::now("test");
    for _ in 0..43 {
        let leave = RecordingCommand::Leave {
            participant: guest_id,
            reason: "network".into(),
        };
        running.log.execute(room_id, leave, &origin).await.unwrap();
        let back = RecordingCommand::Join {
            participant: guest_id,
            display_name: "Gus".into(),
            role: Role::Guest,
            invite: None,
        };
        running.log.execute(room_id, back, &origin).await.unwrap();
    }
    // 4 started, 5–90 the guest's 43 round trips, 91–93 host chunks, 94 host
    // finished, 95 stopped, 96–99 guest chunks, 100–101 completion.
    let host = recording(&dir, "host", 4.0, 1.0, 1000);
    let guest = recording(&dir, "guest", 4.0, 2.0, 1500);
    session
        .upload(
            s(&session.room["hostParticipantId"]),
            s(&session.room["hostToken"]),
            &chunks(&host, 3),
            0.2,
        )
        .await;
    session.stop_after(4.5).await;
    session
        .upload(
            s(&session.guest["participantId"]),
            s(&session.guest["participantToken"]),
            &chunks(&guest, 4),
            0.5,
        )
        .await;
    let room = session.room_id();
    assert_eq!(
        logged(&running, room, "ParticipantUploadsFinished").await[1].0,
        100
    );
    let completed = logged(&running, room, "SessionCompleted").await;
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].0, 101, "completion on 100–101");

    // A worker process that has never seen the room, on the same store.
    let mut backends = running.backends.clone();
    backends.config.s3_endpoint = Some(format!("http://{}", running.s3_addr.unwrap()));
    let t0 = std::time::Instant::now();
    let only_render = Parts {
        api: false,
        relay: false,
        projector: false,
        render: true,
        embedded_s3: false,
    };
    let worker = zencast::start(backends, only_render).await.unwrap();
    let started = eventually(Duration::from_secs(20), "RenderStarted", || async {
        logged(&running, room, "RenderStarted")
            .await
            .first()
            .copied()
    })
    .await;
    eprintln!("RenderStarted {:?} after the worker started", t0.elapsed());
    assert!(started.0 > 101);
    let view = session.rendered(Duration::from_secs(120)).await;
    assert_eq!(view["status"], "completed");
    assert_eq!(logged(&running, room, "RenderCompleted").await.len(), 1);
    assert_eq!(logged(&running, room, "SessionCompleted").await.len(), 1);
    worker.stop().await;
    running.stop().await;
}

/// `SessionCompleted` is committed but never reaches the stream (its outbox
/// row vanishes before the relay sends it), so no worker hears of the job:
/// the render reconciler finds it in Postgres and the render starts within
/// seconds of its period, once.
#[tokio::test(flavor = "multi_thread")]
async fn a_completion_that_never_reaches_the_stream_is_rendered_by_the_reconciler() {
    let env = test_env();
    let period = Duration::from_millis(env.config.reconcile_ms);
    let running = env.start(Parts::ALL).await;
    support::lose_on_the_way_to_the_stream(&running.backends.pool, "SessionCompleted").await;
    let dir = scratch(&env);
    let session = two_person_session(&running, &dir, "Lost completion", "grid").await;
    let room = session.room_id();
    let completed = eventually(Duration::from_secs(10), "completion in the log", || async {
        logged(&running, room, "SessionCompleted")
            .await
            .first()
            .copied()
    })
    .await;

    let started = eventually(
        period * 2 + Duration::from_secs(20),
        "RenderStarted",
        || async {
            logged(&running, room, "RenderStarted")
                .await
                .first()
                .copied()
        },
    )
    .await;
    let after = (started.1 - completed.1).to_std().unwrap();
    eprintln!("render started {after:?} after the completion (reconciler period {period:?})");
    // Quiet for one period, found on the next pass, plus a busy machine.
    assert!(
        after < period * 2 + Duration::from_secs(5),
        "took {after:?}"
    );
    let subject = running
        .backends
        .subjects
        .event(RoomId::parse(room).unwrap(), "SessionCompleted");
    assert!(
        running
            .backends
            .stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .is_err(),
        "SessionCompleted was not supposed to reach the stream"
    );

    let view = session.rendered(Duration::from_secs(120)).await;
    assert_eq!(view["status"], "completed", "the projection filled the gap");
    // Two more passes: nothing renders twice.
    tokio::time::sleep(period * 2).await;
    assert_eq!(logged(&running, room, "RenderStarted").await.len(), 1);
    assert_eq!(logged(&running, room, "RenderCompleted").await.len(), 1);
    running.stop().await;
}
