//! One render of a planned session: fetch and reassemble every piece, write
//! each participant's aligned WAV, read the levels (for the speaker layout),
//! compose `final.mp4` and the per-participant MP4s, upload everything.

use std::path::PathBuf;
use std::sync::Arc;

use zencast_api::storage::ChunkStore;
use zencast_events::{Layout, OutputKind, RenderOutput, RoomId};

use crate::graph::{self, Encoding, Input, TrackFiles};
use crate::layout;
use crate::media::{self, WorkDir};
use crate::plan::Plan;
use crate::speaker;
use crate::RenderError;

#[derive(Debug, Clone)]
pub struct RenderSettings {
    pub ffmpeg: PathBuf,
    pub ffprobe: PathBuf,
    /// Scratch space; each attempt gets its own directory, removed afterwards.
    pub work_dir: PathBuf,
    pub encoding: Encoding,
    /// Also write each participant's MP4 (its WAV is always written).
    pub track_videos: bool,
}

/// What a render produced.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub outputs: Vec<RenderOutput>,
    pub final_key: String,
    pub final_size: u64,
    pub duration_ms: u64,
}

/// Where a render stands: the stage and the percentage of the whole job.
pub type Report = Arc<dyn Fn(&str, f64) + Send + Sync>;

pub fn final_key(room: RoomId) -> String {
    format!("processed/{room}/final.mp4")
}

pub fn track_key(room: RoomId, participant: impl std::fmt::Display, ext: &str) -> String {
    format!("processed/{room}/tracks/{participant}.{ext}")
}

pub struct Renderer {
    pub store: ChunkStore,
    pub settings: RenderSettings,
}

impl Renderer {
    pub async fn render(
        &self,
        room: RoomId,
        attempt: u32,
        plan: &Plan,
        layout: Layout,
        report: Report,
    ) -> Result<Rendered, RenderError> {
        let s = &self.settings;
        let work = WorkDir::create(s.work_dir.join(format!("{room}-{attempt}"))).await?;
        let dir = work.0.clone();

        // 1. Fetch, reassemble and remux every piece (0–10 %).
        let pieces_total: usize = plan.tracks.iter().map(|t| t.pieces.len()).sum();
        let mut done = 0usize;
        let mut tracks: Vec<TrackFiles> = Vec::new();
        let mut duration: f64 = 0.0;
        for (t, track) in plan.tracks.iter().enumerate() {
            let name_file = dir.join(format!("name-{t}.txt"));
            tokio::fs::write(&name_file, &track.name).await?;
            let mut inputs = Vec::new();
            for (k, piece) in track.pieces.iter().enumerate() {
                let raw = dir.join(format!("t{t}-{k}.raw.webm"));
                let remuxed = dir.join(format!("t{t}-{k}.webm"));
                media::reassemble(&self.store, piece, &raw).await?;
                media::remux(&s.ffmpeg, &raw, &remuxed).await?;
                let _ = tokio::fs::remove_file(&raw).await;
                let probe = media::probe(&s.ffprobe, &remuxed).await?;
                duration = duration.max(piece.start + probe.end);
                inputs.push(Input {
                    path: remuxed,
                    start: piece.start + probe.start,
                    has_audio: probe.has_audio,
                    has_video: probe.has_video,
                    // Missing chunks follow (the next piece needs a borrowed
                    // header): black, not a frozen picture, until it.
                    hold: track
                        .pieces
                        .get(k + 1)
                        .is_none_or(|next| next.header_from.is_none()),
                });
                done += 1;
                report("fetching", 10.0 * done as f64 / pieces_total.max(1) as f64);
            }
            tracks.push(TrackFiles {
                name_file,
                inputs,
                wav: dir.join(format!("track-{t}.wav")),
                mp4: s.track_videos.then(|| dir.join(format!("track-{t}.mp4"))),
            });
        }
        if duration <= 0.0 {
            return Err(RenderError::Media("the recording has no duration".into()));
        }

        // 2. Each participant's aligned audio (10–20 %).
        let args = graph::audio_pass(&tracks, duration);
        self.ffmpeg(args, report.clone(), "aligning audio", 10.0, 10.0, duration)
            .await?;

        // 3. Who speaks when, for the speaker layout.
        let shots = if layout == Layout::Speaker {
            let mut levels = Vec::new();
            for t in &tracks {
                levels.push(media::wav_levels(&t.wav, speaker::WINDOW).await?);
            }
            speaker::shots(&levels, duration)
        } else {
            vec![]
        };
        let composition = layout::compose(layout, tracks.len(), duration, &shots);

        // 4. Compose final.mp4 and each participant's MP4 (20–95 %).
        let title_file = dir.join("title.txt");
        tokio::fs::write(&title_file, &plan.title).await?;
        let final_path = dir.join("final.mp4");
        let args = graph::compose_pass(
            &tracks,
            &composition,
            &title_file,
            duration,
            &s.encoding,
            &final_path,
        );
        self.ffmpeg(args, report.clone(), "encoding", 20.0, 75.0, duration)
            .await?;

        // 5. Upload (95–100 %).
        report("uploading", 95.0);
        let mut outputs = Vec::new();
        let key = final_key(room);
        let final_size = self
            .store
            .put_output(&key, &final_path, "video/mp4")
            .await?;
        outputs.push(RenderOutput {
            kind: OutputKind::Final,
            participant: None,
            key: key.clone(),
            size: final_size,
        });
        for (track, files) in plan.tracks.iter().zip(&tracks) {
            let p = track.participant;
            let wav_key = track_key(room, p, "wav");
            let size = self
                .store
                .put_output(&wav_key, &files.wav, "audio/wav")
                .await?;
            outputs.push(RenderOutput {
                kind: OutputKind::TrackAudio,
                participant: Some(p),
                key: wav_key,
                size,
            });
            if let Some(mp4) = &files.mp4 {
                let mp4_key = track_key(room, p, "mp4");
                let size = self.store.put_output(&mp4_key, mp4, "video/mp4").await?;
                outputs.push(RenderOutput {
                    kind: OutputKind::TrackVideo,
                    participant: Some(p),
                    key: mp4_key,
                    size,
                });
            }
        }
        report("uploading", 100.0);
        Ok(Rendered {
            outputs,
            final_key: key,
            final_size,
            duration_ms: (duration * 1000.0).round() as u64,
        })
    }

    /// Runs ffmpeg off the async threads, mapping its time to `from..from+span` %.
    async fn ffmpeg(
        &self,
        args: Vec<String>,
        report: Report,
        stage: &'static str,
        from: f64,
        span: f64,
        duration: f64,
    ) -> Result<(), RenderError> {
        let ffmpeg = self.settings.ffmpeg.clone();
        report(stage, from);
        tracing::debug!(?args, "ffmpeg");
        tokio::task::spawn_blocking(move || {
            media::run_ffmpeg(&ffmpeg, &args, |t| {
                report(stage, from + span * (t / duration).clamp(0.0, 1.0));
            })
        })
        .await
        .map_err(|e| RenderError::Media(format!("ffmpeg task: {e}")))?
    }
}
