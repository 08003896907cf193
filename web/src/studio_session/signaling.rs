//! The peer connections of a session: who calls whom, and the offer, answer and
//! ICE frames relayed through the room socket.
//!
//! An offer carries its call number (`{"call", "description"}`) and the answer
//! echoes it. The caller may call twice in quick succession (the `welcome` and a
//! `presence` can both name the same newcomer); each call replaces the
//! connection, and an answer to the replaced one must not be applied to the
//! new one, or the new connection waits forever on the old one's credentials.

use serde_json::{json, Value};

use super::Session;
use crate::peers::{we_offer, Peer, PeerEvent};

impl Session {
    /// A signaling frame: `welcome` and `presence` (who is online), or a peer's
    /// `offer`, `answer` or `ice`.
    pub(super) async fn on_signal(&mut self, frame: Value) {
        let from = frame["from"].as_str().unwrap_or_default().to_string();
        match frame["type"].as_str().unwrap_or_default() {
            "welcome" => {
                self.online = frame["online"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .filter(|id| *id != self.creds.participant_id)
                    .collect();
                let online: Vec<String> = self.online.iter().cloned().collect();
                for peer in online {
                    if we_offer(&self.creds.participant_id, &peer) {
                        self.call(&peer).await;
                    }
                }
            }
            "presence" => {
                let peer = frame["participant"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if frame["online"].as_bool() == Some(true) {
                    self.online.insert(peer.clone());
                    if we_offer(&self.creds.participant_id, &peer) {
                        self.call(&peer).await;
                    }
                } else {
                    self.online.remove(&peer);
                    if let Some(p) = self.peers.remove(&peer) {
                        p.close();
                    }
                }
                self.refresh_room().await;
            }
            "offer" => {
                let Some(mut peer) = self.new_peer(&from) else {
                    return;
                };
                let call = frame["payload"]["call"].clone();
                match peer.answer(&frame["payload"]["description"]).await {
                    Ok(answer) => self.signal(
                        "answer",
                        &from,
                        json!({"call": call, "description": answer}),
                    ),
                    Err(_) => return,
                }
                self.online.insert(from.clone());
                self.peers.insert(from, peer);
            }
            "answer" => {
                let call = frame["payload"]["call"].as_u64();
                if let Some(peer) = self
                    .peers
                    .get_mut(&from)
                    .filter(|p| call == Some(u64::from(p.generation)))
                {
                    let _ = peer.accept_answer(&frame["payload"]["description"]).await;
                }
            }
            "ice" => {
                if let Some(peer) = self.peers.get_mut(&from) {
                    let _ = peer.add_candidate(&frame["payload"]).await;
                }
            }
            _ => {}
        }
    }

    /// A fresh connection to `peer`, replacing any earlier one.
    pub(super) fn new_peer(&mut self, peer: &str) -> Option<Peer> {
        if let Some(old) = self.peers.remove(peer) {
            old.close();
        }
        let local = self.local.as_ref()?;
        self.peer_generation += 1;
        Peer::new(peer, self.peer_generation, local, self.peer_events.clone()).ok()
    }

    pub(super) async fn call(&mut self, peer: &str) {
        let Some(p) = self.new_peer(peer) else { return };
        if let Ok(offer) = p.offer().await {
            let call = json!({"call": p.generation, "description": offer});
            self.signal("offer", peer, call);
        }
        self.peers.insert(peer.to_string(), p);
    }

    pub(super) fn signal(&self, kind: &str, to: &str, payload: Value) {
        if let Some(socket) = &self.socket {
            socket.send(&json!({"type": kind, "to": to, "payload": payload}));
        }
    }

    pub(super) fn on_peer(&mut self, peer_id: String, generation: u32, event: PeerEvent) {
        let Some(peer) = self
            .peers
            .get_mut(&peer_id)
            .filter(|p| p.generation == generation)
        else {
            return;
        };
        match event {
            PeerEvent::Ice(candidate) => {
                let frame = json!({"type": "ice", "to": peer_id, "payload": candidate});
                if let Some(socket) = &self.socket {
                    socket.send(&frame);
                }
            }
            PeerEvent::Track(stream) => peer.stream = Some(stream),
            PeerEvent::State(state) => peer.state = state,
        }
    }
}
