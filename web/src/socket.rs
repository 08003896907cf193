//! The room WebSocket: the protocol's frames in and out
//! (`zencast_events::protocol::frames`), and the clock sync that puts the
//! recording start in server time.

use std::pin::Pin;

use futures::channel::mpsc::{self, UnboundedSender};
use futures::future::{self, Either};
use futures::{Sink, SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, State};
use wasm_bindgen::JsValue;
use zencast_events::protocol::{ClientFrame, ServerFrame};
use zencast_events::RoomId;

use std::cell::Cell;
use std::rc::Rc;

use crate::browser::{now_ms, window};

pub enum SocketEvent {
    Open,
    Frame(ServerFrame),
    /// Time for another clock-sync ping (the first few after opening).
    PingDue,
    Closed,
}

/// What the page asks of its socket.
enum Outgoing {
    Frame(String),
    /// A clock-sync ping, stamped as it leaves.
    Ping,
    Close,
}

/// The room socket: frames go out through it; what arrives (and the socket's
/// opening and end) is reported on the events channel given to `connect`.
/// Dropping it closes the socket without a `Closed` event, as `close` does.
pub struct Socket {
    out: UnboundedSender<Outgoing>,
}

impl Socket {
    /// Connects to the room's socket; what happens to it arrives on `events`,
    /// each event tagged with `generation` so a replaced socket's late events can be told apart.
    /// Pongs also go straight to `clock`.
    pub fn connect(
        room: RoomId,
        token: &str,
        generation: u32,
        events: UnboundedSender<(u32, SocketEvent)>,
        clock: ClockSync,
    ) -> Result<Self, JsValue> {
        let location = window().location();
        let scheme = if location.protocol()? == "https:" {
            "wss"
        } else {
            "ws"
        };
        let url = format!(
            "{scheme}://{}/api/recordings/{room}/ws?token={token}",
            location.host()?
        );
        let ws = WebSocket::open(&url).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let (out, outgoing) = mpsc::unbounded();
        wasm_bindgen_futures::spawn_local(pump(ws, outgoing, clock, move |event| {
            let _ = events.unbounded_send((generation, event));
        }));
        Ok(Self { out })
    }

    pub fn send(&self, frame: &ClientFrame) {
        let _ = self.out.unbounded_send(Outgoing::Frame(frame.to_text()));
    }

    pub fn ping(&self) {
        let _ = self.out.unbounded_send(Outgoing::Ping);
    }

    pub fn close(&self) {
        let _ = self.out.unbounded_send(Outgoing::Close);
    }
}

/// Runs one socket: reports its opening, every frame and its end, and sends
/// what the page asks, until the page closes it (then no `Closed`).
///
/// The clock sync's times are taken here, as a ping leaves and as its pong
/// arrives, not where the page asks or reads: a page busy with its session
/// (uploads, a reload's recovery) would add its own delays to the round
/// trip, and to one side of it, which moves the offset.
async fn pump(
    mut ws: WebSocket,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    clock: ClockSync,
    report: impl Fn(SocketEvent),
) {
    // The sink is ready once the socket left "connecting": open, or failed.
    let ready = future::poll_fn(|cx| Pin::new(&mut ws).poll_ready(cx)).await;
    if ready.is_err() || !matches!(ws.state(), State::Open) {
        report(SocketEvent::Closed);
        return;
    }
    report(SocketEvent::Open);
    loop {
        // Whichever comes first; the other future only borrowed its side.
        let next = match future::select(ws.next(), outgoing.next()).await {
            Either::Left((message, _)) => Either::Left(message),
            Either::Right((asked, _)) => Either::Right(asked),
        };
        match next {
            // A frame this client does not know is ignored, as the protocol
            // lets a newer server add frames.
            Either::Left(Some(Ok(Message::Text(text)))) => {
                let arrived = now_ms();
                if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                    if let ServerFrame::Pong {
                        client_time,
                        server_time,
                    } = frame
                    {
                        clock.on_pong(client_time, server_time, arrived);
                    }
                    report(SocketEvent::Frame(frame));
                }
            }
            // Binary frames are not part of the protocol; errors and the
            // close event come just before the stream's end.
            Either::Left(Some(_)) => {}
            Either::Left(None) => {
                report(SocketEvent::Closed);
                return;
            }
            Either::Right(Some(Outgoing::Frame(text))) => {
                let _ = ws.send(Message::Text(text)).await;
            }
            Either::Right(Some(Outgoing::Ping)) => {
                let ping = ClientFrame::Ping {
                    client_time: now_ms(),
                };
                let _ = ws.send(Message::Text(ping.to_text())).await;
            }
            Either::Right(Some(Outgoing::Close) | None) => {
                let _ = ws.close(None, None);
                return;
            }
        }
    }
}

/// Server time minus local time, from the ping with the shortest round trip:
/// offset = serverTime − (t0 + t3) / 2. Shared (cheap clones) by the session
/// and its recorders, which read the best offset so far when they need it:
/// pings go on all session long, and a page busy just after joining makes
/// its first round trips long and their offsets tens of milliseconds off.
#[derive(Debug, Default, Clone)]
pub struct ClockSync {
    best: Rc<Cell<Option<(f64, f64)>>>, // (round trip, offset)
}

impl ClockSync {
    /// A `pong`: `t0` is the ping's `clientTime`, `server` the server's
    /// time, `t3` when it arrived.
    pub fn on_pong(&self, t0: f64, server: f64, t3: f64) {
        let round_trip = t3 - t0;
        if self.best.get().is_none_or(|(best, _)| round_trip < best) {
            self.best.set(Some((round_trip, server - (t0 + t3) / 2.0)));
        }
    }

    pub fn offset_ms(&self) -> f64 {
        self.best.get().map_or(0.0, |(_, offset)| offset)
    }
}
