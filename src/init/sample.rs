//! A seeded uniform sample of a fixed number of the samples, without replacement: the rows
//! that k-means clusters when there are more than [`sample_size`] of them. The sample is a
//! set of row numbers drawn from N alone, so a fit in memory, a streamed fit and a fit over
//! chunks pick the same rows.

use nalgebra::DMatrix;
use rand::Rng;

/// Samples k-means clusters at most, for up to 20 components ([`sample_size`]).
pub const SAMPLE_ROWS: usize = 20_000;

/// Sampled rows per component, at least (for K > 20).
pub const SAMPLE_ROWS_PER_COMPONENT: usize = 1_000;

/// How many samples k-means clusters for `k` components, at most: beyond this, a seeded
/// uniform sample of this many (then every sample goes to its nearest cluster mean). A
/// thousand rows or more per cluster place k-means' centres to a few hundredths of a
/// cluster's spread, which EM over all the samples then refines.
pub fn sample_size(k: usize) -> usize {
    SAMPLE_ROWS.max(SAMPLE_ROWS_PER_COMPONENT.saturating_mul(k))
}

/// `size` distinct row numbers of `0..n`, uniformly chosen, in increasing order (all of them
/// when `size ≥ n`).
pub fn sample_indices(n: usize, size: usize, rng: &mut impl Rng) -> Vec<usize> {
    if size >= n {
        return (0..n).collect();
    }
    let mut idx = rand::seq::index::sample(rng, n, size).into_vec();
    idx.sort_unstable();
    idx
}

/// The sampled columns of `xt` (D × N), in order: D × min(size, N).
pub fn sample_columns(xt: &DMatrix<f64>, size: usize, rng: &mut impl Rng) -> DMatrix<f64> {
    let idx = sample_indices(xt.ncols(), size, rng);
    xt.select_columns(&idx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_sample_is_equally_likely_to_be_kept() {
        // 10 of 40 samples, 4000 draws: each kept about 1000 times.
        let xt = DMatrix::from_fn(1, 40, |_, i| i as f64);
        let mut counts = [0usize; 40];
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..4000 {
            let s = sample_columns(&xt, 10, &mut rng);
            assert_eq!(s.ncols(), 10);
            let kept: Vec<usize> = s.iter().map(|&v| v as usize).collect();
            assert!(kept.windows(2).all(|w| w[0] < w[1]), "distinct, in order");
            for v in kept {
                counts[v] += 1;
            }
        }
        // Binomial(4000, 1/4): standard deviation about 27; 6 deviations.
        for (i, &c) in counts.iter().enumerate() {
            assert!((840..=1160).contains(&c), "sample {i} kept {c} times");
        }
    }

    #[test]
    fn a_sample_larger_than_the_data_keeps_them_all_in_order() {
        let xt = DMatrix::from_fn(2, 7, |j, i| (i * 2 + j) as f64);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        assert_eq!(sample_columns(&xt, 50, &mut rng), xt);
    }
}
