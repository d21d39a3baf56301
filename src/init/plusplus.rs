//! k-means++ seeding in scikit-learn's greedy variant: each new seed is the best of
//! 2 + ⌊ln K⌋ candidates drawn with probability proportional to the squared distance to the
//! seeds so far, "best" meaning the smallest resulting potential (Σ of squared distances to
//! the nearest seed). The candidates' distances are one GEMM per block of samples.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::distances::{sq_norms_of, CentredSamples};

/// Indices of K seed samples.
pub fn kmeans_plus_plus(data: &CentredSamples<'_>, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n = data.n();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = match data.weights() {
        None => rng.random_range(0..n),
        Some(w) => {
            let mut acc = 0.0;
            let cumsum: Vec<f64> = w
                .iter()
                .map(|v| {
                    acc += v;
                    acc
                })
                .collect();
            let target = rng.random::<f64>() * acc;
            cumsum.partition_point(|&c| c <= target).min(n - 1)
        }
    };
    let mut chosen = vec![first];
    let (mut closest, mut pot) = {
        let (d, pots) = candidate_distances(data, &[first], None);
        (d, pots[0])
    };
    let mut cumsum = vec![0.0; n];
    while chosen.len() < k {
        let candidates: Vec<usize> = if pot > 0.0 {
            let mut acc = 0.0;
            for (i, (c, &v)) in cumsum.iter_mut().zip(&closest).enumerate() {
                acc += v * data.weight(i);
                *c = acc;
            }
            (0..trials)
                .map(|_| {
                    let target = rng.random::<f64>() * pot;
                    cumsum.partition_point(|&c| c < target).min(n - 1)
                })
                .collect()
        } else {
            // Every sample sits on a seed already: any sample will do.
            (0..trials).map(|_| rng.random_range(0..n)).collect()
        };
        let (new_closest, pots) = candidate_distances(data, &candidates, Some(&closest));
        // The first candidate with the smallest potential.
        let mut best = 0;
        for (t, &p) in pots.iter().enumerate() {
            if p < pots[best] {
                best = t;
            }
        }
        chosen.push(candidates[best]);
        pot = pots[best];
        let m = candidates.len();
        closest = new_closest.iter().skip(best).step_by(m).copied().collect();
    }
    chosen
}

/// For candidate seeds `cand`: min(closest_i, ‖x_i − x_cand‖²) for every sample and candidate
/// (sample-major, N × M) and each candidate's potential Σ_i of those, summed per group and
/// then in group order. Without `closest`, the plain squared distances.
fn candidate_distances(
    data: &CentredSamples<'_>,
    cand: &[usize],
    closest: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let n = data.n();
    let m = cand.len();
    let centres = data.centred_columns(cand);
    let cn = sq_norms_of(&centres);
    let mut out = vec![0.0; n * m];
    let step = data.group_len();
    let partial: Vec<Vec<f64>> = out
        .par_chunks_mut(step * m)
        .enumerate()
        .map(|(g, o)| {
            let start = g * step;
            let mut pots = vec![0.0; m];
            data.walk(start..start + o.len() / m, &centres, |i, _x, p| {
                let row = &mut o[(i - start) * m..(i - start + 1) * m];
                let x2 = data.sq_norm(i);
                for (t, v) in row.iter_mut().enumerate() {
                    let mut dist = (x2 + cn[t] - 2.0 * p[t]).max(0.0);
                    if let Some(cl) = closest {
                        dist = dist.min(cl[i]);
                    }
                    *v = dist;
                    pots[t] += dist * data.weight(i);
                }
            });
            pots
        })
        .collect();
    let mut pots = vec![0.0; m];
    for p in partial {
        for (a, b) in pots.iter_mut().zip(p) {
            *a += b;
        }
    }
    (out, pots)
}
