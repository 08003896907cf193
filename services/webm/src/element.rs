//! Matroska elements: ids, heads and unsigned values.

/// Element ids (Matroska).
pub const CLUSTER: u32 = 0x1F43_B675;
pub const SEGMENT: u32 = 0x1853_8067;
pub const TRACKS: u32 = 0x1654_AE6B;
pub const TRACK_ENTRY: u32 = 0xAE;
pub const TRACK_NUMBER: u32 = 0xD7;
pub const TRACK_TYPE: u32 = 0x83;
pub const TIMECODE: u32 = 0xE7;
pub const CRC32: u32 = 0xBF;
pub const SIMPLE_BLOCK: u32 = 0xA3;
pub const BLOCK_GROUP: u32 = 0xA0;
pub const BLOCK: u32 = 0xA1;
pub const REFERENCE_BLOCK: u32 = 0xFB;
pub const VIDEO: u64 = 1;

/// An element's header: id, body size (`None`: unknown, as live muxers
/// write for the segment and clusters), and where its body begins.
pub struct Head {
    pub id: u32,
    pub size: Option<u64>,
    pub body: usize,
}

/// A variable-length integer at `at`: its value with the length marker kept
/// (ids) or removed (sizes), and its length.
pub fn vint(bytes: &[u8], at: usize, keep_marker: bool) -> Option<(u64, usize)> {
    let first = *bytes.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let mut value = if keep_marker {
        u64::from(first)
    } else {
        u64::from(first) & (0xFF >> len)
    };
    for k in 1..len {
        value = (value << 8) | u64::from(*bytes.get(at + k)?);
    }
    Some((value, len))
}

pub fn head(bytes: &[u8], at: usize) -> Option<Head> {
    let (id, id_len) = vint(bytes, at, true)?;
    if id_len > 4 {
        return None;
    }
    let (size, size_len) = vint(bytes, at + id_len, false)?;
    let unknown = size == (1u64 << (7 * size_len)) - 1;
    Some(Head {
        id: id as u32,
        size: (!unknown).then_some(size),
        body: at + id_len + size_len,
    })
}

pub fn uint(bytes: &[u8], h: &Head) -> Option<u64> {
    let len = usize::try_from(h.size?).ok().filter(|l| *l <= 8)?;
    let body = bytes.get(h.body..h.body + len)?;
    Some(body.iter().fold(0, |v, b| (v << 8) | u64::from(*b)))
}

/// The end of an element with a known size.
pub fn end(h: &Head) -> Option<usize> {
    usize::try_from(h.size?).ok().map(|s| h.body + s)
}
