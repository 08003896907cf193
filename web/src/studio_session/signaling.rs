//! The peer connections of a session: who calls whom, and the offer, answer and
//! ICE frames relayed through the room socket.
//!
//! An offer carries its call number ([`Call`]) and the answer echoes it. The
//! caller may call twice in quick succession (the `welcome` and a `presence`
//! can both name the same newcomer); each call replaces the connection, and an
//! answer to the replaced one must not be applied to the new one, or the new
//! connection waits forever on the old one's credentials.

use serde_json::Value;
use zencast_events::protocol::frames::Outgoing;
use zencast_events::protocol::{Call, ClientFrame};
use zencast_events::ParticipantId;

use super::Session;
use crate::peers::{we_offer, Peer, PeerEvent};

impl Session {
    /// Who is online as the socket opens: call those we offer to.
    pub(super) async fn on_welcome(&mut self, online: Vec<ParticipantId>) {
        let me = self.creds.participant_id;
        self.online = online.into_iter().filter(|id| *id != me).collect();
        let online: Vec<ParticipantId> = self.online.iter().copied().collect();
        for peer in online {
            if we_offer(me, peer) {
                self.call(peer).await;
            }
        }
    }

    /// A participant's sockets came or went.
    pub(super) async fn on_presence(&mut self, peer: ParticipantId, online: bool) {
        if online {
            self.online.insert(peer);
            if we_offer(self.creds.participant_id, peer) {
                self.call(peer).await;
            }
        } else {
            self.online.remove(&peer);
            if let Some(p) = self.peers.remove(&peer) {
                p.close();
            }
        }
        self.refresh_room().await;
    }

    pub(super) async fn on_offer(&mut self, from: ParticipantId, offer: Call) {
        let Some(mut peer) = self.new_peer(from) else {
            return;
        };
        let Ok(answer) = peer.answer(&offer.description).await else {
            return;
        };
        self.send(ClientFrame::Answer(Outgoing {
            to: from,
            payload: Call {
                call: offer.call,
                description: answer,
            },
        }));
        self.online.insert(from);
        self.peers.insert(from, peer);
    }

    pub(super) async fn on_answer(&mut self, from: ParticipantId, answer: Call) {
        if let Some(peer) = self
            .peers
            .get_mut(&from)
            .filter(|p| answer.call == u64::from(p.generation))
        {
            let _ = peer.accept_answer(&answer.description).await;
        }
    }

    pub(super) async fn on_ice(&mut self, from: ParticipantId, candidate: Value) {
        if let Some(peer) = self.peers.get_mut(&from) {
            let _ = peer.add_candidate(&candidate).await;
        }
    }

    /// A fresh connection to `peer`, replacing any earlier one.
    pub(super) fn new_peer(&mut self, peer: ParticipantId) -> Option<Peer> {
        if let Some(old) = self.peers.remove(&peer) {
            old.close();
        }
        let local = self.local.as_ref()?;
        self.peer_generation += 1;
        Peer::new(peer, self.peer_generation, local, self.peer_events.clone()).ok()
    }

    pub(super) async fn call(&mut self, peer: ParticipantId) {
        let Some(p) = self.new_peer(peer) else { return };
        if let Ok(offer) = p.offer().await {
            self.send(ClientFrame::Offer(Outgoing {
                to: peer,
                payload: Call {
                    call: u64::from(p.generation),
                    description: offer,
                },
            }));
        }
        self.peers.insert(peer, p);
    }

    fn send(&self, frame: ClientFrame) {
        if let Some(socket) = &self.socket {
            socket.send(&frame);
        }
    }

    pub(super) fn on_peer(&mut self, peer_id: ParticipantId, generation: u32, event: PeerEvent) {
        let Some(peer) = self
            .peers
            .get_mut(&peer_id)
            .filter(|p| p.generation == generation)
        else {
            return;
        };
        match event {
            PeerEvent::Ice(candidate) => self.send(ClientFrame::Ice(Outgoing {
                to: peer_id,
                payload: candidate,
            })),
            PeerEvent::Track(stream) => peer.stream = Some(stream),
            PeerEvent::State(state) => peer.state = state,
        }
    }
}
