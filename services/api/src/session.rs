//! One participant's WebSocket: presence, live room events, clock sync and the
//! signaling relay over core NATS.
//!
//! Each socket subscribes to `zencast.signal.{room}.{me}` (messages for it),
//! `zencast.signal.{room}.broadcast` (presence) and `zencast.events.{room}.*`
//! (the room's events, as the relay publishes them). A message from the client
//! is published on the recipient's subject, so it reaches the recipient
//! whichever api node holds its socket.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use uuid::Uuid;
use zencast_eventlog::{CommandError, Origin};
use zencast_events::protocol::frames::Relayed;
use zencast_events::protocol::{ClientFrame, ServerFrame};
use zencast_events::{
    Envelope, ParticipantId, RecordingCommand, RecordingError, RoomId, SYSTEM_ACTOR,
};

use crate::auth::Caller;
use crate::error::REMOVED;
use crate::frames;
use crate::presence;
use crate::state::AppState;

/// Whatever ended a socket (the peer, Redis, NATS, the log), for the debug log.
type SocketResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// How long one frame may wait to reach a client. A client that stops
/// reading (a frozen tab, a stalled network) would otherwise hold the frames
/// meant for it in the server's memory for as long as it stays connected: it
/// is closed instead, and reconnects as after any drop.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one frame, or gives up on a client that has not read for `SEND_TIMEOUT`.
async fn send<S>(tx: &mut S, text: String) -> SocketResult
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(Message::Text(text.into()))).await {
        Ok(sent) => Ok(sent?),
        Err(_) => {
            tracing::warn!("closing a socket whose client read nothing for {SEND_TIMEOUT:?}");
            Err("the client stopped reading".into())
        }
    }
}

/// A socket's message limit: `rate` per second, in bursts of up to twice that
/// (a token bucket, governor's GCRA).
type RateLimit = DefaultDirectRateLimiter;

fn rate_limit(rate: u32) -> RateLimit {
    let rate = NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN);
    let burst = rate.saturating_mul(NonZeroU32::new(2).expect("2 is not 0"));
    RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
}

pub async fn run(app: AppState, caller: Caller, socket: WebSocket) {
    let (room, me) = (caller.room, caller.participant);
    let socket_id = Uuid::new_v4();
    if let Err(e) = serve(&app, room, me, socket_id, socket).await {
        tracing::debug!(%room, participant = %me, error = %e, "socket ended");
    }
    let _ = presence::release(&app.redis, app.prefix(), room, me, socket_id).await;
    // Gone for good only if no socket of this participant comes back in time.
    let grace = app.settings.presence_grace;
    tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        if presence::is_connected(&app.redis, app.prefix(), room, me)
            .await
            .unwrap_or(true)
        {
            return;
        }
        let _ = app
            .nats
            .publish(
                app.subjects.signal_broadcast(room),
                frames::presence(me, false).into(),
            )
            .await;
        let leave = RecordingCommand::Leave {
            participant: me,
            reason: "disconnected".into(),
        };
        match app
            .log
            .execute(room, leave, &Origin::now(SYSTEM_ACTOR))
            .await
        {
            Ok(_) | Err(CommandError::Rejected(RecordingError::SessionCompleted)) => {}
            Err(e) => {
                tracing::warn!(%room, participant = %me, error = %e, "could not record the leave")
            }
        }
    });
}

async fn serve(
    app: &AppState,
    room: RoomId,
    me: ParticipantId,
    socket_id: Uuid,
    socket: WebSocket,
) -> SocketResult {
    presence::hold(&app.redis, app.prefix(), room, me, socket_id).await?;
    rejoin_if_left(app, room, me).await?;

    let mut direct = app.nats.subscribe(app.subjects.signal_to(room, me)).await?;
    let mut broadcast = app
        .nats
        .subscribe(app.subjects.signal_broadcast(room))
        .await?;
    let mut events = app
        .nats
        .subscribe(app.subjects.event_filter(Some(room), None))
        .await?;
    // The render worker publishes ready-made `progress` frames.
    let mut progress = app.nats.subscribe(app.subjects.progress(room)).await?;
    app.nats
        .publish(
            app.subjects.signal_broadcast(room),
            frames::presence(me, true).into(),
        )
        .await?;

    let (mut tx, mut rx) = socket.split();
    let online = online(app, room).await;
    let welcome = ServerFrame::Welcome {
        room_id: room,
        participant_id: me,
        server_time: frames::server_time(),
        online,
    };
    send(&mut tx, welcome.to_text()).await?;

    let limit = rate_limit(app.settings.ws_rate_per_sec);
    let mut refresh = tokio::time::interval(presence::REFRESH);
    loop {
        let out: Option<String> = tokio::select! {
            incoming = rx.next() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(Message::Text(text))) => handle(app, room, me, &limit, text.as_str()).await,
                Some(Ok(Message::Binary(_))) => Some(frames::error("bad_message", "binary frames are not used")),
                Some(Ok(_)) => None,
            },
            Some(m) = direct.next() => Some(String::from_utf8_lossy(&m.payload).into_owned()),
            Some(m) = broadcast.next() => {
                let text = String::from_utf8_lossy(&m.payload).into_owned();
                // Our own presence is not news to us.
                (!text.contains(&me.to_string())).then_some(text)
            }
            Some(m) = events.next() => {
                let text = String::from_utf8_lossy(&m.payload);
                if removes(&text, me) {
                    // Told why, then closed: a removal takes effect at once.
                    send(&mut tx, ServerFrame::event_text(&text)).await?;
                    let why = frames::error(REMOVED, "the host removed you from this session");
                    send(&mut tx, why).await?;
                    return Ok(());
                }
                Some(ServerFrame::event_text(&text))
            }
            Some(m) = progress.next() => Some(String::from_utf8_lossy(&m.payload).into_owned()),
            _ = refresh.tick() => {
                presence::hold(&app.redis, app.prefix(), room, me, socket_id).await?;
                None
            }
        };
        if let Some(text) = out {
            send(&mut tx, text).await?;
        }
    }
}

/// Whether a published event is the removal of `me`.
fn removes(text: &str, me: ParticipantId) -> bool {
    serde_json::from_str::<Envelope>(text).is_ok_and(|e| {
        e.event_type == "ParticipantRemoved"
            && e.payload["participant"].as_str() == Some(&me.to_string())
    })
}

/// Handles one client message; returns the reply, if any.
async fn handle(
    app: &AppState,
    room: RoomId,
    me: ParticipantId,
    limit: &RateLimit,
    text: &str,
) -> Option<String> {
    if text.len() > app.settings.ws_max_message {
        return Some(frames::error(
            "too_large",
            &format!(
                "messages are limited to {} bytes",
                app.settings.ws_max_message
            ),
        ));
    }
    if limit.check().is_err() {
        return Some(frames::error(
            "rate_limited",
            &format!(
                "more than {} messages per second",
                app.settings.ws_rate_per_sec
            ),
        ));
    }
    let frame: ClientFrame = match serde_json::from_str(text) {
        Ok(f) => f,
        Err(e) => return Some(frames::error("bad_message", &e.to_string())),
    };
    // The same signal, now saying who it is from.
    let (to, out) = match frame {
        ClientFrame::Ping { client_time } => return Some(frames::pong(client_time)),
        ClientFrame::Offer(s) => (s.to, ServerFrame::Offer(relayed(me, s.payload))),
        ClientFrame::Answer(s) => (s.to, ServerFrame::Answer(relayed(me, s.payload))),
        ClientFrame::Ice(s) => (s.to, ServerFrame::Ice(relayed(me, s.payload))),
    };
    match app
        .nats
        .publish(app.subjects.signal_to(room, to), out.to_text().into())
        .await
    {
        Ok(()) => None,
        Err(e) => Some(frames::error("relay_unavailable", &e.to_string())),
    }
}

fn relayed<P>(from: ParticipantId, payload: P) -> Relayed<P> {
    Relayed { from, payload }
}

/// A participant who left (its grace period ran out) and connects again is
/// back in the room: the same participant, joined again.
async fn rejoin_if_left(app: &AppState, room: RoomId, me: ParticipantId) -> SocketResult {
    let Some(state) = app.log.load(room).await? else {
        return Ok(());
    };
    if let Some(p) = state.participants.get(&me).filter(|p| !p.present) {
        let join = RecordingCommand::Join {
            participant: me,
            display_name: p.display_name.clone(),
            role: p.role,
            invite: None,
        };
        match app
            .log
            .execute(room, join, &Origin::now(me.to_string()))
            .await
        {
            Ok(_) | Err(CommandError::Rejected(RecordingError::SessionCompleted)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Participants with a live socket now.
async fn online(app: &AppState, room: RoomId) -> Vec<ParticipantId> {
    let Ok(Some(state)) = app.log.load(room).await else {
        return vec![];
    };
    let mut out = vec![];
    for id in state.participants.keys() {
        if presence::is_connected(&app.redis, app.prefix(), room, *id)
            .await
            .unwrap_or(false)
        {
            out.push(*id);
        }
    }
    out
}
