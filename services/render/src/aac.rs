//! ADTS (raw AAC) frames: cutting a window's frames out of a stream encoded
//! with edges, and joining windows by concatenation.
//!
//! ffmpeg's AAC encoder delays its output by one frame (1024 samples): frame
//! `j` of the stream carries input samples `(j-1)·1024 .. j·1024`. A window
//! encoded from `EDGE_SAMPLES` before its start therefore begins at frame
//! `EDGE_SAMPLES / 1024 + 1`. Each frame also overlaps its predecessor; the
//! predecessor kept in the joined stream was encoded from the same samples by
//! the previous window, so the overlap adds up as in one continuous encode.

use crate::graph::EDGE_SAMPLES;

pub const FRAME_SAMPLES: u64 = 1024;

/// The byte ranges of the ADTS frames in `bytes`, in order.
pub fn frames(bytes: &[u8]) -> Result<Vec<std::ops::Range<usize>>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let h = bytes.get(at..at + 7).ok_or("a truncated ADTS header")?;
        if h[0] != 0xFF || h[1] & 0xF0 != 0xF0 {
            return Err(format!("no ADTS sync word at byte {at}"));
        }
        let len =
            (usize::from(h[3] & 0x03) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        if len < 7 || at + len > bytes.len() {
            return Err(format!("a bad ADTS frame length {len} at byte {at}"));
        }
        out.push(at..at + len);
        at += len;
    }
    Ok(out)
}

/// The frames of a window of `samples` samples, from a stream encoded with
/// `EDGE_SAMPLES` on each side.
pub fn keep_window(bytes: &[u8], samples: u64) -> Result<Vec<u8>, String> {
    let all = frames(bytes)?;
    let first = (EDGE_SAMPLES / FRAME_SAMPLES + 1) as usize;
    let count = samples.div_ceil(FRAME_SAMPLES) as usize;
    if all.len() < first + count {
        return Err(format!(
            "the window's AAC has {} frames, {} expected",
            all.len(),
            first + count
        ));
    }
    Ok(all[first..first + count]
        .iter()
        .flat_map(|r| bytes[r.clone()].iter().copied())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, tag: u8) -> Vec<u8> {
        let mut f = vec![0xFF, 0xF1, 0x50, 0x80, 0, 0, 0xFC];
        f[3] |= ((len >> 11) & 0x03) as u8;
        f[4] = ((len >> 3) & 0xFF) as u8;
        f[5] = (((len & 0x07) << 5) as u8) | 0x1F;
        f.resize(len, tag);
        f
    }

    #[test]
    fn the_window_is_cut_after_the_edge_and_the_encoder_delay() {
        let stream: Vec<u8> = (0..10u8)
            .flat_map(|i| frame(20 + usize::from(i), i))
            .collect();
        assert_eq!(frames(&stream).unwrap().len(), 10);
        let kept = keep_window(&stream, 4 * 1024).unwrap();
        let tags: Vec<u8> = frames(&kept)
            .unwrap()
            .iter()
            .map(|r| kept[r.end - 1])
            .collect();
        assert_eq!(tags, vec![3, 4, 5, 6]);
        assert!(keep_window(&stream, 8 * 1024).is_err());
        assert!(frames(&[0xFF, 0x00, 1, 2, 3, 4, 5]).is_err());
    }
}
