//! The ffmpeg command lines: one audio pass that writes each participant's
//! aligned track as WAV, and one pass that composes `final.mp4` and writes each
//! participant's aligned MP4, decoding every input once.
//!
//! Alignment: a piece whose segment starts `start` seconds into the session is
//! delayed by exactly that many samples (`adelay …S`) and its video timestamps
//! shifted by that much (`setpts=PTS+start/TB`). `aresample=async=1:first_pts=0`
//! turns gaps inside a piece into silence; `overlay=eof_action=repeat` holds a
//! piece's last frame until the next one begins. `amix` runs with
//! `normalize=0` so mixing does not lower everyone's level.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::layout::{Composition, Rect};

pub const SAMPLE_RATE: u32 = 48_000;

/// One decodable input, remuxed, placed on the timeline.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub start: f64,
    pub has_audio: bool,
    pub has_video: bool,
    /// After its end, its last frame stays until the next piece (a recorder
    /// restart); `false` when chunks are missing after it: black until the next.
    pub hold: bool,
}

#[derive(Debug, Clone)]
pub struct TrackFiles {
    /// The participant's name, in a file (drawtext reads it: no escaping).
    pub name_file: PathBuf,
    pub inputs: Vec<Input>,
    pub wav: PathBuf,
    pub mp4: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Encoding {
    /// x264 preset (`veryfast` by default).
    pub preset: String,
    pub crf: u32,
    /// A font for names and the audio-only card; without it, no text.
    pub font: Option<PathBuf>,
}

fn secs(v: f64) -> String {
    format!("{v:.6}")
}

/// Arguments of the audio pass: every track as a WAV of `duration` seconds.
pub fn audio_pass(tracks: &[TrackFiles], duration: f64) -> Vec<String> {
    let mut args: Vec<String> = vec!["-y".into(), "-hide_banner".into()];
    let mut graph = String::new();
    let mut next_input = 0usize;
    for input in tracks
        .iter()
        .flat_map(|t| &t.inputs)
        .filter(|i| i.has_audio)
    {
        args.extend(["-i".into(), input.path.display().to_string()]);
    }
    for (t, track) in tracks.iter().enumerate() {
        let mut pieces = Vec::new();
        for input in track.inputs.iter().filter(|i| i.has_audio) {
            let delay = (input.start * f64::from(SAMPLE_RATE)).round().max(0.0) as u64;
            let label = format!("a{t}p{}", pieces.len());
            let _ = writeln!(
                graph,
                "[{next_input}:a]aresample={SAMPLE_RATE}:async=1:first_pts=0,\
                 aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo,\
                 adelay=delays={delay}S:all=1[{label}];"
            );
            next_input += 1;
            pieces.push(label);
        }
        let pad = format!("apad=whole_dur={}", secs(duration));
        match pieces.len() {
            0 => {
                let _ = writeln!(
                    graph,
                    "anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=duration={}[a{t}];",
                    secs(duration)
                );
            }
            1 => {
                let _ = writeln!(graph, "[{}]{pad}[a{t}];", pieces[0]);
            }
            n => {
                let ins: String = pieces.iter().map(|p| format!("[{p}]")).collect();
                let _ = writeln!(
                    graph,
                    "{ins}amix=inputs={n}:normalize=0:duration=longest,{pad}[a{t}];"
                );
            }
        }
    }
    args.extend(["-filter_complex".into(), trim_graph(graph)]);
    for (t, track) in tracks.iter().enumerate() {
        args.extend(
            [
                "-map",
                &format!("[a{t}]"),
                "-c:a",
                "pcm_s16le",
                "-ar",
                &SAMPLE_RATE.to_string(),
                "-t",
                &secs(duration),
                &track.wav.display().to_string(),
            ]
            .map(String::from),
        );
    }
    args
}

/// Arguments of the compose pass: `final_path` plus each track's MP4.
pub fn compose_pass(
    tracks: &[TrackFiles],
    composition: &Composition,
    title_file: &Path,
    duration: f64,
    encoding: &Encoding,
    final_path: &Path,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["-y".into(), "-hide_banner".into()];
    let mut graph = String::new();
    let d = secs(duration);
    let (cw, ch, fps) = (composition.width, composition.height, composition.fps);
    let (tw, th) = (crate::layout::WIDTH, crate::layout::HEIGHT);
    // Names and titles come from files, shown as they are (`expansion=none`:
    // a `%` or `:` in a name is text, not a drawtext directive).
    let text = |file: &Path, style: &str| -> String {
        match &encoding.font {
            Some(font) => format!(
                ",drawtext=fontfile='{}':textfile='{}':expansion=none:fontcolor=white:{style}",
                font.display(),
                file.display()
            ),
            None => String::new(),
        }
    };

    // Inputs: every video piece, then every track's WAV.
    let mut input = 0usize;
    let mut video_inputs: Vec<Vec<(usize, f64, bool)>> = Vec::new();
    for track in tracks {
        let mut mine = Vec::new();
        for i in track.inputs.iter().filter(|i| i.has_video) {
            args.extend(["-i".into(), i.path.display().to_string()]);
            mine.push((input, i.start, i.hold));
            input += 1;
        }
        video_inputs.push(mine);
    }
    let wav_input = input;
    for track in tracks {
        args.extend(["-i".into(), track.wav.display().to_string()]);
    }

    // Each participant's picture on the timeline.
    let video_needed = !composition.placements.is_empty() || tracks.iter().any(|t| t.mp4.is_some());
    for (t, track) in tracks.iter().enumerate() {
        let rects = distinct_rects(composition, t);
        let copies = rects.len() + usize::from(track.mp4.is_some());
        if !video_needed || copies == 0 {
            continue;
        }
        match video_inputs[t].as_slice() {
            // No picture at all: black.
            [] => {
                let _ = writeln!(graph, "color=c=black:s={tw}x{th}:r=30:d={d}[t{t}b];");
            }
            // One recorder (the usual case): at its own size, padded with black
            // at the start; its last frame holds to the end (overlay's default).
            [(i, start, _)] => {
                let _ = writeln!(
                    graph,
                    "[{i}:v]fps=30,setsar=1,tpad=start_duration={}:color=black[t{t}b];",
                    secs(start.max(0.0))
                );
            }
            // Several recorders (reloads): each on a black track at its place,
            // the last frame of one held until the next begins.
            pieces => {
                let _ = writeln!(graph, "color=c=black:s={tw}x{th}:r=30:d={d}[t{t}b0];");
                let mut last = format!("t{t}b0");
                for (k, (i, start, hold)) in pieces.iter().enumerate() {
                    let _ = writeln!(
                        graph,
                        "[{i}:v]fps=30,scale={tw}:{th}:force_original_aspect_ratio=decrease,\
                         pad={tw}:{th}:-1:-1:color=black,setsar=1,setpts=PTS+{}/TB[t{t}p{k}];\
                         [{last}][t{t}p{k}]overlay=eof_action={}[t{t}b{}];",
                        secs(start.max(0.0)),
                        if *hold { "repeat" } else { "pass" },
                        k + 1
                    );
                    last = format!("t{t}b{}", k + 1);
                }
                let _ = writeln!(graph, "[{last}]null[t{t}b];");
            }
        }
        let outs: String = (0..copies).map(|c| format!("[t{t}c{c}]")).collect();
        let _ = writeln!(graph, "[t{t}b]split={copies}{outs};");
        if track.mp4.is_some() {
            let _ = writeln!(
                graph,
                "[t{t}c{}]scale={tw}:{th}:force_original_aspect_ratio=decrease,\
                 pad={tw}:{th}:-1:-1:color=black,setsar=1[t{t}m];",
                rects.len()
            );
        }
    }

    // The canvas, then every tile where and when the composition places it.
    let _ = writeln!(graph, "color=c=0x16181d:s={cw}x{ch}:r={fps}:d={d}[k0];");
    let mut canvas = "k0".to_string();
    let mut layer = 0usize;
    for (t, track) in tracks.iter().enumerate() {
        for (c, rect) in distinct_rects(composition, t).into_iter().enumerate() {
            let when: Vec<String> = composition
                .placements
                .iter()
                .filter(|p| p.track == t && p.rect == rect)
                .map(|p| format!("between(t,{},{})", secs(p.from), secs(p.to)))
                .collect();
            let size = (rect.h / 20).max(12);
            let label = text(
                &track.name_file,
                &format!("fontsize={size}:x=10:y=h-th-10:box=1:boxcolor=black@0.55:boxborderw=5"),
            );
            layer += 1;
            let _ = writeln!(
                graph,
                "[t{t}c{c}]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h}{label}[t{t}r{c}];\
                 [{canvas}][t{t}r{c}]overlay=x={x}:y={y}:enable='{}'[k{layer}];",
                when.join("+"),
                w = rect.w,
                h = rect.h,
                x = rect.x,
                y = rect.y,
            );
            canvas = format!("k{layer}");
        }
    }
    if composition.card {
        let title = text(title_file, "fontsize=56:x=(w-tw)/2:y=h/3-th");
        let names: String = tracks
            .iter()
            .enumerate()
            .map(|(i, t)| {
                text(
                    &t.name_file,
                    &format!("fontsize=40:x=(w-tw)/2:y=h/2+{}", i * 56),
                )
            })
            .collect();
        let _ = writeln!(graph, "[{canvas}]null{title}{names}[card];");
        canvas = "card".into();
    }
    let _ = writeln!(graph, "[{canvas}]format=yuv420p[final];");

    // Audio: each track to its MP4 and into the mix.
    let mut mix = String::new();
    for (t, track) in tracks.iter().enumerate() {
        let w = wav_input + t;
        if track.mp4.is_some() {
            let _ = writeln!(graph, "[{w}:a]asplit=2[m{t}][o{t}];");
        } else {
            let _ = writeln!(graph, "[{w}:a]anull[m{t}];");
        }
        let _ = write!(mix, "[m{t}]");
    }
    let loudness = "loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000,\
                    aformat=sample_fmts=fltp:channel_layouts=stereo";
    if tracks.len() > 1 {
        let _ = writeln!(
            graph,
            "{mix}amix=inputs={}:normalize=0:duration=longest,{loudness}[mix];",
            tracks.len()
        );
    } else {
        let _ = writeln!(graph, "{mix}{loudness}[mix];");
    }
    args.extend(["-filter_complex".into(), trim_graph(graph)]);

    let video = |preset: &str, crf: u32| -> Vec<String> {
        [
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-crf",
            &crf.to_string(),
            "-pix_fmt",
            "yuv420p",
        ]
        .map(String::from)
        .to_vec()
    };
    let audio = ["-c:a", "aac", "-b:a", "192k", "-ar", "48000"].map(String::from);
    let tail = |path: &Path| -> Vec<String> {
        [
            "-movflags",
            "+faststart",
            "-t",
            &d,
            &path.display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    };
    args.extend([
        "-map".into(),
        "[final]".into(),
        "-map".into(),
        "[mix]".into(),
    ]);
    args.extend(video(&encoding.preset, encoding.crf));
    args.extend(audio.clone());
    args.extend(tail(final_path));
    for (t, track) in tracks.iter().enumerate() {
        if let Some(mp4) = &track.mp4 {
            args.extend([
                "-map".into(),
                format!("[t{t}m]"),
                "-map".into(),
                format!("[o{t}]"),
            ]);
            args.extend(video(&encoding.preset, encoding.crf));
            args.extend(audio.clone());
            args.extend(tail(mp4));
        }
    }
    args
}

/// The rectangles track `t` appears in, each once, in a fixed order.
fn distinct_rects(composition: &Composition, t: usize) -> Vec<Rect> {
    let mut rects: Vec<Rect> = composition
        .placements
        .iter()
        .filter(|p| p.track == t)
        .map(|p| p.rect)
        .collect();
    rects.sort();
    rects.dedup();
    rects
}

fn trim_graph(graph: String) -> String {
    graph.trim_end().trim_end_matches(';').replace('\n', "")
}
