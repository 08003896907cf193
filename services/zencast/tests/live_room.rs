//! The live room: invites, joins, host controls, presence, clock sync and the
//! signaling relay across api nodes, against real NATS, Redis and Postgres.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{eventually, s, Api, Socket, TestEnv};
use zencast_events::{RecordingCommand, RoomId};
use zencast_nats::log::room_events;
use zencast_nats::Origin;

async fn event_types(pool: &sqlx::PgPool, room: &str) -> Vec<String> {
    room_events(pool, RoomId::parse(room).unwrap(), 0, None)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

/// Two participants on two api processes exchange offer, answer and ICE, see
/// each other's presence, and both see the host start recording.
#[tokio::test(flavor = "multi_thread")]
async fn two_participants_on_two_api_nodes_signal_each_other() {
    let env = TestEnv::new();
    let node_a = env.spawn_up(&[]);
    let s3 = format!("http://{}", node_a.s3.unwrap());
    let node_b = env.spawn("api", &[("ZENCAST_S3_ENDPOINT", &s3)]);
    let (a, b) = (Api::new(node_a.addr), Api::new(node_b.addr));

    let room = a.create("Two nodes").await;
    let (room_id, host_token) = (
        s(&room["roomId"]).to_string(),
        s(&room["hostToken"]).to_string(),
    );
    assert!(s(&room["inviteUrl"]).contains(&format!("/join/{room_id}?invite=")));
    let guest = b.join(&room_id, "Grace", s(&room["inviteToken"])).await;
    let guest_id = s(&guest["participantId"]).to_string();
    let host_id = s(&room["hostParticipantId"]).to_string();

    let mut host = Socket::connect(node_a.addr, &room_id, &host_token).await;
    host.expect("welcome").await;
    let mut guest_ws = Socket::connect(node_b.addr, &room_id, s(&guest["participantToken"])).await;
    let welcome = guest_ws.expect("welcome").await;
    assert!(
        welcome["online"]
            .as_array()
            .unwrap()
            .contains(&json!(host_id)),
        "{welcome}"
    );
    let seen = host.expect("presence").await;
    assert_eq!(
        (s(&seen["participant"]), seen["online"].as_bool()),
        (guest_id.as_str(), Some(true))
    );

    host.send(json!({"type": "offer", "to": guest_id, "payload": {"sdp": "v=0 offer"}}))
        .await;
    let offer = guest_ws.expect("offer").await;
    assert_eq!(
        (s(&offer["from"]), s(&offer["payload"]["sdp"])),
        (host_id.as_str(), "v=0 offer")
    );
    guest_ws
        .send(json!({"type": "answer", "to": host_id, "payload": {"sdp": "v=0 answer"}}))
        .await;
    assert_eq!(
        s(&host.expect("answer").await["payload"]["sdp"]),
        "v=0 answer"
    );
    guest_ws
        .send(json!({"type": "ice", "to": host_id, "payload": {"candidate": "c1"}}))
        .await;
    host.send(json!({"type": "ice", "to": guest_id, "payload": {"candidate": "c2"}}))
        .await;
    assert_eq!(s(&host.expect("ice").await["payload"]["candidate"]), "c1");
    assert_eq!(
        s(&guest_ws.expect("ice").await["payload"]["candidate"]),
        "c2"
    );

    // Host controls through the other node; both sockets see the event.
    let (status, started) = b
        .post(
            &format!("/api/recordings/{room_id}/start"),
            Some(&host_token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    for ws in [&mut host, &mut guest_ws] {
        let e = ws
            .expect_where("event", |v| v["event"]["event_type"] == "RecordingStarted")
            .await;
        assert_eq!(e["event"]["payload"]["at"], started["at"]);
    }
    let (status, _) = a
        .post(
            &format!("/api/recordings/{room_id}/stop"),
            Some(&host_token),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    guest_ws
        .expect_where("event", |v| v["event"]["event_type"] == "RecordingStopped")
        .await;
}

/// Forged and foreign tokens, a guest at the controls, a full room and a join
/// after completion are refused, and append nothing.
#[tokio::test(flavor = "multi_thread")]
async fn refused_requests_append_no_event() {
    let mut env = TestEnv::new();
    env.config.max_participants = 3;
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let pool = running.backends.pool.clone();

    let room = api.create("Guarded").await;
    let other = api.create("Other room").await;
    let room_id = s(&room["roomId"]).to_string();
    let invite = s(&room["inviteToken"]).to_string();
    let guest = api.join(&room_id, "Guest", &invite).await;
    let guest_token = s(&guest["participantToken"]).to_string();
    let before = event_types(&pool, &room_id).await;
    let join = format!("/api/recordings/{room_id}/join");

    let (body, sig) = invite.split_once('.').unwrap();
    let forged = format!("{}.{}", body, sig.chars().rev().collect::<String>());
    let cases = [
        (
            "forged invite",
            api.post(
                &join,
                None,
                json!({"displayName": "Eve", "inviteToken": forged}),
            )
            .await,
            401,
        ),
        (
            "another room's invite",
            api.post(
                &join,
                None,
                json!({"displayName": "Eve", "inviteToken": s(&other["inviteToken"])}),
            )
            .await,
            403,
        ),
        (
            "another room's participant token",
            api.post(
                &join,
                None,
                json!({"displayName": "Eve", "participantToken": s(&other["hostToken"])}),
            )
            .await,
            403,
        ),
        (
            "no token",
            api.post(&join, None, json!({"displayName": "Eve"})).await,
            401,
        ),
        (
            "guest starts",
            api.post(
                &format!("/api/recordings/{room_id}/start"),
                Some(&guest_token),
                json!({}),
            )
            .await,
            403,
        ),
        (
            "another room's host starts",
            api.post(
                &format!("/api/recordings/{room_id}/start"),
                Some(s(&other["hostToken"])),
                json!({}),
            )
            .await,
            403,
        ),
        (
            "invite used as a bearer",
            api.post(
                &format!("/api/recordings/{room_id}/start"),
                Some(&invite),
                json!({}),
            )
            .await,
            401,
        ),
        (
            "no bearer",
            api.post(&format!("/api/recordings/{room_id}/start"), None, json!({}))
                .await,
            401,
        ),
    ];
    for (what, (status, body), want) in cases {
        assert_eq!(status, want, "{what}: {body}");
        assert!(
            body["error"]["message"].as_str().is_some(),
            "{what}: {body}"
        );
    }
    // A socket with a foreign token is refused before the upgrade.
    let ws = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/api/recordings/{room_id}/ws?token={}",
        s(&other["hostToken"])
    ))
    .await;
    assert!(ws.is_err());

    // The room holds 3: host, guest, one more; the fourth is refused.
    api.join(&room_id, "Third", &invite).await;
    let (status, full) = api
        .post(
            &join,
            None,
            json!({"displayName": "Fourth", "inviteToken": invite}),
        )
        .await;
    assert_eq!((status, s(&full["error"]["code"])), (409, "room_full"));
    let with_third = event_types(&pool, &room_id).await;
    assert_eq!(with_third.len(), before.len() + 1);
    assert_eq!(&with_third[..before.len()], &before[..]);

    // Complete the session, then try to join.
    let rid = RoomId::parse(&room_id).unwrap();
    let host = zencast_events::ParticipantId::parse(s(&room["hostParticipantId"])).unwrap();
    let o = Origin::now("test");
    let log = &running.log;
    log.execute(
        rid,
        RecordingCommand::Leave {
            participant: zencast_events::ParticipantId::parse(s(&guest["participantId"])).unwrap(),
            reason: "bye".into(),
        },
        &o,
    )
    .await
    .unwrap();
    log.execute(
        rid,
        RecordingCommand::StartRecording { by: host, at: o.at },
        &o,
    )
    .await
    .unwrap();
    log.execute(
        rid,
        RecordingCommand::StopRecording { by: host, at: o.at },
        &o,
    )
    .await
    .unwrap();
    log.execute(rid, RecordingCommand::ExpireGracePeriod, &o)
        .await
        .unwrap();
    let completed = event_types(&pool, &room_id).await;
    assert_eq!(completed.last().unwrap(), "SessionCompleted");
    let (status, late) = api
        .post(
            &join,
            None,
            json!({"displayName": "Late", "inviteToken": invite}),
        )
        .await;
    assert_eq!(
        (status, s(&late["error"]["code"])),
        (409, "session_completed")
    );
    assert_eq!(event_types(&pool, &room_id).await, completed);
    running.stop().await;
}

/// A socket that drops and comes back within the grace period is no leave;
/// one that stays away is, and coming back later is a re-join.
#[tokio::test(flavor = "multi_thread")]
async fn a_quick_reconnect_is_not_a_leave_but_staying_away_is() {
    let env = TestEnv::new(); // grace period: 1 s
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let pool = running.backends.pool.clone();
    let room = api.create("Flaky network").await;
    let room_id = s(&room["roomId"]).to_string();
    let guest = api.join(&room_id, "Guest", s(&room["inviteToken"])).await;
    let token = s(&guest["participantToken"]).to_string();
    let guest_id = s(&guest["participantId"]).to_string();

    let ws = Socket::connect(addr, &room_id, &token).await;
    ws.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut back = Socket::connect(addr, &room_id, &token).await;
    back.expect("welcome").await;
    tokio::time::sleep(Duration::from_millis(1800)).await;
    assert!(!event_types(&pool, &room_id)
        .await
        .contains(&"ParticipantLeft".to_string()));

    back.close().await;
    eventually(Duration::from_secs(5), "ParticipantLeft", || {
        let pool = pool.clone();
        let room_id = room_id.clone();
        async move {
            event_types(&pool, &room_id)
                .await
                .contains(&"ParticipantLeft".to_string())
                .then_some(())
        }
    })
    .await;
    let key = format!("{}:room:{room_id}:participants", env.tag);
    let mut conn = running.backends.redis.clone();
    eventually(
        Duration::from_secs(5),
        "guest gone from the Redis participants set",
        || {
            let (key, guest_id) = (key.clone(), guest_id.clone());
            let mut conn = conn.clone();
            async move {
                let members: Vec<String> = redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                (!members.contains(&guest_id)).then_some(())
            }
        },
    )
    .await;

    let mut again = Socket::connect(addr, &room_id, &token).await;
    again.expect("welcome").await;
    let types = event_types(&pool, &room_id).await;
    assert_eq!(
        types.iter().filter(|t| *t == "ParticipantJoined").count(),
        3,
        "host, guest, guest again: {types:?}"
    );
    let members: Vec<String> = redis::cmd("SMEMBERS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _ = members;
    running.stop().await;
}

/// A client whose clock is 7.3 s off computes its offset to server time within
/// 5 ms, from ping/pong over the socket.
#[tokio::test(flavor = "multi_thread")]
async fn clock_sync_finds_the_offset_within_five_ms() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let room = api.create("Clocks").await;
    let mut ws = Socket::connect(addr, s(&room["roomId"]), s(&room["hostToken"])).await;
    ws.expect("welcome").await;

    let skew_ms = 7_300.0;
    let client_now = || chrono::Utc::now().timestamp_micros() as f64 / 1000.0 + skew_ms;
    let mut best: Option<(f64, f64)> = None; // (round trip, offset)
    for _ in 0..10 {
        let t0 = client_now();
        ws.send(json!({"type": "ping", "clientTime": t0})).await;
        let pong = ws.expect("pong").await;
        let t3 = client_now();
        assert_eq!(pong["clientTime"].as_f64().unwrap(), t0);
        let offset = pong["serverTime"].as_f64().unwrap() - (t0 + t3) / 2.0;
        if best.is_none_or(|(rtt, _)| t3 - t0 < rtt) {
            best = Some((t3 - t0, offset));
        }
    }
    let (rtt, offset) = best.unwrap();
    let error = (offset - (-skew_ms)).abs();
    eprintln!("clock sync: best round trip {rtt:.3} ms, offset error {error:.3} ms");
    assert!(error < 5.0, "offset {offset} ms, truth {} ms", -skew_ms);
    running.stop().await;
}

/// Malformed, oversized and too-fast messages get error frames; the socket and
/// the room carry on.
#[tokio::test(flavor = "multi_thread")]
async fn bad_messages_get_error_frames_and_the_socket_survives() {
    let env = TestEnv::new(); // 200 messages/s, bursts of 400
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let room = api.create("Noisy").await;
    let mut ws = Socket::connect(addr, s(&room["roomId"]), s(&room["hostToken"])).await;
    ws.expect("welcome").await;

    ws.send_text("{not json".into()).await;
    assert_eq!(ws.expect("error").await["code"], "bad_message");
    ws.send(json!({"type": "offer", "to": "../../etc", "payload": {}}))
        .await;
    assert_eq!(ws.expect("error").await["code"], "bad_message");
    ws.send(json!({"type": "offer", "to": s(&room["hostParticipantId"]), "payload": "x".repeat(70 * 1024)})).await;
    assert_eq!(ws.expect("error").await["code"], "too_large");
    for i in 0..600 {
        ws.send(json!({"type": "ping", "clientTime": i})).await;
    }
    assert_eq!(ws.expect("error").await["code"], "rate_limited");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ws.send(json!({"type": "ping", "clientTime": 1.5})).await;
    ws.expect_where("pong", |v| v["clientTime"] == 1.5).await;
    running.stop().await;
}
