//! The room socket of a session: connecting and reconnecting, the clock-sync
//! pings, and every frame the server sends, handed to the part it concerns.

use dioxus::core::spawn_forever;
use dioxus::prelude::*;
use zencast_events::protocol::{RoomStatus, ServerFrame};

use super::{Connection, Session};
use crate::api;
use crate::browser::{now_ms, sleep};
use crate::socket::{Socket, SocketEvent};

impl Session {
    pub(super) fn connect(&mut self) {
        self.socket_generation += 1;
        self.synced = false;
        match Socket::connect(
            self.creds.room_id,
            &self.creds.token,
            self.socket_generation,
            self.socket_events.clone(),
            self.clock.clone(),
        ) {
            Ok(socket) => self.socket = Some(socket),
            Err(_) => self.socket_lost(),
        }
    }

    pub(super) fn socket_lost(&mut self) {
        if let Some(socket) = self.socket.take() {
            socket.close();
        }
        if self.removed {
            // Closed for good: there is nothing to reconnect to.
            return;
        }
        self.view.write().connection = Connection::Reconnecting;
        self.reconnect_at = now_ms() + self.reconnect_delay;
        self.reconnect_delay = (self.reconnect_delay * 2.0).min(5_000.0);
    }

    pub(super) async fn on_socket(&mut self, event: SocketEvent) {
        match event {
            SocketEvent::Open => {
                self.reconnect_delay = 1_000.0;
                self.view.write().connection = Connection::Online;
                // A few pings: the one with the shortest round trip sets the clock offset.
                if let Some(socket) = &self.socket {
                    socket.ping();
                }
                for delay in [150, 300, 450, 600] {
                    let generation = self.socket_generation;
                    let tx = self.socket_events.clone();
                    spawn_forever(async move {
                        sleep(delay).await;
                        let _ = tx.unbounded_send((generation, SocketEvent::PingDue));
                    });
                }
                self.refresh_room().await;
            }
            SocketEvent::Closed => self.socket_lost(),
            SocketEvent::Frame(frame) => self.on_frame(frame).await,
            SocketEvent::PingDue => {
                if let Some(socket) = &self.socket {
                    socket.ping();
                }
            }
        }
    }

    async fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            // The socket's pump has given it to the clock sync.
            ServerFrame::Pong { .. } => {
                self.synced = true;
                self.view.write().clock_offset_ms = self.clock.offset_ms();
                self.reconcile().await;
            }
            ServerFrame::Welcome { online, .. } => self.on_welcome(online).await,
            ServerFrame::Presence {
                participant,
                online,
            } => self.on_presence(participant, online).await,
            ServerFrame::Offer(offer) => self.on_offer(offer.from, offer.payload).await,
            ServerFrame::Answer(answer) => self.on_answer(answer.from, answer.payload).await,
            ServerFrame::Ice(ice) => self.on_ice(ice.from, ice.payload).await,
            ServerFrame::Event { event } => {
                match event.event_type.as_str() {
                    "RecordingStarted" => {
                        if let Some(room) = &mut self.room {
                            room.status = RoomStatus::Recording;
                            room.recording_started_at = Some(event.occurred_at.to_rfc3339());
                        }
                        self.reconcile().await;
                    }
                    "RecordingStopped" => self.recording_stopped(),
                    _ => {}
                }
                self.refresh_room().await;
            }
            ServerFrame::Error { code, .. } if code == api::REMOVED => self.on_removed(),
            // The room view carries the render's progress too (refreshed every second).
            ServerFrame::Progress { .. } | ServerFrame::Error { .. } => {}
        }
    }
}
