//! Lloyd's k-means iterations as scikit-learn runs them inside `GaussianMixture`: each pass
//! assigns every sample to its nearest centre (GEMM-form distances) and sums the new centres
//! in the same pass; empty clusters take the samples farthest from their centres; the loop
//! stops when the labels no longer change or when the total squared centre shift falls to
//! `tol` times the mean per-feature variance of the data. With sample weights the centres are
//! weighted means (scikit-learn's `sample_weight`).

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::distances::{argmin_score, nearest, sq_norms_of, CentredSamples};

/// The final labels of Lloyd's iterations from `centres` (D × K, centred columns), at most
/// `max_iter` passes, and their inertia (the weighted sum of the squared distances of the
/// samples to the centres they were assigned to).
pub fn lloyd(
    data: &CentredSamples<'_>,
    mut centres: DMatrix<f64>,
    max_iter: usize,
    tol: f64,
) -> (Vec<usize>, f64) {
    let n = data.n();
    let tol = tol * data.mean_variance();
    let mut labels = vec![0usize; n];
    let mut previous: Option<Vec<usize>> = None;
    let mut dist = vec![0.0; n];
    for _ in 0..max_iter {
        let (mut sums, mut counts) = assign_and_sum(data, &centres, &mut labels, &mut dist);
        relocate_empty(data, &mut sums, &mut counts, &labels, &dist);
        let mut shift = 0.0;
        for (c, &count) in counts.iter().enumerate() {
            if count > 0.0 {
                let new = sums.column(c) / count;
                shift += (&new - centres.column(c)).norm_squared();
                centres.set_column(c, &new);
            }
        }
        if previous.as_ref() == Some(&labels) {
            // Strict convergence: the labels are those of the final centres.
            return (labels, inertia(data, &dist));
        }
        if shift <= tol {
            break;
        }
        previous = Some(labels.clone());
    }
    // The labels of the final centres (scikit-learn's closing assignment).
    let (labels, dist) = nearest(data, &centres);
    (labels, inertia(data, &dist))
}

/// Σ w_i d_i, in group order.
fn inertia(data: &CentredSamples<'_>, dist: &[f64]) -> f64 {
    match data.weights() {
        None => data.sum(dist),
        Some(w) => {
            let weighted: Vec<f64> = dist.iter().zip(w.iter()).map(|(d, w)| d * w).collect();
            data.sum(&weighted)
        }
    }
}

/// One pass: the nearest centre of every sample (into `labels`), its squared distance (into
/// `dist`), and the per-cluster sums of the centred samples and counts, per group then in
/// group order.
fn assign_and_sum(
    data: &CentredSamples<'_>,
    centres: &DMatrix<f64>,
    labels: &mut [usize],
    dist: &mut [f64],
) -> (DMatrix<f64>, Vec<f64>) {
    let (d, k) = centres.shape();
    let cn = sq_norms_of(centres);
    let step = data.group_len();
    let partial: Vec<(DMatrix<f64>, Vec<f64>)> = labels
        .par_chunks_mut(step)
        .zip(dist.par_chunks_mut(step))
        .enumerate()
        .map(|(g, (lab, dis))| {
            let start = g * step;
            let mut sums = DMatrix::<f64>::zeros(d, k);
            let mut counts = vec![0.0; k];
            let ss = sums.as_mut_slice();
            data.walk(start..start + lab.len(), centres, |i, x, p| {
                let (c, best) = argmin_score(&cn, p);
                lab[i - start] = c;
                dis[i - start] = (data.sq_norm(i) + best).max(0.0);
                let w = data.weight(i);
                counts[c] += w;
                for (s, xv) in ss[c * d..(c + 1) * d].iter_mut().zip(x) {
                    *s += w * xv;
                }
            });
            // Σ (x − x̄) = Σ x − count · x̄, per cluster.
            for (c, &count) in counts.iter().enumerate() {
                let mut col = sums.column_mut(c);
                col.axpy(-count, data.mean(), 1.0);
            }
            (sums, counts)
        })
        .collect();
    let mut sums = DMatrix::<f64>::zeros(d, k);
    let mut counts = vec![0.0; k];
    for (s, c) in partial {
        sums += s;
        for (a, b) in counts.iter_mut().zip(c) {
            *a += b;
        }
    }
    (sums, counts)
}

/// Gives every empty cluster one of the samples farthest from their centres (the farthest to
/// the lowest-numbered empty cluster; ties to the lower sample index), taking it out of the
/// cluster it was in, as scikit-learn does.
fn relocate_empty(
    data: &CentredSamples<'_>,
    sums: &mut DMatrix<f64>,
    counts: &mut [f64],
    labels: &[usize],
    dist: &[f64],
) {
    let empty: Vec<usize> = (0..counts.len()).filter(|&c| counts[c] == 0.0).collect();
    // Samples of weight zero cannot fill a cluster.
    let dist: Vec<f64> = (0..dist.len())
        .map(|i| {
            if data.weight(i) > 0.0 {
                dist[i]
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    if empty.is_empty() {
        return;
    }
    let mut order: Vec<usize> = (0..labels.len()).collect();
    let take = empty.len().min(order.len());
    order.select_nth_unstable_by(take - 1, |&a, &b| {
        dist[b].total_cmp(&dist[a]).then(a.cmp(&b))
    });
    order.truncate(take);
    order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
    for (&c, &i) in empty.iter().zip(&order) {
        let w = data.weight(i);
        let z: DVector<f64> = data.centred_columns(&[i]).column(0) * w;
        let old = labels[i];
        if counts[old] > w {
            let mut col = sums.column_mut(old);
            col -= &z;
            counts[old] -= w;
        }
        sums.set_column(c, &z);
        counts[c] = w;
    }
}
