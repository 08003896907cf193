//! Rendering one window: fetch the slices of every participant's recording it
//! needs, run the audio pass and the video pass, cut the AAC to the window,
//! and store the files under the window's prefix (and in the local cache, so
//! the assembly on this machine does not fetch them again).

use std::path::{Path, PathBuf};

use zencast_events::{Layout, RoomId};
use zencast_storage::ChunkStore;

use crate::composite;
use crate::graph::{self, Encoding, Input, Outputs, Span, TrackInput};
use crate::layout;
use crate::media;
use crate::plan::Plan;
use crate::speaker;
use crate::windows::{slices, WindowSpec};
use crate::RenderError;

#[derive(Debug, Clone)]
pub struct RenderSettings {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Scratch space and the cache of rendered windows.
    pub work_dir: PathBuf,
    pub encoding: Encoding,
}

/// The files of one rendered window, by name under its prefix.
pub const FINAL_VIDEO: &str = "final.mp4";
pub const MIX: &str = "mix.aac";
pub fn track_files(t: usize) -> [String; 3] {
    [
        format!("t{t}.mp4"),
        format!("t{t}.wav"),
        format!("t{t}.aac"),
    ]
}

/// Where a window's files live in the store: by layout, index, the people in
/// it (a window with other people is another window) and the chunks it was
/// made from (late uploads make the same window again from more chunks: it
/// must not land where, and in the cache that, the old one is).
pub fn prefix(room: RoomId, layout: Layout, spec: &WindowSpec, plan: &Plan) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    spec.people(plan).hash(&mut h);
    spec.to_ms().hash(&mut h);
    for t in &spec.tracks {
        for piece in &plan.tracks[*t].pieces {
            for c in &piece.chunks {
                (&c.key, c.size).hash(&mut h);
            }
        }
    }
    format!(
        "processed/{room}/windows/{}/{}-{:016x}",
        layout.as_str(),
        spec.index,
        h.finish()
    )
}

/// What a name label is drawn from: the font, the name, the tile.
fn label_hash(font: &Path, name: &str, rect: layout::Rect) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (font, name, rect).hash(&mut h);
    h.finish()
}

/// Where in an input (seconds after its first packet, as ffmpeg's `-ss`
/// counts) the video pass starts decoding for a window that begins at
/// `window_at` in the recorder's time: a little before it, so a frame shows
/// at its first instant. `None` (decode it all) when the input starts near
/// there or ends before it (its last frame is held), and for MP4, whose
/// fragments ffmpeg 5.1 does not always find by seeking.
fn video_from(info: &media::StreamInfo, window_at: f64) -> Option<f64> {
    const BEFORE: f64 = 0.5;
    if !info.format.contains("matroska") {
        return None;
    }
    let (start, end) = (info.start?, info.end?);
    let at = window_at - BEFORE - start;
    (at > BEFORE && end > window_at).then_some(at)
}

/// Whether an input placed `offset` seconds after the window's start has
/// media from before the window to well past its `length` (a margin, as the
/// video may end a little before the audio).
fn covers(info: &media::StreamInfo, offset: f64, length: f64) -> bool {
    let (Some(start), Some(end)) = (info.start, info.end) else {
        return false;
    };
    offset + start <= 0.0 && offset + end >= length + 0.5
}

pub struct WindowRenderer {
    pub store: ChunkStore,
    pub settings: RenderSettings,
}

impl WindowRenderer {
    /// The local copy of a window's files (fetched from the store when
    /// another machine rendered it).
    pub fn cache_dir(&self, prefix: &str) -> PathBuf {
        self.settings.work_dir.join("cache").join(prefix)
    }

    /// Renders window `spec` of `plan` and stores it under `prefix`.
    pub async fn render(
        &self,
        room: RoomId,
        plan: &Plan,
        spec: &WindowSpec,
        layout: Layout,
        prefix: &str,
        progress: Progress,
    ) -> Result<PathBuf, RenderError> {
        let s = &self.settings;
        // Named by the room: an operator (or a test) sees whose ffmpeg it is.
        let scratch = media::scratch(&s.work_dir, &format!("window-{room}-")).await?;
        let dir = scratch.path();
        let span = Span {
            length: spec.to - spec.from,
        };

        // Every participant's slices are fetched and probed side by side:
        // mostly waiting on the store and on ffprobe.
        let tracks = futures::future::try_join_all(
            spec.tracks
                .iter()
                .enumerate()
                .map(|(t, &ti)| self.track_input(dir, plan, spec, t, ti)),
        )
        .await?;

        // Pass 1: every participant's audio on the span.
        let wavs: Vec<PathBuf> = (0..tracks.len())
            .map(|t| dir.join(format!("span-{t}.wav")))
            .collect();
        let t0 = std::time::Instant::now();
        run(&s.ffmpeg, graph::audio_pass(&tracks, span, &wavs), None).await?;
        let audio_took = t0.elapsed();

        // Who speaks when (the speaker layout): levels over the span, so the
        // hysteresis has the seconds before the window to settle on.
        let composition = if layout == Layout::Speaker && tracks.len() > 1 {
            let mut levels = Vec::new();
            for wav in &wavs {
                levels.push(media::wav_levels(wav, speaker::WINDOW).await?);
            }
            let shots: Vec<(f64, f64, usize)> =
                speaker::shots(&levels, graph::PRE_ROLL + span.length)
                    .into_iter()
                    .map(|(a, b, t)| (a - graph::PRE_ROLL, b - graph::PRE_ROLL, t))
                    .filter(|(_, b, _)| *b > 0.0)
                    .map(|(a, b, t)| (a.max(0.0), b.min(span.length), t))
                    .collect();
            layout::compose(layout, tracks.len(), span.length, &shots)
        } else {
            layout::compose(layout, tracks.len(), span.length, &[])
        };

        // Each tile's name, drawn once for the whole window.
        let labels = self.labels(dir, &tracks, &composition).await?;

        // Pass 2: pictures, composition, window audio.
        let title_file = dir.join("title.txt");
        tokio::fs::write(&title_file, &plan.title).await?;
        // Written in this render's own directory, then moved into the cache
        // whole: another worker on this machine may render the same window
        // at the same time, or read the cached one.
        let out_dir = dir.join("out");
        tokio::fs::create_dir_all(&out_dir).await?;
        let outputs = Outputs {
            final_video: out_dir.join(FINAL_VIDEO),
            tracks: (0..tracks.len())
                .map(|t| {
                    let [v, p, a] = track_files(t);
                    (out_dir.join(v), out_dir.join(p), dir.join(a))
                })
                .collect(),
            mix: dir.join(MIX),
        };
        let args = graph::video_pass(
            &tracks,
            &composition,
            &title_file,
            span,
            &s.encoding,
            &wavs,
            &labels,
            &outputs,
        );
        let length = span.length;
        // ffmpeg's time can step back between its outputs: report the furthest.
        let furthest = std::sync::Mutex::new(0.0f64);
        let report = move |t: f64| {
            let mut f = furthest.lock().expect("progress poisoned");
            *f = f.max((t / length).clamp(0.0, 1.0));
            progress(*f)
        };
        let t0 = std::time::Instant::now();
        run(&s.ffmpeg, args, Some(Box::new(report))).await?;
        tracing::debug!(
            index = spec.index,
            people = tracks.len(),
            audio_ms = audio_took.as_millis() as u64,
            video_ms = t0.elapsed().as_millis() as u64,
            "window encoded"
        );

        // Cut the AAC streams to the window's own frames.
        let samples = span.window_samples();
        let mut aacs: Vec<(PathBuf, String)> = vec![(outputs.mix.clone(), MIX.to_string())];
        for (t, (_, _, aac)) in outputs.tracks.iter().enumerate() {
            aacs.push((aac.clone(), track_files(t)[2].clone()));
        }
        for (from, name) in aacs {
            let bytes = tokio::fs::read(&from).await?;
            let kept = crate::aac::keep_window(&bytes, samples).map_err(RenderError::Media)?;
            tokio::fs::write(out_dir.join(name), kept).await?;
        }
        self.upload(&out_dir, prefix).await?;
        let cached = self.cache_dir(prefix);
        if let Some(parent) = cached.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        if let Err(e) = tokio::fs::rename(&out_dir, &cached).await {
            // The same window, rendered alongside and cached first: keep it.
            if !tokio::fs::try_exists(&cached).await? {
                return Err(e.into());
            }
        }
        Ok(cached)
    }

    /// Participant `t` (track `ti` of the plan) in the window: their name
    /// file and the slices of their recording, fetched and probed.
    async fn track_input(
        &self,
        dir: &Path,
        plan: &Plan,
        spec: &WindowSpec,
        t: usize,
        ti: usize,
    ) -> Result<TrackInput, RenderError> {
        let s = &self.settings;
        let length = spec.to - spec.from;
        // A keyframe lies within a chunk's length (the web client asks for
        // one every chunk), so two chunks before the window pass one.
        let lead = 2.0 * plan.chunk_seconds + 1.0;
        let track = &plan.tracks[ti];
        let name_file = dir.join(format!("name-{t}.txt"));
        tokio::fs::write(&name_file, &track.name).await?;
        let chosen = slices(track, spec.from, spec.to, lead);
        let mut inputs = Vec::new();
        for (k, (slice, piece)) in chosen.iter().enumerate() {
            let raw = dir.join(format!("t{t}-{k}.in"));
            media::reassemble(&self.store, slice, &raw).await?;
            let info = media::probe(&s.ffprobe, &raw).await?;
            let next = track
                .pieces
                .iter()
                .position(|p| std::ptr::eq(p, *piece))
                .and_then(|i| track.pieces.get(i + 1));
            let offset = piece.start - spec.from;
            inputs.push(Input {
                path: raw,
                offset,
                has_audio: info.audio_codec.is_some(),
                // A slice without one decodable frame shows as missing video.
                has_video: info.video_decodes,
                // Missing chunks follow: black, not a frozen picture.
                hold: next.is_none_or(|n| n.header_from.is_none()),
                video_from: video_from(&info, -offset),
                covers: covers(&info, offset, length),
            });
        }
        Ok(TrackInput { name_file, inputs })
    }

    /// The name labels of the composition's tiles (none without a font),
    /// in the order the video pass takes them. A label depends only on the
    /// font, the name and the tile, so every window of a session shares it:
    /// drawn once on this machine and kept in the work directory's `labels`.
    async fn labels(
        &self,
        dir: &Path,
        tracks: &[TrackInput],
        composition: &layout::Composition,
    ) -> Result<Vec<PathBuf>, RenderError> {
        let Some(font) = &self.settings.encoding.font else {
            return Ok(Vec::new());
        };
        let cache = self.settings.work_dir.join("labels");
        tokio::fs::create_dir_all(&cache).await?;
        let tiles = graph::labelled_tiles(composition, tracks.len());
        futures::future::try_join_all(tiles.into_iter().enumerate().map(|(k, (t, rect))| {
            let name_file = &tracks[t].name_file;
            let cache = &cache;
            async move {
                let name = tokio::fs::read_to_string(name_file).await?;
                let kept = cache.join(format!("{:016x}.png", label_hash(font, &name, rect)));
                if tokio::fs::try_exists(&kept).await? {
                    return Ok(kept);
                }
                let out = dir.join(format!("label-{k}.png"));
                let args = graph::label_args(font, name_file, rect, &out);
                run(&self.settings.ffmpeg, args, None).await?;
                // Whole or not at all: another window may be reading it.
                tokio::fs::rename(&out, &kept).await?;
                Ok::<_, RenderError>(kept)
            }
        }))
        .await
    }

    /// Stores every file of `dir` under `prefix`, side by side.
    async fn upload(&self, dir: &Path, prefix: &str) -> Result<(), RenderError> {
        let mut files = Vec::new();
        let mut entries = tokio::fs::read_dir(dir).await?;
        while let Some(e) = entries.next_entry().await? {
            let name = e.file_name().to_string_lossy().into_owned();
            files.push((format!("{prefix}/{name}"), e.path()));
        }
        futures::future::try_join_all(
            files
                .iter()
                .map(|(key, file)| self.store.put_output(key, file, "application/octet-stream")),
        )
        .await?;
        Ok(())
    }

    /// The window's files on this machine: the cache, or fetched from the
    /// store when another machine rendered it. Of a fetched MP4 or WAV only
    /// what the assembly reads is fetched (an MP4's box headers and index, a
    /// WAV's header), into a sparse file of its length: the samples stay in
    /// the store, where the session's files point (`composite`), so the
    /// assembly does not download what other workers rendered.
    pub async fn local(&self, prefix: &str, names: &[String]) -> Result<PathBuf, RenderError> {
        let dir = self.cache_dir(prefix);
        tokio::fs::create_dir_all(&dir).await?;
        for name in names {
            let file = dir.join(name);
            if tokio::fs::try_exists(&file).await? {
                continue;
            }
            let part = dir.join(format!("{name}.part"));
            let key = format!("{prefix}/{name}");
            if name.ends_with(".mp4") {
                self.fetch_mp4_index(&key, &part).await?;
            } else if name.ends_with(".wav") {
                self.fetch_head(&key, &part, WAV_HEAD).await?;
            } else {
                let mut out = tokio::fs::File::create(&part).await?;
                self.store.append_to(&key, &mut out).await?;
            }
            tokio::fs::rename(&part, &file).await?;
        }
        Ok(dir)
    }

    async fn stored_size(&self, key: &str) -> Result<u64, RenderError> {
        let head = self.store.head(key).await?;
        Ok(head
            .ok_or_else(|| zencast_storage::StorageError::Missing(key.into()))?
            .size)
    }

    /// The first `len` bytes of `key`, in a file of its whole length.
    async fn fetch_head(&self, key: &str, to: &Path, len: u64) -> Result<(), RenderError> {
        let size = self.stored_size(key).await?;
        let head = self.read(key, 0, len.min(size)).await?;
        write_sparse(to, size, vec![(0, head)]).await
    }

    /// An MP4's top-level box headers and whole index, in a file of its
    /// whole length: a box header at a time from the start.
    async fn fetch_mp4_index(&self, key: &str, to: &Path) -> Result<(), RenderError> {
        let size = self.stored_size(key).await?;
        let mut parts = Vec::new();
        let mut at = 0;
        while at + 8 <= size {
            let h = self.read(key, at, 16.min(size - at)).await?;
            let b = composite::TopBox::parse(&h, at, size)?;
            let bytes = if b.is_read() {
                self.read(key, at, b.size).await?
            } else {
                h[..b.header as usize].to_vec()
            };
            parts.push((at, bytes));
            at += b.size;
        }
        write_sparse(to, size, parts).await
    }

    async fn read(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>, RenderError> {
        let range = zencast_storage::Range {
            key: key.to_string(),
            offset,
            len,
        };
        Ok(self.store.read_range(range).await?)
    }
}

/// More than a WAV's header (ffmpeg's: RIFF, `fmt `, a LIST of tags, `data`).
const WAV_HEAD: u64 = 4096;

/// A file of `size` bytes holding `parts` (offset, bytes); the rest holes.
async fn write_sparse(to: &Path, size: u64, parts: Vec<(u64, Vec<u8>)>) -> Result<(), RenderError> {
    use std::os::unix::fs::FileExt;
    let to = to.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::create(&to)?;
        file.set_len(size)?;
        for (offset, bytes) in parts {
            file.write_all_at(&bytes, offset)?;
        }
        file.sync_all()
    })
    .await
    .map_err(|e| RenderError::Media(format!("writing a window's index: {e}")))??;
    Ok(())
}

/// How far a window's encoding is, 0–1.
pub type Progress = std::sync::Arc<dyn Fn(f64) + Send + Sync>;

/// Runs ffmpeg off the async threads, telling `progress` the output time reached.
pub async fn run(
    ffmpeg: &Path,
    args: Vec<String>,
    progress: Option<Box<dyn Fn(f64) + Send>>,
) -> Result<(), RenderError> {
    let ffmpeg = ffmpeg.to_path_buf();
    tracing::debug!(?args, "ffmpeg");
    tokio::task::spawn_blocking(move || {
        media::run_ffmpeg(&ffmpeg, &args, |t| {
            if let Some(p) = &progress {
                p(t)
            }
        })
    })
    .await
    .map_err(|e| RenderError::Media(format!("ffmpeg task: {e}")))?
}
