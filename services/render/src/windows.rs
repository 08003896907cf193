//! The time-window model for rendering while recording (the next step; the
//! worker renders whole sessions today).
//!
//! The contiguous chunk prefix of a segment is a valid stream, so the part of
//! the session timeline that every participant has recorded *and stored* is
//! final. It can be rendered in windows as the session goes on, each window a
//! self-contained file starting with a keyframe, and the windows joined at the
//! end with ffmpeg's concat demuxer and a stream copy: the wait after the
//! session then shrinks to the last window plus the join.

use std::path::Path;

/// What one participant has stored: a segment starting at `start` seconds on
/// the session timeline, with `chunks` consecutive chunks from its first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coverage {
    pub start: f64,
    pub chunks: u32,
    pub chunk_seconds: f64,
}

impl Coverage {
    pub fn end(&self) -> f64 {
        self.start + f64::from(self.chunks) * self.chunk_seconds
    }
}

/// The timeline up to which every participant's recording is stored. A
/// participant with nothing stored yet holds everything back.
pub fn finished_until(tracks: &[Coverage]) -> f64 {
    tracks
        .iter()
        .map(Coverage::end)
        .fold(f64::INFINITY, f64::min)
        .max(0.0)
        .min(if tracks.is_empty() {
            0.0
        } else {
            f64::INFINITY
        })
}

/// The windows of `len` seconds after `rendered` that lie wholly before
/// `until`: what can be rendered now.
pub fn due_windows(rendered: f64, until: f64, len: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let mut from = rendered;
    while len > 0.0 && from + len <= until + 1e-9 {
        out.push((from, from + len));
        from += len;
    }
    out
}

/// The concat-demuxer list that joins window files in order (`-f concat -safe 0
/// -i list -c copy`).
pub fn concat_list(files: &[&Path]) -> String {
    files
        .iter()
        .map(|f| {
            format!(
                "file '{}'\n",
                f.display().to_string().replace('\'', "'\\''")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowest_uploader_decides_what_is_final() {
        let host = Coverage {
            start: 0.0,
            chunks: 6,
            chunk_seconds: 10.0,
        };
        let guest = Coverage {
            start: 1.5,
            chunks: 3,
            chunk_seconds: 10.0,
        };
        assert_eq!(finished_until(&[host, guest]), 31.5);
        assert_eq!(finished_until(&[]), 0.0);
        let idle = Coverage {
            start: 0.0,
            chunks: 0,
            chunk_seconds: 10.0,
        };
        assert_eq!(finished_until(&[host, idle]), 0.0);
    }

    #[test]
    fn only_whole_windows_before_the_finished_point_are_due() {
        assert_eq!(
            due_windows(0.0, 31.5, 10.0),
            vec![(0.0, 10.0), (10.0, 20.0), (20.0, 30.0)]
        );
        assert_eq!(due_windows(30.0, 31.5, 10.0), vec![]);
        assert_eq!(due_windows(30.0, 40.0, 10.0), vec![(30.0, 40.0)]);
    }

    #[test]
    fn the_join_list_names_every_window_in_order_and_quotes_paths() {
        let list = concat_list(&[Path::new("/w/0.mp4"), Path::new("/w/it's.mp4")]);
        assert_eq!(list, "file '/w/0.mp4'\nfile '/w/it'\\''s.mp4'\n");
    }
}
