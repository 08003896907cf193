//! A participant's WAV track joined from the windows' WAVs without copying
//! them: one header for the whole length, then each window's PCM where it
//! lies in the store (see `zencast_storage::Span`).

use std::io::Seek;
use std::path::{Path, PathBuf};

use zencast_storage::{Range, Span};

use crate::RenderError;

/// The PCM of a 16-bit WAV file: its format and where its samples lie.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm {
    pub spec: hound::WavSpec,
    pub path: PathBuf,
    pub offset: u64,
    pub len: u64,
}

/// Reads the header of `path` (ffmpeg's WAVs carry a LIST chunk before the
/// samples, so the offset is read, not assumed).
pub fn pcm(path: &Path) -> Result<Pcm, RenderError> {
    let unreadable = |e: hound::Error| RenderError::Media(format!("{}: {e}", path.display()));
    let reader = hound::WavReader::open(path).map_err(unreadable)?;
    let spec = reader.spec();
    let bytes = u64::from(reader.len()) * u64::from(spec.bits_per_sample / 8);
    let mut file = reader.into_inner();
    let offset = file.stream_position()?;
    Ok(Pcm {
        spec,
        path: path.to_path_buf(),
        offset,
        len: bytes,
    })
}

/// The canonical 44-byte header of a PCM WAV holding `data` bytes.
pub fn header(spec: hound::WavSpec, data: u64) -> Result<Vec<u8>, RenderError> {
    // RIFF sizes are 32-bit: 6.2 hours of 48 kHz stereo 16-bit.
    let data = u32::try_from(data)
        .ok()
        .filter(|d| *d <= u32::MAX - 36)
        .ok_or_else(|| RenderError::Media("a WAV track over 4 GiB".into()))?;
    let block = spec.channels * (spec.bits_per_sample / 8);
    let mut h = Vec::with_capacity(44);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(36 + data).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&1u16.to_le_bytes()); // PCM
    h.extend_from_slice(&spec.channels.to_le_bytes());
    h.extend_from_slice(&spec.sample_rate.to_le_bytes());
    h.extend_from_slice(&(spec.sample_rate * u32::from(block)).to_le_bytes());
    h.extend_from_slice(&block.to_le_bytes());
    h.extend_from_slice(&spec.bits_per_sample.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data.to_le_bytes());
    Ok(h)
}

/// The spans of one WAV joining `files` (each on this machine, and stored
/// under its key) in order; all must share a format.
pub async fn joined(files: Vec<(PathBuf, String)>) -> Result<Vec<Span>, RenderError> {
    let pcms: Vec<(Pcm, String)> = tokio::task::spawn_blocking(move || {
        files
            .into_iter()
            .map(|(f, key)| Ok((pcm(&f)?, key)))
            .collect::<Result<_, RenderError>>()
    })
    .await
    .map_err(|e| RenderError::Media(format!("reading WAV headers: {e}")))??;
    spans(pcms)
}

fn spans(pcms: Vec<(Pcm, String)>) -> Result<Vec<Span>, RenderError> {
    let Some((first, _)) = pcms.first() else {
        return Err(RenderError::Media("a WAV track of no window".into()));
    };
    let spec = first.spec;
    if let Some((other, _)) = pcms.iter().find(|(p, _)| p.spec != spec) {
        return Err(RenderError::Media(format!(
            "{} is {:?}, not {spec:?} like the windows before",
            other.path.display(),
            other.spec
        )));
    }
    let data = pcms.iter().map(|(p, _)| p.len).sum();
    let mut out = vec![Span::Bytes(header(spec, data)?)];
    out.extend(pcms.into_iter().map(|(p, key)| {
        Span::Stored(Range {
            key,
            offset: p.offset,
            len: p.len,
        })
    }));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> hound::WavSpec {
        hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        }
    }

    fn write(path: &Path, samples: &[i16]) {
        let mut w = hound::WavWriter::create(path, spec()).unwrap();
        for s in samples {
            w.write_sample(*s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn joined_windows_read_back_as_one_wav_of_every_sample_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
        write(&a, &[1, 2, 3, 4]);
        write(&b, &[5, 6]);
        let keyed = |p: &Path| (pcm(p).unwrap(), p.display().to_string());
        let spans = spans(vec![keyed(&a), keyed(&b)]).unwrap();
        let mut bytes = Vec::new();
        for span in spans {
            match span {
                Span::Bytes(b) => bytes.extend(b),
                Span::Stored(Range { key, offset, len }) => {
                    let all = std::fs::read(key).unwrap();
                    bytes.extend(&all[offset as usize..(offset + len) as usize]);
                }
            }
        }
        let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(reader.spec(), spec());
        let samples: Vec<i16> = reader.into_samples().map(Result::unwrap).collect();
        assert_eq!(samples, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn windows_of_another_format_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.wav");
        write(&a, &[1, 2]);
        let mut other = pcm(&a).unwrap();
        other.spec.sample_rate = 44_100;
        let key = String::new();
        assert!(spans(vec![(pcm(&a).unwrap(), key.clone()), (other, key)]).is_err());
    }
}
