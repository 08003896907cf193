//! One room's live session in this browser, as an actor: the room socket (with
//! reconnects and clock sync), the peer connections, the recorder and the
//! numbering of its chunks. It runs as a task that outlives page changes, so
//! the finish page sees uploads go on; pages read its [`StudioView`] and send
//! it [`Command`]s.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use dioxus::core::spawn_forever;
use dioxus::prelude::*;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::stream::{select_all, LocalBoxStream};
use futures::StreamExt;
use serde_json::{json, Value};
use web_sys::MediaStream;

use crate::api::{self, RoomView};
use crate::browser::{now_ms, sleep};
use crate::chunk_store::{self, PendingChunk};
use crate::credentials::Credentials;
use crate::media;
use crate::peers::{we_offer, Peer, PeerEvent};
use crate::recorder::{Recorder, RecorderEvent};
use crate::socket::{ClockSync, Socket, SocketEvent};
use crate::uploader::{self, UploadProgress, UploadQueue};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Connection {
    #[default]
    Connecting,
    Online,
    /// Lost; trying again.
    Reconnecting,
    /// Nothing more to connect to (the session is over, or we are not in it).
    Closed,
}

/// One participant as the studio shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub participant_id: String,
    pub name: String,
    pub is_me: bool,
    pub online: bool,
    /// The WebRTC connection state (`new`, `connecting`, `connected`, …); "local" for our own tile.
    pub peer_state: String,
    pub stream: Option<MediaStream>,
    pub chunks_stored: u32,
    pub chunks_recorded: u32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct StudioView {
    pub creds: Option<Credentials>,
    pub connection: Connection,
    pub room: Option<RoomView>,
    pub tiles: Vec<Tile>,
    pub local_stream: Option<MediaStream>,
    pub mic_on: bool,
    pub camera_on: bool,
    /// Our recorder is running.
    pub recording: bool,
    /// When the room's recording started, in server time.
    pub recording_started_ms: Option<f64>,
    /// The host stopped the recording (seen by this page or before it).
    pub stopped: bool,
    /// Server time minus local time.
    pub clock_offset_ms: f64,
    /// Chunks our recorders have produced (the next index).
    pub chunks_recorded: u32,
    /// Plain words on what is wrong, if anything.
    pub problem: Option<String>,
}

pub enum Command {
    StartRecording,
    StopRecording,
    ToggleMicrophone,
    ToggleCamera,
}

/// What a page holds of a running session.
#[derive(Clone, Copy)]
pub struct SessionHandle {
    pub view: Signal<StudioView>,
    pub uploads: Signal<UploadProgress>,
    commands: CopyValue<UnboundedSender<Command>>,
}

impl SessionHandle {
    pub fn send(&self, command: Command) {
        let _ = self.commands.read().unbounded_send(command);
    }
}

thread_local! {
    static SESSIONS: RefCell<HashMap<String, SessionHandle>> = RefCell::new(HashMap::new());
}

/// The session of `room`, started on first use; it lives as long as the page.
pub fn session(room: &str) -> SessionHandle {
    if let Some(handle) = SESSIONS.with(|s| s.borrow().get(room).copied()) {
        return handle;
    }
    let (tx, rx) = unbounded();
    let handle = SessionHandle {
        view: Signal::new_in_scope(StudioView::default(), ScopeId::ROOT),
        uploads: Signal::new_in_scope(UploadProgress::default(), ScopeId::ROOT),
        commands: CopyValue::new_in_scope(tx, ScopeId::ROOT),
    };
    SESSIONS.with(|s| s.borrow_mut().insert(room.to_string(), handle));
    spawn_forever(run(room.to_string(), handle, rx));
    handle
}

enum Input {
    Socket(u32, SocketEvent),
    Peer(String, u32, PeerEvent),
    Recorder(RecorderEvent),
    Command(Command),
    Tick,
}

struct Session {
    creds: Credentials,
    view: Signal<StudioView>,
    uploads: Signal<UploadProgress>,
    queue: UploadQueue,
    room: Option<RoomView>,
    clock: ClockSync,
    synced: bool,
    socket: Option<Socket>,
    socket_generation: u32,
    socket_events: UnboundedSender<(u32, SocketEvent)>,
    reconnect_at: f64,
    reconnect_delay: f64,
    online: HashSet<String>,
    peers: HashMap<String, Peer>,
    peer_generation: u32,
    peer_events: UnboundedSender<(String, u32, PeerEvent)>,
    local: Option<MediaStream>,
    recorder: Option<Recorder>,
    recorder_events: UnboundedSender<RecorderEvent>,
    segment_start_ms: Option<f64>,
    next_index: Option<u32>,
    /// The host stopped the recording: no recorder starts again in this page.
    stopped: bool,
    ticks: u32,
}

async fn run(
    room: String,
    handle: SessionHandle,
    commands: futures::channel::mpsc::UnboundedReceiver<Command>,
) {
    let mut view = handle.view;
    let Some(creds) = Credentials::load(&room) else {
        let mut v = view.write();
        v.connection = Connection::Closed;
        v.problem =
            Some("This browser has not joined this session. Open the invite link to join.".into());
        return;
    };
    view.write().creds = Some(creds.clone());
    let queue = uploader::start(creds.clone(), handle.uploads);

    let (socket_tx, socket_rx) = unbounded();
    let (peer_tx, peer_rx) = unbounded();
    let (recorder_tx, recorder_rx) = unbounded();
    let (tick_tx, tick_rx) = unbounded::<()>();
    spawn_forever(async move {
        while tick_tx.unbounded_send(()).is_ok() {
            sleep(1_000).await;
        }
    });
    let inputs: Vec<LocalBoxStream<'static, Input>> = vec![
        socket_rx.map(|(g, e)| Input::Socket(g, e)).boxed_local(),
        peer_rx.map(|(p, g, e)| Input::Peer(p, g, e)).boxed_local(),
        recorder_rx.map(Input::Recorder).boxed_local(),
        commands.map(Input::Command).boxed_local(),
        tick_rx.map(|_| Input::Tick).boxed_local(),
    ];
    let mut inputs = select_all(inputs);

    let mut s = Session {
        creds,
        view,
        uploads: handle.uploads,
        queue,
        room: None,
        clock: ClockSync::default(),
        synced: false,
        socket: None,
        socket_generation: 0,
        socket_events: socket_tx,
        reconnect_at: 0.0,
        reconnect_delay: 1_000.0,
        online: HashSet::new(),
        peers: HashMap::new(),
        peer_generation: 0,
        peer_events: peer_tx,
        local: None,
        recorder: None,
        recorder_events: recorder_tx,
        segment_start_ms: None,
        next_index: None,
        stopped: false,
        ticks: 0,
    };
    s.begin().await;
    while let Some(input) = inputs.next().await {
        match input {
            Input::Socket(g, e) if g == s.socket_generation => s.on_socket(e).await,
            Input::Socket(..) => {}
            Input::Peer(peer, g, e) => s.on_peer(peer, g, e),
            Input::Recorder(e) => s.on_recorder(e).await,
            Input::Command(c) => s.on_command(c).await,
            Input::Tick => s.on_tick().await,
        }
        s.publish();
    }
}

impl Session {
    async fn begin(&mut self) {
        // The room first: a finished session needs no camera and no socket.
        loop {
            match api::room(&self.creds.room_id).await {
                Ok(room) => {
                    self.room = Some(room);
                    break;
                }
                Err(e) if e.is_transient() => {
                    self.view.write().problem = Some(e.plain());
                    sleep(1_000).await;
                }
                Err(e) => {
                    let mut v = self.view.write();
                    v.problem = Some(e.plain());
                    v.connection = Connection::Closed;
                    return;
                }
            }
        }
        self.view.write().problem = None;
        if self.session_over() {
            self.stopped = true;
            self.queue.recording_over.set(true);
            self.queue.wake();
            self.view.write().connection = Connection::Closed;
            self.publish();
            return;
        }
        match media::open(
            self.creds.camera_id.as_deref(),
            self.creds.microphone_id.as_deref(),
        )
        .await
        {
            Ok(stream) => self.local = Some(stream),
            Err(e) => self.view.write().problem = Some(media::plain_media_error(&e)),
        }
        {
            let mut v = self.view.write();
            v.mic_on = true;
            v.camera_on = true;
        }
        self.connect();
        self.publish();
    }

    fn session_over(&self) -> bool {
        self.room
            .as_ref()
            .is_some_and(|r| r.status == "stopped" || r.status == "completed")
    }

    fn connect(&mut self) {
        self.socket_generation += 1;
        self.synced = false;
        match Socket::connect(
            &self.creds.room_id,
            &self.creds.token,
            self.socket_generation,
            self.socket_events.clone(),
        ) {
            Ok(socket) => self.socket = Some(socket),
            Err(_) => self.socket_lost(),
        }
    }

    fn socket_lost(&mut self) {
        if let Some(socket) = self.socket.take() {
            socket.close();
        }
        self.view.write().connection = Connection::Reconnecting;
        self.reconnect_at = now_ms() + self.reconnect_delay;
        self.reconnect_delay = (self.reconnect_delay * 2.0).min(5_000.0);
    }

    async fn on_socket(&mut self, event: SocketEvent) {
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
                        let _ = tx.unbounded_send((
                            generation,
                            SocketEvent::Frame(json!({"type": "_ping"})),
                        ));
                    });
                }
                self.refresh_room().await;
            }
            SocketEvent::Closed => self.socket_lost(),
            SocketEvent::Frame(frame) => self.on_frame(frame).await,
        }
    }

    async fn on_frame(&mut self, frame: Value) {
        let from = frame["from"].as_str().unwrap_or_default().to_string();
        match frame["type"].as_str().unwrap_or_default() {
            "_ping" => {
                if let Some(socket) = &self.socket {
                    socket.ping();
                }
            }
            "pong" => {
                self.clock.on_pong(&frame);
                self.synced = true;
                self.view.write().clock_offset_ms = self.clock.offset_ms();
                self.reconcile().await;
            }
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
                match peer.answer(&frame["payload"]).await {
                    Ok(answer) => self.signal("answer", &from, answer),
                    Err(_) => return,
                }
                self.online.insert(from.clone());
                self.peers.insert(from, peer);
            }
            "answer" => {
                if let Some(peer) = self.peers.get_mut(&from) {
                    let _ = peer.accept_answer(&frame["payload"]).await;
                }
            }
            "ice" => {
                if let Some(peer) = self.peers.get_mut(&from) {
                    let _ = peer.add_candidate(&frame["payload"]).await;
                }
            }
            "event" => {
                match frame["event"]["event_type"].as_str().unwrap_or_default() {
                    "RecordingStarted" => {
                        if let Some(room) = &mut self.room {
                            room.status = "recording".into();
                            room.recording_started_at =
                                frame["event"]["occurred_at"].as_str().map(str::to_string);
                        }
                        self.reconcile().await;
                    }
                    "RecordingStopped" => self.recording_stopped(),
                    _ => {}
                }
                self.refresh_room().await;
            }
            _ => {}
        }
    }

    /// A fresh connection to `peer`, replacing any earlier one.
    fn new_peer(&mut self, peer: &str) -> Option<Peer> {
        if let Some(old) = self.peers.remove(peer) {
            old.close();
        }
        let local = self.local.as_ref()?;
        self.peer_generation += 1;
        Peer::new(peer, self.peer_generation, local, self.peer_events.clone()).ok()
    }

    async fn call(&mut self, peer: &str) {
        let Some(p) = self.new_peer(peer) else { return };
        if let Ok(offer) = p.offer().await {
            self.signal("offer", peer, offer);
        }
        self.peers.insert(peer.to_string(), p);
    }

    fn signal(&self, kind: &str, to: &str, payload: Value) {
        if let Some(socket) = &self.socket {
            socket.send(&json!({"type": kind, "to": to, "payload": payload}));
        }
    }

    fn on_peer(&mut self, peer_id: String, generation: u32, event: PeerEvent) {
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

    /// Brings the recorder in line with the room: recording while the room
    /// records (a new segment after a reload), stopped once the host stopped.
    async fn reconcile(&mut self) {
        let room_recording = self.room.as_ref().is_some_and(|r| r.status == "recording");
        if self.session_over() && !self.stopped {
            self.recording_stopped();
        }
        if room_recording && !self.stopped && self.recorder.is_none() && self.synced {
            self.start_recorder().await;
        }
    }

    async fn start_recorder(&mut self) {
        let Some(local) = self.local.clone() else {
            return;
        };
        if self.next_index.is_none() {
            // After a reload, carry on numbering after everything stored or waiting.
            let (room, me, token) = (
                &self.creds.room_id,
                &self.creds.participant_id,
                &self.creds.token,
            );
            let Ok(stored) = api::stored_chunks(room, me, token).await else {
                return;
            };
            let waiting = chunk_store::pending(room, me).await.unwrap_or_default();
            let highest = stored
                .into_iter()
                .chain(waiting.iter().map(|c| c.index))
                .max();
            self.next_index = Some(highest.map_or(0, |h| h + 1));
        }
        let chunk_ms = self.room.as_ref().map_or(10, |r| r.chunk_seconds.max(1)) * 1_000;
        match Recorder::start(&local, chunk_ms, self.recorder_events.clone()) {
            Ok(recorder) => {
                self.recorder = Some(recorder);
                self.view.write().recording = true;
            }
            Err(_) => {
                self.view.write().problem =
                    Some("This browser cannot record video (MediaRecorder failed to start).".into())
            }
        }
    }

    fn recording_stopped(&mut self) {
        self.stopped = true;
        if let Some(room) = &mut self.room {
            if room.status == "recording" {
                room.status = "stopped".into();
            }
        }
        match &self.recorder {
            Some(recorder) => recorder.stop(),
            // Nothing to wait for: whatever is stored or waiting is all there is.
            None => {
                self.queue.recording_over.set(true);
                self.queue.wake();
            }
        }
        self.view.write().stopped = true;
    }

    async fn on_recorder(&mut self, event: RecorderEvent) {
        match event {
            RecorderEvent::Started { local_ms } => {
                self.segment_start_ms = Some(self.clock.to_server(local_ms))
            }
            RecorderEvent::Chunk(blob) => {
                let index = self.next_index.unwrap_or(0);
                self.next_index = Some(index + 1);
                let start = self
                    .segment_start_ms
                    .unwrap_or_else(|| self.clock.to_server(now_ms()));
                let chunk = PendingChunk {
                    index,
                    recording_start_ms: start,
                    blob,
                };
                if chunk_store::put(&self.creds.room_id, &self.creds.participant_id, &chunk)
                    .await
                    .is_err()
                {
                    self.view.write().problem =
                        Some("This browser refused to keep the recording (storage full?).".into());
                } else {
                    self.uploads.write().pending += 1;
                }
                self.queue.wake();
            }
            RecorderEvent::Stopped => {
                self.recorder = None;
                self.view.write().recording = false;
                if self.stopped {
                    self.queue.recording_over.set(true);
                }
                self.queue.wake();
            }
        }
    }

    async fn on_command(&mut self, command: Command) {
        let (room, token) = (self.creds.room_id.clone(), self.creds.token.clone());
        match command {
            Command::StartRecording => {
                if let Err(e) = api::start_recording(&room, &token).await {
                    self.view.write().problem = Some(e.plain());
                }
            }
            Command::StopRecording => {
                if let Err(e) = api::stop_recording(&room, &token).await {
                    self.view.write().problem = Some(e.plain());
                }
            }
            Command::ToggleMicrophone | Command::ToggleCamera => {
                let audio = matches!(command, Command::ToggleMicrophone);
                let on = {
                    let mut v = self.view.write();
                    let flag = if audio {
                        &mut v.mic_on
                    } else {
                        &mut v.camera_on
                    };
                    *flag = !*flag;
                    *flag
                };
                if let Some(local) = &self.local {
                    media::set_enabled(local, if audio { "audio" } else { "video" }, on);
                }
            }
        }
    }

    async fn on_tick(&mut self) {
        self.ticks += 1;
        let closed = self.view.peek().connection == Connection::Closed;
        if self.socket.is_none()
            && !closed
            && !self.stopped
            && self.reconnect_at > 0.0
            && now_ms() >= self.reconnect_at
        {
            // Before reconnecting, see whether there is still a session to reconnect to.
            self.refresh_room().await;
            if self.session_over() {
                self.view.write().connection = Connection::Closed;
            } else {
                self.connect();
            }
        }
        // The upload panel: every 2 s while live, every second while waiting for the render.
        if self.stopped || self.ticks % 2 == 0 {
            self.refresh_room().await;
        }
    }

    async fn refresh_room(&mut self) {
        if let Ok(room) = api::room(&self.creds.room_id).await {
            let known_stop = self.stopped;
            self.room = Some(room);
            if known_stop {
                // Redis may lag behind the event we already saw.
                if let Some(r) = &mut self.room {
                    if r.status == "recording" {
                        r.status = "stopped".into();
                    }
                }
            }
            self.reconcile().await;
        }
    }

    /// Copies the actor's state into the view the pages draw.
    fn publish(&mut self) {
        let me = self.creds.participant_id.clone();
        let room = self.room.clone();
        let started = room
            .as_ref()
            .and_then(|r| r.recording_started_at.as_deref())
            .map(js_sys::Date::parse)
            .filter(|t| t.is_finite());
        let stopped_at = room
            .as_ref()
            .and_then(|r| r.recording_stopped_at.as_deref())
            .map(js_sys::Date::parse)
            .filter(|t| t.is_finite());
        let chunk_ms = room
            .as_ref()
            .map_or(10_000.0, |r| r.chunk_seconds.max(1) as f64 * 1_000.0);
        // Other people's recorders are not visible here: estimate from the room's clock.
        let server_now = now_ms() + self.clock.offset_ms();
        let expected = started.map_or(0, |s| {
            ((stopped_at.unwrap_or(server_now) - s) / chunk_ms)
                .floor()
                .max(0.0) as u32
        });
        let tiles = room
            .as_ref()
            .map(|r| {
                r.participants
                    .iter()
                    .filter(|p| {
                        p.participant_id == me
                            || p.present
                            || self.online.contains(&p.participant_id)
                    })
                    .map(|p| {
                        let is_me = p.participant_id == me;
                        let peer = self.peers.get(&p.participant_id);
                        Tile {
                            participant_id: p.participant_id.clone(),
                            name: p.display_name.clone(),
                            is_me,
                            online: is_me || self.online.contains(&p.participant_id),
                            peer_state: if is_me {
                                "local".into()
                            } else {
                                peer.map_or("new".into(), |p| p.state.clone())
                            },
                            stream: if is_me {
                                self.local.clone()
                            } else {
                                peer.and_then(|p| p.stream.clone())
                            },
                            chunks_stored: p.chunks_stored,
                            chunks_recorded: if is_me {
                                self.next_index.unwrap_or(0).max(p.chunks_stored)
                            } else {
                                p.chunks_finished.unwrap_or(expected.max(p.chunks_stored))
                            },
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut v = self.view.write();
        v.room = room;
        v.tiles = tiles;
        v.local_stream = self.local.clone();
        v.recording_started_ms = started;
        v.stopped = self.stopped;
        v.chunks_recorded = self.next_index.unwrap_or(0);
    }
}
