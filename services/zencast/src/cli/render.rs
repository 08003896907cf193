//! `zencast render --force ROOM [--layout L]`: an operator's render of a
//! completed room with what is stored. It appends `RenderRequested` (force),
//! then works the job itself like any worker (a running worker may win the
//! claim instead; then this waits for it), printing progress until the render
//! completed or failed.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use zencast_eventlog::{CommandError, EventLog, Origin};
use zencast_events::protocol::ServerFrame;
use zencast_events::{Layout, RecordingCommand, RoomId};
use zencast_render::Next;

use crate::backends::Backends;
use crate::config::Config;

pub async fn force(config: &Config, room: RoomId, layout: Option<&str>) -> anyhow::Result<i32> {
    let backends = Backends::connect(config).await?;
    let log = Arc::new(EventLog::new(
        backends.pool.clone(),
        backends.metrics.clone(),
    ));
    let Some(state) = log.load(room).await? else {
        eprintln!("room {room} does not exist");
        return Ok(2);
    };
    let layout = match layout {
        Some(l) => match Layout::ALL.iter().find(|x| x.as_str() == l) {
            Some(l) => *l,
            None => {
                eprintln!("unknown layout `{l}`: grid, side-by-side, speaker or audio-only");
                return Ok(2);
            }
        },
        None => state
            .render
            .layout
            .or(state.room.as_ref().map(|r| r.layout))
            .unwrap_or_default(),
    };
    let ask = RecordingCommand::RequestRender {
        layout,
        force: true,
    };
    match log.execute(room, ask, &Origin::now("operator")).await {
        Ok(_) => {}
        Err(CommandError::Rejected(e)) => {
            eprintln!("cannot render room {room}: {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    }
    println!(
        "render of room {room} requested ({}, forced)",
        layout.as_str()
    );

    // Print progress whoever renders it.
    let mut progress = backends
        .nats
        .subscribe(backends.subjects.progress(room))
        .await?;
    let printer = tokio::spawn(async move {
        let mut last = String::new();
        while let Some(m) = progress.next().await {
            let Ok(ServerFrame::Progress {
                attempt,
                stage,
                percent,
                ..
            }) = serde_json::from_slice(&m.payload)
            else {
                continue;
            };
            let line = format!("  attempt {attempt} {stage} {percent:.0} %");
            if line != last {
                println!("{line}");
                last = line;
            }
        }
    });

    let worker = crate::run::render_worker(&backends, log.clone(), None)?;
    loop {
        match worker.attend(room, || async {}).await? {
            Next::Ack => break,
            Next::RetryIn(d) => tokio::time::sleep(d.min(Duration::from_secs(2))).await,
            Next::Failed => tokio::time::sleep(Duration::from_secs(2)).await,
        }
    }
    printer.abort();
    let state = log.load(room).await?.expect("the room exists");
    if state.render.completed {
        println!("render completed: processed/{room}/final.mp4");
        Ok(0)
    } else {
        eprintln!("render failed; `zencast audit {room}` shows why");
        Ok(1)
    }
}
