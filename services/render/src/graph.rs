//! The ffmpeg command lines of one window of the timeline, in two passes so
//! every input is decoded once:
//!
//! - [`audio_pass`]: each participant's audio on the window's *span* (the
//!   window plus `PRE_ROLL` before it and `EDGE` after), aligned sample-exactly,
//!   as one WAV per participant. The speaker layout reads its levels.
//! - [`video_pass`]: each participant's picture on the window, the composed
//!   picture, and from the span WAVs: the participant's window PCM, the
//!   participant's AAC and the loudness-normalised mix as AAC.
//!
//! Why a span: AAC frames overlap, so an AAC stream encoded per window and
//! joined would click at every join. Each window's AAC is encoded from `EDGE`
//! before to `EDGE` after the window, and the frames outside it are dropped
//! afterwards (`aac::keep_window`): the joined stream then decodes as if
//! encoded in one go. The loudness normaliser needs history to settle; it
//! gets `PRE_ROLL` seconds of the audio before the window.
//!
//! Alignment: a piece's timestamps are the recorder's own (inputs are read
//! with `-copyts`); its segment starts `offset` seconds after the span or
//! window start, so `PTS + offset` places it. `aresample=async=1:first_pts=0`
//! pads the start with silence (or trims what lies before it) and turns gaps
//! into silence; video goes onto a black base with `overlay`, which holds a
//! piece's last frame (`eof_action=repeat`) or shows black after it (`pass`).
//!
//! Why one file of some 440 lines (tests aside): both passes print one
//! filter-graph language with shared labels (`[t{t}c{c}]`, `[a{t}]`, `[p{t}]`);
//! kept together, a label's producer and consumer sit side by side.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::layout::{Composition, Rect, HEIGHT, WIDTH};

pub const SAMPLE_RATE: u32 = 48_000;
/// Audio before the window that the loudness normaliser settles on (seconds).
pub const PRE_ROLL: f64 = 6.0;
/// AAC frames encoded on each side of the window and dropped: two frames.
pub const EDGE_SAMPLES: u64 = 2048;

/// One decodable slice of a participant's recording.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    /// Where the recorder's time zero lies, in seconds after the window start.
    pub offset: f64,
    pub has_audio: bool,
    pub has_video: bool,
    /// After its end its last frame stays (a recorder restart follows);
    /// `false` when chunks are missing after it: black until the next.
    pub hold: bool,
    /// Seconds into the file where the video pass starts decoding (ffmpeg
    /// seeks to the keyframe before and drops what precedes): the frames
    /// before a window need no decoding.
    pub video_from: Option<f64>,
    /// Its frames reach from before the window to well past it: the
    /// picture needs no black base to stand on.
    pub covers: bool,
}

/// One participant in a window.
#[derive(Debug, Clone)]
pub struct TrackInput {
    /// The participant's name, in a file (drawtext reads it: no escaping).
    pub name_file: PathBuf,
    pub inputs: Vec<Input>,
}

#[derive(Debug, Clone)]
pub struct Encoding {
    /// x264 preset of the composed video (`veryfast` by default).
    pub preset: String,
    /// x264 preset of each participant's own video: its quality comes from
    /// `crf`, the preset only trades file size for speed.
    pub track_preset: String,
    pub crf: u32,
    /// A font for names and the audio-only card; without it, no text.
    pub font: Option<PathBuf>,
}

/// The window: `length` seconds, and the span the audio covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub length: f64,
}

impl Span {
    pub fn window_samples(&self) -> u64 {
        (self.length * f64::from(SAMPLE_RATE)).round() as u64
    }
    pub fn pre_roll_samples(&self) -> u64 {
        (PRE_ROLL * f64::from(SAMPLE_RATE)).round() as u64
    }
    /// Samples of the whole span: pre-roll, window, edge.
    pub fn samples(&self) -> u64 {
        self.pre_roll_samples() + self.window_samples() + EDGE_SAMPLES
    }
    pub fn frames(&self) -> u64 {
        (self.length * f64::from(crate::layout::FPS)).round() as u64
    }
}

/// Files the video pass writes.
#[derive(Debug, Clone)]
pub struct Outputs {
    pub final_video: PathBuf,
    /// Per participant: (video, window PCM, AAC with edges).
    pub tracks: Vec<(PathBuf, PathBuf, PathBuf)>,
    pub mix: PathBuf,
}

fn secs(v: f64) -> String {
    format!("{v:.6}")
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// `-i` for each input `wanted` keeps (after `-ss` where `seek` gives a
/// point); returns their ffmpeg indexes.
fn add_inputs(
    tracks: &[TrackInput],
    args: &mut Vec<String>,
    wanted: impl Fn(&Input) -> bool,
    seek: impl Fn(&Input) -> Option<f64>,
) -> Vec<Vec<(usize, Input)>> {
    let mut n = 0;
    tracks
        .iter()
        .map(|t| {
            t.inputs
                .iter()
                .filter(|i| wanted(i))
                .map(|i| {
                    if let Some(at) = seek(i) {
                        args.extend(["-ss".into(), secs(at)]);
                    }
                    args.extend(["-i".into(), path(&i.path)]);
                    n += 1;
                    (n - 1, i.clone())
                })
                .collect()
        })
        .collect()
}

/// The audio pass: every participant's audio on the span, as `wavs[t]`.
pub fn audio_pass(tracks: &[TrackInput], span: Span, wavs: &[PathBuf]) -> Vec<String> {
    let mut args: Vec<String> = vec!["-y".into(), "-hide_banner".into(), "-copyts".into()];
    let inputs = add_inputs(tracks, &mut args, |i| i.has_audio, |_| None);
    let mut graph = String::new();
    for (t, pieces) in inputs.iter().enumerate() {
        audio_track(&mut graph, t, pieces, span);
    }
    args.extend(["-filter_complex".into(), trim_graph(graph)]);
    for (t, wav) in wavs.iter().enumerate() {
        args.extend(
            ["-map", &format!("[a{t}]"), "-c:a", "pcm_s16le", &path(wav)].map(String::from),
        );
    }
    args
}

/// One participant's audio on the span, as `[a{t}]`.
fn audio_track(graph: &mut String, t: usize, pieces: &[(usize, Input)], span: Span) {
    let n = span.samples();
    let mut labels = Vec::new();
    for (k, (i, input)) in pieces.iter().enumerate() {
        // A recorder that succeeds another (a device change) starts before
        // the other's last slice: from its start only it is heard, not both.
        let cut = pieces.get(k + 1).map(|(_, next)| {
            let at = ((next.offset + PRE_ROLL) * f64::from(SAMPLE_RATE)).round();
            at.max(0.0) as u64
        });
        let until = match cut {
            Some(0) => continue,
            Some(sample) => format!(",atrim=end_sample={sample}"),
            None => String::new(),
        };
        let label = format!("a{t}p{k}");
        let _ = writeln!(
            graph,
            "[{i}:a]asetpts=PTS+{}/TB,aresample={SAMPLE_RATE}:async=1:first_pts=0,\
             aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo{until}[{label}];",
            secs(input.offset + PRE_ROLL)
        );
        labels.push(label);
    }
    let fit = format!("atrim=end_sample={n},apad=whole_len={n}");
    match labels.as_slice() {
        [] => {
            let _ = writeln!(
                graph,
                "anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={n}[a{t}];"
            );
        }
        [one] => {
            let _ = writeln!(graph, "[{one}]{fit}[a{t}];");
        }
        many => {
            let ins: String = many.iter().map(|p| format!("[{p}]")).collect();
            let _ = writeln!(
                graph,
                "{ins}amix=inputs={}:normalize=0:duration=longest,{fit}[a{t}];",
                many.len()
            );
        }
    }
}

/// The video pass: pictures, composition, and the audio outputs from `wavs`.
pub fn video_pass(
    tracks: &[TrackInput],
    composition: &Composition,
    title_file: &Path,
    span: Span,
    encoding: &Encoding,
    wavs: &[PathBuf],
    labels: &[PathBuf],
    out: &Outputs,
) -> Vec<String> {
    let mut args: Vec<String> = vec!["-y".into(), "-hide_banner".into(), "-copyts".into()];
    let inputs = add_inputs(tracks, &mut args, |i| i.has_video, |i| i.video_from);
    let first_wav = inputs.iter().map(Vec::len).sum::<usize>();
    for file in wavs.iter().chain(labels) {
        args.extend(["-i".into(), path(file)]);
    }
    let mut graph = String::new();
    for (t, pieces) in inputs.iter().enumerate() {
        let copies = distinct_rects(composition, t).len() + 1;
        picture(&mut graph, t, pieces, span, copies);
    }
    let labels = (!labels.is_empty()).then_some(first_wav + wavs.len());
    compose(
        &mut graph,
        tracks,
        composition,
        title_file,
        span,
        encoding,
        labels,
    );
    audio_outputs(&mut graph, tracks.len(), first_wav, span);
    args.extend(["-filter_complex".into(), trim_graph(graph)]);

    let x264 = |preset: &str| -> Vec<String> {
        [
            "-c:v",
            "libx264",
            "-preset",
            preset,
            "-crf",
            &encoding.crf.to_string(),
        ]
        .into_iter()
        .chain(["-pix_fmt", "yuv420p", "-r", "30"])
        .map(String::from)
        .collect()
    };
    let aac = |label: String, file: &Path| -> Vec<String> {
        [
            "-map",
            &label,
            "-c:a",
            "aac",
            "-b:a",
            "192k",
            "-f",
            "adts",
            &path(file),
        ]
        .map(String::from)
        .to_vec()
    };
    args.extend(["-map".into(), "[final]".into()]);
    args.extend(x264(&encoding.preset));
    args.push(path(&out.final_video));
    for (t, (video, pcm, track_aac)) in out.tracks.iter().enumerate() {
        args.extend(["-map".into(), format!("[t{t}m]")]);
        args.extend(x264(&encoding.track_preset));
        args.push(path(video));
        args.extend(
            ["-map", &format!("[p{t}]"), "-c:a", "pcm_s16le", &path(pcm)].map(String::from),
        );
        args.extend(aac(format!("[e{t}]"), track_aac));
    }
    args.extend(aac("[mix]".into(), &out.mix));
    args
}

/// Participant `t`'s picture on the window as `copies` labels `[t{t}c{c}]`;
/// the last copy is its own video, `[t{t}m]`.
/// The colours every rendered picture is said to have. x264 writes a
/// picture's colour tags into the stream's parameters, and a window joins
/// the others only with the same parameters (`composite`): a participant's
/// frames carried their camera's tags (Chromium's VP9: BT.601, limited
/// range) and the black behind someone not yet there none. Webcam video in
/// browsers is BT.601; the pixels are not converted, only said to be that.
pub const COLOUR: &str =
    "setparams=range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m";

fn picture(graph: &mut String, t: usize, pieces: &[(usize, Input)], span: Span, copies: usize) {
    let (w, h, d, frames) = (WIDTH, HEIGHT, secs(span.length), span.frames());
    let mut outs: String = (0..copies - 1).map(|c| format!("[t{t}c{c}]")).collect();
    outs.push_str(&format!("[t{t}m]"));
    if let [(i, input)] = pieces {
        if input.covers {
            // One recording through the whole window (the usual case): its
            // frames from the window's first instant, no base to overlay.
            let _ = writeln!(
                graph,
                "[{i}:v]setpts=PTS+{}/TB,fps=30:start_time=0,scale={w}:{h}:force_original_aspect_ratio=decrease,\
                 pad={w}:{h}:-1:-1:color=black,setsar=1,trim=end_frame={frames},format=yuv420p,{COLOUR},split={copies}{outs};",
                secs(input.offset)
            );
            return;
        }
    }
    let _ = writeln!(graph, "color=c=black:s={w}x{h}:r=30:d={d}[t{t}b0];");
    let mut last = format!("t{t}b0");
    for (k, (i, input)) in pieces.iter().enumerate() {
        let _ = writeln!(
            graph,
            "[{i}:v]setpts=PTS+{}/TB,fps=30,scale={w}:{h}:force_original_aspect_ratio=decrease,\
             pad={w}:{h}:-1:-1:color=black,setsar=1[t{t}p{k}];\
             [{last}][t{t}p{k}]overlay=eof_action={}[t{t}b{}];",
            secs(input.offset),
            if input.hold { "repeat" } else { "pass" },
            k + 1
        );
        last = format!("t{t}b{}", k + 1);
    }
    let _ = writeln!(
        graph,
        "[{last}]trim=end_frame={frames},format=yuv420p,{COLOUR},split={copies}{outs};"
    );
}

/// The tiles that carry a name, in the order [`compose`] lays them:
/// (participant, tile). Each gets a label made by [`label_args`].
pub fn labelled_tiles(composition: &Composition, tracks: usize) -> Vec<(usize, Rect)> {
    (0..tracks)
        .flat_map(|t| {
            distinct_rects(composition, t)
                .into_iter()
                .map(move |r| (t, r))
        })
        .collect()
}

/// The name label of a `rect` tile: the name in `name_file` drawn once into
/// a transparent band as wide as the tile, laid over the tile's foot. Drawn
/// on every frame instead (`drawtext`), two names cost a two-person 16 s
/// window 2 of its 28 CPU seconds.
pub fn label_args(font: &Path, name_file: &Path, rect: Rect, out: &Path) -> Vec<String> {
    let size = label_size(rect);
    let band = label_band(rect);
    [
        "-y",
        "-hide_banner",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        &format!("color=c=black@0.0:s={}x{band},format=rgba", rect.w),
        "-vf",
        &format!(
            "drawtext=fontfile='{}':textfile='{}':expansion=none:fontcolor=white:\
             fontsize={size}:x=10:y=h-th-10:box=1:boxcolor=black@0.55:boxborderw=5",
            font.display(),
            name_file.display()
        ),
        "-frames:v",
        "1",
        &path(out),
    ]
    .map(String::from)
    .to_vec()
}

fn label_size(rect: Rect) -> u32 {
    (rect.h / 20).max(12)
}

/// The label's height: the text, its box and the margin below, with room
/// for tall and descending glyphs.
fn label_band(rect: Rect) -> u32 {
    (2 * label_size(rect) + 20).min(rect.h)
}

/// The canvas with every tile where and when the composition places it, as
/// `[final]`; the tiles' labels are inputs from `first_label` on, in the
/// order of [`labelled_tiles`].
fn compose(
    graph: &mut String,
    tracks: &[TrackInput],
    composition: &Composition,
    title_file: &Path,
    span: Span,
    encoding: &Encoding,
    first_label: Option<usize>,
) {
    let text = |file: &Path, style: &str| -> String {
        // Names and titles come from files, shown as they are
        // (`expansion=none`: a `%` in a name is text, not a directive).
        match &encoding.font {
            Some(font) => format!(
                ",drawtext=fontfile='{}':textfile='{}':expansion=none:fontcolor=white:{style}",
                font.display(),
                file.display()
            ),
            None => String::new(),
        }
    };
    let (cw, ch, fps) = (composition.width, composition.height, composition.fps);
    let _ = writeln!(
        graph,
        "color=c=0x16181d:s={cw}x{ch}:r={fps}:d={}[k0];",
        secs(span.length)
    );
    let mut canvas = "k0".to_string();
    let (mut layer, mut labelled) = (0usize, 0usize);
    for t in 0..tracks.len() {
        for (c, rect) in distinct_rects(composition, t).into_iter().enumerate() {
            let when: Vec<String> = composition
                .placements
                .iter()
                .filter(|p| p.track == t && p.rect == rect)
                .map(|p| format!("between(t,{},{})", secs(p.from), secs(p.to)))
                .collect();
            let label = match first_label {
                Some(first) => {
                    let input = first + labelled;
                    labelled += 1;
                    format!(
                        "[t{t}u{c}];[t{t}u{c}][{input}:v]overlay=x=0:y={}",
                        rect.h - label_band(rect)
                    )
                }
                None => String::new(),
            };
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
    let _ = writeln!(
        graph,
        "[{canvas}]fps=30,trim=end_frame={},format=yuv420p,{COLOUR}[final];",
        span.frames()
    );
}

/// From each span WAV: the window PCM `[p{t}]`, the AAC source with edges
/// `[e{t}]`, and the loudness-normalised mix with edges `[mix]`.
fn audio_outputs(graph: &mut String, tracks: usize, first_wav: usize, span: Span) {
    let (pre, win) = (span.pre_roll_samples(), span.window_samples());
    let window = format!(
        "atrim=start_sample={pre}:end_sample={},asetpts=PTS-STARTPTS",
        pre + win
    );
    let edged = format!(
        "atrim=start_sample={}:end_sample={},asetpts=PTS-STARTPTS",
        pre - EDGE_SAMPLES,
        pre + win + EDGE_SAMPLES
    );
    let mut mix = String::new();
    for t in 0..tracks {
        let _ = writeln!(
            graph,
            "[{}:a]asplit=3[s{t}p][s{t}e][m{t}];[s{t}p]{window}[p{t}];[s{t}e]{edged}[e{t}];",
            first_wav + t
        );
        let _ = write!(mix, "[m{t}]");
    }
    let loudness = "loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000,\
                    aformat=sample_fmts=fltp:channel_layouts=stereo";
    let _ = match tracks {
        0 => writeln!(
            graph,
            "anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={}[mix];",
            win + 2 * EDGE_SAMPLES
        ),
        1 => writeln!(graph, "{mix}{loudness},{edged}[mix];"),
        n => writeln!(
            graph,
            "{mix}amix=inputs={n}:normalize=0:duration=longest,{loudness},{edged}[mix];"
        ),
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout;
    use zencast_events::Layout;

    fn input(name: &str, offset: f64, hold: bool) -> Input {
        Input {
            path: PathBuf::from(name),
            offset,
            has_audio: true,
            has_video: true,
            hold,
            video_from: None,
            covers: false,
        }
    }

    #[test]
    fn only_the_video_pass_seeks_into_an_input() {
        let mut tracks = two_people();
        tracks[1].inputs[0].video_from = Some(27.5);
        let span = Span { length: 8.0 };
        let wavs = [PathBuf::from("/w/s0.wav"), PathBuf::from("/w/s1.wav")];
        let audio = audio_pass(&tracks, span, &wavs);
        assert!(!audio.contains(&"-ss".to_string()), "{audio:?}");
        let composition = layout::compose(Layout::Grid, 2, span.length, &[]);
        let outputs = Outputs {
            final_video: "/w/final.mp4".into(),
            tracks: vec![],
            mix: "/w/mix.aac".into(),
        };
        let encoding = Encoding {
            preset: "ultrafast".into(),
            track_preset: "ultrafast".into(),
            crf: 23,
            font: None,
        };
        let args = video_pass(
            &tracks,
            &composition,
            Path::new("/w/t"),
            span,
            &encoding,
            &wavs,
            &[],
            &outputs,
        );
        let at = args.iter().position(|a| a == "/w/g0.webm").unwrap();
        assert_eq!(args[at - 3..at], ["-ss", "27.500000", "-i"]);
        assert_eq!(args.iter().filter(|a| *a == "-ss").count(), 1);
    }

    fn two_people() -> Vec<TrackInput> {
        vec![
            TrackInput {
                name_file: "/w/n0".into(),
                inputs: vec![input("/w/h.webm", -12.5, true)],
            },
            TrackInput {
                name_file: "/w/n1".into(),
                inputs: vec![
                    input("/w/g0.webm", -30.0, true),
                    input("/w/g1.mkv", 3.0, true),
                ],
            },
        ]
    }

    /// Golden: the audio of a participant with two recorders in a window;
    /// the first is heard until the second starts.
    #[test]
    fn the_audio_pass_places_each_recorder_on_the_span() {
        let span = Span { length: 8.0 };
        let args = audio_pass(
            &two_people(),
            span,
            &["/w/a0.wav".into(), "/w/a1.wav".into()],
        );
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert_eq!(
            graph,
            "[0:a]asetpts=PTS+-6.500000/TB,aresample=48000:async=1:first_pts=0,\
             aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a0p0];\
             [a0p0]atrim=end_sample=674048,apad=whole_len=674048[a0];\
             [1:a]asetpts=PTS+-24.000000/TB,aresample=48000:async=1:first_pts=0,\
             aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,\
             atrim=end_sample=432000[a1p0];\
             [2:a]asetpts=PTS+9.000000/TB,aresample=48000:async=1:first_pts=0,\
             aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a1p1];\
             [a1p0][a1p1]amix=inputs=2:normalize=0:duration=longest,\
             atrim=end_sample=674048,apad=whole_len=674048[a1]"
        );
        assert_eq!(&args[..3], ["-y", "-hide_banner", "-copyts"]);
        assert!(args.ends_with(&[
            "-map".into(),
            "[a1]".into(),
            "-c:a".into(),
            "pcm_s16le".into(),
            "/w/a1.wav".into()
        ]));
    }

    /// Golden: the window PCM, the AAC with edges, and the mix.
    #[test]
    fn the_audio_outputs_cut_the_window_and_its_edges_from_the_span() {
        let mut graph = String::new();
        audio_outputs(&mut graph, 2, 3, Span { length: 8.0 });
        assert_eq!(
            trim_graph(graph),
            "[3:a]asplit=3[s0p][s0e][m0];\
             [s0p]atrim=start_sample=288000:end_sample=672000,asetpts=PTS-STARTPTS[p0];\
             [s0e]atrim=start_sample=285952:end_sample=674048,asetpts=PTS-STARTPTS[e0];\
             [4:a]asplit=3[s1p][s1e][m1];\
             [s1p]atrim=start_sample=288000:end_sample=672000,asetpts=PTS-STARTPTS[p1];\
             [s1e]atrim=start_sample=285952:end_sample=674048,asetpts=PTS-STARTPTS[e1];\
             [m0][m1]amix=inputs=2:normalize=0:duration=longest,\
             loudnorm=I=-16:TP=-1.5:LRA=11,aresample=48000,\
             aformat=sample_fmts=fltp:channel_layouts=stereo,\
             atrim=start_sample=285952:end_sample=674048,asetpts=PTS-STARTPTS[mix]"
        );
    }

    /// Golden: one recording through the whole window needs no black base.
    #[test]
    fn the_picture_of_a_covering_recording_is_its_frames_from_the_window_start() {
        let mut graph = String::new();
        let mut whole = input("/w/h.webm", -12.5, true);
        whole.covers = true;
        picture(&mut graph, 0, &[(0, whole)], Span { length: 8.0 }, 2);
        assert_eq!(
            trim_graph(graph),
            "[0:v]setpts=PTS+-12.500000/TB,fps=30:start_time=0,\
             scale=1280:720:force_original_aspect_ratio=decrease,\
             pad=1280:720:-1:-1:color=black,setsar=1,trim=end_frame=240,format=yuv420p,\
             setparams=range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m,split=2[t0c0][t0m]"
        );
    }

    /// Golden: a picture held across a recorder restart, cut to the window.
    #[test]
    fn the_picture_of_a_restarted_recorder_holds_until_the_next() {
        let mut graph = String::new();
        let pieces = vec![
            (1, input("/w/g0.webm", -30.0, true)),
            (2, input("/w/g1.webm", 3.0, false)),
        ];
        picture(&mut graph, 1, &pieces, Span { length: 8.0 }, 2);
        assert_eq!(
            trim_graph(graph),
            "color=c=black:s=1280x720:r=30:d=8.000000[t1b0];\
             [1:v]setpts=PTS+-30.000000/TB,fps=30,scale=1280:720:force_original_aspect_ratio=decrease,\
             pad=1280:720:-1:-1:color=black,setsar=1[t1p0];[t1b0][t1p0]overlay=eof_action=repeat[t1b1];\
             [2:v]setpts=PTS+3.000000/TB,fps=30,scale=1280:720:force_original_aspect_ratio=decrease,\
             pad=1280:720:-1:-1:color=black,setsar=1[t1p1];[t1b1][t1p1]overlay=eof_action=pass[t1b2];\
             [t1b2]trim=end_frame=240,format=yuv420p,\
             setparams=range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m,split=2[t1c0][t1m]"
        );
    }

    /// Golden: a side-by-side composition of two tiles, without a font.
    #[test]
    fn the_composition_places_every_tile() {
        let mut graph = String::new();
        let encoding = Encoding {
            preset: "veryfast".into(),
            track_preset: "ultrafast".into(),
            crf: 23,
            font: None,
        };
        let composition = layout::compose(Layout::SideBySide, 2, 8.0, &[]);
        compose(
            &mut graph,
            &two_people(),
            &composition,
            Path::new("/w/title"),
            Span { length: 8.0 },
            &encoding,
            None,
        );
        assert_eq!(
            trim_graph(graph),
            "color=c=0x16181d:s=1280x720:r=30:d=8.000000[k0];\
             [t0c0]scale=640:720:force_original_aspect_ratio=increase,crop=640:720[t0r0];\
             [k0][t0r0]overlay=x=0:y=0:enable='between(t,0.000000,8.000000)'[k1];\
             [t1c0]scale=640:720:force_original_aspect_ratio=increase,crop=640:720[t1r0];\
             [k1][t1r0]overlay=x=640:y=0:enable='between(t,0.000000,8.000000)'[k2];\
             [k2]fps=30,trim=end_frame=240,format=yuv420p,\
             setparams=range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m[final]"
        );
    }

    /// Golden: with a font, each tile's name label (an input made once per
    /// window) is laid over the tile's foot before the tile is placed.
    #[test]
    fn with_a_font_each_tile_gets_its_label_laid_over_its_foot() {
        let mut graph = String::new();
        let encoding = Encoding {
            preset: "veryfast".into(),
            track_preset: "ultrafast".into(),
            crf: 23,
            font: Some("/f.ttf".into()),
        };
        let composition = layout::compose(Layout::SideBySide, 2, 8.0, &[]);
        let tiles = labelled_tiles(&composition, 2);
        assert_eq!(tiles.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [0, 1]);
        compose(
            &mut graph,
            &two_people(),
            &composition,
            Path::new("/w/title"),
            Span { length: 8.0 },
            &encoding,
            Some(5),
        );
        assert_eq!(
            trim_graph(graph),
            "color=c=0x16181d:s=1280x720:r=30:d=8.000000[k0];\
             [t0c0]scale=640:720:force_original_aspect_ratio=increase,crop=640:720[t0u0];\
             [t0u0][5:v]overlay=x=0:y=628[t0r0];\
             [k0][t0r0]overlay=x=0:y=0:enable='between(t,0.000000,8.000000)'[k1];\
             [t1c0]scale=640:720:force_original_aspect_ratio=increase,crop=640:720[t1u0];\
             [t1u0][6:v]overlay=x=0:y=628[t1r0];\
             [k1][t1r0]overlay=x=640:y=0:enable='between(t,0.000000,8.000000)'[k2];\
             [k2]fps=30,trim=end_frame=240,format=yuv420p,\
             setparams=range=tv:color_primaries=smpte170m:color_trc=smpte170m:colorspace=smpte170m[final]"
        );
        let args = label_args(
            Path::new("/f.ttf"),
            Path::new("/w/n0"),
            tiles[0].1,
            Path::new("/w/l0.png"),
        );
        assert!(
            args.contains(&"color=c=black@0.0:s=640x92,format=rgba".to_string()),
            "{args:?}"
        );
        assert!(args
            .iter()
            .any(|a| a.contains("textfile='/w/n0'") && a.contains("fontsize=36")));
        assert_eq!(args.last().unwrap(), "/w/l0.png");
    }
}
