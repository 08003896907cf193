//! When the newest video frame in a recorder's bytes was filmed, on the
//! recording's own timeline, read slice by slice as the recorder hands the
//! bytes over.
//!
//! What it is for: the web client places each recording on the session
//! timeline by where its media begins (its media zero). A slice handed over
//! at time h whose newest video block is at media time t puts the media zero
//! at most at h − t: that frame was filmed, encoded and muxed before the
//! slice was handed over. The least of these bounds over a chunk's slices
//! lies a steady time after the truth. Measured in headless Chromium 156
//! (VP9 + Opus, 500 ms slices, a canvas camera showing the clock): 72–77 ms
//! for six recorders, idle, blocked for 0.3 s as they started, or janky for
//! seconds; `BlobEvent.timecode` (when the muxer wrote, not when the media
//! was filmed) put the same recorders from 68 ms early to 670 ms late on a
//! loaded machine.
//!
//! Block times are in milliseconds: the default timecode scale, which
//! Chromium and Firefox write.

use crate::element::{
    head, uint, vint, Head, BLOCK, BLOCK_GROUP, CLUSTER, SEGMENT, SIMPLE_BLOCK, TIMECODE, TRACKS,
    TRACK_ENTRY, TRACK_NUMBER, TRACK_TYPE, VIDEO,
};

/// The longest element head: a 4-byte id and an 8-byte size.
const LONGEST_HEAD: usize = 12;

/// Reads a recording's bytes as they come.
#[derive(Debug, Default)]
pub struct FrameClock {
    /// Bytes not read yet: the start of an element whose head or first body
    /// bytes are still to come.
    pending: Vec<u8>,
    /// Bytes still to pass over: the rest of an element already read.
    skip: u64,
    /// The video track's number, once the header said it.
    video: Option<u64>,
    /// The track entry being read: its number and type.
    entry: (Option<u64>, Option<u64>),
    /// The current cluster's time.
    cluster: Option<u64>,
    /// The bytes are not WebM: nothing more is read.
    lost: bool,
}

/// What the next step of reading needs.
enum Step {
    /// Read on at this offset.
    To(usize),
    /// More bytes than there are: wait for the next ones.
    Wait,
}

impl FrameClock {
    /// Reads the next bytes of the recording; the media time (ms) of the
    /// newest video block that begins in them, if any does.
    pub fn push(&mut self, bytes: &[u8]) -> Option<i64> {
        let passed = usize::try_from(self.skip).map_or(bytes.len(), |s| s.min(bytes.len()));
        self.skip -= passed as u64;
        if self.lost || self.skip > 0 {
            return None;
        }
        self.pending.extend_from_slice(&bytes[passed..]);
        let (mut at, mut newest) = (0, None);
        while at < self.pending.len() {
            let Some(h) = head(&self.pending, at) else {
                // Not a head even with every byte a head can take: not WebM.
                self.lost = self.pending.len() - at >= LONGEST_HEAD;
                break;
            };
            match self.read(&h, &mut newest) {
                Step::To(next) if next <= self.pending.len() => at = next,
                Step::To(next) => {
                    self.skip = (next - self.pending.len()) as u64;
                    at = self.pending.len();
                }
                Step::Wait => break,
            }
        }
        self.pending.drain(..at.min(self.pending.len()));
        if self.lost {
            self.pending = Vec::new();
        }
        newest
    }

    /// Reads the element `h`: where reading goes on.
    fn read(&mut self, h: &Head, newest: &mut Option<i64>) -> Step {
        let bytes = &self.pending;
        let Some(size) = h.size else {
            // A master of unknown size (the segment, a live cluster): its
            // children follow.
            return Step::To(h.body);
        };
        let end = h.body + usize::try_from(size).unwrap_or(usize::MAX / 2);
        match h.id {
            SEGMENT | CLUSTER | TRACKS | BLOCK_GROUP => Step::To(h.body),
            TRACK_ENTRY => {
                self.entry = (None, None);
                Step::To(h.body)
            }
            TRACK_NUMBER | TRACK_TYPE | TIMECODE if size <= 8 => {
                if end > bytes.len() {
                    return Step::Wait;
                }
                let value = uint(bytes, h);
                match h.id {
                    TRACK_NUMBER => self.entry.0 = value,
                    TRACK_TYPE => self.entry.1 = value,
                    _ => self.cluster = value,
                }
                if self.entry.1 == Some(VIDEO) && self.video.is_none() {
                    self.video = self.entry.0;
                }
                Step::To(end)
            }
            SIMPLE_BLOCK | BLOCK => {
                // The track number (at most 8 bytes) and the 16-bit time.
                let Some((track, n)) = vint(bytes, h.body, false) else {
                    return Step::Wait;
                };
                let Some(time) = bytes.get(h.body + n..h.body + n + 2) else {
                    return Step::Wait;
                };
                if let (Some(video), Some(cluster)) = (self.video, self.cluster) {
                    if track == video {
                        let t = cluster as i64 + i64::from(i16::from_be_bytes([time[0], time[1]]));
                        *newest = Some(newest.map_or(t, |n: i64| n.max(t)));
                    }
                }
                Step::To(end)
            }
            _ => Step::To(end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{block_at, cluster_at, header};

    #[test]
    fn the_newest_video_block_is_read_however_the_bytes_are_cut() {
        // Audio is track 1, video track 2.
        let bytes = [
            header(),
            cluster_at(1000, &[block_at(2, 0), block_at(1, 5), block_at(2, 33)]),
            cluster_at(2000, &[block_at(1, -3), block_at(2, 40)]),
        ]
        .concat();
        let whole = FrameClock::default().push(&bytes);
        assert_eq!(whole, Some(2040));
        for cut in 1..bytes.len() {
            let mut clock = FrameClock::default();
            let first = clock.push(&bytes[..cut]);
            let second = clock.push(&bytes[cut..]);
            assert_eq!(
                first.max(second),
                Some(2040),
                "cut at {cut}: {first:?} then {second:?}"
            );
            assert!(!clock.lost, "cut at {cut}");
        }
    }

    #[test]
    fn each_slice_says_its_own_newest_video_block() {
        let mut clock = FrameClock::default();
        assert_eq!(clock.push(&header()), None);
        assert_eq!(
            clock.push(&cluster_at(500, &[block_at(2, 0), block_at(2, 33)])),
            Some(533)
        );
        // Audio alone says nothing of the video.
        assert_eq!(clock.push(&block_at(1, 60)), None);
        assert_eq!(clock.push(&block_at(2, 66)), Some(566));
    }

    #[test]
    fn bytes_that_are_not_webm_are_given_up() {
        let mut clock = FrameClock::default();
        assert_eq!(clock.push(&[0u8; 64]), None);
        assert!(clock.lost);
        assert_eq!(clock.push(&header()), None);
    }
}
