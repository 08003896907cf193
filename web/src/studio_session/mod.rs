//! One room's live session in this browser, as an actor: the room socket (with
//! reconnects and clock sync), the peer connections, the recorder and the
//! numbering of its chunks. It runs as a task that outlives page changes, so
//! the finish page sees uploads go on; pages read its [`StudioView`] and send
//! it [`Command`]s.
//!
//! - this module: the handle, the actor's state and its loop, commands and the room view;
//! - [`room_socket`]: the socket, its reconnects and clock sync, and the frames it brings;
//! - [`signaling`]: the peer connections, negotiated over the socket;
//! - [`recording`]: the recorder, kept in line with the room, and its chunks;
//! - [`view`]: what the pages draw.

mod recording;
mod room_socket;
mod signaling;
mod view;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

use dioxus::core::spawn_forever;
use dioxus::prelude::*;
use futures::channel::mpsc::{unbounded, UnboundedSender};
use futures::stream::{select_all, LocalBoxStream};
use futures::StreamExt;
use web_sys::MediaStream;
use zencast_events::protocol::{RoomStatus, RoomView};
use zencast_events::ParticipantId;

use crate::api;
use crate::browser::{now_ms, sleep};
use crate::chunk_store;
use crate::credentials::Credentials;
use crate::media;
use crate::peers::{Peer, PeerEvent};
use crate::recorder::Recorder;
use crate::socket::{ClockSync, Socket, SocketEvent};
use crate::uploader::{self, UploadProgress, UploadQueue};
use recording::{Kept, Retiring};

pub use view::{Connection, StudioView, Tile};

pub enum Command {
    StartRecording,
    StopRecording,
    ToggleMicrophone,
    ToggleCamera,
    /// The host's: a new invite link (for at most so many guests); the old one stops working.
    RenewInvite(Option<u32>),
    /// The host's: no invite link works until a new one is made.
    RevokeInvite,
    /// The host's: this participant leaves for good.
    Remove(ParticipantId),
    /// Other devices (`None`: the browser's default), during the session too.
    SwitchDevices {
        camera: Option<String>,
        microphone: Option<String>,
    },
}

/// What a page holds of a running session.
#[derive(Clone, Copy, PartialEq)]
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
    Peer(ParticipantId, u32, PeerEvent),
    Recorder(Kept),
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
    online: HashSet<ParticipantId>,
    peers: HashMap<ParticipantId, Peer>,
    peer_generation: u32,
    peer_events: UnboundedSender<(ParticipantId, u32, PeerEvent)>,
    local: Option<MediaStream>,
    /// Recorders stopped by a device change, oldest first, until each has
    /// delivered its last slice.
    retiring: VecDeque<Retiring>,
    recorder: Option<Recorder>,
    recorder_events: UnboundedSender<Kept>,
    next_index: Option<u32>,
    /// The host stopped the recording: no recorder starts again in this page.
    stopped: bool,
    /// The host removed this participant: nothing more is recorded or sent.
    removed: bool,
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
    // What an earlier page of this participant recorded and did not seal (it
    // was reloaded, crashed or closed): sealed into chunks before this page
    // records or uploads, so they are numbered and sent like any other.
    let mut uploads = handle.uploads;
    match chunk_store::recover(creds.room_id, creds.participant_id).await {
        Ok(n) => uploads.write().recovered = n,
        Err(e) => {
            view.write().problem = Some(format!(
                "The recording kept on this device could not be read: {e}"
            ))
        }
    }
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
        retiring: VecDeque::new(),
        recorder: None,
        recorder_events: recorder_tx,
        next_index: None,
        stopped: false,
        removed: false,
        ticks: 0,
    };
    s.begin().await;
    while let Some(input) = inputs.next().await {
        match input {
            Input::Socket(g, e) if g == s.socket_generation => s.on_socket(e).await,
            Input::Socket(..) => {}
            Input::Peer(peer, g, e) => s.on_peer(peer, g, e),
            Input::Recorder(e) => s.on_recorder(e),
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
            match api::room(self.creds.room_id, &self.creds.token).await {
                Ok(room) => {
                    self.room = Some(room);
                    break;
                }
                Err(e) if e.is_transient() => {
                    self.view.write().problem = Some(e.plain());
                    sleep(1_000).await;
                }
                Err(e) if e.is_removed() => {
                    self.on_removed();
                    return;
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

    /// After the recording: the camera, the microphone, the peer connections and
    /// the socket are released (the finish page follows the room over HTTP), so
    /// the device's light goes off and nothing is encoded for nobody.
    fn leave_studio(&mut self) {
        for (_, peer) in self.peers.drain() {
            peer.close();
        }
        let retiring = self.retiring.drain(..).map(|r| r.stream);
        for stream in self.local.take().into_iter().chain(retiring) {
            media::stop(&stream);
        }
        if let Some(socket) = self.socket.take() {
            socket.close();
        }
        self.view.write().connection = Connection::Closed;
    }

    /// The host removed this participant: the recorder stops (what it holds
    /// stays on this device), the studio closes, and the page says why.
    fn on_removed(&mut self) {
        self.removed = true;
        if let Some(recorder) = &self.recorder {
            recorder.stop();
        }
        self.leave_studio();
        let mut v = self.view.write();
        v.removed = true;
        v.recording = false;
        v.problem = Some(api::REMOVED_TEXT.into());
    }

    /// Opens the newly chosen devices and sends them to every peer. A
    /// MediaRecorder cannot change its tracks, so a running one ends its
    /// segment and the next starts on the new devices at once (see
    /// [`Session::hand_over`]): a new segment, placed on the timeline by its
    /// own recorder start, as after a reload.
    async fn switch_devices(&mut self, camera: Option<String>, microphone: Option<String>) {
        let stream = match media::open(camera.as_deref(), microphone.as_deref()).await {
            Ok(stream) => stream,
            Err(e) => {
                self.view.write().problem = Some(media::plain_media_error(&e));
                return;
            }
        };
        let (mic_on, camera_on) = {
            let v = self.view.peek();
            (v.mic_on, v.camera_on)
        };
        media::set_enabled(&stream, "audio", mic_on);
        media::set_enabled(&stream, "video", camera_on);
        for peer in self.peers.values() {
            peer.replace_tracks(&stream).await;
        }
        self.creds.camera_id = camera;
        self.creds.microphone_id = microphone;
        self.creds.save();
        self.view.write().creds = Some(self.creds.clone());
        if let Some(old) = self.local.replace(stream) {
            self.hand_over(old);
        }
    }

    fn session_over(&self) -> bool {
        self.room
            .as_ref()
            .is_some_and(|r| matches!(r.status, RoomStatus::Stopped | RoomStatus::Completed))
    }

    async fn on_command(&mut self, command: Command) {
        let (room, token) = (self.creds.room_id, self.creds.token.clone());
        match command {
            Command::StartRecording => {
                if let Err(e) = api::start_recording(room, &token).await {
                    self.view.write().problem = Some(e.plain());
                }
            }
            Command::StopRecording => {
                if let Err(e) = api::stop_recording(room, &token).await {
                    self.view.write().problem = Some(e.plain());
                }
            }
            Command::RenewInvite(max_joins) => {
                match api::renew_invite(room, &token, max_joins).await {
                    Ok(invite) => {
                        self.creds.invite_url = Some(invite.invite_url);
                        self.creds.save();
                        self.view.write().creds = Some(self.creds.clone());
                        self.refresh_room().await;
                    }
                    Err(e) => self.view.write().problem = Some(e.plain()),
                }
            }
            Command::RevokeInvite => match api::revoke_invite(room, &token).await {
                Ok(()) => self.refresh_room().await,
                Err(e) => self.view.write().problem = Some(e.plain()),
            },
            Command::Remove(participant) => {
                match api::remove_participant(room, &token, participant).await {
                    Ok(()) => self.refresh_room().await,
                    Err(e) => self.view.write().problem = Some(e.plain()),
                }
            }
            Command::SwitchDevices { camera, microphone } => {
                self.switch_devices(camera, microphone).await
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
        // The clock sync goes on: a quiet moment's round trip is the best.
        if let Some(socket) = self.socket.as_ref().filter(|_| self.ticks % 2 == 0) {
            socket.ping();
        }
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
        if self.removed {
            return;
        }
        let room = api::room(self.creds.room_id, &self.creds.token).await;
        if room.as_ref().is_err_and(api::ApiError::is_removed) {
            self.on_removed();
        }
        if let Ok(room) = room {
            let known_stop = self.stopped;
            self.room = Some(room);
            if known_stop {
                // Redis may lag behind the event we already saw.
                if let Some(r) = &mut self.room {
                    if r.status == RoomStatus::Recording {
                        r.status = RoomStatus::Stopped;
                    }
                }
            }
            self.reconcile().await;
        }
    }
}
