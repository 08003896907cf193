//! `zencast bench relay`: signaling latency between two sockets on two api
//! nodes, next to a raw NATS publish/subscribe in the same run; then how many
//! rooms of 4 sockets one api node holds with p99 under 10 ms.
//!
//! Both api nodes and every client run in this one process (as tasks), so the
//! figures include the clients' own cost on the same 2 cores.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use super::{pct, Scratch};
use crate::{Backends, Config, Parts, Running};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Microseconds since the benchmark began: senders stamp it, receivers subtract.
fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

pub async fn run(base: &Config, rate: u32, seconds: u64, max_rooms: usize) -> anyhow::Result<()> {
    let mut scratch = Scratch::new(base).await?;
    // Signaling at benchmark rates, not at the per-socket abuse limit.
    scratch.config.ws_rate = rate * 4 + 1000;
    scratch.backends.config = scratch.config.clone();
    let result = measure(&scratch, rate, seconds, max_rooms).await;
    scratch.remove().await;
    result
}

async fn measure(
    scratch: &Scratch,
    rate: u32,
    seconds: u64,
    max_rooms: usize,
) -> anyhow::Result<()> {
    let node_a = crate::start(scratch.backends.clone(), Parts::ALL).await?;
    let mut b_config = scratch.config.clone();
    b_config.s3_endpoint = node_a.s3_addr.map(|a| format!("http://{a}"));
    let node_b_backends = Backends::connect(&b_config).await?;
    let node_b = crate::start(
        node_b_backends,
        Parts {
            api: true,
            relay: false,
            projector: false,
            render: false,
            embedded_s3: false,
        },
    )
    .await?;
    let (a, b) = (node_a.http_addr.unwrap(), node_b.http_addr.unwrap());
    let http = reqwest::Client::new();

    // One room, host on node A, guest on node B.
    let room = create(&http, a).await?;
    let guest = join(&http, b, &room, "guest").await?;
    let mut host_ws = connect(a, &room["roomId"], &room["hostToken"]).await?;
    let mut guest_ws = connect(b, &room["roomId"], &guest["participantToken"]).await?;
    let guest_id = guest["participantId"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let count = (rate as u64 * seconds) as usize;
    let receiver = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(count);
        let deadline = Instant::now() + Duration::from_secs(seconds + 10);
        while lat.len() < count && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), guest_ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                    if v["type"] == "ice" {
                        let sent = v["payload"]["t"].as_u64().unwrap_or(0);
                        lat.push(Duration::from_micros(now_us().saturating_sub(sent)));
                    }
                }
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        lat
    });
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(interval);
    for _ in 0..count {
        tick.tick().await;
        // ICE frames carry any JSON: the send time, here.
        let frame = json!({"type": "ice", "to": guest_id, "payload": {"t": now_us()}});
        host_ws
            .send(Message::Text(frame.to_string().into()))
            .await?;
    }
    let mut relay_lat = receiver.await?;

    let mut raw_lat = raw_nats(&scratch.config.nats_url, rate, count).await?;
    println!("zencast bench relay: {count} signaling messages at {rate}/s, sender on api node A, receiver on node B");
    println!(
        "{:<46} {:>8} {:>10} {:>10}",
        "path", "received", "p50 ms", "p99 ms"
    );
    println!(
        "{:<46} {:>8} {:>10.3} {:>10.3}",
        "socket → api A → NATS → api B → socket",
        relay_lat.len(),
        pct(&mut relay_lat, 50.0),
        pct(&mut relay_lat, 99.0)
    );
    println!(
        "{:<46} {:>8} {:>10.3} {:>10.3}",
        "raw: NATS publish → subscribe (two connections)",
        raw_lat.len(),
        pct(&mut raw_lat, 50.0),
        pct(&mut raw_lat, 99.0)
    );

    println!("rooms of 4 sockets on one api node, each socket sending 5 messages/s to the next:");
    println!(
        "{:>6} {:>8} {:>10} {:>10}",
        "rooms", "sockets", "p50 ms", "p99 ms"
    );
    let mut rooms = 25;
    while rooms <= max_rooms {
        let (mut lat, expected) = rooms_load(&http, &node_a, rooms).await?;
        let p99 = pct(&mut lat, 99.0);
        println!(
            "{:>6} {:>8} {:>10.3} {:>10.3}   ({} of {} messages received)",
            rooms,
            rooms * 4,
            pct(&mut lat, 50.0),
            p99,
            lat.len(),
            expected
        );
        if p99 > 10.0 || lat.len() < expected * 99 / 100 {
            break;
        }
        rooms *= 2;
    }
    node_b.stop().await;
    node_a.stop().await;
    Ok(())
}

/// `rooms` rooms of 4 sockets on one node, each socket sending 5 messages/s for
/// 4 s to the next participant of its room. Returns the latencies and the count sent.
async fn rooms_load(
    http: &reqwest::Client,
    node: &Running,
    rooms: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let addr = node.http_addr.unwrap();
    let (per_socket, seconds) = (5u64, 4u64);
    let mut sockets = Vec::new();
    for _ in 0..rooms {
        let room = create(http, addr).await?;
        let mut people = vec![(room["hostParticipantId"].clone(), room["hostToken"].clone())];
        for i in 0..3 {
            let g = join(http, addr, &room, &format!("guest {i}")).await?;
            people.push((g["participantId"].clone(), g["participantToken"].clone()));
        }
        for i in 0..4 {
            let ws = connect(addr, &room["roomId"], &people[i].1).await?;
            let to = people[(i + 1) % 4]
                .0
                .as_str()
                .unwrap_or_default()
                .to_string();
            sockets.push((ws, to));
        }
    }
    let expected = sockets.len() * (per_socket * seconds) as usize;
    let mut tasks = Vec::new();
    for (ws, to) in sockets {
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let reader = tokio::spawn(async move {
                let mut lat = Vec::new();
                let end = Instant::now() + Duration::from_secs(seconds + 3);
                while let Ok(Some(Ok(m))) = tokio::time::timeout_at(end.into(), rx.next()).await {
                    if let Message::Text(t) = m {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                        if v["type"] == "ice" {
                            lat.push(Duration::from_micros(
                                now_us().saturating_sub(v["payload"]["t"].as_u64().unwrap_or(0)),
                            ));
                        }
                    }
                }
                lat
            });
            // Spread the senders over the period so they do not all fire at once.
            tokio::time::sleep(Duration::from_micros(
                uuid::Uuid::new_v4().as_u128() as u64 % 200_000,
            ))
            .await;
            let mut tick = tokio::time::interval(Duration::from_millis(1000 / per_socket));
            for _ in 0..per_socket * seconds {
                tick.tick().await;
                let frame = json!({"type": "ice", "to": to, "payload": {"t": now_us()}});
                if tx
                    .send(Message::Text(frame.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let lat = reader.await.unwrap_or_default();
            let _ = tx.close().await;
            lat
        }));
    }
    let mut all = Vec::with_capacity(expected);
    for t in tasks {
        all.extend(t.await?);
    }
    Ok((all, expected))
}

/// The same traffic over bare NATS: one connection publishes, another subscribes.
async fn raw_nats(url: &str, rate: u32, count: usize) -> anyhow::Result<Vec<Duration>> {
    let (publisher, subscriber) = (
        zencast_nats::servers::connect(url).await?,
        zencast_nats::servers::connect(url).await?,
    );
    let subject = format!("rawbench.{}", uuid::Uuid::new_v4().simple());
    let mut sub = subscriber.subscribe(subject.clone()).await?;
    subscriber.flush().await?;
    let receiver = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(count);
        while lat.len() < count {
            match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
                Ok(Some(m)) => {
                    let sent: u64 = std::str::from_utf8(&m.payload)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    lat.push(Duration::from_micros(now_us().saturating_sub(sent)));
                }
                _ => break,
            }
        }
        lat
    });
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    for _ in 0..count {
        tick.tick().await;
        publisher
            .publish(subject.clone(), now_us().to_string().into())
            .await?;
    }
    Ok(receiver.await?)
}

async fn create(http: &reqwest::Client, addr: std::net::SocketAddr) -> anyhow::Result<Value> {
    Ok(http
        .post(format!("http://{addr}/api/recordings"))
        .json(&json!({"title": "bench"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

async fn join(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    room: &Value,
    name: &str,
) -> anyhow::Result<Value> {
    let id = room["roomId"].as_str().unwrap_or_default();
    Ok(http
        .post(format!("http://{addr}/api/recordings/{id}/join"))
        .json(&json!({"displayName": name, "inviteToken": room["inviteToken"]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

async fn connect(addr: std::net::SocketAddr, room: &Value, token: &Value) -> anyhow::Result<Ws> {
    let url = format!(
        "ws://{addr}/api/recordings/{}/ws?token={}",
        room.as_str().unwrap_or_default(),
        token.as_str().unwrap_or_default()
    );
    // Browsers disable Nagle on WebSockets; so does this client.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
    // The welcome frame: the socket is subscribed from here on.
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    Ok(ws)
}
