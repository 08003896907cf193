//! `zencast bench uploads`: chunk upload throughput through the api against a
//! direct PUT to the same S3 store in the same run, and the api's peak memory
//! with many large uploads at once.
//!
//! The system runs as child processes of this one (`zencast up` for the store,
//! relay and projector; `zencast api` alone for the api), so the api's own peak
//! RSS can be read from /proc; clients generate their bodies as they send.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;
use serde_json::{json, Value};
use zencast_api::limits::UPLOADS_PER_PARTICIPANT;
use zencast_storage::ChunkStore;

use super::Scratch;
use crate::Config;

struct Spawned {
    child: Child,
    api: SocketAddr,
    s3: Option<SocketAddr>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(config: &Config, subcommand: &str, s3_endpoint: Option<&str>) -> anyhow::Result<Spawned> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg(subcommand)
        .env("DATABASE_URL", &config.database_url)
        .env("REDIS_URL", &config.redis_url)
        .env("NATS_URL", &config.nats_url)
        .env("ZENCAST_PREFIX", &config.prefix)
        .env("ZENCAST_AUTH", &config.auth)
        .env("ZENCAST_HTTP_ADDR", "127.0.0.1:0")
        .env("ZENCAST_S3_LISTEN", "127.0.0.1:0")
        .env("ZENCAST_S3_BUCKET", &config.s3_bucket)
        .env("ZENCAST_DATA_DIR", &config.data_dir)
        .env("ZENCAST_SECRET", "bench-secret-bench-secret-bench-secret")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped());
    if let Some(e) = s3_endpoint {
        cmd.env("ZENCAST_S3_ENDPOINT", e);
    }
    let mut child = cmd.spawn()?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let (mut api, mut s3) = (None, None);
    while api.is_none() {
        let line = lines
            .next()
            .ok_or_else(|| anyhow::anyhow!("zencast {subcommand} exited"))??;
        if let Some(a) = line.strip_prefix("zencast: embedded S3 store on http://") {
            s3 = Some(a.parse()?);
        }
        if let Some(a) = line.strip_prefix("zencast: api listening on http://") {
            api = Some(a.parse()?);
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Ok(Spawned {
        child,
        api: api.expect("set"),
        s3,
    })
}

/// Runs `put(0..n)`, `concurrent` at a time; returns how long all took.
async fn timed<F, Fut>(n: usize, concurrent: usize, put: F) -> anyhow::Result<std::time::Duration>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(put)
        .buffer_unordered(concurrent)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(start.elapsed())
}

/// Peak resident memory of a process, in MiB (VmHWM).
fn peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The uploads at once of the memory measurement.
const BIG_UPLOADS: usize = 50;

/// A room that is recording, and its host, who uploads.
struct Uploader {
    room: String,
    participant: String,
    token: String,
}

impl Uploader {
    async fn recording(http: &reqwest::Client, base: &str) -> anyhow::Result<Self> {
        let room: Value = http
            .post(format!("{base}/api/recordings"))
            .json(&json!({"title": "bench"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let field = |k: &str| room[k].as_str().unwrap_or_default().to_string();
        let me = Self {
            room: field("roomId"),
            participant: field("hostParticipantId"),
            token: field("hostToken"),
        };
        http.post(format!("{base}/api/recordings/{}/start", me.room))
            .bearer_auth(&me.token)
            .send()
            .await?
            .error_for_status()?;
        Ok(me)
    }

    fn chunk_url(&self, base: &str, index: usize) -> String {
        format!(
            "{base}/api/recordings/{}/participants/{}/chunks/{index}",
            self.room, self.participant
        )
    }
}

/// `size` bytes, made as they are sent, in 64 KiB pieces.
fn body(size: usize, seed: u8) -> reqwest::Body {
    let pieces = size.div_ceil(65536);
    let stream = futures::stream::iter((0..pieces).map(move |i| {
        let n = 65536.min(size - i * 65536);
        Ok::<_, std::io::Error>(vec![seed.wrapping_add(i as u8); n])
    }));
    reqwest::Body::wrap_stream(stream)
}

pub async fn run(
    base: &Config,
    chunks: usize,
    chunk_mib: usize,
    concurrent: usize,
) -> anyhow::Result<()> {
    let scratch = Scratch::new(base).await?;
    let result = measure(&scratch, chunks, chunk_mib, concurrent).await;
    scratch.remove().await;
    result
}

async fn measure(
    scratch: &Scratch,
    chunks: usize,
    chunk_mib: usize,
    concurrent: usize,
) -> anyhow::Result<()> {
    let up = spawn(&scratch.config, "up", None)?;
    let s3 = format!(
        "http://{}",
        up.s3.ok_or_else(|| anyhow::anyhow!("no embedded store"))?
    );
    let api_node = spawn(&scratch.config, "api", Some(&s3))?;
    let base = format!("http://{}", api_node.api);
    let http = reqwest::Client::new();

    // A participant has at most `UPLOADS_PER_PARTICIPANT` uploads in flight
    // (the web client has one): the uploads are spread over enough rooms,
    // upload `i` going to room `i % rooms`, that none waits for that limit.
    let rooms = concurrent.max(BIG_UPLOADS.div_ceil(UPLOADS_PER_PARTICIPANT));
    let mut uploaders = Vec::with_capacity(rooms);
    for _ in 0..rooms {
        uploaders.push(Uploader::recording(&http, &base).await?);
    }
    let size = chunk_mib * 1024 * 1024;
    let url = |i: usize| uploaders[i % rooms].chunk_url(&base, i / rooms);

    // Through the api, `concurrent` at a time.
    let via_api = timed(chunks, concurrent, |i| {
        let (http, url, token) = (http.clone(), url(i), uploaders[i % rooms].token.clone());
        async move {
            http.put(url)
                .bearer_auth(token)
                .body(body(size, i as u8))
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok(())
        }
    })
    .await?;

    // Directly to the store, same sizes and concurrency.
    let store = ChunkStore::new(&scratch.config.s3_settings(up.s3));
    let direct = timed(chunks, concurrent, |i| {
        let store = store.clone();
        async move {
            store
                .client()
                .put_object()
                .bucket(store.bucket())
                .key(format!("direct/{i}.webm"))
                .body(ByteStream::from(vec![i as u8; size]))
                .send()
                .await?;
            anyhow::Ok(())
        }
    })
    .await?;

    // Memory: 50 uploads of 20 MB at once (at indexes above the ones used).
    let before = peak_rss_mib(api_node.child.id());
    let big = 20 * 1000 * 1000;
    let start = Instant::now();
    let first = chunks.div_ceil(rooms) * rooms;
    let results = futures::future::join_all((0..BIG_UPLOADS).map(|k| {
        let i = first + k;
        let (http, url, token) = (http.clone(), url(i), uploaders[i % rooms].token.clone());
        async move {
            http.put(url)
                .bearer_auth(token)
                .body(body(big, k as u8))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    }))
    .await;
    let ok = results.iter().filter(|r| matches!(r, Ok(201))).count();
    let many = start.elapsed();
    let after = peak_rss_mib(api_node.child.id());

    let mb = (chunks * size) as f64 / 1e6;
    println!("zencast bench uploads: {chunks} chunks of {chunk_mib} MiB, {concurrent} at a time");
    println!("{:<40} {:>10} {:>10}", "path", "seconds", "MB/s");
    println!(
        "{:<40} {:>10.2} {:>10.1}",
        "PUT through the api (staged, hashed, verified)",
        via_api.as_secs_f64(),
        mb / via_api.as_secs_f64()
    );
    println!(
        "{:<40} {:>10.2} {:>10.1}",
        "direct S3 PUT to the same store",
        direct.as_secs_f64(),
        mb / direct.as_secs_f64()
    );
    println!(
        "ratio (api / direct throughput): {:.2}",
        direct.as_secs_f64() / via_api.as_secs_f64()
    );
    println!(
        "{BIG_UPLOADS} concurrent 20 MB uploads ({rooms} participants): {ok} stored in {:.1} s; \
         api peak RSS {before:.0} MiB before, {after:.0} MiB after",
        many.as_secs_f64()
    );
    Ok(())
}
