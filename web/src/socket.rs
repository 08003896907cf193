//! The room WebSocket: the protocol's frames in and out
//! (`zencast_events::protocol::frames`), and the clock sync that puts the
//! recording start in server time.

use futures::channel::mpsc::UnboundedSender;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MessageEvent, WebSocket};
use zencast_events::protocol::{ClientFrame, ServerFrame};
use zencast_events::RoomId;

use crate::browser::{now_ms, window};

pub enum SocketEvent {
    Open,
    Frame(ServerFrame),
    /// Time for another clock-sync ping (the first few after opening).
    PingDue,
    Closed,
}

pub struct Socket {
    ws: WebSocket,
    _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

impl Socket {
    /// Connects to the room's socket; what happens to it arrives on `events`,
    /// each event tagged with `generation` so a replaced socket's late events can be told apart.
    pub fn connect(
        room: RoomId,
        token: &str,
        generation: u32,
        events: UnboundedSender<(u32, SocketEvent)>,
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
        let ws = WebSocket::new(&url)?;
        let tx = events.clone();
        let on_open = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let _ = tx.unbounded_send((generation, SocketEvent::Open));
        });
        let tx = events.clone();
        let on_message = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let text = e
                .unchecked_into::<MessageEvent>()
                .data()
                .as_string()
                .unwrap_or_default();
            // A frame this client does not know is ignored, as the protocol
            // lets a newer server add frames.
            if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                let _ = tx.unbounded_send((generation, SocketEvent::Frame(frame)));
            }
        });
        let tx = events;
        let on_close = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let _ = tx.unbounded_send((generation, SocketEvent::Closed));
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self {
            ws,
            _callbacks: vec![on_open, on_message, on_close],
        })
    }

    pub fn send(&self, frame: &ClientFrame) {
        let _ = self.ws.send_with_str(&frame.to_text());
    }

    pub fn ping(&self) {
        self.send(&ClientFrame::Ping {
            client_time: now_ms(),
        });
    }

    pub fn close(&self) {
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

/// Server time minus local time, from the ping with the shortest round trip:
/// offset = serverTime − (t0 + t3) / 2.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClockSync {
    best: Option<(f64, f64)>, // (round trip, offset)
}

impl ClockSync {
    /// A `pong`: `t0` is the ping's `clientTime`, `server` the server's time.
    pub fn on_pong(&mut self, t0: f64, server: f64) {
        let t3 = now_ms();
        let round_trip = t3 - t0;
        if self.best.is_none_or(|(best, _)| round_trip < best) {
            self.best = Some((round_trip, server - (t0 + t3) / 2.0));
        }
    }

    pub fn offset_ms(&self) -> f64 {
        self.best.map_or(0.0, |(_, offset)| offset)
    }

    pub fn to_server(&self, local_ms: f64) -> f64 {
        local_ms + self.offset_ms()
    }
}
