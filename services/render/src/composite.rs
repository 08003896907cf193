//! An MP4 joined from the windows without copying them: the file is its
//! index (`moov`, first, so browsers play it as it downloads) followed by
//! every window's stored video samples and AAC frames where they already
//! lie in the store (`zencast_storage::Span`). After the last chunk only the
//! index is written, whatever the session's length.
//!
//! What each track is (codec, size, timescale) comes from the first
//! window's MP4 and from ffmpeg's MP4 of its AAC; only the sample tables
//! are joined here: each window's video tables read from its MP4, and each
//! AAC frame found in its ADTS stream (an ADTS header between frames is
//! left in the data, unread).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use mp4_atom::{
    Co64, Codec, Ctts, CttsEntry, Decode, Encode, FourCC, Moov, Stbl, Stsc, StscEntry, Stss, Stsz,
    StszSamples, Stts, SttsEntry, Trak,
};
use zencast_storage::{Range, Span};

use crate::RenderError;

/// One window's part of an MP4: its video (an MP4 of one video track) and
/// its AAC frames (ADTS), each on this machine and in the store.
#[derive(Debug, Clone)]
pub struct WindowMedia {
    pub video: PathBuf,
    pub video_key: String,
    pub aac: PathBuf,
    pub aac_key: String,
}

fn bad(what: impl std::fmt::Display) -> RenderError {
    RenderError::Media(format!("joining MP4 windows: {what}"))
}

/// A top-level box: its type, where it starts, its header's and its whole length.
pub struct TopBox {
    pub kind: [u8; 4],
    pub start: u64,
    pub header: u64,
    pub size: u64,
}

impl TopBox {
    /// The box at `start` of a file of `end` bytes, from its first 8 bytes
    /// (16 if its size is 64-bit).
    pub fn parse(h: &[u8], start: u64, end: u64) -> Result<Self, RenderError> {
        let short = || bad(format!("a box header cut short at {start}"));
        let head: [u8; 8] = h.get(..8).ok_or_else(short)?.try_into().unwrap();
        let kind = [head[4], head[5], head[6], head[7]];
        let (header, size) = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) {
            0 => (8, end - start),
            1 => {
                let large: [u8; 8] = h.get(8..16).ok_or_else(short)?.try_into().unwrap();
                (16, u64::from_be_bytes(large))
            }
            n => (8, u64::from(n)),
        };
        if size < header || start + size > end {
            return Err(bad(format!("a box of {size} bytes at {start} of {end}")));
        }
        Ok(TopBox {
            kind,
            start,
            header,
            size,
        })
    }

    /// Whether the joining reads the box whole (the rest only by its header).
    pub fn is_read(&self) -> bool {
        matches!(&self.kind, b"ftyp" | b"moov")
    }
}

/// The top-level boxes of an MP4 file, read header by header.
fn top_boxes(file: &mut std::fs::File) -> Result<Vec<TopBox>, RenderError> {
    let end = file.metadata()?.len();
    let mut boxes = Vec::new();
    let mut at = 0;
    while at + 8 <= end {
        file.seek(SeekFrom::Start(at))?;
        let mut h = vec![0u8; 16.min(end - at) as usize];
        file.read_exact(&mut h)?;
        let b = TopBox::parse(&h, at, end)?;
        at += b.size;
        boxes.push(b);
    }
    Ok(boxes)
}

fn read_box(file: &mut std::fs::File, b: &TopBox) -> Result<Vec<u8>, RenderError> {
    let mut bytes = vec![0; b.size as usize];
    file.seek(SeekFrom::Start(b.start))?;
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn find<'a>(boxes: &'a [TopBox], kind: &[u8; 4]) -> Result<&'a TopBox, RenderError> {
    boxes
        .iter()
        .find(|b| &b.kind == kind)
        .ok_or_else(|| bad(format!("no {}", String::from_utf8_lossy(kind))))
}

fn decode_moov(bytes: &[u8]) -> Result<Moov, RenderError> {
    Moov::decode(&mut &bytes[..]).map_err(|e| bad(format!("moov: {e}")))
}

fn handler(trak: &Trak) -> FourCC {
    trak.mdia.hdlr.handler
}

/// The samples of one track, joined window after window.
#[derive(Default)]
struct Samples {
    stsd: Vec<Codec>,
    durations: Vec<SttsEntry>,
    /// Composition offsets, one run per window (none where a window has none).
    offsets: Vec<CttsEntry>,
    any_offset: bool,
    /// Where presentation starts in composition time (the edit list's).
    shift: i64,
    sync: Vec<u32>,
    all_sync: bool,
    sizes: Vec<u32>,
    /// (offset in the file, samples, sample description), one per chunk.
    chunks: Vec<(u64, u32, u32)>,
}

impl Samples {
    fn count(&self) -> u32 {
        self.sizes.len() as u32
    }

    fn duration(&self) -> u64 {
        self.durations
            .iter()
            .map(|e| u64::from(e.sample_count) * u64::from(e.sample_delta))
            .sum()
    }

    fn push_duration(&mut self, count: u32, delta: u32) {
        match self.durations.last_mut() {
            Some(last) if last.sample_delta == delta => last.sample_count += count,
            _ => self.durations.push(SttsEntry {
                sample_count: count,
                sample_delta: delta,
            }),
        }
    }

    /// Adds a window's video track, whose samples lie in its `mdat` payload
    /// from `payload` on; that payload starts at `base` in the joined file.
    /// Its frames are presented from composition time `shift` on (its edit
    /// list), the joined file's from `self.shift`.
    fn push_video(
        &mut self,
        stbl: &Stbl,
        payload: (u64, u64),
        base: u64,
        shift: i64,
    ) -> Result<(), RenderError> {
        // One description for the whole file: players do not switch
        // decoder settings within a track (ffmpeg decoded a window with
        // another's after a switch), so a window encoded otherwise fails
        // the join rather than play wrong.
        let codecs: Vec<Codec> = stbl.stsd.codecs.iter().map(decoding).collect();
        if codecs != self.stsd {
            return Err(bad(
                "a window's video is encoded differently from the first's",
            ));
        }
        let first = self.count();
        let sizes = match &stbl.stsz.samples {
            StszSamples::Identical { count, size } => vec![*size; *count as usize],
            StszSamples::Different { sizes } => sizes.clone(),
        };
        let n = sizes.len() as u32;
        for e in &stbl.stts.entries {
            self.push_duration(e.sample_count, e.sample_delta);
        }
        // Each window starts presenting at the file's shift: a window that
        // reorders frames less (or not at all) has its offsets raised.
        let raise = self.shift - shift;
        self.any_offset |= stbl.ctts.is_some() || raise != 0;
        match &stbl.ctts {
            Some(ctts) => self.offsets.extend(ctts.entries.iter().map(|e| CttsEntry {
                sample_count: e.sample_count,
                sample_offset: e.sample_offset + raise,
            })),
            None => self.offsets.push(CttsEntry {
                sample_count: n,
                sample_offset: raise,
            }),
        }
        match &stbl.stss {
            Some(stss) => self.sync.extend(stss.entries.iter().map(|s| first + s)),
            None => self.sync.extend(first + 1..=first + n),
        }
        self.sizes.extend(sizes);
        let offsets: Vec<u64> = match (&stbl.co64, &stbl.stco) {
            (Some(co64), _) => co64.entries.clone(),
            (None, Some(stco)) => stco.entries.iter().map(|o| u64::from(*o)).collect(),
            (None, None) => return Err(bad("a window's video without chunk offsets")),
        };
        let (start, len) = payload;
        let mut placed = 0u32;
        for (i, offset) in offsets.iter().enumerate() {
            let chunk = i as u32 + 1;
            let per_chunk = stbl
                .stsc
                .entries
                .iter()
                .take_while(|e| e.first_chunk <= chunk)
                .last()
                .map(|e| e.samples_per_chunk)
                .ok_or_else(|| bad("a window's video without chunks"))?;
            if *offset < start || *offset > start + len {
                return Err(bad(format!("a chunk at {offset}, outside the samples")));
            }
            self.chunks.push((base + offset - start, per_chunk, 1));
            placed += per_chunk;
        }
        if placed != n || self.durations_count() != self.count() {
            return Err(bad(format!(
                "a window's video tables disagree: {n} sizes, {placed} in chunks"
            )));
        }
        Ok(())
    }

    fn durations_count(&self) -> u32 {
        self.durations.iter().map(|e| e.sample_count).sum()
    }

    /// Adds a window's AAC frames (`frames`: where each lies in its ADTS
    /// stream, and its length), that stream starting at `base` in the file.
    fn push_audio(&mut self, frames: &[(u64, u32)], base: u64) {
        let n = frames.len() as u32;
        self.push_duration(n, 1024);
        for (offset, size) in frames {
            self.sizes.push(*size);
            self.chunks.push((base + offset, 1, 1));
        }
    }

    /// The sample tables, the chunk offsets moved by `shift`.
    fn stbl(&self, shift: u64) -> Stbl {
        let mut stsc: Vec<StscEntry> = Vec::new();
        for (i, (_, n, d)) in self.chunks.iter().enumerate() {
            match stsc.last() {
                Some(e) if e.samples_per_chunk == *n && e.sample_description_index == *d => {}
                _ => stsc.push(StscEntry {
                    first_chunk: i as u32 + 1,
                    samples_per_chunk: *n,
                    sample_description_index: *d,
                }),
            }
        }
        let mut ctts: Vec<CttsEntry> = Vec::new();
        for e in &self.offsets {
            match ctts.last_mut() {
                Some(last) if last.sample_offset == e.sample_offset => {
                    last.sample_count += e.sample_count
                }
                _ => ctts.push(e.clone()),
            }
        }
        Stbl {
            stsd: mp4_atom::Stsd {
                codecs: self.stsd.clone(),
            },
            stts: Stts {
                entries: self.durations.clone(),
            },
            ctts: self.any_offset.then_some(Ctts { entries: ctts }),
            stss: (!self.all_sync).then(|| Stss {
                entries: self.sync.clone(),
            }),
            stsc: Stsc { entries: stsc },
            stsz: Stsz {
                samples: StszSamples::Different {
                    sizes: self.sizes.clone(),
                },
            },
            co64: Some(Co64 {
                entries: self.chunks.iter().map(|(o, _, _)| o + shift).collect(),
            }),
            ..Default::default()
        }
    }
}

/// Each AAC frame of an ADTS stream: where its data starts (past the
/// header) and its length; every frame must share the first's format.
pub fn adts_frames(bytes: &[u8]) -> Result<Vec<(u64, u32)>, RenderError> {
    let mut format = None;
    crate::aac::frames(bytes)
        .map_err(bad)?
        .into_iter()
        .map(|frame| {
            let h = &bytes[frame.clone()];
            let header = if h[1] & 1 == 1 { 7 } else { 9 };
            // Profile, sampling rate and channels.
            let this = (h[2] & 0xFD, h[3] & 0xC0);
            if *format.get_or_insert(this) != this {
                return Err(bad(format!(
                    "an ADTS frame of another format at byte {}",
                    frame.start
                )));
            }
            if frame.len() <= header {
                return Err(bad(format!("an empty ADTS frame at byte {}", frame.start)));
            }
            Ok(((frame.start + header) as u64, (frame.len() - header) as u32))
        })
        .collect()
}

/// An MP4 file's `ftyp` bytes, its index and its top-level boxes.
fn read_mp4(path: &Path) -> Result<(Vec<u8>, Moov, Vec<TopBox>), RenderError> {
    let mut file = std::fs::File::open(path)?;
    let boxes = top_boxes(&mut file)?;
    let ftyp = read_box(&mut file, find(&boxes, b"ftyp")?)?;
    let moov = decode_moov(&read_box(&mut file, find(&boxes, b"moov")?)?)?;
    Ok((ftyp, moov, boxes))
}

/// The joined MP4 of `windows`. The movie (its `ftyp`, header and video
/// track) is the first window's; the audio track is ffmpeg's MP4 of the
/// first window's AAC, `audio_template`. Only indexes and AAC streams are
/// read: a window fetched from another machine has no samples here.
/// Blocking: reads from disk.
pub fn mp4(audio_template: &Path, windows: &[WindowMedia]) -> Result<Vec<Span>, RenderError> {
    let first = windows.first().ok_or_else(|| bad("no window"))?;
    let (ftyp, mut moov, _) = read_mp4(&first.video)?;
    let (_, sound, _) = read_mp4(audio_template)?;
    let vide = FourCC::new(b"vide");
    let soun = FourCC::new(b"soun");
    let mut audio_trak = sound
        .trak
        .into_iter()
        .find(|t| handler(t) == soun)
        .ok_or_else(|| bad("the audio template has no audio track"))?;
    let [video_trak] = moov.trak.as_slice() else {
        return Err(bad("the first window has other than one track"));
    };
    if handler(video_trak) != vide {
        return Err(bad("the first window's track is not video"));
    }
    let (vi, ai) = (0, 1);
    audio_trak.tkhd.track_id = video_trak.tkhd.track_id + 1;
    moov.mvhd.next_track_id = audio_trak.tkhd.track_id + 1;
    moov.trak.push(audio_trak);
    let timescale = moov.trak[vi].mdia.mdhd.timescale;

    let (mut video, mut audio) = (Samples::default(), Samples::default());
    audio.stsd = moov.trak[ai].mdia.minf.stbl.stsd.codecs.clone();
    audio.all_sync = true;
    video.stsd = moov.trak[vi]
        .mdia
        .minf
        .stbl
        .stsd
        .codecs
        .iter()
        .map(decoding)
        .collect();
    video.shift = presented_from(&moov.trak[vi]);
    let mut spans = Vec::new();
    // Where the next window's bytes start, counted from the end of the index.
    let mut base = 0;
    for w in windows {
        let (_, window_moov, boxes) = read_mp4(&w.video)?;
        let [trak] = window_moov.trak.as_slice() else {
            return Err(bad(format!(
                "{} has other than one track",
                w.video.display()
            )));
        };
        if handler(trak) != vide || trak.mdia.mdhd.timescale != timescale {
            return Err(bad(format!(
                "{} is not video at the first window's timescale",
                w.video.display()
            )));
        }
        let mdat = find(&boxes, b"mdat")?;
        let payload = (mdat.start + mdat.header, mdat.size - mdat.header);
        let shift = presented_from(trak);
        video
            .push_video(&trak.mdia.minf.stbl, payload, base, shift)
            .map_err(|e| RenderError::Media(format!("{}: {e}", w.video.display())))?;
        spans.push(Span::Stored(Range {
            key: w.video_key.clone(),
            offset: payload.0,
            len: payload.1,
        }));
        base += payload.1;

        let adts = std::fs::read(&w.aac)?;
        audio.push_audio(&adts_frames(&adts)?, base);
        spans.push(Span::Stored(Range {
            key: w.aac_key.clone(),
            offset: 0,
            len: adts.len() as u64,
        }));
        base += adts.len() as u64;
    }
    video.all_sync = video.sync.len() as u32 == video.count();

    set_duration(&mut moov, vi, video.duration());
    set_duration(&mut moov, ai, audio.duration());
    moov.mvhd.duration = moov.trak.iter().map(|t| t.tkhd.duration).max().unwrap_or(0);
    // The offsets count from the end of the index, whose size does not
    // depend on them (every chunk offset is 64-bit): measure it, then place.
    let encode = |moov: &mut Moov, shift: u64| -> Result<Vec<u8>, RenderError> {
        moov.trak[vi].mdia.minf.stbl = video.stbl(shift);
        moov.trak[ai].mdia.minf.stbl = audio.stbl(shift);
        let mut out = Vec::new();
        moov.encode(&mut out)
            .map_err(|e| bad(format!("moov: {e}")))?;
        Ok(out)
    };
    let measured = encode(&mut moov, 0)?.len() as u64;
    let head_len = ftyp.len() as u64 + measured + 16;
    let index = encode(&mut moov, head_len)?;
    let mut head = ftyp;
    head.extend(index);
    // The samples' box, its 64-bit size: a long session's passes 4 GiB.
    head.extend(1u32.to_be_bytes());
    head.extend(*b"mdat");
    head.extend((16 + base).to_be_bytes());
    debug_assert_eq!(head.len() as u64, head_len);
    spans.insert(0, Span::Bytes(head));
    Ok(spans)
}

/// What a decoder needs of a sample description: without its bit rate
/// (`btrt`), which is each window's own and optional.
fn decoding(codec: &Codec) -> Codec {
    match codec {
        Codec::Avc1(avc1) => Codec::Avc1(mp4_atom::Avc1 {
            btrt: None,
            ..avc1.clone()
        }),
        other => other.clone(),
    }
}

/// Where a track's presentation starts in its composition time: its edit
/// list's first media time (x264's B-frames delay the first frame's).
fn presented_from(trak: &Trak) -> i64 {
    trak.edts
        .as_ref()
        .and_then(|e| e.elst.as_ref())
        .and_then(|l| l.entries.iter().find_map(|e| e.media_time))
        .map_or(0, |t| t as i64)
}

/// Sets track `t`'s length to `media` (in its own timescale) in every box
/// that says it.
fn set_duration(moov: &mut Moov, t: usize, media: u64) {
    let movie_scale = u64::from(moov.mvhd.timescale.max(1));
    let trak = &mut moov.trak[t];
    let media_scale = u64::from(trak.mdia.mdhd.timescale.max(1));
    trak.mdia.mdhd.duration = media;
    let movie = media * movie_scale / media_scale;
    trak.tkhd.duration = movie;
    if let Some(elst) = trak.edts.as_mut().and_then(|e| e.elst.as_mut()) {
        // Presented from the edit's media time for as long as the track
        // lasts (an empty edit, should there be one, keeps its length).
        for entry in elst.entries.iter_mut().filter(|e| e.media_time.is_some()) {
            entry.segment_duration = movie;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adts(len: usize, crc: bool) -> Vec<u8> {
        let mut h = vec![0xFF, if crc { 0xF0 } else { 0xF1 }, 0x4C, 0x80, 0, 0, 0xFC];
        if crc {
            h.extend([0, 0]);
        }
        h[3] |= (len >> 11) as u8 & 3;
        h[4] = (len >> 3) as u8;
        h[5] = ((len & 7) << 5) as u8 | 0x1F;
        h.resize(len, 0xAB);
        h
    }

    #[test]
    fn each_adts_frame_is_found_past_its_header() {
        let mut bytes = adts(300, false);
        bytes.extend(adts(20, true));
        bytes.extend(adts(8, false));
        assert_eq!(
            adts_frames(&bytes).unwrap(),
            [(7, 293), (309, 11), (327, 1)]
        );
    }

    fn ffmpeg(args: &[&str]) {
        let out = std::process::Command::new("ffmpeg")
            .args(["-y", "-hide_banner", "-v", "error"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Windows of 32 frames and 50 AAC frames, each encoded with its preset.
    fn windows(dir: &Path, presets: &[&str]) -> Vec<WindowMedia> {
        let path = |name: String| dir.join(name).display().to_string();
        let mut windows = Vec::new();
        for (i, preset) in presets.iter().enumerate() {
            let (video, aac) = (path(format!("w{i}.mp4")), path(format!("w{i}.aac")));
            let trim = format!(
                "trim=start_frame={}:end_frame={},setpts=PTS-STARTPTS",
                i * 32,
                i * 32 + 32
            );
            // Written as one line each: a fixture, not the render's arguments.
            let mut video_args: Vec<&str> = "-f lavfi -i testsrc2=s=320x240:r=30 -vf"
                .split(' ')
                .collect();
            video_args.extend([trim.as_str(), "-c:v", "libx264", "-preset", preset]);
            video_args.extend(["-pix_fmt", "yuv420p", &video]);
            ffmpeg(&video_args);
            let mut audio_args: Vec<&str> =
                "-f lavfi -i sine=f=440:r=48000 -ac 2 -af atrim=end_sample=51200 -c:a aac -b:a 192k -f adts"
                    .split(' ')
                    .collect();
            audio_args.push(&aac);
            ffmpeg(&audio_args);
            windows.push(WindowMedia {
                video: video.clone().into(),
                video_key: video,
                aac: aac.clone().into(),
                aac_key: aac,
            });
        }
        windows
    }

    /// The joined file of `windows` (their keys are their paths).
    fn join(dir: &Path, windows: &[WindowMedia]) -> Result<PathBuf, RenderError> {
        let template = dir.join("template.mp4");
        let aac = &windows[0].aac_key;
        ffmpeg(&[
            "-f",
            "aac",
            "-i",
            aac,
            "-c",
            "copy",
            template.to_str().unwrap(),
        ]);
        let mut joined = Vec::new();
        for span in mp4(&template, windows)? {
            match span {
                Span::Bytes(b) => joined.extend(b),
                Span::Stored(Range { key, offset, len }) => {
                    let all = std::fs::read(key).unwrap();
                    joined.extend(&all[offset as usize..(offset + len) as usize]);
                }
            }
        }
        let out = dir.join("joined.mp4");
        std::fs::write(&out, &joined).unwrap();
        Ok(out)
    }

    /// Three windows joined: the file decodes without an error, every frame
    /// at its time, each window starting on a keyframe, its index first.
    #[test]
    fn windows_join_into_an_mp4_that_decodes_whole() {
        let dir = tempfile::tempdir().unwrap();
        let windows = windows(dir.path(), &["veryfast"; 3]);
        let out = join(dir.path(), &windows).unwrap();
        assert_eq!(&std::fs::read(&out).unwrap()[4..8], b"ftyp");

        let decoded = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-i",
                out.to_str().unwrap(),
                "-f",
                "null",
                "-",
            ])
            .output()
            .unwrap();
        let errors = String::from_utf8_lossy(&decoded.stderr);
        assert!(decoded.status.success() && errors.is_empty(), "{errors}");
        let probe = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-show_entries"])
            .args([
                "stream=codec_type,nb_read_frames:format=duration",
                "-of",
                "json",
            ])
            .arg(&out)
            .output()
            .unwrap();
        let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
        let frames = |kind: &str| {
            probe["streams"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["codec_type"] == kind)
                .map(|s| {
                    s["nb_read_frames"]
                        .as_str()
                        .unwrap()
                        .parse::<u32>()
                        .unwrap()
                })
        };
        assert_eq!(frames("video"), Some(96), "{probe}");
        let aac_frames = windows
            .iter()
            .map(|w| adts_frames(&std::fs::read(&w.aac).unwrap()).unwrap().len() as u32)
            .sum::<u32>();
        assert_eq!(frames("audio"), Some(aac_frames), "{probe}");
        let duration: f64 = probe["format"]["duration"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((duration - 3.2).abs() < 0.15, "{duration} s");

        let shown = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v", "-show_entries"])
            .args(["frame=key_frame,pts_time", "-of", "json"])
            .arg(&out)
            .output()
            .unwrap();
        let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
        let shown: Vec<(bool, f64)> = shown["frames"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let t = f["pts_time"].as_str().unwrap().parse().unwrap();
                (f["key_frame"] == 1, t)
            })
            .collect();
        assert_eq!(shown.len(), 96);
        for (i, (key, t)) in shown.iter().enumerate() {
            assert!((t - i as f64 / 30.0).abs() < 0.002, "frame {i} at {t}");
            assert!(*key || i % 32 != 0, "frame {i} starts a window");
        }
    }

    #[test]
    fn a_window_encoded_otherwise_fails_the_join() {
        let dir = tempfile::tempdir().unwrap();
        let windows = windows(dir.path(), &["veryfast", "ultrafast"]);
        let err = join(dir.path(), &windows).unwrap_err().to_string();
        assert!(
            err.contains("w1.mp4") && err.contains("encoded differently"),
            "{err}"
        );
    }

    #[test]
    fn a_stream_that_is_not_adts_or_is_cut_short_is_refused() {
        let mut bytes = adts(300, false);
        bytes.truncate(200);
        assert!(adts_frames(&bytes).is_err());
        assert!(adts_frames(b"not an adts stream").is_err());
        let mut other = adts(30, false);
        other[2] ^= 0x04; // another sampling rate
        let mut two = adts(30, false);
        two.extend(other);
        assert!(adts_frames(&two)
            .unwrap_err()
            .to_string()
            .contains("another format"));
    }
}
