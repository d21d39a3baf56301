//! Initial responsibilities: k-means (k-means++ seeding and Lloyd iterations), k-means++ seeds,
//! random responsibilities, random samples as seeds, or user-given means or labels.
//!
//! Works on samples stored as columns (D × N), as the CPU backend keeps them.

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::config::InitMethod;

/// The random generator of initialisation `init` under `seed`: one independent stream each
/// (ChaCha8, so the same seed gives the same numbers on every platform).
pub fn seeded_rng(seed: u64, init: usize) -> ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(init as u64);
    rng
}

const BLOCK: usize = 1024;

/// Squared distance between a column of `xt` and a centre given as a slice.
fn sq_dist(x: nalgebra::DVectorView<'_, f64>, c: &[f64]) -> f64 {
    x.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Nearest centre (K × D, as rows) of every sample; ties go to the lower index.
pub fn nearest_centres(xt: &DMatrix<f64>, centres: &DMatrix<f64>) -> Vec<usize> {
    let k = centres.nrows();
    let rows: Vec<Vec<f64>> = (0..k)
        .map(|c| centres.row(c).iter().copied().collect())
        .collect();
    let n = xt.ncols();
    let mut labels = vec![0usize; n];
    labels
        .par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(b, out)| {
            for (o, i) in out.iter_mut().zip(b * BLOCK..) {
                let x = xt.column(i);
                let mut best = (f64::INFINITY, 0);
                for (c, row) in rows.iter().enumerate() {
                    let dist = sq_dist(x, row);
                    if dist < best.0 {
                        best = (dist, c);
                    }
                }
                *o = best.1;
            }
        });
    labels
}

/// k-means++ seeding: indices of K samples, each drawn with probability proportional to its
/// squared distance to the seeds chosen so far (greedy over 2 + ln K candidates, as
/// scikit-learn).
pub fn kmeans_plus_plus(xt: &DMatrix<f64>, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let n = xt.ncols();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let first = rng.random_range(0..n);
    let mut chosen = vec![first];
    let dist_to = |idx: usize| -> Vec<f64> {
        let c: Vec<f64> = xt.column(idx).iter().copied().collect();
        (0..n)
            .into_par_iter()
            .map(|i| sq_dist(xt.column(i), &c))
            .collect()
    };
    let mut closest = dist_to(first);
    while chosen.len() < k {
        let total: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let cand = if total > 0.0 {
                let target = rng.random::<f64>() * total;
                let mut acc = 0.0;
                let mut pick = n - 1;
                for (i, &v) in closest.iter().enumerate() {
                    acc += v;
                    if acc > target {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                rng.random_range(0..n)
            };
            let d = dist_to(cand);
            let new_closest: Vec<f64> = closest.iter().zip(&d).map(|(a, b)| a.min(*b)).collect();
            let pot: f64 = new_closest.iter().sum();
            if best.as_ref().is_none_or(|b| pot < b.0) {
                best = Some((pot, cand, new_closest));
            }
        }
        let (_, idx, new_closest) = best.expect("at least one trial");
        chosen.push(idx);
        closest = new_closest;
    }
    chosen
}

fn centres_of(xt: &DMatrix<f64>, idx: &[usize]) -> DMatrix<f64> {
    DMatrix::from_fn(idx.len(), xt.nrows(), |c, j| xt[(j, idx[c])])
}

/// Lloyd iterations from the given centres; returns the final labels.
pub fn lloyd(xt: &DMatrix<f64>, mut centres: DMatrix<f64>, max_iter: usize) -> Vec<usize> {
    let k = centres.nrows();
    let d = xt.nrows();
    let mut labels = nearest_centres(xt, &centres);
    for _ in 0..max_iter {
        let mut sums = DMatrix::<f64>::zeros(k, d);
        let mut counts = DVector::<f64>::zeros(k);
        for (i, &l) in labels.iter().enumerate() {
            counts[l] += 1.0;
            for j in 0..d {
                sums[(l, j)] += xt[(j, i)];
            }
        }
        for c in 0..k {
            if counts[c] > 0.0 {
                let row = sums.row(c) / counts[c];
                centres.set_row(c, &row);
            }
        }
        let new_labels = nearest_centres(xt, &centres);
        if new_labels == labels {
            break;
        }
        labels = new_labels;
    }
    labels
}

/// One-hot responsibilities (N × K) from hard labels.
pub fn one_hot(labels: &[usize], k: usize) -> DMatrix<f64> {
    let mut resp = DMatrix::<f64>::zeros(labels.len(), k);
    for (i, &l) in labels.iter().enumerate() {
        resp[(i, l)] = 1.0;
    }
    resp
}

/// Initial responsibilities (N × K) for the samples in `xt` (D × N).
pub fn initial_responsibilities(
    xt: &DMatrix<f64>,
    k: usize,
    method: &InitMethod,
    kmeans_iter: usize,
    rng: &mut ChaCha8Rng,
) -> DMatrix<f64> {
    let n = xt.ncols();
    match method {
        InitMethod::KMeans => {
            let seeds = kmeans_plus_plus(xt, k, rng);
            one_hot(&lloyd(xt, centres_of(xt, &seeds), kmeans_iter), k)
        }
        InitMethod::KMeansPlusPlus => {
            let seeds = kmeans_plus_plus(xt, k, rng);
            one_hot(&nearest_centres(xt, &centres_of(xt, &seeds)), k)
        }
        InitMethod::RandomFromData => {
            let seeds = rand::seq::index::sample(rng, n, k).into_vec();
            one_hot(&nearest_centres(xt, &centres_of(xt, &seeds)), k)
        }
        InitMethod::Random => {
            let mut resp = DMatrix::from_fn(n, k, |_, _| rng.random::<f64>());
            for mut row in resp.row_iter_mut() {
                let s = row.sum();
                row /= s;
            }
            resp
        }
        InitMethod::Means(m) => one_hot(&nearest_centres(xt, m), k),
        InitMethod::Labels(l) => one_hot(l, k),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn kmeans_separates_two_clusters() {
        let mut xt = DMatrix::<f64>::zeros(2, 40);
        for i in 0..40 {
            let off = if i < 20 { -10.0 } else { 10.0 };
            xt[(0, i)] = off + (i % 5) as f64 * 0.1;
            xt[(1, i)] = (i % 3) as f64 * 0.1;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let resp = initial_responsibilities(&xt, 2, &InitMethod::KMeans, 10, &mut rng);
        let first = resp.row(0).transpose().imax();
        for i in 0..20 {
            assert_eq!(resp.row(i).transpose().imax(), first);
        }
        for i in 20..40 {
            assert_ne!(resp.row(i).transpose().imax(), first);
        }
    }

    #[test]
    fn random_responsibilities_sum_to_one() {
        let xt = DMatrix::<f64>::from_fn(3, 10, |i, j| (i + j) as f64);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let resp = initial_responsibilities(&xt, 4, &InitMethod::Random, 0, &mut rng);
        for row in resp.row_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
    }
}
