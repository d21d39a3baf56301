//! Initial responsibilities: k-means (k-means++ seeding and Lloyd iterations), k-means++ seeds,
//! random responsibilities, random samples as seeds, or user-given means or labels.
//!
//! Works on samples stored as columns (D × N), as the CPU backend keeps them. Distances are in
//! GEMM form on centred data ([`distances`]), the seeding is scikit-learn's greedy k-means++
//! ([`plusplus`]) and Lloyd's iterations stop on scikit-learn's tolerance ([`lloyd`]).

pub mod distances;
pub mod lloyd;
pub mod plusplus;
pub mod sample;

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::config::InitMethod;
use distances::{nearest, CentredSamples};
use lloyd::lloyd;
use plusplus::kmeans_plus_plus;

/// The random generator of initialisation `init` under `seed`: one independent stream each
/// (ChaCha8, so the same seed gives the same numbers on every platform).
pub fn seeded_rng(seed: u64, init: usize) -> ChaCha8Rng {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(init as u64);
    rng
}

/// One-hot responsibilities (N × K) from hard labels.
pub fn one_hot(labels: &[usize], k: usize) -> DMatrix<f64> {
    let mut resp = DMatrix::<f64>::zeros(labels.len(), k);
    for (i, &l) in labels.iter().enumerate() {
        resp[(i, l)] = 1.0;
    }
    resp
}

/// Settings of the k-means initialisation: at most `max_iter` Lloyd passes, stopping when the
/// total squared centre shift is at most `tol` times the mean per-feature variance
/// (scikit-learn's `KMeans(max_iter=300, tol=1e-4)`), the best (lowest inertia) of `runs`
/// seedings (scikit-learn's `n_init`, 1 inside `GaussianMixture`).
#[derive(Debug, Clone, Copy)]
pub struct KMeansSettings {
    /// Lloyd passes, at most.
    pub max_iter: usize,
    /// Tolerance on the centre shift, relative to the data's variance.
    pub tol: f64,
    /// k-means++ seedings, each followed by Lloyd's iterations; the lowest inertia is kept.
    pub runs: usize,
}

/// k-means runs on a sample of the data ([`sample`]): clustering it is cheap next to one
/// pass over all the data, so the best of several runs makes the initialisation less
/// dependent on the seed than scikit-learn's single run.
pub const SAMPLE_RUNS: usize = 4;

/// The nearest row of `means` (K × D) of every sample of `xt` (D × N), ties to the lower
/// index: how [`InitMethod::Means`] assigns the samples, and every sample's initial label
/// after k-means on a sample of them.
pub fn nearest_labels(xt: &DMatrix<f64>, means: &DMatrix<f64>) -> Vec<usize> {
    let data = CentredSamples::new(xt);
    nearest(&data, &data.centre_rows(means)).0
}

/// The weighted means (K × D) of the columns of `xt` (D × N) under responsibilities `resp`
/// (N × K): the initial means a clustering of a sample gives (a component with no
/// responsibility keeps zeros).
pub fn cluster_means(xt: &DMatrix<f64>, resp: &DMatrix<f64>) -> DMatrix<f64> {
    let k = resp.ncols();
    let mut means = DMatrix::<f64>::zeros(k, xt.nrows());
    for c in 0..k {
        let w = resp.column(c);
        let total: f64 = w.sum();
        if total > 0.0 {
            let m: DVector<f64> = xt * w / total;
            means.set_row(c, &m.transpose());
        }
    }
    means
}

/// How an initialisation assigns the samples: hard labels (the k-means family, given means
/// or labels) or soft responsibilities (random).
#[derive(Debug, Clone, PartialEq)]
pub enum Initial {
    /// One component per sample, in 0..K.
    Labels(Vec<usize>),
    /// Responsibilities, N × K, rows summing to one.
    Responsibilities(DMatrix<f64>),
}

impl Initial {
    /// As responsibilities (N × K): labels one-hot.
    pub fn into_responsibilities(self, k: usize) -> DMatrix<f64> {
        match self {
            Initial::Labels(l) => one_hot(&l, k),
            Initial::Responsibilities(r) => r,
        }
    }
}

/// The initial assignment of the samples in `xt` (D × N), with sample weights for the
/// k-means initialisations when given.
pub fn initial_assignment(
    xt: &DMatrix<f64>,
    weights: Option<&DVector<f64>>,
    k: usize,
    method: &InitMethod,
    kmeans: KMeansSettings,
    rng: &mut ChaCha8Rng,
) -> Initial {
    let n = xt.ncols();
    let data = || CentredSamples::new(xt).weighted(weights);
    Initial::Labels(match method {
        InitMethod::KMeans => {
            let data = data();
            let mut best: Option<(Vec<usize>, f64)> = None;
            for _ in 0..kmeans.runs.max(1) {
                let seeds = kmeans_plus_plus(&data, k, rng);
                let centres = data.centred_columns(&seeds);
                let run = lloyd(&data, centres, kmeans.max_iter, kmeans.tol);
                // The first of equal inertias.
                if best.as_ref().is_none_or(|b| run.1 < b.1) {
                    best = Some(run);
                }
            }
            best.expect("at least one run").0
        }
        InitMethod::KMeansPlusPlus => {
            let data = data();
            let seeds = kmeans_plus_plus(&data, k, rng);
            nearest(&data, &data.centred_columns(&seeds)).0
        }
        InitMethod::RandomFromData => {
            let data = data();
            let seeds = rand::seq::index::sample(rng, n, k).into_vec();
            nearest(&data, &data.centred_columns(&seeds)).0
        }
        InitMethod::Random => {
            let mut resp = DMatrix::from_fn(n, k, |_, _| rng.random::<f64>());
            for mut row in resp.row_iter_mut() {
                let s = row.sum();
                row /= s;
            }
            return Initial::Responsibilities(resp);
        }
        InitMethod::Means(m) => nearest_labels(xt, m),
        InitMethod::Labels(l) => l.clone(),
    })
}

/// Initial responsibilities (N × K): [`initial_assignment`], labels one-hot.
pub fn initial_responsibilities(
    xt: &DMatrix<f64>,
    weights: Option<&DVector<f64>>,
    k: usize,
    method: &InitMethod,
    kmeans: KMeansSettings,
    rng: &mut ChaCha8Rng,
) -> DMatrix<f64> {
    initial_assignment(xt, weights, k, method, kmeans, rng).into_responsibilities(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const SETTINGS: KMeansSettings = KMeansSettings {
        max_iter: 300,
        tol: 1e-4,
        runs: 1,
    };

    #[test]
    fn kmeans_separates_two_clusters() {
        let mut xt = DMatrix::<f64>::zeros(2, 40);
        for i in 0..40 {
            let off = if i < 20 { -10.0 } else { 10.0 };
            xt[(0, i)] = off + (i % 5) as f64 * 0.1;
            xt[(1, i)] = (i % 3) as f64 * 0.1;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let resp = initial_responsibilities(&xt, None, 2, &InitMethod::KMeans, SETTINGS, &mut rng);
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
        let resp = initial_responsibilities(&xt, None, 4, &InitMethod::Random, SETTINGS, &mut rng);
        for row in resp.row_iter() {
            assert!((row.sum() - 1.0).abs() < 1e-12);
        }
    }

    /// With tol = 0, Lloyd runs to a fixed point: every sample is nearest (by direct
    /// distances) to the mean of its own cluster, and no cluster is empty.
    #[test]
    fn lloyd_ends_at_a_fixed_point() {
        use rand_distr::{Distribution, StandardNormal};
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let (d, n, k) = (3, 3000, 7);
        let xt = DMatrix::from_fn(d, n, |_, _| {
            let v: f64 = StandardNormal.sample(&mut rng);
            v + 100.0
        });
        let settings = KMeansSettings {
            max_iter: 1000,
            tol: 0.0,
            runs: 1,
        };
        let resp = initial_responsibilities(&xt, None, k, &InitMethod::KMeans, settings, &mut rng);
        let labels: Vec<usize> = resp.row_iter().map(|r| r.transpose().imax()).collect();
        let mut means = DMatrix::<f64>::zeros(d, k);
        let mut counts = vec![0.0; k];
        for (i, &l) in labels.iter().enumerate() {
            means.set_column(l, &(means.column(l) + xt.column(i)));
            counts[l] += 1.0;
        }
        for (c, &count) in counts.iter().enumerate() {
            assert!(count > 0.0, "cluster {c} is empty");
            means.set_column(c, &(means.column(c) / count));
        }
        for (i, &l) in labels.iter().enumerate() {
            let dist = |c: usize| (xt.column(i) - means.column(c)).norm_squared();
            for c in 0..k {
                assert!(dist(l) <= dist(c) + 1e-9, "sample {i}: {l} vs {c}");
            }
        }
    }

    /// The best of several k-means runs: its first run is the single run of the same seed, so
    /// its within-cluster sum of squares is never larger, and on data with many local optima
    /// (uniform noise, K = 9) some later run is strictly better for some seed.
    #[test]
    fn more_runs_never_give_a_worse_clustering() {
        let within = |xt: &DMatrix<f64>, labels: &[usize], k: usize| {
            let means = cluster_means(xt, &one_hot(labels, k));
            labels
                .iter()
                .enumerate()
                .map(|(i, &l)| (xt.column(i) - means.row(l).transpose()).norm_squared())
                .sum::<f64>()
        };
        let mut data_rng = ChaCha8Rng::seed_from_u64(5);
        let xt = DMatrix::from_fn(2, 2000, |_, _| data_rng.random::<f64>());
        let k = 9;
        let mut strictly_better = 0;
        for seed in 0..6 {
            let labels = |runs: usize| {
                let settings = KMeansSettings { runs, ..SETTINGS };
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                match initial_assignment(&xt, None, k, &InitMethod::KMeans, settings, &mut rng) {
                    Initial::Labels(l) => l,
                    Initial::Responsibilities(_) => unreachable!("k-means gives labels"),
                }
            };
            let (one, four) = (within(&xt, &labels(1), k), within(&xt, &labels(4), k));
            assert!(four <= one * (1.0 + 1e-6), "seed {seed}: {four} > {one}");
            if four < one * (1.0 - 1e-6) {
                strictly_better += 1;
            }
        }
        assert!(strictly_better > 0, "four runs never beat one");
    }
}
