//! Where decoding can start inside a WebM recorder's continuation bytes.
//!
//! Chromium's muxer opens a cluster at each video keyframe and, some 60 ms
//! later, another that begins with an inter frame (measured on Chromium 156,
//! VP9 with 2 s keyframes: every other cluster). Entered at one of those, the
//! decoder has no reference until the next keyframe, and a slice that ends
//! before it decodes no video at all. So a resync point is a cluster whose
//! first video block is a keyframe, read from the blocks themselves.
//!
//! Hand-written because the demuxer crates read a file from its EBML header;
//! these are bytes from the middle of a stream, cut anywhere.

use crate::element::*;

/// The video track's number, from a recording's header (`None`: no video).
pub fn video_track(header: &[u8]) -> Option<u64> {
    let mut at = 0;
    let (mut number, mut kind) = (None, None);
    while let Some(h) = head(header, at) {
        match h.id {
            // Masters whose children we read: step inside.
            SEGMENT | TRACKS | TRACK_ENTRY => {
                if h.id == TRACK_ENTRY {
                    (number, kind) = (None, None);
                }
                at = h.body;
                continue;
            }
            TRACK_NUMBER => number = uint(header, &h),
            TRACK_TYPE => kind = uint(header, &h),
            CLUSTER => return None,
            _ => {}
        }
        if kind == Some(VIDEO) && number.is_some() {
            return number;
        }
        at = end(&h)?;
    }
    None
}

/// Whether the cluster whose body begins at `body` starts with a video
/// keyframe: `None` when its first video block is not in `bytes`, or when
/// what follows the id is not a cluster's first element (the id's four bytes
/// also occur inside compressed frames).
fn starts_with_keyframe(bytes: &[u8], body: usize, video: Option<u64>) -> Option<bool> {
    let mut at = body;
    let mut first = true;
    loop {
        let h = head(bytes, at)?;
        if first && h.id != TIMECODE && h.id != CRC32 {
            return None;
        }
        first = false;
        match h.id {
            SIMPLE_BLOCK => {
                let (track, n) = vint(bytes, h.body, false)?;
                let flags = *bytes.get(h.body + n + 2)?;
                if video.is_none_or(|v| v == track) {
                    return Some(flags & 0x80 != 0);
                }
            }
            BLOCK_GROUP => {
                if let Some(key) = group_is_keyframe(bytes, &h, video) {
                    return Some(key);
                }
            }
            CLUSTER => return None,
            _ => {}
        }
        at = end(&h)?;
    }
}

/// A block group of the video track is a keyframe when it references no
/// other block; `None` for another track's group.
fn group_is_keyframe(bytes: &[u8], group: &Head, video: Option<u64>) -> Option<bool> {
    let stop = end(group)?;
    let (mut at, mut track, mut references) = (group.body, None, false);
    while at < stop {
        let h = head(bytes, at)?;
        match h.id {
            BLOCK => track = Some(vint(bytes, h.body, false)?.0),
            REFERENCE_BLOCK => references = true,
            _ => {}
        }
        at = end(&h)?;
    }
    let track = track?;
    video.is_none_or(|v| v == track).then_some(!references)
}

/// The offset in `bytes` of the first cluster that decoding can start at:
/// its first video block is a keyframe (any cluster when there is no video).
pub fn keyframe_cluster(bytes: &[u8], video: Option<u64>) -> Option<usize> {
    let id = CLUSTER.to_be_bytes();
    let mut from = 0;
    while let Some(found) = bytes[from..].windows(4).position(|w| w == id) {
        let at = from + found;
        let key = head(bytes, at).and_then(|h| starts_with_keyframe(bytes, h.body, video));
        if key == Some(true) {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{block, cluster, element, header};

    #[test]
    fn the_video_track_is_read_from_the_header() {
        assert_eq!(video_track(&header()), Some(2));
        assert_eq!(video_track(&element(0x1A45_DFA3, &[])), None);
    }

    #[test]
    fn a_cluster_that_opens_with_an_inter_frame_is_not_a_way_in() {
        let video = video_track(&header());
        // Audio first (always key), then the video block decides.
        let inter = cluster(&[block(1, true), block(2, false), block(2, true)]);
        let key = cluster(&[block(1, true), block(2, true), block(2, false)]);
        let bytes = [vec![7, 7, 7], inter.clone(), key].concat();
        assert_eq!(keyframe_cluster(&bytes, video), Some(3 + inter.len()));
        // Without the video block in the bytes, nothing can be said.
        let cut = cluster(&[block(1, true)]);
        assert_eq!(keyframe_cluster(&cut, video), None);
        // Audio only: any cluster.
        assert_eq!(keyframe_cluster(&bytes, None), Some(3));
    }

    #[test]
    fn the_cluster_id_inside_a_frame_is_not_taken_for_a_cluster() {
        let video = video_track(&header());
        let mut frame = block(2, false);
        frame.extend_from_slice(&CLUSTER.to_be_bytes());
        frame.extend_from_slice(&[0x81, 0xA3]);
        let bytes = [cluster(&[frame]), cluster(&[block(2, true)])].concat();
        let second = bytes.len() - cluster(&[block(2, true)]).len();
        assert_eq!(keyframe_cluster(&bytes, video), Some(second));
    }
}
