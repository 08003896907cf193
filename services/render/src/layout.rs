//! Layouts as data: a canvas and, over time, which track goes in which
//! rectangle. One filter-graph builder turns any of them into ffmpeg filters,
//! so a new layout is a new function returning a `Composition`, not a new path.

use zencast_events::Layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Track `track` is shown in `rect` from `from` to `to` seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub track: usize,
    pub rect: Rect,
    pub from: f64,
    pub to: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Composition {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Placements; empty for a card without video (audio-only).
    pub placements: Vec<Placement>,
    /// Names on the card (audio-only) instead of video tiles.
    pub card: bool,
}

pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 720;
pub const FPS: u32 = 30;

/// The composition of `layout` for `tracks` people over `duration` seconds.
/// `speaker` says who speaks when (from audio levels); only `speaker` uses it.
pub fn compose(
    layout: Layout,
    tracks: usize,
    duration: f64,
    speaker: &[(f64, f64, usize)],
) -> Composition {
    let whole = |placements| Composition {
        width: WIDTH,
        height: HEIGHT,
        fps: FPS,
        placements,
        card: false,
    };
    match layout {
        Layout::Grid => whole(grid(tracks, duration)),
        Layout::SideBySide => whole(side_by_side(tracks, duration)),
        Layout::Speaker => whole(speaker_view(tracks, duration, speaker)),
        Layout::AudioOnly => Composition {
            width: WIDTH,
            height: HEIGHT,
            // A still card: one frame a second is all it needs.
            fps: 1,
            placements: vec![],
            card: true,
        },
    }
}

fn even(v: u32) -> u32 {
    v & !1
}

/// Rows of equal tiles filling the canvas; the last row centred. 1–9 people
/// (more still works: the grid grows).
fn grid(n: usize, duration: f64) -> Vec<Placement> {
    let n = n.max(1) as u32;
    let cols = (1..).find(|c| c * c >= n).unwrap_or(1);
    let rows = n.div_ceil(cols);
    let (w, h) = (even(WIDTH / cols), even(HEIGHT / rows));
    let top = (HEIGHT - h * rows) / 2;
    (0..n)
        .map(|i| {
            let (row, col) = (i / cols, i % cols);
            let in_row = if row == rows - 1 {
                n - row * cols
            } else {
                cols
            };
            let left = (WIDTH - w * in_row) / 2;
            Placement {
                track: i as usize,
                rect: Rect {
                    x: left + col * w,
                    y: top + row * h,
                    w,
                    h,
                },
                from: 0.0,
                to: duration,
            }
        })
        .collect()
}

/// Everyone in one row of full-height columns (each picture centre-cropped).
fn side_by_side(n: usize, duration: f64) -> Vec<Placement> {
    let n = n.max(1) as u32;
    let w = even(WIDTH / n);
    let left = (WIDTH - w * n) / 2;
    (0..n)
        .map(|i| Placement {
            track: i as usize,
            rect: Rect {
                x: left + i * w,
                y: 0,
                w,
                h: HEIGHT,
            },
            from: 0.0,
            to: duration,
        })
        .collect()
}

/// The speaker large; everyone small in a strip below.
fn speaker_view(n: usize, duration: f64, speaker: &[(f64, f64, usize)]) -> Vec<Placement> {
    if n <= 1 {
        return grid(n, duration);
    }
    let big = Rect {
        x: 128,
        y: 0,
        w: 1024,
        h: 576,
    };
    let n32 = n as u32;
    let tw = even((WIDTH / n32).min(256));
    let th = even(tw * 9 / 16).min(HEIGHT - big.h);
    let left = (WIDTH - tw * n32) / 2;
    let mut out: Vec<Placement> = (0..n)
        .map(|i| Placement {
            track: i,
            rect: Rect {
                x: left + i as u32 * tw,
                y: big.h + (HEIGHT - big.h - th) / 2,
                w: tw,
                h: th,
            },
            from: 0.0,
            to: duration,
        })
        .collect();
    let shots: Vec<(f64, f64, usize)> = if speaker.is_empty() {
        vec![(0.0, duration, 0)]
    } else {
        speaker.to_vec()
    };
    out.extend(shots.into_iter().map(|(from, to, track)| Placement {
        track,
        rect: big,
        from,
        to,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(r: Rect) -> bool {
        r.x + r.w <= WIDTH && r.y + r.h <= HEIGHT && r.w % 2 == 0 && r.h % 2 == 0
    }

    fn overlap(a: Rect, b: Rect) -> bool {
        a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
    }

    #[test]
    fn grid_tiles_fit_do_not_overlap_and_show_everyone_for_1_to_9_people() {
        for n in 1..=9 {
            let c = compose(Layout::Grid, n, 60.0, &[]);
            assert_eq!(c.placements.len(), n);
            for (i, a) in c.placements.iter().enumerate() {
                assert_eq!(a.track, i);
                assert!(inside(a.rect), "{n}: {:?}", a.rect);
                for b in &c.placements[i + 1..] {
                    assert!(!overlap(a.rect, b.rect), "{n}: {:?} {:?}", a.rect, b.rect);
                }
            }
        }
        assert_eq!(
            compose(Layout::Grid, 4, 1.0, &[]).placements[3].rect,
            Rect {
                x: 640,
                y: 360,
                w: 640,
                h: 360
            }
        );
    }

    #[test]
    fn side_by_side_is_full_height_columns() {
        let c = compose(Layout::SideBySide, 2, 10.0, &[]);
        let rects: Vec<Rect> = c.placements.iter().map(|p| p.rect).collect();
        assert_eq!(
            rects,
            vec![
                Rect {
                    x: 0,
                    y: 0,
                    w: 640,
                    h: 720
                },
                Rect {
                    x: 640,
                    y: 0,
                    w: 640,
                    h: 720
                }
            ]
        );
    }

    #[test]
    fn speaker_puts_each_shot_large_and_everyone_small() {
        let shots = [(0.0, 4.0, 1), (4.0, 10.0, 0)];
        let c = compose(Layout::Speaker, 3, 10.0, &shots);
        let large: Vec<_> = c.placements.iter().filter(|p| p.rect.w == 1024).collect();
        assert_eq!(large.len(), 2);
        assert_eq!((large[0].track, large[0].from, large[0].to), (1, 0.0, 4.0));
        let small: Vec<_> = c.placements.iter().filter(|p| p.rect.w < 1024).collect();
        assert_eq!(small.len(), 3);
        for p in c.placements {
            assert!(inside(p.rect));
        }
    }

    #[test]
    fn audio_only_is_a_card_without_tiles() {
        let c = compose(Layout::AudioOnly, 3, 10.0, &[]);
        assert!(c.card && c.placements.is_empty());
        assert_eq!((c.width, c.height), (1280, 720));
    }
}
