//! The fault suite: a three-person session (default 10 s chunks, real VP8 +
//! Opus media) through two api nodes, the relay, the projector and a render
//! worker, each a separate `zencast` process, while things break:
//!
//! - processes: a driver kills one at random with SIGKILL every 2–4 s and
//!   starts it again, kills Redis once (all its data lost) and restarts NATS
//!   once; the clients retry on the other api node as the web client does;
//! - cluster: the same session on a three-node NATS cluster whose streams keep
//!   three replicas, one node killed mid-session and not brought back.
//!
//! Afterwards: every chunk stored exactly once, in the log and in the store;
//! a gap-free log with every event once; exactly one `SessionCompleted` and
//! one `RenderCompleted`; final.mp4 as long as the session; `replay --verify`
//! clean; and a NATS client that followed the stream from the start saw every
//! logged event. Redis and NATS are the test's own servers: the machine's
//! shared ones serve the other tests meanwhile.

mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use serde_json::{json, Value};
use support::servers::{self, NatsNode, RedisServer};
use support::{s, MotoServer, TestEnv};

const PEOPLE: [&str; 3] = ["Hana", "Gus", "Ivy"];
const CHUNK_SECONDS: u64 = 10;
const CHUNKS: usize = 3;
/// The recorders' starts after the host pressed start, in seconds.
const RECORDER_OFFSETS: [f64; 3] = [0.2, 0.5, 0.9];
/// When the host stops, in seconds after start: after every recorder's end.
const STOP_AT: f64 = 31.0;

/// The services, one process each, started again whenever they die.
struct Fleet {
    env: Vec<(String, String)>,
    members: Vec<Member>,
    kills: BTreeMap<&'static str, u32>,
    /// Exits the fleet did not cause (a process that gave up), restarted too.
    exits: BTreeMap<&'static str, u32>,
}

struct Member {
    name: &'static str,
    subcommand: &'static str,
    extra: Vec<(String, String)>,
    child: Child,
}

impl Fleet {
    fn start(env: Vec<(String, String)>, api_ports: [u16; 2]) -> Self {
        let api = |port| vec![http_addr(port)];
        let roles = [
            ("api-1", "api", api(api_ports[0])),
            ("api-2", "api", api(api_ports[1])),
            ("relay", "relay", vec![]),
            ("projector", "projector", vec![]),
            ("render", "render", vec![]),
        ];
        let members = roles
            .into_iter()
            .map(|(name, subcommand, extra)| Member {
                name,
                subcommand,
                child: spawn(subcommand, &env, &extra),
                extra,
            })
            .collect();
        Self {
            env,
            members,
            kills: BTreeMap::new(),
            exits: BTreeMap::new(),
        }
    }

    /// SIGKILLs member `i` and starts it again.
    fn kill(&mut self, i: usize) {
        let m = &mut self.members[i];
        let _ = m.child.kill();
        let _ = m.child.wait();
        *self.kills.entry(m.name).or_default() += 1;
        m.child = spawn(m.subcommand, &self.env, &m.extra);
    }

    /// Starts again every member that exited by itself.
    fn restart_exited(&mut self) {
        for m in &mut self.members {
            if let Ok(Some(status)) = m.child.try_wait() {
                eprintln!("{} exited by itself ({status}); starting it again", m.name);
                *self.exits.entry(m.name).or_default() += 1;
                m.child = spawn(m.subcommand, &self.env, &m.extra);
            }
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for m in &mut self.members {
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
    }
}

fn http_addr(port: u16) -> (String, String) {
    ("ZENCAST_HTTP_ADDR".into(), format!("127.0.0.1:{port}"))
}

fn spawn(subcommand: &str, env: &[(String, String)], extra: &[(String, String)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_zencast"))
        .arg(subcommand)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .envs(extra.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn zencast")
}

/// The test's environment for `zencast` processes, on the given Redis, NATS
/// and S3 servers.
fn fleet_env(
    env: &TestEnv,
    redis: &str,
    nats: &str,
    replicas: usize,
    s3: &str,
) -> Vec<(String, String)> {
    let mut vars: HashMap<String, String> = env
        .env_vars()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for (k, v) in [
        ("REDIS_URL", redis.to_string()),
        ("NATS_URL", nats.to_string()),
        ("ZENCAST_NATS_REPLICAS", replicas.to_string()),
        ("ZENCAST_S3_ENDPOINT", s3.to_string()),
        // Completion waits for every participant's last upload, however
        // many retries it takes, instead of closing the session without it.
        ("ZENCAST_UPLOAD_GRACE_MS", "120000".into()),
        ("RUST_LOG", "error".into()),
    ] {
        vars.insert(k.into(), v);
    }
    vars.into_iter().collect()
}

/// A small random source (the order of kills), seeded and printed so that a
/// failing run can be told apart from another.
struct Dice(u64);

impl Dice {
    fn new() -> Self {
        let seed = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
        eprintln!("kill order seed {seed}");
        Self(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        // xorshift64
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// An HTTP client of the two api nodes that retries as the web client does:
/// on a connection error, a 5xx or "upload in progress", it tries again on
/// the other node after a growing pause.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    bases: [String; 2],
    retries: Arc<AtomicU32>,
}

impl Client {
    /// The request made by `request` against a node; returns the status, the
    /// body and how many retries it took.
    async fn send(
        &self,
        what: &str,
        request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> (u16, Vec<u8>, u32) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut attempt = 0u32;
        loop {
            let base = &self.bases[attempt as usize % 2];
            let sent = request(&self.http, base)
                .timeout(Duration::from_secs(15))
                .send()
                .await;
            let failure = match sent {
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.bytes().await.map(|b| b.to_vec()) {
                        Ok(body) if status < 500 && !busy(status, &body) => {
                            return (status, body, attempt)
                        }
                        Ok(body) => format!("{status} {}", String::from_utf8_lossy(&body)),
                        Err(e) => e.to_string(),
                    }
                }
                Err(e) => e.to_string(),
            };
            assert!(
                Instant::now() < deadline,
                "{what}: still failing: {failure}"
            );
            attempt += 1;
            self.retries.fetch_add(1, Ordering::Relaxed);
            let pause = Duration::from_millis(200 * u64::from(attempt.min(10)));
            tokio::time::sleep(pause).await;
        }
    }

    async fn post(
        &self,
        what: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> (u16, Value, u32) {
        let (status, bytes, attempts) = self
            .send(what, |http, base| {
                let r = http.post(format!("{base}{path}")).json(&body);
                match token {
                    Some(t) => r.bearer_auth(t),
                    None => r,
                }
            })
            .await;
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v, attempts)
    }
}

/// "Another upload of this chunk is in progress; retry shortly."
fn busy(status: u16, body: &[u8]) -> bool {
    status == 409
        && serde_json::from_slice::<Value>(body).is_ok_and(|v| v["code"] == "upload_in_progress")
}

/// A participant: id, token and recording, cut into chunks.
struct Person {
    id: String,
    token: String,
    chunks: Vec<Vec<u8>>,
    recorder_start_ms: f64,
}

fn recording(dir: &Path, i: usize) -> Vec<Vec<u8>> {
    let seconds = CHUNK_SECONDS as f64 * CHUNKS as f64;
    let freq = 600 + 400 * i;
    let bytes = support::media::browser_like_webm(
        &dir.join(format!("p{i}.webm")),
        &format!("testsrc2=size=320x240:rate=15:duration={seconds}"),
        &format!("sine=frequency={freq}:sample_rate=48000:duration={seconds}"),
        "300k",
        15,
    );
    support::media::split_bytes(&bytes, CHUNKS)
}

fn now_ms() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1000.0
}

async fn sleep_until_ms(at: f64) {
    let wait = at - now_ms();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

/// Creates the room, seats three people and starts recording (before any
/// fault); returns the room view, the people and the start in server time.
async fn seat_three(client: &Client, dir: &Path) -> (Value, Vec<Person>, f64) {
    let (status, room, _) = client
        .post(
            "create",
            "/api/recordings",
            None,
            json!({"title": "Faults", "chunkSeconds": CHUNK_SECONDS, "hostName": PEOPLE[0]}),
        )
        .await;
    assert_eq!(status, 201, "{room}");
    let room_id = s(&room["roomId"]).to_string();
    let mut people = vec![(
        s(&room["hostParticipantId"]).to_string(),
        s(&room["hostToken"]).to_string(),
    )];
    for name in &PEOPLE[1..] {
        let (status, v, _) = client
            .post(
                "join",
                &format!("/api/recordings/{room_id}/join"),
                None,
                json!({"displayName": name, "inviteToken": s(&room["inviteToken"])}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        people.push((
            s(&v["participantId"]).to_string(),
            s(&v["participantToken"]).to_string(),
        ));
    }
    let (status, started, _) = client
        .post(
            "start",
            &format!("/api/recordings/{room_id}/start"),
            Some(&people[0].1),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let at = chrono::DateTime::parse_from_rfc3339(s(&started["at"])).unwrap();
    let started_ms = at.timestamp_micros() as f64 / 1000.0;
    let people = people
        .into_iter()
        .enumerate()
        .map(|(i, (id, token))| Person {
            id,
            token,
            chunks: recording(dir, i),
            recorder_start_ms: started_ms + RECORDER_OFFSETS[i] * 1000.0,
        })
        .collect();
    (room, people, started_ms)
}

async fn upload(client: &Client, room: &str, p: &Person, index: usize) {
    let path = format!(
        "/api/recordings/{room}/participants/{}/chunks/{index}",
        p.id
    );
    let start = format!("{:.3}", p.recorder_start_ms);
    let body = p.chunks[index].clone();
    let (status, v, _) = client
        .send("chunk", |http, base| {
            http.put(format!("{base}{path}"))
                .bearer_auth(&p.token)
                .header("Zencast-Recording-Start", &start)
                .body(body.clone())
        })
        .await;
    let v = String::from_utf8_lossy(&v);
    assert!(
        status == 201 || status == 200,
        "chunk {index}: {status} {v}"
    );
}

/// The session as the clients play it: a chunk of each person every 10 s,
/// the host stops at 31 s, the last chunks go up after the stop and each
/// client says it has finished.
async fn record(client: &Client, room: &str, people: &[Person], started_ms: f64) {
    for index in 0..CHUNKS {
        let due = started_ms + ((index as u64 + 1) * CHUNK_SECONDS * 1000) as f64;
        if index + 1 == CHUNKS {
            sleep_until_ms(started_ms + STOP_AT * 1000.0).await;
            let (status, v, attempts) = client
                .post(
                    "stop",
                    &format!("/api/recordings/{room}/stop"),
                    Some(&people[0].token),
                    json!({}),
                )
                .await;
            // A retry of a stop that did land is told it is not recording.
            assert!(
                status == 200 || (attempts > 0 && status == 409),
                "stop: {v}"
            );
        } else {
            sleep_until_ms(due).await;
        }
        let uploads = people.iter().map(|p| upload(client, room, p, index));
        futures::future::join_all(uploads).await;
    }
    for p in people {
        let (status, v, _) = client
            .post(
                "finish",
                "/api/uploads/complete",
                Some(&p.token),
                json!({"roomId": room, "participantId": p.id, "chunkCount": CHUNKS}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }
}

/// Follows the event stream from its start, as an ops tool does, through
/// NATS restarts and node losses: the `Nats-Msg-Id` (event id) of every
/// message it saw. It reads the stream message by message (`STREAM.MSG.GET`,
/// answered by whichever node leads the stream now), so a lost node costs it
/// one failed request, not a subscription that may hang on the dead node.
fn follow(urls: String, stream: String, seen: Arc<Mutex<HashSet<String>>>) {
    tokio::spawn(async move {
        let client = zencast_nats::servers::connect(&urls).await.expect("nats");
        let js = jetstream::new(client);
        let pause = Duration::from_millis(200);
        let mut next = 1u64;
        loop {
            let Ok(mut events) = js.get_stream(&stream).await else {
                tokio::time::sleep(pause).await;
                continue;
            };
            match events.get_raw_message(next).await {
                Ok(m) => {
                    if let Some(id) = m.headers.get("Nats-Msg-Id") {
                        seen.lock().unwrap().insert(id.to_string());
                    }
                    next += 1;
                }
                // Not written yet, or a request lost with a node: ask again.
                // A sequence below the stream's first is gone for good.
                Err(_) => {
                    if let Ok(info) = events.info().await {
                        next = next.max(info.state.first_sequence);
                    }
                    tokio::time::sleep(pause).await;
                }
            }
        }
    });
}

/// Sets its flag when dropped, also by a failing assertion: the fault driver
/// stops, instead of restarting processes for ever behind a failed test.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the run did, printed at the end.
#[derive(Default)]
struct Counts {
    kills: BTreeMap<&'static str, u32>,
    exits: BTreeMap<&'static str, u32>,
    redis_kills: u32,
    nats_restarts: u32,
    nats_nodes_lost: u32,
}

/// What goes wrong during a run.
#[derive(Clone, Copy)]
struct Faults {
    kill_processes: bool,
    /// Seconds after the start: Redis killed (data lost), NATS restarted,
    /// one cluster node killed for good.
    kill_redis_at: Option<f64>,
    restart_nats_at: Option<f64>,
    kill_nats_node_at: Option<f64>,
}

async fn run_session(faults: Faults, replicas: usize) {
    let env = TestEnv::new();
    let dir = env.data_dir.join("media");
    std::fs::create_dir_all(&dir).unwrap();
    let mut redis = RedisServer::start();
    let mut nats = if replicas > 1 {
        NatsNode::cluster(&env.data_dir, replicas)
    } else {
        vec![NatsNode::single(&env.data_dir)]
    };
    let urls = servers::nats_urls(&nats);
    servers::wait_for_jetstream(&urls, replicas).await;
    let moto = MotoServer::start();
    let vars = fleet_env(&env, &redis.url(), &urls, replicas, &moto.endpoint);

    // The database and the stream exist before the processes race to make them.
    let migrated = Command::new(env!("CARGO_BIN_EXE_zencast"))
        .arg("migrate")
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .status()
        .unwrap();
    assert!(migrated.success());
    let subjects = zencast_nats::Subjects::new(&env.tag).unwrap();
    let js = jetstream::new(zencast_nats::servers::connect(&urls).await.unwrap());
    // With one copy: the processes bring it to `replicas` as they start.
    zencast_nats::stream::ensure_stream(&js, &subjects, 1)
        .await
        .expect("the event stream");
    let seen = Arc::new(Mutex::new(HashSet::new()));
    follow(urls.clone(), subjects.stream(), seen.clone());

    let api_ports = [servers::free_port(), servers::free_port()];
    let fleet = Arc::new(Mutex::new(Fleet::start(vars.clone(), api_ports)));
    let client = Client {
        http: reqwest::Client::new(),
        bases: api_ports.map(|p| format!("http://127.0.0.1:{p}")),
        retries: Arc::new(AtomicU32::new(0)),
    };
    let (room, people, started_ms) = seat_three(&client, &dir).await;
    let room_id = s(&room["roomId"]).to_string();
    let pool = sqlx::PgPool::connect(&env.config.database_url)
        .await
        .unwrap();

    // The faults, until the render is done (or the test fails).
    let done = Arc::new(AtomicBool::new(false));
    let _stop_breaking = StopOnDrop(done.clone());
    let breaker = {
        let (fleet, done) = (fleet.clone(), done.clone());
        tokio::task::spawn_blocking(move || {
            let mut counts = Counts::default();
            let mut dice = Dice::new();
            let mut next_kill = Instant::now() + Duration::from_secs(2);
            let at = |secs: Option<f64>| secs.map(|s| started_ms + s * 1000.0);
            let (mut redis_at, mut nats_at, mut node_at) = (
                at(faults.kill_redis_at),
                at(faults.restart_nats_at),
                at(faults.kill_nats_node_at),
            );
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let mut fleet = fleet.lock().unwrap();
                fleet.restart_exited();
                if faults.kill_processes && Instant::now() >= next_kill {
                    let i = dice.below(fleet.members.len() as u64) as usize;
                    fleet.kill(i);
                    next_kill = Instant::now() + Duration::from_millis(2000 + dice.below(2000));
                }
                if redis_at.is_some_and(|t| now_ms() >= t) {
                    redis.kill_and_restart();
                    counts.redis_kills += 1;
                    redis_at = None;
                }
                if nats_at.is_some_and(|t| now_ms() >= t) {
                    nats[0].restart();
                    counts.nats_restarts += 1;
                    nats_at = None;
                }
                if node_at.is_some_and(|t| now_ms() >= t) {
                    // The first node: the one every client tried first.
                    nats[0].kill();
                    counts.nats_nodes_lost += 1;
                    node_at = None;
                }
            }
            counts.kills = fleet.lock().unwrap().kills.clone();
            counts.exits = fleet.lock().unwrap().exits.clone();
            (counts, redis, nats)
        })
    };

    record(&client, &room_id, &people, started_ms).await;
    // A worker killed mid-render fails that attempt (not the last): only a
    // final failure ends the wait.
    let final_failure =
        |e: &zencast_events::Envelope| e.event_type == "RenderFailed" && e.payload["last"] == true;
    let rendered = support::eventually(
        Duration::from_secs(240),
        "the render's end in the log",
        || {
            let (pool, room) = (pool.clone(), room_id.clone());
            async move {
                let log = support::room_log(&pool, &room).await;
                log.iter()
                    .any(|e| e.event_type == "RenderCompleted" || final_failure(e))
                    .then_some(log)
            }
        },
    )
    .await;
    assert!(
        !rendered.iter().any(final_failure),
        "the render failed for good: {:?}",
        rendered.iter().find(|e| final_failure(e))
    );
    done.store(true, Ordering::Relaxed);
    let (mut counts, mut redis, _nats) = breaker.await.unwrap();
    if faults.kill_redis_at.is_some() {
        // Once more after the render: the finished room's files are still
        // served (the room view heals itself from the log).
        redis.kill_and_restart();
        counts.redis_kills += 1;
    }

    // Quiet now: whatever was still in flight settles before the checks.
    let log = support::room_log(&pool, &room_id).await;
    let count = |t: &str| log.iter().filter(|e| e.event_type == t).count();
    let at = |t: &str| log.iter().find(|e| e.event_type == t).unwrap().occurred_at;

    // A gap-free log, every event once.
    for (i, e) in log.iter().enumerate() {
        assert_eq!(e.sequence, i as u64 + 1, "sequence {} at {i}", e.sequence);
    }
    let ids: HashSet<_> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), log.len(), "an event logged twice");

    // Every chunk once in the log and once in the store.
    let mut uploaded: HashMap<(String, u64), u32> = HashMap::new();
    for e in log.iter().filter(|e| e.event_type == "ChunkUploaded") {
        let key = (
            e.payload["participant"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            e.payload["index"].as_u64().unwrap(),
        );
        *uploaded.entry(key).or_default() += 1;
    }
    assert_eq!(uploaded.len(), PEOPLE.len() * CHUNKS, "{uploaded:?}");
    assert!(uploaded.values().all(|&n| n == 1), "{uploaded:?}");
    let store = zencast_storage::ChunkStore::new(&env_s3(&env, &moto.endpoint));
    for p in &people {
        let listed = store
            .client()
            .list_objects_v2()
            .bucket(store.bucket())
            .prefix(format!("{room_id}/{}/", p.id))
            .send()
            .await
            .unwrap();
        let chunks = listed
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter(|k| k.ends_with(".webm"))
            .count();
        assert_eq!(chunks, CHUNKS, "chunks of {} in the store", p.id);
    }

    assert_eq!(count("SessionCompleted"), 1);
    assert_eq!(count("RenderCompleted"), 1);
    let session =
        (at("RecordingStopped") - at("RecordingStarted")).num_milliseconds() as f64 / 1000.0;
    let waited =
        (at("RenderCompleted") - at("RecordingStopped")).num_milliseconds() as f64 / 1000.0;

    // The room as the host's page reads it: rendered, with its files.
    let (status, view, _) = client
        .send("room", |http, base| {
            http.get(format!("{base}/api/recordings/{room_id}"))
                .bearer_auth(&people[0].token)
        })
        .await;
    let view: Value = serde_json::from_slice(&view).unwrap_or(Value::Null);
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["render"]["status"], "completed", "{view}");
    let files = view["render"]["files"].as_array().map_or(0, Vec::len);
    assert!(
        files > PEOPLE.len(),
        "final.mp4 and the tracks listed: {view}"
    );

    // final.mp4, through an api node, as long as the session.
    let token = people[1].token.clone();
    let (status, bytes, _) = client
        .send("download", |http, base| {
            http.get(format!("{base}/api/recordings/{room_id}/files/final.mp4"))
                .bearer_auth(&token)
        })
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let final_mp4 = env.data_dir.join("final.mp4");
    std::fs::write(&final_mp4, &bytes).unwrap();
    let length = support::probe::probe(&final_mp4).duration();
    assert!(
        (length - session).abs() < 0.5,
        "final.mp4 is {length:.2} s, the session {session:.2} s"
    );

    // The streams keep the copies asked for.
    for name in [subjects.stream(), subjects.jobs_stream()] {
        let info = js
            .get_stream(&name)
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .clone();
        assert_eq!(info.config.num_replicas, replicas, "{name}");
    }

    // The projection agrees with the log (it may still be catching up).
    support::eventually(Duration::from_secs(30), "replay --verify clean", || {
        let vars = vars.clone();
        async move {
            let out = Command::new(env!("CARGO_BIN_EXE_zencast"))
                .args(["replay", "--verify"])
                .envs(vars.iter().map(|(k, v)| (k, v)))
                .output()
                .unwrap();
            out.status.success().then_some(())
        }
    })
    .await;

    // The follower saw every event of the log.
    let logged: HashSet<String> = log.iter().map(|e| e.event_id.to_string()).collect();
    support::eventually(
        Duration::from_secs(30),
        "the follower to see every event",
        || {
            let missing = logged.difference(&seen.lock().unwrap()).count();
            async move { (missing == 0).then_some(()) }
        },
    )
    .await;

    eprintln!(
        "faults: kills {:?}, exits {:?}, Redis killed {}, NATS restarted {}, NATS nodes lost {}; \
         {} client retries; {} events in the log ({} chunks); {} render attempts; \
         session {session:.1} s; final.mp4 {length:.1} s, {waited:.1} s after the stop",
        counts.kills,
        counts.exits,
        counts.redis_kills,
        counts.nats_restarts,
        counts.nats_nodes_lost,
        client.retries.load(Ordering::Relaxed),
        log.len(),
        uploaded.len(),
        count("RenderStarted"),
    );
    if faults.kill_nats_node_at.is_some() {
        // Losing one server of the cluster stops no process.
        assert!(
            counts.exits.is_empty(),
            "processes exited: {:?}",
            counts.exits
        );
    }
    if faults.kill_processes {
        let total: u32 = counts.kills.values().sum();
        assert!(total >= 8, "only {total} kills: {:?}", counts.kills);
    }
}

fn env_s3(env: &TestEnv, endpoint: &str) -> zencast_storage::S3Settings {
    let mut config = env.config.clone();
    config.s3_endpoint = Some(endpoint.to_string());
    config.s3_settings(None)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_survives_killed_processes_a_redis_wipe_and_a_nats_restart() {
    run_session(
        Faults {
            kill_processes: true,
            kill_redis_at: Some(12.0),
            restart_nats_at: Some(22.0),
            kill_nats_node_at: None,
        },
        1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_on_a_three_node_nats_cluster_survives_losing_a_node() {
    run_session(
        Faults {
            kill_processes: false,
            kill_redis_at: None,
            restart_nats_at: None,
            kill_nats_node_at: Some(15.0),
        },
        3,
    )
    .await;
}
