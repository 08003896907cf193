//! Who is speaking when, from per-track audio levels, with hysteresis so the
//! picture does not flicker between people: a change needs the newcomer to be
//! clearly louder for a while, and every shot lasts a minimum time.

/// Level windows are this long (seconds).
pub const WINDOW: f64 = 0.1;
/// Levels are averaged over this many windows before comparing (1 s).
const SMOOTH: usize = 10;
/// A newcomer must be this much louder than the current speaker (dB) …
const MARGIN_DB: f32 = 3.0;
/// … for this long (windows) …
const HOLD: usize = 10;
/// … and the current shot must have lasted this long (windows).
const MIN_SHOT: usize = 20;
/// Quieter than this is silence: nobody takes over with it.
const SILENCE_DB: f32 = -50.0;

/// `levels[track][window]` in dBFS → shots `(from, to, track)` covering
/// `[0, duration)`.
pub fn shots(levels: &[Vec<f32>], duration: f64) -> Vec<(f64, f64, usize)> {
    let windows = levels.iter().map(Vec::len).max().unwrap_or(0);
    if levels.is_empty() || windows == 0 {
        return vec![(0.0, duration, 0)];
    }
    let smooth: Vec<Vec<f32>> = levels.iter().map(|l| smoothed(l, windows)).collect();
    let loudest = |w: usize| {
        (0..smooth.len())
            .max_by(|a, b| smooth[*a][w].total_cmp(&smooth[*b][w]))
            .unwrap_or(0)
    };
    let mut current = loudest(0.min(windows - 1));
    let mut shot_start = 0usize;
    let mut challenger: Option<(usize, usize)> = None; // (track, since)
    let mut out = Vec::new();
    for w in 0..windows {
        let best = loudest(w);
        let clearly = best != current
            && smooth[best][w] > SILENCE_DB
            && smooth[best][w] - smooth[current][w] >= MARGIN_DB;
        challenger = match challenger {
            Some((t, since)) if clearly && t == best => Some((t, since)),
            _ if clearly => Some((best, w)),
            _ => None,
        };
        if let Some((t, since)) = challenger {
            if w + 1 - since >= HOLD && w - shot_start >= MIN_SHOT {
                // The switch happens where the newcomer started to lead.
                let at = since.max(shot_start + MIN_SHOT);
                out.push((shot_start as f64 * WINDOW, at as f64 * WINDOW, current));
                current = t;
                shot_start = at;
                challenger = None;
            }
        }
    }
    out.push((
        shot_start as f64 * WINDOW,
        duration.max(shot_start as f64 * WINDOW),
        current,
    ));
    out
}

/// Mean energy over the last `SMOOTH` windows, in dB.
fn smoothed(levels: &[f32], windows: usize) -> Vec<f32> {
    let energy: Vec<f64> = (0..windows)
        .map(|w| {
            let db = levels.get(w).copied().unwrap_or(-120.0);
            10f64.powf(f64::from(db) / 10.0)
        })
        .collect();
    (0..windows)
        .map(|w| {
            let from = w.saturating_sub(SMOOTH - 1);
            let mean = energy[from..=w].iter().sum::<f64>() / (w + 1 - from) as f64;
            (10.0 * mean.max(1e-12).log10()) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `spans` of (from, to, track) seconds at -20 dB, -70 elsewhere.
    fn levels(tracks: usize, seconds: f64, spans: &[(f64, f64, usize)]) -> Vec<Vec<f32>> {
        let n = (seconds / WINDOW) as usize;
        (0..tracks)
            .map(|t| {
                (0..n)
                    .map(|w| {
                        let s = w as f64 * WINDOW;
                        if spans.iter().any(|(a, b, k)| *k == t && s >= *a && s < *b) {
                            -20.0
                        } else {
                            -70.0
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn turns_of_speech_switch_the_shot_near_where_they_start() {
        let l = levels(2, 20.0, &[(0.0, 8.0, 0), (8.0, 20.0, 1)]);
        let s = shots(&l, 20.0);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].2, 0);
        assert_eq!(s[1].2, 1);
        assert!((s[1].0 - 8.0).abs() <= 1.0, "{s:?}");
        assert_eq!(s[1].1, 20.0);
    }

    #[test]
    fn a_short_interjection_does_not_take_the_shot() {
        let l = levels(2, 20.0, &[(0.0, 20.0, 0), (6.0, 6.5, 1)]);
        let l = {
            let mut l = l;
            // The host keeps talking quietly while the guest says "mm-hm".
            for w in 60..65 {
                l[0][w] = -30.0;
            }
            l
        };
        assert_eq!(shots(&l, 20.0), vec![(0.0, 20.0, 0)]);
    }

    #[test]
    fn shots_cover_the_whole_duration_without_holes() {
        let l = levels(3, 30.0, &[(0.0, 5.0, 2), (5.0, 12.0, 0), (12.0, 30.0, 1)]);
        let s = shots(&l, 30.0);
        assert_eq!(s[0].0, 0.0);
        assert_eq!(s.last().unwrap().1, 30.0);
        for pair in s.windows(2) {
            assert_eq!(pair[0].1, pair[1].0);
            assert!(pair[0].1 - pair[0].0 >= MIN_SHOT as f64 * WINDOW - 1e-9);
        }
    }
}
