//! Live video between participants: one RTCPeerConnection per other participant
//! (a mesh), negotiated through the room's signaling relay.
//!
//! Of two participants, the one with the smaller id makes the offer, so two
//! offers never cross. A participant that (re)appears gets a fresh connection:
//! the offerer replaces its connection and offers again, the answerer replaces
//! its connection when a new offer arrives.

use futures::channel::mpsc::UnboundedSender;
use serde_json::Value;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcIceCandidateInit, RtcPeerConnection,
    RtcPeerConnectionIceEvent, RtcRtpSender, RtcSessionDescriptionInit, RtcTrackEvent,
};
use zencast_events::ParticipantId;

pub enum PeerEvent {
    /// A local ICE candidate to send to the peer.
    Ice(Value),
    Track(MediaStream),
    State(String),
}

/// `(peer id, connection generation, event)`: events of a replaced connection are ignored.
pub type PeerEvents = UnboundedSender<(ParticipantId, u32, PeerEvent)>;

pub struct Peer {
    pub pc: RtcPeerConnection,
    pub generation: u32,
    pub stream: Option<MediaStream>,
    pub state: String,
    remote_described: bool,
    early_candidates: Vec<Value>,
    _callbacks: Vec<Closure<dyn FnMut(JsValue)>>,
}

/// Whether we make the offer to `peer`.
pub fn we_offer(me: ParticipantId, peer: ParticipantId) -> bool {
    me < peer
}

fn to_json(v: &JsValue) -> Value {
    js_sys::JSON::stringify(v)
        .ok()
        .and_then(|s| s.as_string())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn from_json<T: JsCast>(v: &Value) -> Result<T, JsValue> {
    Ok(js_sys::JSON::parse(&v.to_string())?.unchecked_into())
}

impl Peer {
    pub fn new(
        peer: ParticipantId,
        generation: u32,
        local: &MediaStream,
        events: PeerEvents,
    ) -> Result<Self, JsValue> {
        let pc = RtcPeerConnection::new()?;
        for track in local.get_tracks().iter() {
            pc.add_track_0(&track.unchecked_into::<MediaStreamTrack>(), local);
        }
        let (id, tx) = (peer, events.clone());
        let on_ice = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            if let Some(c) = e.unchecked_into::<RtcPeerConnectionIceEvent>().candidate() {
                let _ = tx.unbounded_send((id, generation, PeerEvent::Ice(to_json(&c.to_json()))));
            }
        });
        let (id, tx) = (peer, events.clone());
        let on_track = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
            let streams = e.unchecked_into::<RtcTrackEvent>().streams();
            if let Ok(stream) = streams.get(0).dyn_into::<MediaStream>() {
                let _ = tx.unbounded_send((id, generation, PeerEvent::Track(stream)));
            }
        });
        let (id, tx, watched) = (peer, events, pc.clone());
        let on_state = Closure::<dyn FnMut(JsValue)>::new(move |_| {
            let state = to_json(&watched.connection_state().into())
                .as_str()
                .unwrap_or("new")
                .to_string();
            let _ = tx.unbounded_send((id, generation, PeerEvent::State(state)));
        });
        pc.set_onicecandidate(Some(on_ice.as_ref().unchecked_ref()));
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(on_state.as_ref().unchecked_ref()));
        Ok(Self {
            pc,
            generation,
            stream: None,
            state: "new".into(),
            remote_described: false,
            early_candidates: vec![],
            _callbacks: vec![on_ice, on_track, on_state],
        })
    }

    /// Our offer, already set as the local description.
    pub async fn offer(&self) -> Result<Value, JsValue> {
        let offer = JsFuture::from(self.pc.create_offer()).await?;
        JsFuture::from(self.pc.set_local_description(offer.unchecked_ref())).await?;
        Ok(to_json(&offer))
    }

    /// Takes the peer's offer and returns our answer.
    pub async fn answer(&mut self, offer: &Value) -> Result<Value, JsValue> {
        self.describe_remote(offer).await?;
        let answer = JsFuture::from(self.pc.create_answer()).await?;
        JsFuture::from(self.pc.set_local_description(answer.unchecked_ref())).await?;
        Ok(to_json(&answer))
    }

    pub async fn accept_answer(&mut self, answer: &Value) -> Result<(), JsValue> {
        self.describe_remote(answer).await
    }

    /// A peer's ICE candidate; kept until the remote description is set.
    pub async fn add_candidate(&mut self, candidate: &Value) -> Result<(), JsValue> {
        if !self.remote_described {
            self.early_candidates.push(candidate.clone());
            return Ok(());
        }
        let init: RtcIceCandidateInit = from_json(candidate)?;
        JsFuture::from(
            self.pc
                .add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)),
        )
        .await?;
        Ok(())
    }

    async fn describe_remote(&mut self, description: &Value) -> Result<(), JsValue> {
        let init: RtcSessionDescriptionInit = from_json(description)?;
        JsFuture::from(self.pc.set_remote_description(&init)).await?;
        self.remote_described = true;
        for candidate in std::mem::take(&mut self.early_candidates) {
            self.add_candidate(&candidate).await?;
        }
        Ok(())
    }

    /// Sends `stream`'s tracks in place of the ones sent now (a device
    /// change): no renegotiation, the peer sees the new camera or hears the
    /// new microphone at once.
    pub async fn replace_tracks(&self, stream: &MediaStream) {
        let tracks: Vec<MediaStreamTrack> = stream
            .get_tracks()
            .iter()
            .map(|t| t.unchecked_into::<MediaStreamTrack>())
            .collect();
        for sender in self.pc.get_senders().iter() {
            let sender: RtcRtpSender = sender.unchecked_into();
            let Some(kind) = sender.track().map(|t| t.kind()) else {
                continue;
            };
            if let Some(track) = tracks.iter().find(|t| t.kind() == kind) {
                let _ = JsFuture::from(sender.replace_track(Some(track))).await;
            }
        }
    }

    pub fn close(&self) {
        self.pc.set_onicecandidate(None);
        self.pc.set_ontrack(None);
        self.pc.set_onconnectionstatechange(None);
        self.pc.close();
    }
}
