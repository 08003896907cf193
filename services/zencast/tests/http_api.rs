//! The HTTP api's contract: statuses and the JSON error shape.

mod support;

use support::TestEnv;

async fn post_raw(url: &str, body: &str, content_type: Option<&str>) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().post(url).body(body.to_string());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.unwrap();
    (
        r.status().as_u16(),
        r.json().await.unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_json_error_and_appends_nothing() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let base = format!("http://{}", running.http_addr.unwrap());
    let create = format!("{base}/api/recordings");
    let json = Some("application/json");

    for (body, ct, status) in [
        ("{\"title\":", json, 400),
        ("[]", json, 400),
        ("{\"title\": 5}", json, 400),
        ("{\"title\": \"x\", \"layout\": \"mosaic\"}", json, 400),
        ("{\"title\": \"x\", \"chunkSeconds\": 0}", json, 400),
        ("{\"title\": \"x\", \"chunkSeconds\": -3}", json, 400),
        ("{\"title\": \"   \"}", json, 400),
        ("{\"title\": \"x\", \"surprise\": 1}", json, 400),
        ("{\"title\": \"x\"}", None, 400),
    ] {
        let (got, err) = post_raw(&create, body, ct).await;
        assert_eq!(got, status, "{body}: {err}");
        assert_eq!(err["error"]["code"], "bad_request", "{body}: {err}");
        assert!(err["error"]["message"].as_str().unwrap().len() > 5);
    }
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&running.backends.pool)
        .await
        .unwrap();
    assert_eq!(events, 0, "no rejected request appended anything");

    let http = reqwest::Client::new();
    for path in [
        "not-a-uuid",
        "..%2F..%2Fetc",
        "67e55044-10b1-426f-9247-bb680e5fe0c8x",
    ] {
        for suffix in ["", "/events"] {
            let r = http
                .get(format!("{base}/api/recordings/{path}{suffix}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400, "{path}{suffix}");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "bad_request");
        }
    }
    // Without a token nothing is read, whether the room exists or not.
    let unknown = uuid::Uuid::new_v4();
    for suffix in ["", "/events"] {
        let r = http
            .get(format!("{base}/api/recordings/{unknown}{suffix}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unauthorized");
    }

    let (status, created) =
        post_raw(&create, "{\"title\": \"Fine\", \"chunkSeconds\": 2}", json).await;
    assert_eq!(status, 201, "{created}");
    let room = created["roomId"].as_str().unwrap();
    let (_, timeline) = support::Api::new(running.http_addr.unwrap())
        .get(
            &format!("/api/recordings/{room}/events"),
            created["hostToken"].as_str(),
        )
        .await;
    let types: Vec<&str> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["RoomCreated", "ParticipantJoined"]);
    assert_eq!(timeline["events"][0]["payload"]["chunk_seconds"], 2);

    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("zencast_events_appended_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("zencast_relay_lag_events"), "{metrics}");
    running.stop().await;
}

/// The API description lists every HTTP route, generated from the code.
#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let base = format!("http://{}", running.http_addr.unwrap());
    let doc: serde_json::Value = reqwest::get(format!("{base}/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/recordings", "post"),
        ("/api/recordings/{roomId}", "get"),
        ("/api/recordings/{roomId}/events", "get"),
        ("/api/recordings/{roomId}/join", "post"),
        ("/api/recordings/{roomId}/start", "post"),
        ("/api/recordings/{roomId}/stop", "post"),
        (
            "/api/recordings/{roomId}/participants/{participantId}/chunks/{chunkIndex}",
            "put",
        ),
        (
            "/api/recordings/{roomId}/participants/{participantId}/chunks",
            "get",
        ),
        ("/api/uploads/complete", "post"),
        ("/api/recordings/{roomId}/invite", "post"),
        ("/api/recordings/{roomId}/invite", "delete"),
        (
            "/api/recordings/{roomId}/participants/{participantId}",
            "delete",
        ),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let schemas = &doc["components"]["schemas"];
    for s in [
        "CreateRoom",
        "Created",
        "JoinRequest",
        "ChunkStored",
        "Complete",
        "ErrorBody",
        "Invite",
        "InviteRequest",
        "Logged",
    ] {
        assert!(schemas[s].is_object(), "schema {s} missing");
    }
    assert_eq!(
        schemas["CreateRoom"]["required"],
        serde_json::json!(["title"])
    );
    running.stop().await;
}

/// A read right after a command sees it, even with no projector running at
/// all (the worst lag there is) and after Redis lost the room: the api brings
/// the room up to the log before it reads. (It used to answer 503 "not
/// projected yet", or 404 after a wipe.)
#[tokio::test(flavor = "multi_thread")]
async fn a_read_right_after_a_command_sees_it_whatever_the_projection_lag() {
    let env = TestEnv::new();
    let no_projector = zencast::Parts {
        api: true,
        relay: true,
        projector: false,
        render: false,
        embedded_s3: true,
    };
    let running = env.start(no_projector).await;
    let api = support::Api::new(running.http_addr.unwrap());
    let room = api.create("Read your writes").await;
    let id = support::s(&room["roomId"]);
    let path = format!("/api/recordings/{id}");
    let token = support::s(&room["hostToken"]);
    let (status, view) = api.get(&path, Some(token)).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["title"], "Read your writes");
    assert_eq!(view["status"], "open");
    assert_eq!(view["lastSequence"], room["sequence"]);

    let (status, started) = api
        .post(&format!("{path}/start"), Some(token), serde_json::json!({}))
        .await;
    assert_eq!(status, 200, "{started}");
    let (_, view) = api.get(&path, Some(token)).await;
    assert_eq!(view["status"], "recording");
    assert_eq!(view["lastSequence"], started["sequence"]);

    // Redis loses everything of the room; the next read has it all again.
    let mut redis = running.backends.redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:room:{id}*", env.tag))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut redis)
        .await
        .unwrap();
    let (status, again) = api.get(&path, Some(token)).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, view);
    running.stop().await;
}

/// Every response carries the headers a studio on the public internet needs:
/// the page, the api's JSON, and its errors alike.
#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_the_security_headers() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let base = format!("http://{}", running.http_addr.unwrap());
    let unknown = uuid::Uuid::new_v4();
    for path in [
        "/",
        "/join/x",
        "/api/openapi.json",
        &format!("/api/recordings/{unknown}"),
    ] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        let h = r.headers();
        let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(get("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(get("x-frame-options"), "DENY", "{path}");
        let csp = get("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
    }
    running.stop().await;
}

/// The embedded S3 store answers no browser (no CORS), keeps its data readable
/// by its owner only, and refuses to listen beyond loopback with the
/// well-known default credentials.
#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_store_is_closed_to_browsers_and_strangers() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let s3 = format!("http://{}/", running.s3_addr.unwrap());
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, &s3)
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "{:?}",
        preflight.headers()
    );
    for dir in [env.data_dir.clone(), env.data_dir.join("s3")] {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
    }
    running.stop().await;

    let said = refused_start(
        &env,
        "up",
        &[
            ("ZENCAST_S3_LISTEN", "0.0.0.0:0"),
            ("AWS_ACCESS_KEY_ID", zencast::config::DEFAULT_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", zencast::config::DEFAULT_SECRET_KEY),
        ],
    );
    assert!(said.contains("default credentials"), "{said}");
}

/// A token secret shorter than 32 characters stops the start with a message
/// that says what to do, before anything listens.
#[tokio::test(flavor = "multi_thread")]
async fn a_short_secret_is_refused_at_start() {
    let env = TestEnv::new();
    let said = refused_start(&env, "api", &[("ZENCAST_SECRET", "only-twenty-chars-xx")]);
    assert!(said.contains("at least 32 random characters"), "{said}");
}

/// Runs `zencast SUBCOMMAND` with this test's environment and `extra`, which
/// must make it refuse to start; returns what it said on stderr.
fn refused_start(env: &TestEnv, subcommand: &str, extra: &[(&str, &str)]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zencast"))
        .arg(subcommand)
        .envs(env.env_vars())
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success(), "zencast {subcommand} started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A room's state, its timeline and its files are for its participants only:
/// not for strangers who know its id (it is in every invite link), not for
/// another room's host, not for an invite nobody has used to join.
#[tokio::test(flavor = "multi_thread")]
async fn nobody_reads_a_room_but_its_participants() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let api = support::Api::new(running.http_addr.unwrap());
    let room = api.create("Private").await;
    let other = api.create("Someone else's").await;
    let id = support::s(&room["roomId"]);
    let invite = support::s(&room["inviteToken"]);
    let guest = api.join(id, "Gus", invite).await;
    let reads = [
        format!("/api/recordings/{id}"),
        format!("/api/recordings/{id}/events"),
        format!("/api/recordings/{id}/files"),
        format!("/api/recordings/{id}/files/final.mp4"),
    ];
    for path in &reads {
        let (status, v) = api.get(path, None).await;
        assert_eq!(
            (status, &v["error"]["code"]),
            (401, &"unauthorized".into()),
            "{path}: {v}"
        );
        let (status, v) = api.get(path, Some(support::s(&other["hostToken"]))).await;
        assert_eq!(status, 403, "another room's host on {path}: {v}");
        let (status, v) = api.get(path, Some(invite)).await;
        assert_eq!(status, 401, "an unused invite on {path}: {v}");
    }
    for token in [&room["hostToken"], &guest["participantToken"]] {
        for path in &reads[..3] {
            let (status, v) = api.get(path, Some(support::s(token))).await;
            assert_eq!(status, 200, "{path}: {v}");
        }
    }
    // A participant token in the URL opens nothing but the socket: links get
    // copied, kept in history and written to access logs.
    let token = support::s(&guest["participantToken"]);
    for path in &reads {
        let (status, _) = api.get(&format!("{path}?token={token}"), None).await;
        assert_eq!(status, 401, "{path}?token=");
    }
    let forged = format!("{}?expires=99999999999&signature=AAAA", reads[3]);
    let (status, v) = api.get(&forged, None).await;
    assert_eq!(status, 401, "{v}");
    let (status, v) = api
        .get(&format!("{}?expires=soon&signature=AAAA", reads[3]), None)
        .await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (401, &"unauthorized".into()),
        "{v}"
    );
    let ws = tokio_tungstenite::connect_async(format!(
        "ws://{}/api/recordings/{id}/ws",
        running.http_addr.unwrap()
    ))
    .await;
    match ws {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a socket without a token: {other:?}"),
    }
    running.stop().await;
}

/// Schemathesis (PyPI; `scripts/test.sh` installs it) generates requests from
/// `/api/openapi.json`, valid and not, sent with the host token of a room that
/// is recording: no answer may be a 5xx, and every answer must be what the
/// document says (status, content type, body schema). Two passes: any ids (so
/// mostly strangers' rooms and ids that do not parse), then the room's own ids
/// (so joins, chunks, invites, removals, start and stop of a real room).
#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = support::Api::new(addr);
    let room = api.create("Fuzzed").await;
    let token = support::s(&room["hostToken"]);
    let start = format!("/api/recordings/{}/start", support::s(&room["roomId"]));
    assert_eq!(
        api.post(&start, Some(token), serde_json::json!({})).await.0,
        200
    );
    let own_ids = format!(
        "[parameters]\n\"path.roomId\" = \"{}\"\n\"path.participantId\" = \"{}\"\n",
        support::s(&room["roomId"]),
        support::s(&room["hostParticipantId"])
    );
    for (pass, config) in [("any-ids", String::new()), ("own-room", own_ids)] {
        let config_file = env.data_dir.join(format!("{pass}.toml"));
        std::fs::write(&config_file, config).unwrap();
        let report = env.data_dir.join(format!("{pass}.xml"));
        let out = tokio::process::Command::new("schemathesis")
            .current_dir(&env.data_dir)
            .arg("--no-color")
            .arg("--config-file")
            .arg(&config_file)
            .args(["run", &format!("http://{addr}/api/openapi.json")])
            .args([
                "--checks",
                FUZZ_CHECKS,
                "--phases",
                "examples,coverage,fuzzing",
            ])
            .args(["--max-examples", "40", "--seed", "1", "--workers", "1"])
            .args(["--generation-database", "none"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--report", "junit", "--report-junit-path"])
            .arg(&report)
            .output()
            .await
            .expect("schemathesis (scripts/test.sh installs it from PyPI)");
        let said = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "schemathesis, {pass}:\n{said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "schemathesis found problems ({pass}):\n{said}"
        );
        let junit = std::fs::read_to_string(&report).unwrap_or_default();
        assert!(
            junit.contains("<testcase"),
            "no operation was tested: {junit}"
        );
    }
    running.stop().await;
}

const FUZZ_CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_schema_conformance";

/// Rotating the secret logs nobody out: with the old one among
/// `ZENCAST_PREVIOUS_SECRETS`, tokens it signed still open the room while new
/// ones are signed with the new one; once it is dropped, they are refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_keeps_its_tokens_working_until_it_is_dropped() {
    let mut env = TestEnv::new();
    let old = env.config.secret.clone().unwrap();
    let running = env.start(support::NO_RENDER).await;
    let api = support::Api::new(running.http_addr.unwrap());
    let room = api.create("Rotation").await;
    let id = support::s(&room["roomId"]).to_string();
    let host = support::s(&room["hostToken"]).to_string();
    running.stop().await;

    env.config.secret = Some("a-new-secret-a-new-secret-a-new-secret".into());
    env.config.previous_secrets = vec![old];
    let running = env.start(support::NO_RENDER).await;
    let api = support::Api::new(running.http_addr.unwrap());
    let path = format!("/api/recordings/{id}");
    let (status, v) = api.get(&path, Some(&host)).await;
    assert_eq!(status, 200, "an old token during the rotation: {v}");
    let guest = api.join(&id, "Gus", support::s(&room["inviteToken"])).await;
    let fresh = support::s(&guest["participantToken"]).to_string();
    running.stop().await;

    env.config.previous_secrets = vec![];
    let running = env.start(support::NO_RENDER).await;
    let api = support::Api::new(running.http_addr.unwrap());
    let (status, v) = api.get(&path, Some(&host)).await;
    assert_eq!(
        status, 401,
        "an old token after the old secret is dropped: {v}"
    );
    let (status, v) = api.get(&path, Some(&fresh)).await;
    assert_eq!(status, 200, "a token the new secret signed: {v}");
    running.stop().await;
}

/// A connection that dribbles its request head, or idles after a request,
/// is closed after ZENCAST_HEADER_TIMEOUT_MS instead of being held for as
/// long as the client likes.
#[tokio::test(flavor = "multi_thread")]
async fn slow_and_idle_connections_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut env = TestEnv::new();
    env.config.header_timeout_ms = 1_000;
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    // Read until the server closes; what it sent, and how long that took.
    let until_closed = |mut tcp: tokio::net::TcpStream| async move {
        let started = std::time::Instant::now();
        let mut got = vec![];
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            tcp.read_to_end(&mut got),
        );
        assert!(
            read.await.is_ok(),
            "the connection was still open after 10 s"
        );
        (
            String::from_utf8_lossy(&got).into_owned(),
            started.elapsed(),
        )
    };

    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, waited) = until_closed(slow).await;
    assert!(
        waited < std::time::Duration::from_secs(3),
        "a dribbled head held {waited:?}"
    );

    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answered, waited) = until_closed(idle).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(
        waited < std::time::Duration::from_secs(3),
        "an idle connection held {waited:?}"
    );
    assert!(
        waited >= std::time::Duration::from_millis(900),
        "closed early: {waited:?}"
    );
    running.stop().await;
}
