//! The live room: invites, joins, host controls, presence, clock sync and the
//! signaling relay across api nodes, against real NATS, Redis and Postgres.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{eventually, s, Api, Socket, TestEnv};
use zencast_eventlog::Origin;
use zencast_events::{RecordingCommand, RoomId};

async fn event_types(pool: &sqlx::PgPool, room: &str) -> Vec<String> {
    support::room_log(pool, room)
        .await
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

    let call = |sdp: &str| json!({"call": 1, "description": {"type": "offer", "sdp": sdp}});
    host.send(json!({"type": "offer", "to": guest_id, "payload": call("v=0 offer")}))
        .await;
    let offer = guest_ws.expect("offer").await;
    assert_eq!(
        (
            s(&offer["from"]),
            s(&offer["payload"]["description"]["sdp"])
        ),
        (host_id.as_str(), "v=0 offer")
    );
    guest_ws
        .send(json!({"type": "answer", "to": host_id, "payload": call("v=0 answer")}))
        .await;
    assert_eq!(
        s(&host.expect("answer").await["payload"]["description"]["sdp"]),
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
    ws.send(json!({"type": "offer", "to": "../../etc", "payload": {"call": 1, "description": {}}}))
        .await;
    assert_eq!(ws.expect("error").await["code"], "bad_message");
    // An offer must say which call it is: without it, it is not relayed.
    ws.send(
        json!({"type": "offer", "to": s(&room["hostParticipantId"]), "payload": {"sdp": "v=0"}}),
    )
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

/// A reply's body read as the client's type (`zencast_events::protocol`),
/// which refuses unknown fields: a field the server adds or renames without
/// the client fails here, not in a browser.
async fn typed<T: serde::de::DeserializeOwned>(r: reqwest::RequestBuilder, status: u16) -> T {
    let r = r.send().await.unwrap();
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "a reply the client cannot read as {} ({e}): {text}",
            std::any::type_name::<T>()
        )
    })
}

/// Every reply and every kind of socket frame the server sends reads as the
/// client's own types, and what the client sends is what the server reads.
#[tokio::test(flavor = "multi_thread")]
async fn every_frame_and_view_the_server_sends_reads_as_the_clients_types() {
    use zencast_events::protocol::frames::{Outgoing, Relayed};
    use zencast_events::protocol::*;
    use zencast_events::{Layout, Role};

    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let http = reqwest::Client::new();
    let url = |path: String| format!("http://{addr}{path}");

    let created: Created = typed(
        http.post(url("/api/recordings".into())).json(&CreateRoom {
            title: "Typed".into(),
            layout: Layout::SideBySide,
            chunk_seconds: 10,
            host_name: "Hannah".into(),
        }),
        201,
    )
    .await;
    let (room, host, host_token) = (
        created.room_id,
        created.host_participant_id,
        created.host_token.clone(),
    );
    let joined: Joined = typed(
        http.post(url(format!("/api/recordings/{room}/join")))
            .json(&JoinRequest {
                display_name: "Gus".into(),
                invite_token: Some(created.invite_token.clone()),
                participant_token: None,
            }),
        200,
    )
    .await;
    assert_eq!(joined.role, Role::Guest);
    let guest = joined.participant_id;

    // The socket frames, each read by `Socket` as a `ServerFrame` too.
    let read = |v: serde_json::Value| -> ServerFrame { serde_json::from_value(v).unwrap() };
    let mut host_ws = Socket::connect(addr, &room.to_string(), &host_token).await;
    let ServerFrame::Welcome { participant_id, .. } = read(host_ws.expect("welcome").await) else {
        unreachable!()
    };
    assert_eq!(participant_id, host);
    let mut guest_ws = Socket::connect(addr, &room.to_string(), &joined.participant_token).await;
    guest_ws.expect("welcome").await;
    assert_eq!(
        read(host_ws.expect("presence").await),
        ServerFrame::Presence {
            participant: guest,
            online: true
        }
    );
    let send = |frame: ClientFrame| serde_json::to_value(frame).unwrap();
    host_ws
        .send(send(ClientFrame::Ping { client_time: 7.5 }))
        .await;
    let ServerFrame::Pong { client_time, .. } = read(host_ws.expect("pong").await) else {
        unreachable!()
    };
    assert_eq!(client_time, 7.5);
    let call = Call {
        call: 3,
        description: json!({"type": "offer", "sdp": "v=0"}),
    };
    host_ws
        .send(send(ClientFrame::Offer(Outgoing {
            to: guest,
            payload: call.clone(),
        })))
        .await;
    assert_eq!(
        read(guest_ws.expect("offer").await),
        ServerFrame::Offer(Relayed {
            from: host,
            payload: call.clone()
        })
    );
    guest_ws
        .send(send(ClientFrame::Answer(Outgoing {
            to: host,
            payload: call.clone(),
        })))
        .await;
    assert_eq!(
        read(host_ws.expect("answer").await),
        ServerFrame::Answer(Relayed {
            from: guest,
            payload: call
        })
    );
    let candidate = json!({"candidate": "candidate:1 1 udp 1 10.0.0.1 9 typ host"});
    guest_ws
        .send(send(ClientFrame::Ice(Outgoing {
            to: host,
            payload: candidate.clone(),
        })))
        .await;
    assert_eq!(
        read(host_ws.expect("ice").await),
        ServerFrame::Ice(Relayed {
            from: guest,
            payload: candidate
        })
    );
    host_ws.send_text("{\"type\": \"shout\"}".into()).await;
    let ServerFrame::Error { code, .. } = read(host_ws.expect("error").await) else {
        unreachable!()
    };
    assert_eq!(code, "bad_message");

    // Start, one chunk each, stop: the replies, the events on the socket and the views.
    let control: Control = typed(
        http.post(url(format!("/api/recordings/{room}/start")))
            .bearer_auth(&host_token),
        200,
    )
    .await;
    assert_eq!(control.status, RoomStatus::Recording);
    let ServerFrame::Event { event } = read(
        host_ws
            .expect_where("event", |v| v["event"]["event_type"] == "RecordingStarted")
            .await,
    ) else {
        unreachable!()
    };
    assert_eq!(event.room_id, room);
    let dir = tempfile::tempdir().unwrap();
    let chunk = support::media::browser_like_webm(
        &dir.path().join("c.webm"),
        "testsrc2=size=320x240:rate=30:duration=2",
        "sine=frequency=440:sample_rate=48000:duration=2",
        "300k",
        30,
    );
    for (who, token) in [(host, &host_token), (guest, &joined.participant_token)] {
        let stored: ChunkStored = typed(
            http.put(url(format!(
                "/api/recordings/{room}/participants/{who}/chunks/0"
            )))
            .bearer_auth(token)
            .body(chunk.clone()),
            201,
        )
        .await;
        assert_eq!(stored.size, chunk.len() as u64);
        let list: StoredChunks = typed(
            http.get(url(format!(
                "/api/recordings/{room}/participants/{who}/chunks"
            )))
            .bearer_auth(token),
            200,
        )
        .await;
        assert_eq!((list.participant_id, list.chunks), (who, vec![stored]));
    }
    let view: RoomView = typed(
        http.get(url(format!("/api/recordings/{room}")))
            .bearer_auth(&host_token),
        200,
    )
    .await;
    assert_eq!(
        (view.status, view.layout, view.host_participant_id),
        (RoomStatus::Recording, Layout::SideBySide, host)
    );
    assert_eq!(view.participants.len(), 2);
    assert!(view.participants.iter().all(|p| p.chunks_stored == 1));
    let control: Control = typed(
        http.post(url(format!("/api/recordings/{room}/stop")))
            .bearer_auth(&host_token),
        200,
    )
    .await;
    assert_eq!(control.status, RoomStatus::Stopped);
    for (who, token) in [(host, &host_token), (guest, &joined.participant_token)] {
        let _: Completed = typed(
            http.post(url("/api/uploads/complete".into()))
                .bearer_auth(token)
                .json(&Complete {
                    room_id: room,
                    participant_id: who,
                    chunk_count: 1,
                }),
            200,
        )
        .await;
    }
    let view: RoomView = typed(
        http.get(url(format!("/api/recordings/{room}")))
            .bearer_auth(&host_token),
        200,
    )
    .await;
    assert_eq!(view.status, RoomStatus::Completed, "{view:?}");
    assert_eq!(view.render.status, Some(RenderStatus::Pending));
    let files: Files = typed(
        http.get(url(format!("/api/recordings/{room}/files")))
            .bearer_auth(&host_token),
        200,
    )
    .await;
    assert!(files.files.is_empty());
    let timeline: Timeline = typed(
        http.get(url(format!("/api/recordings/{room}/events")))
            .bearer_auth(&joined.participant_token),
        200,
    )
    .await;
    assert!(timeline
        .events
        .iter()
        .any(|e| e.event_type == "SessionCompleted"));
    let refused: ErrorBody = typed(
        http.post(url(format!("/api/recordings/{room}/render")))
            .bearer_auth(&joined.participant_token)
            .json(&RenderRequest::default()),
        403,
    )
    .await;
    assert_eq!(refused.error.code, "forbidden");
    let accepted: RenderAccepted = typed(
        http.post(url(format!("/api/recordings/{room}/render")))
            .bearer_auth(&host_token)
            .json(&RenderRequest {
                layout: Some(Layout::Speaker),
            }),
        202,
    )
    .await;
    assert_eq!(
        (accepted.status, accepted.layout),
        (RenderStatus::Requested, Layout::Speaker)
    );

    // A render's progress, as a worker publishes it.
    let b = &running.backends;
    let progress = zencast_render::progress::Progress {
        nats: b.nats.clone(),
        redis: b.redis.clone(),
        subjects: b.subjects.clone(),
        ttl: Duration::from_secs(5),
    };
    let beat = zencast_render::progress::Beat {
        attempt: 1,
        worker: "test".into(),
        stage: "encoding".into(),
        percent: 42.0,
    };
    progress.beat(room, &beat).await.unwrap();
    assert_eq!(
        read(host_ws.expect("progress").await),
        ServerFrame::Progress {
            room_id: room,
            attempt: 1,
            stage: "encoding".into(),
            percent: 42.0
        }
    );
    running.stop().await;
}

/// A client that stops reading its socket (a frozen tab) while frames for it
/// keep coming is closed once a frame has waited 10 s, instead of having them
/// held in the server's memory: it then counts as gone like any dropped socket.
#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_stops_reading_is_closed_not_buffered() {
    let env = TestEnv::new(); // grace period: 1 s
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let pool = running.backends.pool.clone();
    let room = api.create("Frozen tab").await;
    let room_id = s(&room["roomId"]).to_string();
    let guest = api.join(&room_id, "Guest", s(&room["inviteToken"])).await;
    let guest_id = s(&guest["participantId"]).to_string();
    // Connected, then never read again.
    let url = support::ws_url(addr, &room_id, s(&guest["participantToken"]));
    let (frozen, _) = tokio_tungstenite::connect_async(url).await.unwrap();

    // The host reads everything it is sent, as the web client does.
    let url = support::ws_url(addr, &room_id, s(&room["hostToken"]));
    let (host, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut host, mut host_reads) = futures::StreamExt::split(host);
    let host_got = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let host_got = host_got.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = futures::StreamExt::next(&mut host_reads).await {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(m.to_text().unwrap_or(""))
                {
                    host_got
                        .lock()
                        .unwrap()
                        .push(v["type"].as_str().unwrap_or("?").to_string());
                }
            }
        })
    };
    let sdp = "x".repeat(60 * 1024);
    let payload = json!({"call": 1, "description": {"type": "offer", "sdp": sdp}});
    let started = std::time::Instant::now();
    let mut sent = 0u64;
    let left = loop {
        let types = event_types(&pool, &room_id).await;
        if types.contains(&"ParticipantLeft".to_string()) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "the frozen socket was still held after {sent} frames of 60 KiB"
        );
        // 100 frames a second, half the socket's rate limit.
        for _ in 0..10 {
            let offer = json!({"type": "offer", "to": guest_id, "payload": payload});
            let text = tokio_tungstenite::tungstenite::Message::Text(offer.to_string().into());
            futures::SinkExt::send(&mut host, text)
                .await
                .expect("the host's socket");
            sent += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    reader.abort();
    let got = host_got.lock().unwrap().clone();
    eprintln!(
        "the frozen guest left {left:?} after the flood began ({sent} frames sent); the host got {} frames, errors: {}",
        got.len(),
        got.iter().filter(|t| *t == "error").count()
    );
    assert!(!got.iter().any(|t| t == "error"), "{got:?}");
    assert!(
        left >= Duration::from_secs(10),
        "closed before a frame waited 10 s"
    );
    drop(frozen);
    running.stop().await;
}

/// The host removes a guest in the middle of a recording: at once its socket
/// is told why and closed, and its token opens nothing any more (reads,
/// uploads, the socket, coming back). What it stored stays, and the stopped
/// session completes without waiting for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_removed_participant_is_shut_out_at_once_and_its_recording_stays() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let room = api.create("Removal").await;
    let (id, host) = (s(&room["roomId"]), s(&room["hostToken"]));
    let host_id = s(&room["hostParticipantId"]);
    let guest = api.join(id, "Gus", s(&room["inviteToken"])).await;
    let other = api.join(id, "Olga", s(&room["inviteToken"])).await;
    let (gid, gtoken) = (s(&guest["participantId"]), s(&guest["participantToken"]));
    let (oid, otoken) = (s(&other["participantId"]), s(&other["participantToken"]));
    let start = format!("/api/recordings/{id}/start");
    assert_eq!(api.post(&start, Some(host), json!({})).await.0, 200);

    let dir = tempfile::tempdir().unwrap();
    let chunk = support::media::browser_like_webm(
        &dir.path().join("c.webm"),
        "testsrc2=size=320x240:rate=30:duration=2",
        "sine=frequency=440:sample_rate=48000:duration=2",
        "300k",
        30,
    );
    let put = |who: &str, token: &str, index: u32| {
        api.http
            .put(format!(
                "{}/api/recordings/{id}/participants/{who}/chunks/{index}",
                api.base
            ))
            .bearer_auth(token.to_string())
            .body(chunk.clone())
            .send()
    };
    assert_eq!(put(gid, gtoken, 0).await.unwrap().status(), 201);
    let mut socket = Socket::connect(addr, id, gtoken).await;
    socket.expect("welcome").await;

    // Only the host removes, and not itself.
    let path = |who: &str| format!("/api/recordings/{id}/participants/{who}");
    let (status, v) = api.delete(&path(oid), gtoken).await;
    assert_eq!(status, 403, "a guest removing another: {v}");
    let (status, v) = api.delete(&path(host_id), host).await;
    assert_eq!(status, 400, "the host removing itself: {v}");
    let (status, v) = api.delete(&path(gid), host).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["sequence"].as_u64().unwrap() > 0, "{v}");
    let (status, again) = api.delete(&path(gid), host).await;
    assert_eq!((status, &again["sequence"]), (200, &json!(0)), "{again}");

    socket
        .expect_where("event", |v| {
            v["event"]["event_type"] == "ParticipantRemoved"
        })
        .await;
    let why = socket.expect("error").await;
    assert_eq!(why["code"], "removed", "{why}");
    assert!(
        socket.closed_by_server().await,
        "the removed guest's socket stays open"
    );

    // Every door is shut for the removed guest's token.
    let refused = |status: u16, v: &serde_json::Value, what: &str| {
        assert_eq!(
            (status, &v["error"]["code"]),
            (403, &json!("removed")),
            "{what}: {v}"
        );
    };
    for read in [
        "",
        "/events",
        "/files",
        &format!("/participants/{gid}/chunks"),
    ] {
        let (status, v) = api
            .get(&format!("/api/recordings/{id}{read}"), Some(gtoken))
            .await;
        refused(status, &v, read);
    }
    let r = put(gid, gtoken, 1).await.unwrap();
    let status = r.status().as_u16();
    refused(status, &r.json().await.unwrap(), "chunk 1");
    let (status, v) = api
        .post(
            "/api/uploads/complete",
            Some(gtoken),
            json!({"roomId": id, "participantId": gid, "chunkCount": 1}),
        )
        .await;
    refused(status, &v, "uploads complete");
    let (status, v) = api
        .post(
            &format!("/api/recordings/{id}/join"),
            None,
            json!({"displayName": "Gus", "participantToken": gtoken}),
        )
        .await;
    refused(status, &v, "coming back");
    match tokio_tungstenite::connect_async(support::ws_url(addr, id, gtoken)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("a removed guest's socket: {other:?}"),
    }

    // The others go on; the guest's chunk stays its recording.
    let (status, view) = api
        .get(&format!("/api/recordings/{id}"), Some(otoken))
        .await;
    assert_eq!(status, 200, "{view}");
    let gus = view["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["participantId"] == gid)
        .unwrap();
    assert_eq!(
        (
            &gus["removed"],
            &gus["present"],
            &gus["chunksStored"],
            &gus["chunksFinished"]
        ),
        (&json!(true), &json!(false), &json!(1), &json!(1)),
        "{gus}"
    );
    let stop = format!("/api/recordings/{id}/stop");
    assert_eq!(api.post(&stop, Some(host), json!({})).await.0, 200);
    for (who, token) in [(host_id, host), (oid, otoken)] {
        let (status, v) = api
            .post(
                "/api/uploads/complete",
                Some(token),
                json!({"roomId": id, "participantId": who, "chunkCount": 0}),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }
    // Completed by the others finishing (the grace period is 10 minutes).
    let log = support::room_log(&running.backends.pool, id).await;
    let completed = log
        .iter()
        .find(|e| e.event_type == "SessionCompleted")
        .expect("completed without waiting for the removed guest");
    assert_eq!(completed.payload["reason"], "all-finished");
    assert_eq!(completed.payload["expected_chunks"][gid], 1);
    let removed = log
        .iter()
        .find(|e| e.event_type == "ParticipantRemoved")
        .unwrap();
    assert_eq!(removed.actor, host_id);
    assert_eq!(removed.payload["participant"], gid);
    running.stop().await;
}

/// The host replaces the invite link (the old one stops working), limits how
/// many may join with it, and revokes it; those already in stay in.
#[tokio::test(flavor = "multi_thread")]
async fn an_invite_link_is_replaced_limited_and_revoked_by_the_host() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let api = Api::new(running.http_addr.unwrap());
    let room = api.create("Invites").await;
    let (id, host) = (s(&room["roomId"]), s(&room["hostToken"]));
    let first_link = s(&room["inviteToken"]);
    let first = api.join(id, "First", first_link).await;
    let join = |invite: String, name: &'static str| {
        let api = &api;
        async move {
            api.post(
                &format!("/api/recordings/{id}/join"),
                None,
                json!({"displayName": name, "inviteToken": invite}),
            )
            .await
        }
    };
    let invite_path = format!("/api/recordings/{id}/invite");

    let (status, v) = api
        .post(&invite_path, Some(s(&first["participantToken"])), json!({}))
        .await;
    assert_eq!(status, 403, "a guest renewing the link: {v}");
    let (status, v) = api
        .post(&invite_path, Some(host), json!({"maxJoins": 0}))
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, renewed) = api
        .post(&invite_path, Some(host), json!({"maxJoins": 1}))
        .await;
    assert_eq!(status, 201, "{renewed}");
    assert_eq!(
        (&renewed["generation"], &renewed["maxJoins"]),
        (&json!(1), &json!(1))
    );
    assert!(s(&renewed["inviteUrl"]).ends_with(s(&renewed["inviteToken"])));

    let (status, v) = join(first_link.into(), "Late with the old link").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (403, &json!("invite_revoked")),
        "{v}"
    );
    let new_link = s(&renewed["inviteToken"]).to_string();
    assert_eq!(join(new_link.clone(), "Second").await.0, 200);
    let (status, v) = join(new_link.clone(), "Third").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (409, &json!("invite_used_up")),
        "{v}"
    );

    let (status, v) = api.delete(&invite_path, host).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = join(new_link, "After the revoke").await;
    assert_eq!(
        (status, &v["error"]["code"]),
        (403, &json!("invite_revoked")),
        "{v}"
    );
    // Someone already in comes back with its own token, whatever the link.
    let (status, v) = api
        .post(
            &format!("/api/recordings/{id}/join"),
            None,
            json!({"displayName": "First", "participantToken": first["participantToken"]}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, view) = api.get(&format!("/api/recordings/{id}"), Some(host)).await;
    assert_eq!(
        view["invite"],
        json!({"generation": 1, "revoked": true, "maxJoins": 1})
    );

    let (status, open) = api.post(&invite_path, Some(host), json!({})).await;
    assert_eq!(status, 201, "{open}");
    assert_eq!(join(s(&open["inviteToken"]).into(), "Fourth").await.0, 200);
    let (_, view) = api.get(&format!("/api/recordings/{id}"), Some(host)).await;
    assert_eq!(
        view["invite"],
        json!({"generation": 2, "revoked": false, "maxJoins": null})
    );
    let types = event_types(&running.backends.pool, id).await;
    let invites: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| t.starts_with("Invite"))
        .collect();
    assert_eq!(invites, ["InviteIssued", "InviteRevoked", "InviteIssued"]);
    running.stop().await;
}

/// One participant holds at most 4 live sockets (tabs, devices, a reconnect
/// overlapping the socket it replaces); a fifth is refused with 429 and the
/// others go on. Closing one frees its place.
#[tokio::test(flavor = "multi_thread")]
async fn a_participant_holds_at_most_four_sockets() {
    let env = TestEnv::new();
    let running = env.start(support::NO_RENDER).await;
    let addr = running.http_addr.unwrap();
    let api = Api::new(addr);
    let room = api.create("Sockets").await;
    let (id, host) = (s(&room["roomId"]), s(&room["hostToken"]));
    let mut sockets = vec![];
    for _ in 0..4 {
        let mut socket = Socket::connect(addr, id, host).await;
        socket.expect("welcome").await;
        sockets.push(socket);
    }
    match tokio_tungstenite::connect_async(support::ws_url(addr, id, host)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 429);
            let body =
                String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).into_owned();
            assert!(body.contains("too_many_sockets"), "{body}");
        }
        other => panic!("a fifth socket: {other:?}"),
    }
    // The four still work.
    for socket in &mut sockets {
        socket
            .send(json!({"type": "ping", "clientTime": 1.0}))
            .await;
        socket.expect("pong").await;
    }
    sockets.pop().unwrap().close().await;
    eventually(Duration::from_secs(5), "a place free again", || async {
        let (ws, _) = tokio_tungstenite::connect_async(support::ws_url(addr, id, host))
            .await
            .ok()?;
        Some(ws)
    })
    .await;
    running.stop().await;
}
