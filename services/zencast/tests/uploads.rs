//! Chunk uploads that survive anything, and session completion, against the
//! embedded store and an independent S3-compatible server (moto).

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::Digest;
use support::{eventually, s, Api, MotoServer, TestEnv};
use tokio::io::AsyncWriteExt;
use zencast::Running;
use zencast_events::aggregate::rfc3339;
use zencast_storage::ChunkStore;

/// A room with the recording started and a guest: (api, room, guest).
async fn recording_room(running: &Running) -> (Api, Value, Value) {
    let api = Api::new(running.http_addr.unwrap());
    let room = api.create("Uploads").await;
    let guest = api
        .join(s(&room["roomId"]), "Guest", s(&room["inviteToken"]))
        .await;
    let (status, v) = api
        .post(
            &format!("/api/recordings/{}/start", s(&room["roomId"])),
            Some(s(&room["hostToken"])),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    (api, room, guest)
}

fn chunk_url(api: &Api, room: &Value, participant: &str, index: &str) -> String {
    format!(
        "{}/api/recordings/{}/participants/{participant}/chunks/{index}",
        api.base,
        s(&room["roomId"])
    )
}

async fn put(api: &Api, url: &str, token: &str, body: Vec<u8>) -> (u16, Value) {
    let r = api
        .http
        .put(url)
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn store(running: &Running, env: &TestEnv) -> ChunkStore {
    ChunkStore::new(&env.config.s3_settings(running.s3_addr))
}

async fn object(store: &ChunkStore, key: &str) -> Option<Vec<u8>> {
    let got = store
        .client()
        .get_object()
        .bucket(store.bucket())
        .key(key)
        .send()
        .await
        .ok()?;
    Some(got.body.collect().await.unwrap().into_bytes().to_vec())
}

/// The payloads of the room's events of one type, from the log.
async fn payloads_of(running: &Running, room: &Value, event_type: &str) -> Vec<Value> {
    support::room_log(&running.backends.pool, s(&room["roomId"]))
        .await
        .into_iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| e.payload)
        .collect()
}

async fn chunk_events(running: &Running, room: &Value) -> Vec<Value> {
    payloads_of(running, room, "ChunkUploaded").await
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Sends the headers and half the body, then drops the connection.
async fn cut_off_put(addr: std::net::SocketAddr, path: &str, token: &str, body: &[u8]) {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body[..body.len() / 2]).await.unwrap();
    tcp.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(tcp);
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn cut_off_then_retry(env: &TestEnv, running: &Running) {
    let (api, room, guest) = recording_room(running).await;
    let (gid, token) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let body = bytes(1_500_000, 7);
    let url = chunk_url(&api, &room, gid, "0");
    let path = url.trim_start_matches(&api.base).to_string();

    cut_off_put(running.http_addr.unwrap(), &path, token, &body).await;
    assert!(
        chunk_events(running, &room).await.is_empty(),
        "a cut-off body appends nothing"
    );
    let key = format!("{}/{gid}/0.webm", s(&room["roomId"]));
    let store = store(running, env);
    assert_eq!(object(&store, &key).await, None, "and stores nothing");

    let (status, stored) = put(&api, &url, token, body.clone()).await;
    assert_eq!(status, 201, "{stored}");
    let sha = hex(&sha2::Sha256::digest(&body));
    assert_eq!(stored["sha256"], sha);
    let (status, again) = put(&api, &url, token, body.clone()).await;
    assert_eq!(
        (status, &again),
        (200, &stored),
        "a re-send of the same bytes"
    );

    let events = chunk_events(running, &room).await;
    assert_eq!(events.len(), 1, "exactly one ChunkUploaded");
    assert_eq!(
        (events[0]["sha256"].as_str(), events[0]["size"].as_u64()),
        (Some(sha.as_str()), Some(body.len() as u64))
    );
    let kept = object(&store, &key).await.expect("object stored");
    assert_eq!(
        hex(&sha2::Sha256::digest(&kept)),
        sha,
        "the stored bytes are the original"
    );
}

/// A whole PUT over a raw connection; returns what the server answers.
async fn raw_put(addr: std::net::SocketAddr, path: &str, token: &str, body: &[u8]) -> String {
    use tokio::io::AsyncReadExt;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends only the headers of a PUT and returns what the server answers.
async fn headers_only_put(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
    length: usize,
) -> String {
    use tokio::io::AsyncReadExt;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_off_upload_retried_is_stored_once_and_whole_on_the_embedded_store() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    cut_off_then_retry(&env, &running).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cut_off_upload_retried_is_stored_once_and_whole_on_another_s3_server() {
    let moto = MotoServer::start();
    let mut env = TestEnv::new();
    env.config.s3_endpoint = Some(moto.endpoint.clone());
    let running = env.start(support::NO_RENDER).await;
    assert_eq!(
        running.s3_addr, None,
        "no embedded store when an endpoint is configured"
    );
    cut_off_then_retry(&env, &running).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_uploads_change_neither_the_log_nor_the_bucket() {
    let env = TestEnv::new(); // chunks up to 4 MiB
    let running = env.start(support::NO_RENDER).await;
    let (api, room, guest) = recording_room(&running).await;
    let other = api.create("Other").await;
    let (gid, token) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let hid = s(&room["hostParticipantId"]);
    let url = chunk_url(&api, &room, gid, "0");
    let original = bytes(1000, 1);
    assert_eq!(put(&api, &url, token, original.clone()).await.0, 201);
    let store = store(&running, &env);
    let listing = || async {
        let out = store
            .client()
            .list_objects_v2()
            .bucket(store.bucket())
            .send()
            .await
            .unwrap();
        out.contents()
            .iter()
            .map(|o| (o.key().unwrap().to_string(), o.size()))
            .collect::<Vec<_>>()
    };
    let before = (chunk_events(&running, &room).await, listing().await);

    let (status, err) = put(&api, &url, token, bytes(1000, 2)).await;
    assert_eq!((status, s(&err["error"]["code"])), (409, "chunk_conflict"));
    // Refused from the Content-Length alone: the answer comes before any body is sent.
    let path = chunk_url(&api, &room, gid, "1")
        .trim_start_matches(&api.base)
        .to_string();
    let answer = headers_only_put(running.http_addr.unwrap(), &path, token, 5 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("too_large"), "{answer}");
    // Without a Content-Length (chunked), the limit holds while streaming.
    let stream =
        futures::stream::iter((0..6).map(|_| Ok::<_, std::io::Error>(vec![0u8; 1024 * 1024])));
    let r = api
        .http
        .put(chunk_url(&api, &room, gid, "1"))
        .bearer_auth(token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let cases = [
        (
            "guest under the host's prefix",
            chunk_url(&api, &room, hid, "1"),
            token.to_string(),
            403,
        ),
        (
            "another room's token",
            chunk_url(&api, &room, gid, "1"),
            s(&other["hostToken"]).to_string(),
            403,
        ),
        (
            "an invite as a token",
            chunk_url(&api, &room, gid, "1"),
            s(&room["inviteToken"]).to_string(),
            401,
        ),
        (
            "a negative index",
            chunk_url(&api, &room, gid, "-1"),
            token.to_string(),
            400,
        ),
        (
            "a huge index",
            chunk_url(&api, &room, gid, "100001"),
            token.to_string(),
            400,
        ),
        (
            "an exponent",
            chunk_url(&api, &room, gid, "1e3"),
            token.to_string(),
            400,
        ),
        (
            "dots as participant",
            chunk_url(&api, &room, "..", "1"),
            token.to_string(),
            400,
        ),
        (
            "encoded dots",
            chunk_url(&api, &room, "%2e%2e", "1"),
            token.to_string(),
            400,
        ),
        (
            "an encoded slash",
            chunk_url(&api, &room, &format!("{gid}%2F.."), "1"),
            token.to_string(),
            400,
        ),
        (
            "a bad room",
            format!(
                "{}/api/recordings/not-a-room/participants/{gid}/chunks/1",
                api.base
            ),
            token.to_string(),
            400,
        ),
    ];
    for (what, url, tok, want) in cases {
        // Raw HTTP: an HTTP client library would normalise `..` away.
        let path = url.trim_start_matches(&api.base);
        let answer = raw_put(running.http_addr.unwrap(), path, &tok, b"0123456789").await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {want}")),
            "{what}: {answer}"
        );
        assert!(answer.contains("\"message\""), "{what}: {answer}");
    }
    let after = (chunk_events(&running, &room).await, listing().await);
    assert_eq!(before, after, "log and bucket unchanged");
    let kept = object(&store, &format!("{}/{gid}/0.webm", s(&room["roomId"])))
        .await
        .unwrap();
    assert_eq!(kept, original, "the stored chunk is untouched");

    // Resume: what is stored, with size and hash.
    let (_, listed) = api
        .get(
            &format!(
                "/api/recordings/{}/participants/{gid}/chunks",
                s(&room["roomId"])
            ),
            Some(token),
        )
        .await;
    assert_eq!(listed["chunks"].as_array().unwrap().len(), 1);
    assert_eq!(listed["chunks"][0]["size"], 1000);
    assert_eq!(
        listed["chunks"][0]["sha256"],
        hex(&sha2::Sha256::digest(&original))
    );
    running.stop().await;
}

async fn completions(running: &Running, room: &Value) -> Vec<Value> {
    payloads_of(running, room, "SessionCompleted").await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_completes_once_when_everyone_has_finished() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let (api, room, guest) = recording_room(&running).await;
    let rid = s(&room["roomId"]).to_string();
    let (hid, htok) = (s(&room["hostParticipantId"]), s(&room["hostToken"]));
    let (gid, gtok) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    for (p, t, i) in [(hid, htok, "0"), (hid, htok, "1"), (gid, gtok, "0")] {
        assert_eq!(
            put(&api, &chunk_url(&api, &room, p, i), t, bytes(100, 9))
                .await
                .0,
            201
        );
    }
    assert_eq!(
        api.post(
            &format!("/api/recordings/{rid}/stop"),
            Some(htok),
            json!({})
        )
        .await
        .0,
        200
    );
    let done = |p: &str, n: u32| json!({"roomId": rid, "participantId": p, "chunkCount": n});
    let (status, first) = api
        .post("/api/uploads/complete", Some(htok), done(hid, 2))
        .await;
    assert_eq!(
        (status, first["sessionCompleted"].as_bool()),
        (200, Some(false)),
        "{first}"
    );
    let (status, err) = api
        .post("/api/uploads/complete", Some(gtok), done(hid, 2))
        .await;
    assert_eq!(status, 403, "{err}");
    let (status, last) = api
        .post("/api/uploads/complete", Some(gtok), done(gid, 1))
        .await;
    assert_eq!(
        (status, last["sessionCompleted"].as_bool()),
        (200, Some(true)),
        "{last}"
    );
    let (status, _) = api
        .post("/api/uploads/complete", Some(gtok), done(gid, 1))
        .await;
    assert_eq!(status, 200, "repeating it is harmless");
    // The grace period (1.5 s in tests) passing changes nothing either.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let c = completions(&running, &room).await;
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["reason"], "all-finished");
    assert_eq!(c[0]["expected_chunks"], json!({hid: 2, gid: 1}));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_completes_once_when_the_grace_period_runs_out() {
    let env = TestEnv::new(); // grace period 1.5 s
    let running = env.start(support::NO_RENDER).await;
    let (api, room, guest) = recording_room(&running).await;
    let rid = s(&room["roomId"]).to_string();
    let (hid, htok) = (s(&room["hostParticipantId"]), s(&room["hostToken"]));
    let (gid, gtok) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    for (p, t, i) in [(hid, htok, "0"), (gid, gtok, "0"), (gid, gtok, "1")] {
        assert_eq!(
            put(&api, &chunk_url(&api, &room, p, i), t, bytes(100, 4))
                .await
                .0,
            201
        );
    }
    api.post(
        &format!("/api/recordings/{rid}/stop"),
        Some(htok),
        json!({}),
    )
    .await;
    let (status, r) = api
        .post(
            "/api/uploads/complete",
            Some(htok),
            json!({"roomId": rid, "participantId": hid, "chunkCount": 1}),
        )
        .await;
    assert_eq!(
        (status, r["sessionCompleted"].as_bool()),
        (200, Some(false))
    );
    // The guest vanished: the grace period completes the session.
    let c = eventually(
        Duration::from_secs(10),
        "SessionCompleted after the grace period",
        || {
            let (running, room) = (&running, &room);
            async move { Some(completions(running, room).await).filter(|c| !c.is_empty()) }
        },
    )
    .await;
    assert_eq!(c[0]["reason"], "grace-period-expired");
    assert_eq!(c[0]["expected_chunks"], json!({hid: 1, gid: 2}));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(completions(&running, &room).await.len(), 1, "exactly once");
    running.stop().await;
}

/// `PUT` with a `Zencast-Recording-Start` header.
async fn put_started(api: &Api, url: &str, token: &str, start: &str) -> (u16, Value) {
    let r = api
        .http
        .put(url)
        .bearer_auth(token)
        .header("Zencast-Recording-Start", start)
        .body(bytes(100, 3))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The `at` of the room's first event of `event_type`, from the log.
async fn event_at(running: &Running, room: &Value, event_type: &str) -> DateTime<Utc> {
    let payloads = payloads_of(running, room, event_type).await;
    DateTime::parse_from_rfc3339(s(&payloads[0]["at"]))
        .unwrap()
        .to_utc()
}

/// The header's value for `t` plus `ms` milliseconds.
fn header_ms(t: DateTime<Utc>, ms: i64) -> String {
    let t = t + chrono::TimeDelta::milliseconds(ms);
    format!("{:.3}", t.timestamp_micros() as f64 / 1000.0)
}

async fn bucket_keys(store: &ChunkStore) -> Vec<String> {
    let out = store
        .client()
        .list_objects_v2()
        .bucket(store.bucket())
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .map(|o| o.key().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorder_start_outside_the_session_is_refused_before_anything_is_stored() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let (api, room, guest) = recording_room(&running).await;
    let (gid, token) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let started = event_at(&running, &room, "RecordingStarted").await;
    let url = chunk_url(&api, &room, gid, "0");

    // 1 ms after the epoch: a 57-year timeline if it were believed.
    let (status, err) = put_started(&api, &url, token, "1").await;
    assert_eq!(
        (status, s(&err["error"]["code"])),
        (400, "bad_recording_start")
    );
    assert_eq!(
        s(&err["error"]["message"]),
        format!(
            "the recorder start 1970-01-01T00:00:00.001Z lies outside this session \
             (recording started {}; allowed from 2 s before the start until 2 s after the stop)",
            rfc3339(started)
        )
    );
    // 10 s before the recording started.
    let (status, err) = put_started(&api, &url, token, &header_ms(started, -10_000)).await;
    assert_eq!(
        (status, s(&err["error"]["code"])),
        (400, "bad_recording_start"),
        "{err}"
    );
    // Not a number.
    let (status, err) = put_started(&api, &url, token, "yesterday").await;
    assert_eq!(
        (status, s(&err["error"]["code"])),
        (400, "bad_recording_start"),
        "{err}"
    );
    // After this very upload (the api's own clock; the log has none).
    let (status, err) = put_started(&api, &url, token, &header_ms(Utc::now(), 60_000)).await;
    assert_eq!(
        (status, s(&err["error"]["code"])),
        (400, "bad_recording_start"),
        "{err}"
    );
    assert!(
        s(&err["error"]["message"]).contains("in the future"),
        "{err}"
    );

    assert!(
        chunk_events(&running, &room).await.is_empty(),
        "no ChunkUploaded"
    );
    let store = store(&running, &env);
    assert!(bucket_keys(&store).await.is_empty(), "no object in S3");

    // 1.5 s before the start is within the clock sync's tolerance.
    let believed = header_ms(started, -1_500);
    let (status, stored) = put_started(&api, &url, token, &believed).await;
    assert_eq!(status, 201, "{stored}");
    let events = chunk_events(&running, &room).await;
    assert_eq!(events.len(), 1);
    let recorded = DateTime::parse_from_rfc3339(s(&events[0]["recorder_started_at"])).unwrap();
    assert_eq!(
        recorded.timestamp_micros(),
        (started - chrono::TimeDelta::milliseconds(1_500)).timestamp_micros()
    );
    assert_eq!(
        bucket_keys(&store).await,
        vec![s(&stored["key"]).to_string()]
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn after_stop_a_recorder_start_is_believed_until_2_s_after_it() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let (api, room, guest) = recording_room(&running).await;
    let (gid, token) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let (status, v) = api
        .post(
            &format!("/api/recordings/{}/stop", s(&room["roomId"])),
            Some(s(&room["hostToken"])),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let stopped = event_at(&running, &room, "RecordingStopped").await;
    let url = chunk_url(&api, &room, gid, "0");

    let (status, err) = put_started(&api, &url, token, &header_ms(stopped, 2_500)).await;
    assert_eq!(
        (status, s(&err["error"]["code"])),
        (400, "bad_recording_start"),
        "{err}"
    );
    let message = s(&err["error"]["message"]);
    assert!(
        message.contains(&format!("and stopped {}", rfc3339(stopped)))
            && message.contains("until 2 s after the stop"),
        "{message}"
    );
    assert!(
        chunk_events(&running, &room).await.is_empty(),
        "no ChunkUploaded"
    );
    let store = store(&running, &env);
    assert!(bucket_keys(&store).await.is_empty(), "no object in S3");

    let (status, stored) = put_started(&api, &url, token, &header_ms(stopped, 1_500)).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(chunk_events(&running, &room).await.len(), 1);
    running.stop().await;
}

/// A render's file as a composite (`put_composite`): bytes of its own and
/// ranges of stored objects (5 windows of 9 MiB, each entered after a 44-byte
/// header), read back byte for byte; a range the store does not hold fails
/// the read instead of ending the file short.
async fn composite_file_reads_back_whole(store: &ChunkStore) {
    use zencast_storage::{Range, Span, MANIFEST_TYPE};
    let mut spans = vec![Span::Bytes(b"HEADER".to_vec())];
    let mut expected = b"HEADER".to_vec();
    for i in 0..5u8 {
        let body: Vec<u8> = (0..9 * 1024 * 1024 + 44)
            .map(|k: usize| (k as u8).wrapping_mul(31).wrapping_add(i))
            .collect();
        let key = format!("processed/w{i}");
        store
            .client()
            .put_object()
            .bucket(store.bucket())
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        expected.extend_from_slice(&body[44..]);
        spans.push(Span::Stored(Range {
            key,
            offset: 44,
            len: body.len() as u64 - 44,
        }));
    }
    spans.push(Span::Bytes(b"TAIL".to_vec()));
    expected.extend_from_slice(b"TAIL");
    let size = store
        .put_composite("processed/joined.wav", "audio/wav", spans)
        .await
        .unwrap();
    assert_eq!(size, expected.len() as u64);
    let opened = store.open("processed/joined.wav").await.unwrap();
    assert_eq!(
        (opened.content_type.as_str(), opened.size),
        ("audio/wav", size)
    );
    let got = store.bytes("processed/joined.wav").await.unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the composite differs from its ranges");
    // What the store holds under the key is the manifest, not the bytes.
    let manifest = object(store, "processed/joined.wav").await.unwrap();
    assert!(manifest.len() < 4096, "{} bytes", manifest.len());
    let raw = store.get("processed/joined.wav").await.unwrap();
    assert_eq!(raw.content_type(), Some(MANIFEST_TYPE));

    let past_the_end = vec![Span::Stored(Range {
        key: "processed/w0".into(),
        offset: 9 * 1024 * 1024,
        len: 1000,
    })];
    store
        .put_composite("processed/short.mp4", "video/mp4", past_the_end)
        .await
        .unwrap();
    let err = store.bytes("processed/short.mp4").await.unwrap_err();
    assert!(err.to_string().contains("not all stored"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_composite_file_reads_back_whole_from_the_embedded_store() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    composite_file_reads_back_whole(&store(&running, &env)).await;
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_composite_file_reads_back_whole_from_another_s3_server() {
    let moto = MotoServer::start();
    let mut env = TestEnv::new();
    env.config.s3_endpoint = Some(moto.endpoint.clone());
    let running = env.start(support::NO_RENDER).await;
    composite_file_reads_back_whole(&store(&running, &env)).await;
    running.stop().await;
}

/// An upload whose body stops arriving (a stalled network, a slow-loris
/// client) is refused with 408 once nothing came for the idle limit, instead
/// of holding its connection and staging file for ever; nothing is appended
/// or stored, and the same chunk sent whole afterwards is stored.
#[tokio::test(flavor = "multi_thread")]
async fn an_upload_whose_body_stops_arriving_is_refused_with_408() {
    use tokio::io::AsyncReadExt;
    let mut env = TestEnv::new();
    env.config.body_idle_ms = 1_000;
    let running = env.start(support::NO_RENDER).await;
    let (api, room, guest) = recording_room(&running).await;
    let (gid, token) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let body = bytes(200_000, 3);
    let url = chunk_url(&api, &room, gid, "0");
    let path = url.trim_start_matches(&api.base).to_string();

    let addr = running.http_addr.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body[..1000]).await.unwrap();
    let stalled = std::time::Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut answer))
        .await
        .expect("an answer while the body is stalled")
        .unwrap();
    let waited = stalled.elapsed();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(chunk_events(&running, &room).await.is_empty());
    let key = format!("{}/{gid}/0.webm", s(&room["roomId"]));
    assert_eq!(object(&store(&running, &env), &key).await, None);
    let staged = std::fs::read_dir(env.data_dir.join("staging"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(staged, 0, "the staging file is removed");

    let (status, stored) = put(&api, &url, token, body).await;
    assert_eq!(status, 201, "{stored}");
    running.stop().await;
}

/// A participant has at most 3 uploads in flight: a fourth is refused with
/// 429 before its body is read (so a leaked token cannot hold the api's
/// connections and staging disk), another participant is not held up, and a
/// slot is free again as soon as an upload ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_participant_has_at_most_three_uploads_in_flight() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let (api, room, guest) = recording_room(&running).await;
    let (gid, token) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let addr = running.http_addr.unwrap();
    let body = bytes(100_000, 5);
    let path = |i: u32| {
        chunk_url(&api, &room, gid, &i.to_string())
            .trim_start_matches(&api.base)
            .to_string()
    };
    // Three uploads whose bodies have begun and are still coming.
    let mut open = vec![];
    for i in 0..3 {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "PUT {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\n\r\n",
            path(i),
            body.len()
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        tcp.write_all(&body[..1000]).await.unwrap();
        open.push(tcp);
    }
    // All three are being staged (each has its file) before the fourth comes.
    let staging = env.data_dir.join("staging");
    eventually(Duration::from_secs(5), "three uploads staging", || async {
        let n = std::fs::read_dir(&staging).map_or(0, |d| d.count());
        (n == 3).then_some(())
    })
    .await;
    let fourth = chunk_url(&api, &room, gid, "3");
    let (status, refused) = put(&api, &fourth, token, body.clone()).await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(refused["error"]["code"], "too_many_uploads", "{refused}");
    assert!(chunk_events(&running, &room).await.is_empty());
    // The host is not held up by the guest's uploads.
    let host = s(&room["hostParticipantId"]);
    let (status, v) = put(
        &api,
        &chunk_url(&api, &room, host, "0"),
        s(&room["hostToken"]),
        bytes(5_000, 6),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    // One of the three finishes its body: a slot is free again.
    let mut first = open.remove(0);
    first.write_all(&body[1000..]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), {
        use tokio::io::AsyncReadExt;
        first.read(&mut answer)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 201"));
    let (status, v) = put(&api, &fourth, token, body.clone()).await;
    assert_eq!(status, 201, "{v}");
    drop(open);
    running.stop().await;
}

/// Whatever needs no body is answered before the body is read (only the
/// headers are sent): recording not started, an index past the participant's
/// declared count, a completed session. A chunk stored before still answers
/// its re-send with 200 after completion.
#[tokio::test(flavor = "multi_thread")]
async fn uploads_no_body_could_make_right_are_refused_before_the_body() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let room = api.create("Early refusals").await;
    let id = s(&room["roomId"]).to_string();
    let (hid, host) = (s(&room["hostParticipantId"]), s(&room["hostToken"]));
    let guest = api.join(&id, "Gus", s(&room["inviteToken"])).await;
    let (gid, gtoken) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let path = |i: u32| format!("/api/recordings/{id}/participants/{hid}/chunks/{i}");
    let refused = |answer: String, code: &str| {
        assert!(answer.starts_with("HTTP/1.1 409"), "{answer}");
        assert!(answer.contains(code), "{answer}");
    };
    refused(
        headers_only_put(addr, &path(0), host, 1000).await,
        "not_recording",
    );

    let control = |what: &'static str| {
        let api = &api;
        let id = id.clone();
        async move {
            let (status, v) = api
                .post(
                    &format!("/api/recordings/{id}/{what}"),
                    Some(host),
                    json!({}),
                )
                .await;
            assert_eq!(status, 200, "{what}: {v}");
        }
    };
    control("start").await;
    let chunk = bytes(1000, 9);
    assert_eq!(
        put(
            &api,
            &format!("{}{}", api.base, path(0)),
            host,
            chunk.clone()
        )
        .await
        .0,
        201
    );
    // The guest declares 1 chunk while the recording goes on: index 2 cannot be.
    let guest_chunk = format!("/api/recordings/{id}/participants/{gid}/chunks/0");
    let (status, v) = put(
        &api,
        &format!("{}{guest_chunk}", api.base),
        gtoken,
        bytes(900, 4),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let (status, v) = api
        .post(
            "/api/uploads/complete",
            Some(gtoken),
            json!({"roomId": id, "participantId": gid, "chunkCount": 1}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let past = format!("/api/recordings/{id}/participants/{gid}/chunks/2");
    refused(
        headers_only_put(addr, &past, gtoken, 1000).await,
        "chunk_count",
    );
    control("stop").await;
    let (status, v) = api
        .post(
            "/api/uploads/complete",
            Some(host),
            json!({"roomId": id, "participantId": hid, "chunkCount": 1}),
        )
        .await;
    assert_eq!((status, &v["sessionCompleted"]), (200, &json!(true)), "{v}");
    refused(
        headers_only_put(addr, &path(3), host, 1000).await,
        "session_completed",
    );
    let (status, v) = put(&api, &format!("{}{}", api.base, path(0)), host, chunk).await;
    assert_eq!(status, 200, "the re-send of a stored chunk: {v}");
    running.stop().await;
}
