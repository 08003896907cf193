//! Reading the WebM that browsers' MediaRecorders write, from bytes cut
//! anywhere (a chunk, a half-second slice): where decoding can resume
//! ([`resync`], for the render worker) and when the newest video frame was
//! filmed ([`clock`], for the web client placing its recording).
//!
//! Hand-written because the demuxer crates read a file from its EBML header
//! and need all of it; these are bytes from the middle of a stream.

pub mod clock;
mod element;
pub mod resync;

pub use clock::FrameClock;
pub use resync::{keyframe_cluster, video_track};

#[cfg(test)]
mod testing {
    //! WebM made by hand, as Chromium lays it out.
    use crate::element::*;

    pub fn element(id: u32, body: &[u8]) -> Vec<u8> {
        let mut out: Vec<u8> = id
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | body.len() as u8);
        out.extend_from_slice(body);
        out
    }

    pub fn unknown_size(id: u32) -> Vec<u8> {
        let mut out = id.to_be_bytes().to_vec();
        out.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        out
    }

    pub fn block(track: u8, key: bool) -> Vec<u8> {
        element(
            SIMPLE_BLOCK,
            &[0x80 | track, 0, 0, if key { 0x80 } else { 0 }, 9, 9],
        )
    }

    pub fn cluster(blocks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = unknown_size(CLUSTER);
        out.extend(element(TIMECODE, &[0]));
        out.extend(blocks.concat());
        out
    }

    /// A header as Chromium writes it: audio is track 1, video track 2.
    pub fn header() -> Vec<u8> {
        let track = |n: u8, t: u8| {
            element(
                TRACK_ENTRY,
                &[element(TRACK_NUMBER, &[n]), element(TRACK_TYPE, &[t])].concat(),
            )
        };
        let mut out = element(0x1A45_DFA3, &[]);
        out.extend(unknown_size(SEGMENT));
        out.extend(element(0x1549_A966, &[1, 2, 3]));
        out.extend(element(TRACKS, &[track(1, 2), track(2, 1)].concat()));
        out
    }

    /// A block of `track` at `time` ms into its cluster.
    pub fn block_at(track: u8, time: i16) -> Vec<u8> {
        let t = time.to_be_bytes();
        element(SIMPLE_BLOCK, &[0x80 | track, t[0], t[1], 0x80, 9, 9])
    }

    /// A cluster at `time` ms.
    pub fn cluster_at(time: u16, blocks: &[Vec<u8>]) -> Vec<u8> {
        let mut out = unknown_size(CLUSTER);
        out.extend(element(TIMECODE, &time.to_be_bytes()));
        out.extend(blocks.concat());
        out
    }
}
