//! Each row measured in pairs with its floor — the floor of its size and kind (round trip or
//! throughput) run right before or right after it, alternating (row, floor, floor, row, …) —
//! so that both halves of a ratio see the same machine. This machine is bimodal: for seconds
//! to minutes at a time cross-process work runs 3–4× slower, and a row and a floor measured
//! minutes apart can disagree by that much. The ratio reported is the median of the per-pair
//! ratios, with their spread; a row whose floor itself changed speed by more than
//! [`MODE_JUMP`] between its pairs is flagged.
//!
//! The ratio itself depends on the mode (a ring moves many cache lines, the floor one, and
//! the two modes differ in what a line transfer costs: framed 64 B round trip 0.55× its floor
//! in one mode, 2.0× in the other), so every pair is also classed by its floor's speed: a
//! pair whose floor ran within [`MODE_JUMP`] of the fast mode's speed of that floor (the
//! 90th percentile of all its runs in the benchmark, so one freak run does not set it) ran in
//! the **fast mode**, any other in the slow one, and the ratio is reported per mode. The fast mode's is the headline: it is the machine's usual state and the one
//! other machines resemble.

use std::collections::HashMap;

use indicatif::ProgressBar;

use super::{Bench, Row};

/// A floor that varies more than this between the pairs of one row: the machine changed
/// speed during the row (its two modes differ by 3–4×; ordinary noise stays well below).
pub(crate) const MODE_JUMP: f64 = 1.6;

/// A row's ratio to its floor over some of its pairs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Spread {
    /// The median of the per-pair ratios.
    pub median: f64,
    /// The lowest and highest per-pair ratio.
    pub low: f64,
    pub high: f64,
    /// How many pairs.
    pub pairs: usize,
}

impl Spread {
    /// Over `ratios` (each with the index of its pair), and the index of the median's pair.
    fn of(mut ratios: Vec<(f64, usize)>) -> Option<(Spread, usize)> {
        if ratios.is_empty() {
            return None;
        }
        ratios.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, at) = ratios[ratios.len() / 2];
        let spread = Spread {
            median,
            low: ratios[0].0,
            high: ratios[ratios.len() - 1].0,
            pairs: ratios.len(),
        };
        Some((spread, at))
    }
}

/// A row's ratio to its floor over its pairs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ratio {
    /// The median of the per-pair ratios.
    pub median: f64,
    /// The lowest and highest per-pair ratio.
    pub low: f64,
    pub high: f64,
    /// How many pairs.
    pub pairs: usize,
    /// The floor varied by more than [`MODE_JUMP`] across the pairs.
    pub mode_changed: bool,
    /// Over the pairs whose floor ran in the fast mode, and over the others.
    pub fast: Option<Spread>,
    pub slow: Option<Spread>,
}

impl Ratio {
    /// The ratio to report: the fast mode's when any pair ran in it, else the slow mode's.
    pub fn headline(&self) -> Spread {
        self.fast.or(self.slow).unwrap_or(Spread {
            median: self.median,
            low: self.low,
            high: self.high,
            pairs: self.pairs,
        })
    }
}

/// A row as reported: the run of its median pair (so its figures and its ratio come from
/// one moment of the machine; a floor, or a row without one: its median run), and its ratio
/// to the floor (`None` for a floor, or a row with no floor of its size and kind).
pub(crate) struct Measured {
    pub row: Row,
    pub ratio: Option<Ratio>,
}

/// The key a row and its floor are paired by: size, and whether it is a round trip.
fn shape(row: &Row) -> (&'static str, bool) {
    (row.size, row.rtt.is_some())
}

/// A row's measure over its floor's in one pair: p50 over p50 for round trips (lower is
/// better), rate over rate for throughput (higher is better).
fn pair_ratio(row: &Row, floor: &Row) -> Option<f64> {
    match (row.rtt, floor.rtt, row.tput, floor.tput) {
        (Some(r), Some(f), _, _) if f[0] > 0.0 => Some(r[0] / f[0]),
        (None, None, Some(r), Some(f)) if f > 0.0 => Some(r / f),
        _ => None,
    }
}

/// How fast a run went: the inverse of its p50 for round trips, its rate for throughput.
fn speed(row: &Row) -> f64 {
    match (row.rtt, row.tput) {
        (Some(r), _) if r[0] > 0.0 => 1.0 / r[0],
        (None, Some(rate)) => rate,
        _ => 0.0,
    }
}

/// The fast mode's speed among `speeds`: their 90th percentile (nearest rank) — the fastest
/// but for the odd run faster than the machine ever stays (one freak floor run must not class
/// every other pair as slow).
fn fast_speed(mut speeds: Vec<f64>) -> f64 {
    if speeds.is_empty() {
        return 0.0;
    }
    speeds.sort_by(f64::total_cmp);
    let rank = (speeds.len() * 9).div_ceil(10).max(1);
    speeds[rank - 1]
}

/// The median run of `runs` by the row's key.
fn median_run(mut runs: Vec<Row>) -> Row {
    runs.sort_by(|a, b| a.key().total_cmp(&b.key()));
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
}

/// The ratio over `pairs` of (row, floor) runs, and the index of the pair whose ratio is
/// the headline's median. `fastest`: the best speed any run of this floor reached in the
/// benchmark (a pair whose floor came within [`MODE_JUMP`] of it ran in the fast mode).
fn summarize(pairs: &[(Row, Row)], fastest: f64) -> Option<(Ratio, usize)> {
    let ratios: Vec<(f64, usize, bool)> = pairs
        .iter()
        .enumerate()
        .filter_map(|(i, (r, f))| pair_ratio(r, f).map(|x| (x, i, speed(f) * MODE_JUMP >= fastest)))
        .collect();
    let select = |keep: fn(bool) -> bool| {
        Spread::of(
            ratios
                .iter()
                .filter(|(_, _, fast)| keep(*fast))
                .map(|&(x, i, _)| (x, i))
                .collect(),
        )
    };
    let (all, _) = select(|_| true)?;
    let fast = select(|fast| fast);
    let slow = select(|fast| !fast);
    let floors: Vec<f64> = pairs.iter().map(|(_, f)| f.key()).collect();
    let (lo, hi) = floors.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
        (lo.min(x), hi.max(x))
    });
    let at = fast.or(slow).map_or(0, |(_, at)| at);
    let ratio = Ratio {
        median: all.median,
        low: all.low,
        high: all.high,
        pairs: all.pairs,
        mode_changed: lo > 0.0 && hi / lo > MODE_JUMP,
        fast: fast.map(|(s, _)| s),
        slow: slow.map(|(s, _)| s),
    };
    Some((ratio, at))
}

/// Progress-bar steps [`run`] takes for `benches` (`floor[i]`: bench i is a floor).
pub(crate) fn steps(floor: &[bool], reps: usize) -> u64 {
    let floors = floor.iter().filter(|f| **f).count();
    let rows = floor.len() - floors;
    (floors + 2 * rows * reps) as u64
}

/// Runs every row `reps` times, each run paired with a run of its floor (before it in odd
/// repetitions, after it in even ones); each floor first runs once alone, which tells its
/// size and kind. Returns the rows in the order given.
pub(crate) fn run(
    benches: &[Bench],
    floor: &[bool],
    reps: usize,
    bar: &ProgressBar,
) -> Vec<Measured> {
    let mut floor_runs: Vec<Vec<Row>> = benches.iter().map(|_| Vec::new()).collect();
    let mut floor_of: HashMap<(&'static str, bool), usize> = HashMap::new();
    for (i, bench) in benches.iter().enumerate().filter(|(i, _)| floor[*i]) {
        let row = bench();
        bar.inc(1);
        floor_of.insert(shape(&row), i);
        floor_runs[i].push(row);
    }
    let mut pairs: Vec<Vec<(Row, Row)>> = benches.iter().map(|_| Vec::new()).collect();
    let mut alone: Vec<Vec<Row>> = benches.iter().map(|_| Vec::new()).collect();
    for rep in 0..reps {
        bar.set_message(format!("repetition {}/{reps}", rep + 1));
        for (i, bench) in benches.iter().enumerate().filter(|(i, _)| !floor[*i]) {
            // The row's shape is known after its first run; from then on its floor may go
            // first.
            let known = pairs[i]
                .first()
                .map(|(r, _)| shape(r))
                .or_else(|| alone[i].first().map(shape))
                .and_then(|s| floor_of.get(&s).copied());
            let floor_first = rep % 2 == 1 && known.is_some();
            let before = floor_first.then(|| benches[known.unwrap_or(i)]());
            let row = bench();
            bar.inc(1);
            let Some(f) = floor_of.get(&shape(&row)).copied() else {
                alone[i].push(row);
                bar.inc(1);
                continue;
            };
            let floor_row = before.unwrap_or_else(|| benches[f]());
            bar.inc(1);
            floor_runs[f].push(floor_row.clone());
            pairs[i].push((row, floor_row));
        }
    }
    // How fast each floor runs in the fast mode, over every run of it.
    let fastest: Vec<f64> = floor_runs
        .iter()
        .map(|runs| fast_speed(runs.iter().map(speed).collect()))
        .collect();
    benches
        .iter()
        .enumerate()
        .map(|(i, _)| {
            if floor[i] {
                return Measured {
                    row: median_run(std::mem::take(&mut floor_runs[i])),
                    ratio: None,
                };
            }
            let floor_speed = pairs[i]
                .first()
                .and_then(|(r, _)| floor_of.get(&shape(r)))
                .map_or(0.0, |&f| fastest[f]);
            let Some((ratio, at)) = summarize(&pairs[i], floor_speed) else {
                let runs: Vec<Row> = std::mem::take(&mut pairs[i])
                    .into_iter()
                    .map(|(r, _)| r)
                    .chain(std::mem::take(&mut alone[i]))
                    .collect();
                return Measured {
                    row: median_run(runs),
                    ratio: None,
                };
            };
            Measured {
                row: std::mem::take(&mut pairs[i]).swap_remove(at).0,
                ratio: Some(ratio),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtt(p50: f64) -> Row {
        Row {
            name: "r".into(),
            size: "8 B",
            rtt: Some([p50, p50, p50, p50]),
            curve: Vec::new(),
            tput: None,
            bytes: 0,
        }
    }

    fn tput(rate: f64) -> Row {
        Row {
            name: "t".into(),
            size: "8 B",
            rtt: None,
            curve: Vec::new(),
            tput: Some(rate),
            bytes: 8,
        }
    }

    /// The ratio is the median of per-pair ratios: a pair measured in the slow mode has both
    /// halves slow, so it agrees with the pairs of the fast mode; the floor's jump is flagged.
    #[test]
    fn pairs_cancel_a_mode_change_and_flag_it() {
        let pairs = [
            (rtt(0.14), rtt(0.12)),
            (rtt(0.56), rtt(0.48)),
            (rtt(0.15), rtt(0.12)),
        ];
        let (r, _) = summarize(&pairs, 1.0 / 0.12).unwrap();
        assert!((r.median - 0.14 / 0.12).abs() < 1e-9, "{r:?}");
        assert!((r.low - 0.56 / 0.48).abs() < 1e-9 && (r.high - 0.15 / 0.12).abs() < 1e-9);
        assert_eq!(r.pairs, 3);
        assert!(r.mode_changed);
        let steady = [(tput(90.0), tput(100.0)), (tput(95.0), tput(100.0))];
        let (r, at) = summarize(&steady, 100.0).unwrap();
        assert_eq!(at, 1, "the pair with the median ratio");
        assert!(!r.mode_changed);
        assert!((r.median - 0.95).abs() < 1e-9, "{r:?}");
        assert!(
            summarize(&[(tput(1.0), rtt(1.0))], 1.0).is_none(),
            "kinds differ"
        );
    }

    /// The ratio depends on the mode: pairs are classed by their floor's speed against the
    /// fastest floor run, and the fast mode's ratio is the headline, its median pair the
    /// row's figures.
    #[test]
    fn ratios_are_reported_per_mode() {
        // Fast mode: floor 0.12 µs, ring 0.066 (0.55×); slow: floor 0.48, ring 0.96 (2×).
        let pairs = [
            (rtt(0.96), rtt(0.48)),
            (rtt(0.066), rtt(0.12)),
            (rtt(0.072), rtt(0.125)),
            (rtt(1.0), rtt(0.5)),
            (rtt(0.94), rtt(0.47)),
        ];
        let (r, at) = summarize(&pairs, 1.0 / 0.12).unwrap();
        let fast = r.fast.unwrap();
        let slow = r.slow.unwrap();
        assert_eq!((fast.pairs, slow.pairs), (2, 3));
        assert!((fast.median - 0.072 / 0.125).abs() < 1e-9, "{fast:?}");
        assert!((slow.median - 2.0).abs() < 1e-9, "{slow:?}");
        assert_eq!(r.headline(), fast);
        assert_eq!(at, 2, "the fast mode's median pair");
        assert!(r.mode_changed);
        // Only slow pairs in this row (the fast mode seen in another row's floor run).
        let (r, _) = summarize(&pairs[3..], 1.0 / 0.12).unwrap();
        assert!(r.fast.is_none());
        assert_eq!(r.headline(), r.slow.unwrap());
    }

    /// The fast mode's speed is the 90th percentile of a floor's runs: one freak run does not
    /// set it.
    #[test]
    fn one_freak_floor_run_does_not_set_the_fast_mode() {
        let mut speeds: Vec<f64> = (0..19).map(|i| 8.0 + f64::from(i) * 0.01).collect();
        speeds.push(20.0);
        assert!((fast_speed(speeds) - 8.17).abs() < 1e-9);
        assert_eq!(fast_speed(vec![3.0]), 3.0);
        assert_eq!(fast_speed(vec![3.0, 1.0]), 3.0);
        assert_eq!(fast_speed(Vec::new()), 0.0);
    }
}
