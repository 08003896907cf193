//! The assembly of a completed session: every window rendered (most of them
//! already were, during the session), then joined by stream copies into
//! `final.mp4` and each participant's MP4 and WAV. Nothing is encoded again.
//!
//! What is left after the last chunk grows with the session's bytes, so the
//! assembly touches each byte as few times as it can: the WAVs go to the
//! store straight from the windows' files (a header, then each window's PCM:
//! `wav::joined`), and final.mp4, which is played in browsers and needs its
//! index first, gets it without a second pass: room for the index is
//! reserved at the front (`-moov_size`, from an upper bound on its size);
//! `+faststart`, which rewrites the whole file once more, is only the
//! fallback. The participants' MP4s are for editing software, which reads
//! the index wherever it is.
//!
//! A participant absent from a window (joined later) gets a black, silent
//! filler of the window's length in their own files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use zencast_events::{Envelope, Layout, OutputKind, RecordingEvent, RenderOutput, RoomId};

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

/// Joins the windows into the session's files and stores them.
pub async fn assemble(
    renderer: &WindowRenderer,
    room: RoomId,
    plan: &Plan,
    specs: &[(WindowSpec, String)],
    dir: &Path,
) -> Result<(Vec<RenderOutput>, u64), RenderError> {
    // Each window's files, here.
    let mut local = Vec::new();
    for (spec, prefix) in specs {
        let mut names = vec![FINAL_VIDEO.to_string(), MIX.to_string()];
        for t in 0..spec.tracks.len() {
            names.extend(track_files(t));
        }
        local.push(renderer.local(prefix, &names).await?);
    }

    // Fillers first: the tracks below are joined side by side and share them.
    let mut fillers = HashMap::new();
    for (spec, _) in specs {
        if spec.tracks.len() < plan.tracks.len() {
            let length = spec.to - spec.from;
            let f = filler(renderer, dir, length).await?;
            fillers.insert(spec.index, f);
        }
    }
    // Stream copies wait on the disk more than on a core: side by side.
    let duration = specs.last().map_or(0.0, |(spec, _)| spec.to);
    let final_mp4 = final_file(renderer, room, &local, duration, dir);
    let tracks = (0..plan.tracks.len())
        .map(|ti| track_file(renderer, room, plan, ti, specs, &local, &fillers, dir));
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
    local: &[PathBuf],
    duration: f64,
    dir: &Path,
) -> Result<RenderOutput, RenderError> {
    let video_list = dir.join("final.txt");
    write_list(&video_list, local.iter().map(|d| d.join(FINAL_VIDEO))).await?;
    let mix = dir.join("mix.aac");
    concat_bytes(&mix, local.iter().map(|d| d.join(MIX))).await?;
    let final_path = dir.join("final.mp4");
    let t0 = std::time::Instant::now();
    let ffmpeg = &renderer.settings.ffmpeg;
    let reserved = Index::Reserved(index_bound(duration));
    if let Err(e) = run(ffmpeg, mux(&video_list, &mix, &final_path, reserved), None).await {
        // The bound held in every test; should it not, the index still goes first.
        tracing::warn!(%room, error = %e, "final.mp4's reserved index space did not do; rewriting instead");
        run(
            ffmpeg,
            mux(&video_list, &mix, &final_path, Index::Rewritten),
            None,
        )
        .await?;
    }
    let muxed = t0.elapsed();
    let key = final_key(room);
    let size = renderer
        .store
        .put_output(&key, &final_path, "video/mp4")
        .await?;
    tracing::info!(%room, size, mux_ms = muxed.as_millis() as u64,
        upload_ms = (t0.elapsed() - muxed).as_millis() as u64, "final.mp4 assembled");
    Ok(RenderOutput {
        kind: OutputKind::Final,
        participant: None,
        key,
        size,
    })
}

/// Participant `ti`'s own MP4 and WAV, with fillers where they were not there.
#[allow(clippy::too_many_arguments)]
async fn track_file(
    renderer: &WindowRenderer,
    room: RoomId,
    plan: &Plan,
    ti: usize,
    specs: &[(WindowSpec, String)],
    local: &[PathBuf],
    fillers: &HashMap<u32, PathBuf>,
    dir: &Path,
) -> Result<Vec<RenderOutput>, RenderError> {
    let ffmpeg = &renderer.settings.ffmpeg;
    let (mut videos, mut wavs, mut aacs) = (vec![], vec![], vec![]);
    for ((spec, _), d) in specs.iter().zip(local) {
        match spec.tracks.iter().position(|t| *t == ti) {
            Some(t) => {
                let [v, w, a] = track_files(t);
                videos.push(d.join(v));
                wavs.push(d.join(w));
                aacs.push(d.join(a));
            }
            None => {
                let f = &fillers[&spec.index];
                videos.push(f.join("black.mp4"));
                wavs.push(f.join("silence.wav"));
                aacs.push(f.join("silence.aac"));
            }
        }
    }
    let p = plan.tracks[ti].participant;
    let list = dir.join(format!("t{ti}.txt"));
    write_list(&list, videos.into_iter()).await?;
    let aac = dir.join(format!("t{ti}.aac"));
    concat_bytes(&aac, aacs.into_iter()).await?;
    let mp4 = dir.join(format!("t{ti}.mp4"));
    // The WAV goes up while the MP4 is joined: one waits on the store, the
    // other on the disk.
    let wav_key = track_key(room, p, "wav");
    let wav = async {
        let t0 = std::time::Instant::now();
        let pieces = crate::wav::joined(wavs).await?;
        let size = renderer
            .store
            .put_concat(&wav_key, "audio/wav", &pieces)
            .await?;
        Ok::<_, RenderError>((size, t0.elapsed()))
    };
    let mp4_key = track_key(room, p, "mp4");
    let video = async {
        let t0 = std::time::Instant::now();
        run(ffmpeg, mux(&list, &aac, &mp4, Index::AtTheEnd), None).await?;
        let muxed = t0.elapsed();
        let size = renderer
            .store
            .put_output(&mp4_key, &mp4, "video/mp4")
            .await?;
        Ok::<_, RenderError>((size, muxed, t0.elapsed() - muxed))
    };
    let ((wav_size, wav_took), (mp4_size, muxed, uploaded)) =
        futures::future::try_join(wav, video).await?;
    tracing::info!(%room, track = ti, mp4_size, wav_size, mux_ms = muxed.as_millis() as u64,
        mp4_upload_ms = uploaded.as_millis() as u64, wav_ms = wav_took.as_millis() as u64,
        "track assembled");
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
/// once per length).
async fn filler(
    renderer: &WindowRenderer,
    dir: &Path,
    length: f64,
) -> Result<PathBuf, RenderError> {
    let f = dir.join(format!("filler-{}", (length * 1000.0).round() as u64));
    if tokio::fs::try_exists(f.join("silence.aac")).await? {
        return Ok(f);
    }
    tokio::fs::create_dir_all(&f).await?;
    let samples = (length * 48_000.0).round() as u64;
    let edged = samples + 2 * crate::graph::EDGE_SAMPLES;
    let d = format!("{length:.6}");
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
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-r",
        "30",
    ]
    .into_iter()
    .map(String::from)
    .chain([f.join("black.mp4").display().to_string()])
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
    .chain([f.join("silence.wav").display().to_string()])
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
    .chain([f.join("edged.aac").display().to_string()])
    .collect();
    run(&renderer.settings.ffmpeg, args, None).await?;
    let bytes = tokio::fs::read(f.join("edged.aac")).await?;
    let kept = crate::aac::keep_window(&bytes, samples).map_err(RenderError::Media)?;
    tokio::fs::write(f.join("silence.aac"), kept).await?;
    Ok(f)
}

/// Where a joined MP4's index (`moov`) goes.
#[derive(Debug, Clone, Copy)]
enum Index {
    /// After the samples, where the muxer writes it last.
    AtTheEnd,
    /// First, in this many bytes reserved before the samples (ffmpeg fails
    /// if it needs more).
    Reserved(u64),
    /// First, by rewriting the whole file once more (`+faststart`).
    Rewritten,
}

/// More than the index of `seconds` of final.mp4 needs: per sample of its
/// 30 fps video and its AAC (1024 samples at 48 kHz), at most 4 bytes of
/// size, 8 of composition offset, 4 of keyframe entry and 8 of chunk offset
/// (24; 32 leaves room), and a fixed part. Measured: 15 bytes a sample for a
/// 20 s file (22.9 KB). A 20-minute session reserves 3 MB of a ~480 MB file.
fn index_bound(seconds: f64) -> u64 {
    let samples = seconds.max(0.0) * (30.0 + 48_000.0 / 1024.0);
    64 * 1024 + 32 * samples.ceil() as u64
}

/// Joins the windows' pictures and puts the AAC beside them, the index
/// where `index` says.
fn mux(video_list: &Path, aac: &Path, out: &Path, index: Index) -> Vec<String> {
    let placed: Vec<String> = match index {
        Index::AtTheEnd => vec![],
        Index::Reserved(bytes) => vec!["-moov_size".into(), bytes.to_string()],
        Index::Rewritten => vec!["-movflags".into(), "+faststart".into()],
    };
    ["-y", "-hide_banner", "-f", "concat", "-safe", "0", "-i"]
        .into_iter()
        .map(String::from)
        .chain([video_list.display().to_string()])
        .chain(["-f", "aac", "-i"].map(String::from))
        .chain([aac.display().to_string()])
        .chain(["-map", "0:v", "-map", "1:a", "-c", "copy"].map(String::from))
        .chain(placed)
        .chain([out.display().to_string()])
        .collect()
}

/// The concat-demuxer list that joins files in order.
pub fn concat_list(files: impl Iterator<Item = PathBuf>) -> String {
    files
        .map(|f| {
            format!(
                "file '{}'\n",
                f.display().to_string().replace('\'', "'\\''")
            )
        })
        .collect()
}

async fn write_list(list: &Path, files: impl Iterator<Item = PathBuf>) -> Result<(), RenderError> {
    tokio::fs::write(list, concat_list(files)).await?;
    Ok(())
}

/// ADTS frames join by concatenation.
async fn concat_bytes(out: &Path, files: impl Iterator<Item = PathBuf>) -> Result<(), RenderError> {
    use tokio::io::AsyncWriteExt;
    let mut o = tokio::fs::File::create(out).await?;
    for f in files {
        let mut i = tokio::fs::File::open(&f).await?;
        tokio::io::copy(&mut i, &mut o).await?;
    }
    o.flush().await?;
    Ok(())
}

/// All windows of the completed session, in order.
pub fn final_windows(plan: &Plan) -> Vec<WindowSpec> {
    windows::all(plan, plan.duration())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_join_list_names_every_file_in_order_and_quotes_paths() {
        let list = super::concat_list(["/w/0.mp4", "/w/it's.mp4"].into_iter().map(Into::into));
        assert_eq!(list, "file '/w/0.mp4'\nfile '/w/it'\\''s.mp4'\n");
    }
}
