//! Conformal calibration of the forecast intervals, per horizon step.
//!
//! A forecast's score `s = max((p − y) / (p − lo), (y − p) / (hi − p))` is how far out of the
//! mixture's own interval its true value fell, in units of that side's half-width (≤ 1
//! inside). The conformal factor `q` of a step is a recency-weighted quantile of the scores
//! known so far (non-exchangeable split conformal, Barber, Candès, Ramdas & Tibshirani 2023),
//! and stretches or shrinks an interval about its point forecast: `p − q (p − lo)` to
//! `p + q (hi − p)`.
//!
//! The scores known so far are, in time order:
//! - those of the cross-validation folds on the training part ([`fold_scores`]);
//! - with online calibration ([`online_scales`]), those of the earlier test forecasts whose
//!   true value is already known at the origin being forecast: the step-h forecast made at
//!   origin s is scored once y[s + 1 + h] is observed, so it calibrates the origins t ≥ s + 1 + h.
//!   This is what a forecaster running on the series would know at each origin; no forecast
//!   ever sees its own true value or a later one.

use nalgebra::DMatrix;

use super::select::FoldForecasts;
use super::MixtureForecasts;

/// How far out of its own interval a true value fell, in units of that side's half-width
/// (≤ 1 inside; NaN when the true value is missing).
pub fn score(point: f64, lower: f64, upper: f64, truth: f64) -> f64 {
    let tiny = 1e-12 * (1.0 + point.abs());
    let below = (point - truth) / (point - lower).max(tiny);
    let above = (truth - point) / (upper - point).max(tiny);
    below.max(above)
}

/// The scores of horizon step `h` on every fold, fold after fold, in time order (missing true
/// values left out).
pub fn fold_scores(folds: &FoldForecasts, h: usize) -> Vec<f64> {
    folds
        .forecasts
        .iter()
        .zip(&folds.truth)
        .flat_map(|(f, t)| {
            (0..t.nrows())
                .map(move |i| score(f.point[(i, h)], f.lower[(i, h)], f.upper[(i, h)], t[(i, h)]))
        })
        .filter(|v| v.is_finite())
        .collect()
}

/// The conformal factor at `level` from `scores` in time order: a score's weight halves every
/// `half_life` scores back from the newest (which has weight ½^(1/half_life)), the point being
/// calibrated counts with weight one, and the factor is the smallest score whose cumulative
/// weight reaches `level` of the total. `half_life = ∞` is plain split conformal; with too few
/// scores for the level, the largest; with none, 1 (the mixture's own interval).
pub fn weighted_factor(scores: &[f64], level: f64, half_life: f64) -> f64 {
    if scores.is_empty() {
        return 1.0;
    }
    let m = scores.len();
    let decay = if half_life.is_finite() {
        0.5f64.powf(1.0 / half_life)
    } else {
        1.0
    };
    let mut weighted: Vec<(f64, f64)> = scores
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, decay.powi((m - i) as i32)))
        .collect();
    weighted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = weighted.iter().map(|w| w.1).sum::<f64>() + 1.0;
    let mut cumulative = 0.0;
    for (v, w) in &weighted {
        cumulative += w;
        if cumulative >= level * total {
            return v.max(0.0);
        }
    }
    weighted.last().map_or(1.0, |w| w.0.max(0.0))
}

/// The conformal factor of every horizon step from the fold scores alone.
pub fn fold_factors(folds: &FoldForecasts, level: f64, horizon: usize, half_life: f64) -> Vec<f64> {
    (0..horizon)
        .map(|h| weighted_factor(&fold_scores(folds, h), level, half_life))
        .collect()
}

/// The conformal factor of every test forecast (origins × H): for origin `origins[i]` and
/// step h, from the fold scores followed by the scores of the earlier test forecasts at that
/// step whose true value `truth[(j, h)] = y[origins[j] + 1 + h]` is known at `origins[i]`.
/// `raw` are the uncalibrated test forecasts.
///
/// With `step` γ > 0 the level adapts as well (adaptive conformal inference, Gibbs & Candès
/// 2021): it starts at `level`, and each test forecast whose true value becomes known moves
/// the miss rate aimed at, α, by γ (1 − `level` − miss), where miss is 1 if that value fell
/// outside its (calibrated) interval: a miss widens the intervals that follow, a hit narrows
/// them a little, so that the share of misses follows 1 − `level` even where the errors
/// change faster than the scores can show.
pub fn online_factors(
    folds: &FoldForecasts,
    raw: &MixtureForecasts,
    truth: &DMatrix<f64>,
    origins: &[usize],
    level: f64,
    half_life: f64,
    step: f64,
) -> DMatrix<f64> {
    let horizon = truth.ncols();
    let target_miss = 1.0 - level;
    let mut factors = DMatrix::zeros(origins.len(), horizon);
    for h in 0..horizon {
        let mut scores = fold_scores(folds, h);
        // How far the miss rate aimed at has moved from 1 − level.
        let mut drift = 0.0;
        // The test forecasts scored so far at this step, in origin order.
        let mut next = 0;
        for (i, &t) in origins.iter().enumerate() {
            while next < i && origins[next] + 1 + h <= t {
                let s = score(
                    raw.point[(next, h)],
                    raw.lower[(next, h)],
                    raw.upper[(next, h)],
                    truth[(next, h)],
                );
                if s.is_finite() {
                    scores.push(s);
                    let miss = if s > factors[(next, h)] { 1.0 } else { 0.0 };
                    drift += step * (target_miss - miss);
                }
                next += 1;
            }
            // (a level of 1 or more gives the largest score, of 0 or less the smallest)
            factors[(i, h)] = weighted_factor(&scores, level - drift, half_life);
        }
    }
    factors
}

/// Stretches (or shrinks) every interval of `f` about its point forecast by its factor
/// (`factors[(i, h)]` for origin i, step h).
pub fn apply(f: &mut MixtureForecasts, factors: &DMatrix<f64>) {
    for h in 0..f.point.ncols() {
        for i in 0..f.point.nrows() {
            let q = factors[(i, h)];
            let p = f.point[(i, h)];
            f.lower[(i, h)] = p - q * (p - f.lower[(i, h)]);
            f.upper[(i, h)] = p + q * (f.upper[(i, h)] - p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_score_is_one_on_the_interval_ends_and_below_one_inside() {
        assert!((score(0.0, -2.0, 1.0, 1.0) - 1.0).abs() < 1e-12);
        assert!((score(0.0, -2.0, 1.0, -2.0) - 1.0).abs() < 1e-12);
        assert!((score(0.0, -2.0, 1.0, -4.0) - 2.0).abs() < 1e-12);
        assert!(score(0.0, -2.0, 1.0, 0.5) < 1.0);
        assert!(score(0.0, -2.0, 1.0, f64::NAN).is_nan());
    }

    #[test]
    fn recent_fold_scores_weigh_more() {
        // 30 old scores of 3 (half-widths out), then 100 recent ones of 0.5
        let m = 130;
        let f = MixtureForecasts {
            point: DMatrix::zeros(m, 1),
            lower: DMatrix::from_element(m, 1, -1.0),
            upper: DMatrix::from_element(m, 1, 1.0),
        };
        let truth = DMatrix::from_fn(m, 1, |i, _| if i < 30 { 3.0 } else { 0.5 });
        let folds = FoldForecasts {
            forecasts: vec![f],
            truth: vec![truth],
        };
        // equal weights: the 90 % score is an old one
        assert_eq!(fold_factors(&folds, 0.9, 1, f64::INFINITY), vec![3.0]);
        // a half-life of 10 scores: the recent ones hold more than 90 % of the weight (the
        // test point's own weight, one, included)
        assert_eq!(fold_factors(&folds, 0.9, 1, 10.0), vec![0.5]);
    }

    #[test]
    fn conformal_scales_cover_the_fold_values_at_the_level() {
        // 19 scores 0.1, 0.2, …, 1.9 (true values at k/10 half-widths out): at level 0.9
        // the ⌈20 · 0.9⌉ = 18th smallest, 1.8, so that 18 of 19 lie inside after scaling.
        let m = 19;
        let point = DMatrix::zeros(m, 1);
        let f = MixtureForecasts {
            point: point.clone(),
            lower: DMatrix::from_element(m, 1, -1.0),
            upper: DMatrix::from_element(m, 1, 1.0),
        };
        let truth = DMatrix::from_fn(m, 1, |i, _| {
            let s = (i + 1) as f64 / 10.0;
            if i % 2 == 0 {
                s
            } else {
                -s
            }
        });
        let folds = FoldForecasts {
            forecasts: vec![f.clone()],
            truth: vec![truth.clone()],
        };
        let q = fold_factors(&folds, 0.9, 1, f64::INFINITY);
        assert!((q[0] - 1.8).abs() < 1e-12, "{q:?}");
        let mut g = f;
        apply(&mut g, &DMatrix::from_element(m, 1, q[0]));
        let inside = (0..m)
            .filter(|&i| g.lower[(i, 0)] <= truth[(i, 0)] && truth[(i, 0)] <= g.upper[(i, 0)])
            .count();
        assert_eq!(inside, 18);
        assert_eq!(score(0.0, -2.0, 1.0, -1.0), 0.5);
        assert_eq!(score(0.0, -2.0, 1.0, 3.0), 3.0);
    }

    fn forecasts(point: &[f64], half: f64) -> MixtureForecasts {
        let n = point.len();
        let p = DMatrix::from_column_slice(n, 1, point);
        MixtureForecasts {
            lower: p.map(|v| v - half),
            upper: p.map(|v| v + half),
            point: p,
        }
    }

    #[test]
    fn an_online_factor_uses_only_true_values_known_at_its_origin() {
        let folds = FoldForecasts {
            forecasts: vec![forecasts(&[0.0; 4], 1.0)],
            truth: vec![DMatrix::from_column_slice(4, 1, &[0.1, -0.2, 0.3, -0.1])],
        };
        let origins: Vec<usize> = (10..16).collect();
        let raw = forecasts(&[0.0; 6], 1.0);
        let truth = DMatrix::from_column_slice(6, 1, &[5.0, 5.0, 5.0, 5.0, 5.0, 5.0]);
        let f = online_factors(&folds, &raw, &truth, &origins, 0.9, 2.0, 0.0);
        // The first origin knows only the folds; y[11] (its own target) is unknown at t = 10.
        assert_eq!(
            f[(0, 0)],
            weighted_factor(&fold_scores(&folds, 0), 0.9, 2.0)
        );
        assert!(f[(0, 0)] < 1.0);
        // Each later origin has seen the misses before it, and widens.
        assert!(f[(3, 0)] > f[(0, 0)]);
        // Changing a true value changes only the factors of later origins.
        let mut changed = truth.clone();
        changed[(2, 0)] = -50.0;
        let g = online_factors(&folds, &raw, &changed, &origins, 0.9, 2.0, 0.0);
        for i in 0..=2 {
            assert_eq!(
                f[(i, 0)],
                g[(i, 0)],
                "origin {i} cannot know y[{}]",
                origins[2] + 1
            );
        }
        assert_ne!(f[(5, 0)], g[(5, 0)]);
    }

    #[test]
    fn a_later_step_waits_longer_for_its_true_values() {
        let folds = FoldForecasts::default();
        let origins: Vec<usize> = (0..5).collect();
        let p = DMatrix::zeros(5, 3);
        let raw = MixtureForecasts {
            lower: p.map(|v: f64| v - 1.0),
            upper: p.map(|v: f64| v + 1.0),
            point: p,
        };
        let truth = DMatrix::from_element(5, 3, 2.0);
        let f = online_factors(&folds, &raw, &truth, &origins, 0.9, f64::INFINITY, 0.0);
        // Step h at origin t has seen the forecasts of origins s ≤ t − 1 − h: none before
        // t = h + 1, so the factor stays 1 there, then it is the score 2.
        for h in 0..3 {
            for t in 0..5 {
                let expected = if t > h { 2.0 } else { 1.0 };
                assert_eq!(f[(t, h)], expected, "step {h}, origin {t}");
            }
        }
    }
}
