//! Host accounts (`ZENCAST_AUTH=accounts`): the first-run set-up, signing in
//! and out, API keys, the dashboard, deleting a recording, and quotas.

mod support;

use serde_json::{json, Value};
use support::{eventually, room_log, s, Api, TestEnv};
use zencast_storage::ChunkStore;

/// A host's credential on a request: the sign-in cookie or an API key.
#[derive(Clone)]
enum As {
    Nobody,
    Cookie(String),
    Key(String),
    Participant(String),
}

async fn call(
    api: &Api,
    method: reqwest::Method,
    path: &str,
    who: &As,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut req = api.http.request(method, format!("{}{path}", api.base));
    req = match who {
        As::Nobody => req,
        As::Cookie(c) => req.header("cookie", format!("zencast_host={c}")),
        As::Key(k) | As::Participant(k) => req.bearer_auth(k),
    };
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body, cookie)
}

/// The value of a `Set-Cookie: zencast_host=…; …`, after checking its flags.
fn cookie_value(set_cookie: &str) -> String {
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(set_cookie.contains(flag), "{flag} missing: {set_cookie}");
    }
    let first = set_cookie.split(';').next().unwrap();
    first.strip_prefix("zencast_host=").unwrap().to_string()
}

/// An api with accounts (`configure` may set more), and a client for it.
async fn studio(configure: impl FnOnce(&mut TestEnv)) -> (TestEnv, zencast::Running, Api) {
    let mut env = TestEnv::new();
    env.config.auth = "accounts".into();
    configure(&mut env);
    let running = env.start(support::NO_RENDER).await;
    let api = Api::new(running.http_addr.unwrap());
    (env, running, api)
}

/// `DELETE /api/recordings/{room}` as `who`.
async fn delete_room(api: &Api, who: &As, room: &str) -> (u16, Value) {
    let path = format!("/api/recordings/{room}");
    let (status, v, _) = call(api, reqwest::Method::DELETE, &path, who, None).await;
    (status, v)
}

/// The room's host (from `POST /api/recordings`'s answer) starts or stops it.
async fn host_control(api: &Api, room: &Value, action: &str) -> u16 {
    let path = format!("/api/recordings/{}/{action}", s(&room["roomId"]));
    api.post(&path, Some(s(&room["hostToken"])), json!({}))
        .await
        .0
}

/// The room's host uploads chunk `index` of `bytes` bytes.
async fn host_chunk(api: &Api, room: &Value, index: u32, bytes: usize) -> reqwest::Response {
    let url = format!(
        "{}/api/recordings/{}/participants/{}/chunks/{index}",
        api.base,
        s(&room["roomId"]),
        s(&room["hostParticipantId"])
    );
    api.http
        .put(url)
        .bearer_auth(s(&room["hostToken"]))
        .body(vec![7u8; bytes])
        .send()
        .await
        .unwrap()
}

fn setup_token(env: &TestEnv) -> String {
    let secret = env.config.secret.clone().unwrap();
    zencast_api::tokens::Tokens::new(secret.as_bytes(), chrono::Duration::hours(1))
        .setup_token(chrono::Utc::now())
}

/// Creates the first account through the set-up route; returns (cookie, key).
async fn first_host(api: &Api, env: &TestEnv, email: &str) -> (String, String) {
    let (cookie, key, _) = first_host_with_id(api, env, email).await;
    (cookie, key)
}

async fn first_host_with_id(api: &Api, env: &TestEnv, email: &str) -> (String, String, String) {
    let body =
        json!({"token": setup_token(env), "email": email, "password": "a long enough password"});
    let (status, v, cookie) = call(
        api,
        reqwest::Method::POST,
        "/api/setup",
        &As::Nobody,
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let id = s(&v["host"]["hostId"]).to_string();
    (
        cookie_value(&cookie.unwrap()),
        s(&v["apiKey"]).to_string(),
        id,
    )
}

async fn dashboard(api: &Api, who: &As) -> (u16, Value) {
    let (status, v, _) = call(api, reqwest::Method::GET, "/api/me/recordings", who, None).await;
    (status, v)
}

async fn create_as(api: &Api, who: &As, title: &str) -> (u16, Value) {
    let (status, v, _) = call(
        api,
        reqwest::Method::POST,
        "/api/recordings",
        who,
        Some(json!({"title": title})),
    )
    .await;
    (status, v)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_host_sets_up_signs_in_and_out_and_strangers_create_nothing() {
    let (env, running, api) = studio(|_| {}).await;
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    let (status, me, _) = call(&api, get.clone(), "/api/me", &As::Nobody, None).await;
    assert_eq!(
        (status, &me["auth"], &me["needsSetup"]),
        (200, &json!("accounts"), &json!(true))
    );
    let (status, v) = create_as(&api, &As::Nobody, "Anonymous").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (401, &json!("unauthorized")),
        "{v}"
    );

    // The set-up link: a forged or weak one is refused and creates nothing.
    let forged = json!({"token": "99999999999.AAAA", "email": "ada@example.org", "password": "a long enough password"});
    let (status, _, _) = call(&api, post.clone(), "/api/setup", &As::Nobody, Some(forged)).await;
    assert_eq!(status, 401);
    let weak = json!({"token": setup_token(&env), "email": "ada@example.org", "password": "short"});
    let (status, v, _) = call(&api, post.clone(), "/api/setup", &As::Nobody, Some(weak)).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (400, &json!("weak_password")),
        "{v}"
    );
    let (cookie, key, host_id) = first_host_with_id(&api, &env, " Ada@Example.org ").await;
    assert!(key.starts_with("zc_"), "{key}");
    // The account is an event, and ops tools see it on the stream, without
    // its password or key hash.
    let subject = format!("{}.hosts.{host_id}.HostAdded", env.tag);
    let stream = running.backends.stream.clone();
    let published = eventually(
        std::time::Duration::from_secs(10),
        "HostAdded on the stream",
        || {
            let (stream, subject) = (stream.clone(), subject.clone());
            async move { stream.get_last_raw_message_by_subject(&subject).await.ok() }
        },
    )
    .await;
    let body: Value = serde_json::from_slice(&published.payload).unwrap();
    assert_eq!(
        body["payload"],
        json!({"email": "ada@example.org"}),
        "{body}"
    );
    assert_eq!(body["actor"], "setup", "{body}");
    // Once only.
    let again = json!({"token": setup_token(&env), "email": "eve@example.org", "password": "a long enough password"});
    let (status, v, _) = call(&api, post.clone(), "/api/setup", &As::Nobody, Some(again)).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (409, &json!("already_set_up")),
        "{v}"
    );

    let (_, me, _) = call(
        &api,
        get.clone(),
        "/api/me",
        &As::Cookie(cookie.clone()),
        None,
    )
    .await;
    assert_eq!(
        (&me["host"]["email"], &me["needsSetup"]),
        (&json!("ada@example.org"), &json!(false))
    );
    // The cookie and the API key both create rooms, which are the host's.
    let (status, first) = create_as(&api, &As::Cookie(cookie.clone()), "Episode 1").await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = create_as(&api, &As::Key(key.clone()), "Episode 2").await;
    assert_eq!(status, 201, "{second}");
    let (status, bad_key) = create_as(&api, &As::Key(format!("{key}x")), "Forged").await;
    assert_eq!(status, 401, "{bad_key}");
    let (status, dash) = dashboard(&api, &As::Cookie(cookie.clone())).await;
    assert_eq!(status, 200, "{dash}");
    let titles: Vec<&str> = dash["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["title"]))
        .collect();
    assert_eq!(titles, ["Episode 2", "Episode 1"], "newest first");
    // The owner reads its room without a participant token.
    let room = s(&first["roomId"]);
    let (status, v, _) = call(
        &api,
        get.clone(),
        &format!("/api/recordings/{room}/events"),
        &As::Key(key.clone()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let log = room_log(&running.backends.pool, room).await;
    let created = log[0].event().unwrap();
    assert!(
        matches!(
            created,
            zencast_events::RecordingEvent::RoomCreated { owner: Some(_), .. }
        ),
        "{created:?}"
    );

    // Sign-in: wrong passwords and unknown addresses get the same answer.
    for (email, password) in [
        ("ada@example.org", "not the password"),
        ("nobody@example.org", "a long enough password"),
    ] {
        let body = json!({"email": email, "password": password});
        let (status, v, cookie) =
            call(&api, post.clone(), "/api/signin", &As::Nobody, Some(body)).await;
        assert_eq!((status, cookie), (401, None), "{v}");
        assert_eq!(
            s(&v["error"]["message"]),
            "wrong e-mail address or password"
        );
    }
    let body = json!({"email": "ADA@example.org", "password": "a long enough password"});
    let (status, v, second_cookie) =
        call(&api, post.clone(), "/api/signin", &As::Nobody, Some(body)).await;
    assert_eq!(status, 200, "{v}");
    let second_cookie = cookie_value(&second_cookie.unwrap());

    // Signing out ends every sign-in made before it, in every browser.
    let (status, _, cleared) = call(
        &api,
        post.clone(),
        "/api/signout",
        &As::Cookie(cookie.clone()),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    for old in [cookie, second_cookie] {
        let (status, v) = dashboard(&api, &As::Cookie(old.clone())).await;
        assert_eq!(status, 401, "{v}");
        let (status, v) = create_as(&api, &As::Cookie(old), "After sign-out").await;
        assert_eq!(status, 401, "{v}");
    }
    // The API key is not a sign-in: it keeps working.
    let (status, _) = dashboard(&api, &As::Key(key)).await;
    assert_eq!(status, 200);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_host_sees_and_touches_nothing_of_the_first_and_removed_hosts_are_locked_out() {
    let (env, running, api) = studio(|_| {}).await;
    let (_, first_key) = first_host(&api, &env, "ada@example.org").await;
    let (status, room) = create_as(&api, &As::Key(first_key.clone()), "Ada's").await;
    assert_eq!(status, 201);
    let id = s(&room["roomId"]);

    let (code, out) =
        env.run_cli_with_stdin(&["hosts", "add", "bob@example.org"], "bobs long password\n");
    assert_eq!(code, 0, "{out}");
    let bob_key = out
        .lines()
        .find_map(|l| l.strip_prefix("api key (shown once): "))
        .unwrap()
        .to_string();
    let (code, out) =
        env.run_cli_with_stdin(&["hosts", "add", "BOB@example.org"], "another password\n");
    assert_ne!(code, 0, "the same address twice: {out}");
    let (code, out) = env.run_cli(&["hosts", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("ada@example.org") && out.contains("bob@example.org"),
        "{out}"
    );

    let bob = As::Key(bob_key.clone());
    let (status, dash) = dashboard(&api, &bob).await;
    assert_eq!(
        (status, dash["recordings"].as_array().unwrap().len()),
        (200, 0),
        "{dash}"
    );
    for (method, path, body) in [
        (reqwest::Method::GET, format!("/api/recordings/{id}"), None),
        (
            reqwest::Method::GET,
            format!("/api/recordings/{id}/events"),
            None,
        ),
        (
            reqwest::Method::GET,
            format!("/api/recordings/{id}/files"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("/api/recordings/{id}/render"),
            Some(json!({})),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/recordings/{id}"),
            None,
        ),
    ] {
        let (status, v, _) = call(&api, method.clone(), &path, &bob, body).await;
        assert_eq!(status, 403, "{method} {path}: {v}");
    }
    assert_eq!(
        room_log(&running.backends.pool, id).await.len(),
        2,
        "nothing appended"
    );

    // Removed: its key stops working at once; its recordings stay.
    let (code, out) = env.run_cli(&["hosts", "remove", "ada@example.org"]);
    assert_eq!(code, 0, "{out}");
    let (status, _) = create_as(&api, &As::Key(first_key), "After removal").await;
    assert_eq!(status, 401);
    assert_eq!(room_log(&running.backends.pool, id).await.len(), 2);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_recording_empties_its_storage_keeps_its_log_and_refuses_what_follows() {
    let (env, running, api) = studio(|_| {}).await;
    let (cookie, _) = first_host(&api, &env, "ada@example.org").await;
    let host = As::Cookie(cookie);
    let (_, room) = create_as(&api, &host, "To delete").await;
    let (_, kept) = create_as(&api, &host, "To keep").await;
    let id = s(&room["roomId"]);
    let token = s(&room["hostToken"]);
    for r in [&room, &kept] {
        assert_eq!(host_control(&api, r, "start").await, 200);
        assert_eq!(host_chunk(&api, r, 0, 1000).await.status(), 201);
    }

    let (status, v) = delete_room(&api, &host, id).await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (409, &json!("still_recording")),
        "{v}"
    );
    host_control(&api, &room, "stop").await;
    // The host participant's token may delete too; twice is once.
    for who in [As::Participant(token.to_string()), host.clone()] {
        let (status, v) = delete_room(&api, &who, id).await;
        assert_eq!(status, 204, "{v}");
    }

    let store = ChunkStore::new(&env.config.s3_settings(running.s3_addr));
    let objects = |room: String| {
        let store = store.clone();
        async move {
            let listed = store
                .client()
                .list_objects_v2()
                .bucket(store.bucket())
                .prefix(format!("{room}/"))
                .send()
                .await
                .unwrap();
            listed.contents().len()
        }
    };
    eventually(
        std::time::Duration::from_secs(10),
        "the recording's objects to be deleted",
        || async { (objects(id.to_string()).await == 0).then_some(()) },
    )
    .await;
    assert_eq!(
        objects(s(&kept["roomId"]).to_string()).await,
        1,
        "another room's chunk stays"
    );
    let log = eventually(
        std::time::Duration::from_secs(10),
        "RecordingSwept",
        || async {
            let log = room_log(&running.backends.pool, id).await;
            log.iter()
                .any(|e| e.event_type == "RecordingSwept")
                .then_some(log)
        },
    )
    .await;
    let types: Vec<&str> = log.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types.iter().filter(|t| **t == "RecordingDeleted").count(),
        1,
        "{types:?}"
    );
    assert_eq!(
        log.iter()
            .find(|e| e.event_type == "RecordingSwept")
            .unwrap()
            .payload["objects"],
        1
    );
    assert!(
        types.contains(&"ChunkUploaded"),
        "the log keeps every fact: {types:?}"
    );

    // What follows: a chunk is refused before its body (410), so is a render;
    // the room shows as deleted, and the dashboard no longer lists it.
    assert_eq!(host_chunk(&api, &room, 1, 1000).await.status(), 410);
    let (status, view) = api.get(&format!("/api/recordings/{id}"), Some(token)).await;
    assert_eq!(
        (status, &view["status"]),
        (200, &json!("deleted")),
        "{view}"
    );
    let (_, dash) = dashboard(&api, &host).await;
    let ids: Vec<&str> = dash["recordings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| s(&r["roomId"]))
        .collect();
    assert_eq!(ids, [s(&kept["roomId"])]);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn quotas_refuse_with_a_clear_error_and_deleting_makes_room() {
    let (env, running, api) = studio(|env| {
        env.config.quota_rooms = Some(2);
        env.config.quota_storage_mb = Some(1);
    })
    .await;
    let (_, key) = first_host(&api, &env, "ada@example.org").await;
    let host = As::Key(key);
    let (_, room) = create_as(&api, &host, "One").await;
    let (status, _) = create_as(&api, &host, "Two").await;
    assert_eq!(status, 201);
    let (status, v) = create_as(&api, &host, "Three").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (403, &json!("quota_rooms")),
        "{v}"
    );
    assert!(
        s(&v["error"]["message"]).contains("at most 2 recordings"),
        "{v}"
    );

    // Storage: the chunk that crosses the limit is stored; the next is refused.
    host_control(&api, &room, "start").await;
    assert_eq!(host_chunk(&api, &room, 0, 600_000).await.status(), 201);
    assert_eq!(host_chunk(&api, &room, 1, 600_000).await.status(), 201);
    let refused = host_chunk(&api, &room, 2, 600_000).await;
    assert_eq!(refused.status(), 403);
    let v: Value = refused.json().await.unwrap();
    assert_eq!(v["error"]["code"], "quota_storage", "{v}");

    host_control(&api, &room, "stop").await;
    let (status, _) = delete_room(&api, &host, s(&room["roomId"])).await;
    assert_eq!(status, 204);
    let (status, v) = create_as(&api, &host, "Three, after a delete").await;
    assert_eq!(status, 201, "{v}");
    running.stop().await;
}
