//! The assembly of a completed session: every window rendered (most of them
//! already were, during the session), then `final.mp4` and each
//! participant's MP4 and WAV stored as composites of the windows' stored
//! files (`zencast_storage::Span`): an index or a header of their own, the
//! windows' bytes where they already lie. Nothing is encoded or copied
//! again, so what is left after the last chunk does not grow with the
//! session: reading the windows' indexes and AAC frame headers, and writing
//! a few small objects.
//!
//! A participant absent from a window (joined later) gets a black, silent
//! filler of the window's length in their own files, stored once per
//! length beside them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use zencast_events::{Envelope, Layout, OutputKind, RecordingEvent, RenderOutput, RoomId};

use crate::composite::{self, WindowMedia};
use crate::plan::Plan;
use crate::window::{run, track_files, WindowRenderer, FINAL_VIDEO, MIX};
use crate::windows::{self, WindowSpec};
use crate::RenderError;

/// What a render produced.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub outputs: Vec<RenderOutput>,
    pub final_key: String,
    pub final_size: u64,
    pub duration_ms: u64,
    /// Windows this render had to make itself (the rest were made during the session).
    pub windows_rendered: usize,
    pub windows_total: usize,
}

/// Where a render stands: the stage and the percentage of the whole job.
pub type Report = std::sync::Arc<dyn Fn(&str, f64) + Send + Sync>;

pub fn final_key(room: RoomId) -> String {
    format!("processed/{room}/final.mp4")
}

pub fn track_key(room: RoomId, participant: impl std::fmt::Display, ext: &str) -> String {
    format!("processed/{room}/tracks/{participant}.{ext}")
}

/// The windows the log says exist: (layout, index, people, to_ms) → prefix.
/// Those rendered before the last `UploadsArrivedLate` lack its chunks and
/// are not reused.
pub fn recorded_windows(events: &[Envelope]) -> HashMap<String, String> {
    let fresh_from = events
        .iter()
        .rposition(|e| e.event_type == "UploadsArrivedLate")
        .map_or(0, |i| i + 1);
    events[fresh_from..]
        .iter()
        .filter_map(|e| match e.event().ok()? {
            RecordingEvent::WindowRendered {
                layout,
                index,
                tracks,
                to_ms,
                prefix,
                ..
            } => Some((
                zencast_events::aggregate::window_key(layout, index, to_ms, &tracks),
                prefix,
            )),
            _ => None,
        })
        .collect()
}

pub fn key_of(plan: &Plan, layout: Layout, spec: &WindowSpec) -> String {
    zencast_events::aggregate::window_key(layout, spec.index, spec.to_ms(), &spec.people(plan))
}

/// Files on this machine that are also stored, under `prefix`.
#[derive(Debug, Clone)]
struct Stored {
    dir: PathBuf,
    prefix: String,
}

impl Stored {
    fn file(&self, name: &str) -> (PathBuf, String) {
        (self.dir.join(name), format!("{}/{name}", self.prefix))
    }

    fn media(&self, video: &str, aac: &str) -> WindowMedia {
        let ((video, video_key), (aac, aac_key)) = (self.file(video), self.file(aac));
        WindowMedia {
            video,
            video_key,
            aac,
            aac_key,
        }
    }
}

/// Joins the windows into the session's files and stores them.
pub async fn assemble(
    renderer: &WindowRenderer,
    room: RoomId,
    plan: &Plan,
    specs: &[(WindowSpec, String)],
    dir: &Path,
) -> Result<(Vec<RenderOutput>, u64), RenderError> {
    // Each window's files, here.
    let mut windows = Vec::new();
    for (spec, prefix) in specs {
        let mut names = vec![FINAL_VIDEO.to_string(), MIX.to_string()];
        for t in 0..spec.tracks.len() {
            names.extend(track_files(t));
        }
        let dir = renderer.local(prefix, &names).await?;
        windows.push(Stored {
            dir,
            prefix: prefix.clone(),
        });
    }

    // Fillers first: the tracks below share them.
    let mut fillers = HashMap::new();
    for (spec, _) in specs {
        if spec.tracks.len() < plan.tracks.len() {
            let length = spec.to - spec.from;
            let f = filler(renderer, room, dir, length).await?;
            fillers.insert(spec.index, f);
        }
    }
    let final_mp4 = final_file(renderer, room, &windows, dir);
    let tracks = (0..plan.tracks.len())
        .map(|ti| track_file(renderer, room, plan, ti, specs, &windows, &fillers, dir));
    let (final_output, tracks) =
        futures::future::try_join(final_mp4, futures::future::try_join_all(tracks)).await?;
    let final_size = final_output.size;
    let mut outputs = vec![final_output];
    outputs.extend(tracks.into_iter().flatten());
    Ok((outputs, final_size))
}

/// final.mp4: the windows' pictures, the windows' mixed AAC frames.
async fn final_file(
    renderer: &WindowRenderer,
    room: RoomId,
    windows: &[Stored],
    dir: &Path,
) -> Result<RenderOutput, RenderError> {
    let t0 = std::time::Instant::now();
    let media = windows.iter().map(|w| w.media(FINAL_VIDEO, MIX)).collect();
    let key = final_key(room);
    let size = store_mp4(renderer, &key, media, dir.join("final-audio.mp4")).await?;
    tracing::info!(%room, size, ms = t0.elapsed().as_millis() as u64, "final.mp4 stored");
    Ok(RenderOutput {
        kind: OutputKind::Final,
        participant: None,
        key,
        size,
    })
}

/// Stores the MP4 joining `media` under `key`; returns its size.
async fn store_mp4(
    renderer: &WindowRenderer,
    key: &str,
    media: Vec<WindowMedia>,
    audio_template: PathBuf,
) -> Result<u64, RenderError> {
    let first = media
        .first()
        .ok_or_else(|| RenderError::Media(format!("{key}: no window")))?;
    run(
        &renderer.settings.ffmpeg,
        audio_mp4(&first.aac, &audio_template),
        None,
    )
    .await?;
    let spans = tokio::task::spawn_blocking(move || composite::mp4(&audio_template, &media))
        .await
        .map_err(|e| RenderError::Media(format!("joining {key}: {e}")))??;
    Ok(renderer
        .store
        .put_composite(key, "video/mp4", spans)
        .await?)
}

/// Participant `ti`'s own MP4 and WAV, with fillers where they were not there.
#[allow(clippy::too_many_arguments)]
async fn track_file(
    renderer: &WindowRenderer,
    room: RoomId,
    plan: &Plan,
    ti: usize,
    specs: &[(WindowSpec, String)],
    windows: &[Stored],
    fillers: &HashMap<u32, Stored>,
    dir: &Path,
) -> Result<Vec<RenderOutput>, RenderError> {
    let t0 = std::time::Instant::now();
    let (mut media, mut wavs) = (vec![], vec![]);
    for ((spec, _), w) in specs.iter().zip(windows) {
        match spec.tracks.iter().position(|t| *t == ti) {
            Some(t) => {
                let [v, w_, a] = track_files(t);
                media.push(w.media(&v, &a));
                wavs.push(w.file(&w_));
            }
            None => {
                let f = &fillers[&spec.index];
                media.push(f.media("black.mp4", "silence.aac"));
                wavs.push(f.file("silence.wav"));
            }
        }
    }
    let p = plan.tracks[ti].participant;
    let wav_key = track_key(room, p, "wav");
    let wav_size = renderer
        .store
        .put_composite(&wav_key, "audio/wav", crate::wav::joined(wavs).await?)
        .await?;
    let mp4_key = track_key(room, p, "mp4");
    let template = dir.join(format!("t{ti}-audio.mp4"));
    let mp4_size = store_mp4(renderer, &mp4_key, media, template).await?;
    tracing::info!(%room, track = ti, mp4_size, wav_size,
        ms = t0.elapsed().as_millis() as u64, "track stored");
    Ok(vec![
        RenderOutput {
            kind: OutputKind::TrackAudio,
            participant: Some(p),
            key: wav_key,
            size: wav_size,
        },
        RenderOutput {
            kind: OutputKind::TrackVideo,
            participant: Some(p),
            key: mp4_key,
            size: mp4_size,
        },
    ])
}

/// A black, silent window of `length` seconds for someone not in it (made
/// and stored once per length).
async fn filler(
    renderer: &WindowRenderer,
    room: RoomId,
    dir: &Path,
    length: f64,
) -> Result<Stored, RenderError> {
    let ms = (length * 1000.0).round() as u64;
    let f = Stored {
        dir: dir.join(format!("filler-{ms}")),
        prefix: format!("processed/{room}/fillers/{ms}"),
    };
    if tokio::fs::try_exists(f.dir.join("silence.aac")).await? {
        return Ok(f);
    }
    tokio::fs::create_dir_all(&f.dir).await?;
    let samples = (length * 48_000.0).round() as u64;
    let edged = samples + 2 * crate::graph::EDGE_SAMPLES;
    let d = format!("{length:.6}");
    // Encoded as the participants' own windows are, so the joined MP4 has
    // one sample description (`composite`).
    let encoding = &renderer.settings.encoding;
    let crf = encoding.crf.to_string();
    let args: Vec<String> = [
        "-y",
        "-hide_banner",
        "-f",
        "lavfi",
        "-i",
        &format!("color=c=black:s=1280x720:r=30:d={d}"),
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=48000:cl=stereo",
        "-map",
        "0:v",
        "-vf",
        crate::graph::COLOUR,
        "-c:v",
        "libx264",
        "-preset",
        &encoding.track_preset,
        "-crf",
        &crf,
        "-pix_fmt",
        "yuv420p",
        "-r",
        "30",
    ]
    .into_iter()
    .map(String::from)
    .chain([f.dir.join("black.mp4").display().to_string()])
    .chain(
        [
            "-map",
            "1:a",
            "-af",
            &format!("atrim=end_sample={samples}"),
            "-c:a",
            "pcm_s16le",
        ]
        .map(String::from),
    )
    .chain([f.dir.join("silence.wav").display().to_string()])
    .chain(
        [
            "-map",
            "1:a",
            "-af",
            &format!("atrim=end_sample={edged}"),
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-f",
            "adts",
        ]
        .map(String::from),
    )
    .chain([f.dir.join("edged.aac").display().to_string()])
    .collect();
    run(&renderer.settings.ffmpeg, args, None).await?;
    let bytes = tokio::fs::read(f.dir.join("edged.aac")).await?;
    let kept = crate::aac::keep_window(&bytes, samples).map_err(RenderError::Media)?;
    tokio::fs::write(f.dir.join("silence.aac"), kept).await?;
    for (name, kind) in [
        ("black.mp4", "video/mp4"),
        ("silence.wav", "audio/wav"),
        ("silence.aac", "audio/aac"),
    ] {
        let (path, key) = f.file(name);
        renderer.store.put_output(&key, &path, kind).await?;
    }
    Ok(f)
}

/// ffmpeg's MP4 of one window's AAC: what the joined file's audio track is.
fn audio_mp4(aac: &Path, out: &Path) -> Vec<String> {
    ["-y", "-hide_banner", "-f", "aac", "-i"]
        .into_iter()
        .map(String::from)
        .chain([aac.display().to_string()])
        .chain(["-c".into(), "copy".into(), out.display().to_string()])
        .collect()
}

/// All windows of the completed session, in order.
pub fn final_windows(plan: &Plan) -> Vec<WindowSpec> {
    windows::all(plan, plan.duration())
}
