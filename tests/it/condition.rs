//! Conditioning a mixture on observed coordinates: closed forms, direct numerical evaluation
//! of p(x_m | x_o) on grids, every covariance type, quantiles, samples, and the zero-padding
//! mistake.

use gaussmix::condition::{condition, normal_cdf, PatternConditioner};
use gaussmix::{Covariances, GaussianMixture, MixtureParams};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn mixture(weights: &[f64], means: DMatrix<f64>, covs: Vec<DMatrix<f64>>) -> GaussianMixture {
    let params = MixtureParams::new(
        DVector::from_column_slice(weights),
        means,
        Covariances::Full(covs),
        0.0,
    )
    .unwrap();
    GaussianMixture::from_params(params, 0.0)
}

fn spd3(a: f64, b: f64, c: f64) -> DMatrix<f64> {
    DMatrix::from_row_slice(3, 3, &[a, 0.6, -0.3, 0.6, b, 0.4, -0.3, 0.4, c])
}

/// A 3-D mixture with correlated, differently shaped components.
fn mixture3() -> GaussianMixture {
    mixture(
        &[0.3, 0.5, 0.2],
        DMatrix::from_row_slice(3, 3, &[-1.0, 0.5, 2.0, 1.5, -1.0, 0.0, 0.0, 2.0, -1.5]),
        vec![
            spd3(1.0, 0.8, 1.2),
            spd3(0.7, 1.5, 0.9),
            spd3(1.3, 1.0, 0.6),
        ],
    )
}

#[test]
fn a_single_gaussian_matches_the_closed_form_through_the_precision_matrix() {
    let cov = spd3(2.0, 1.5, 1.0);
    let mu = [0.3, -1.2, 2.0];
    let model = mixture(
        &[1.0],
        DMatrix::from_row_slice(1, 3, &mu),
        vec![cov.clone()],
    );
    // observe coordinates 2 and 0 (in that order), condition x_1
    let x_o = [1.1, -0.4]; // x_2 = 1.1, x_0 = -0.4
    let cond = condition(model.params(), &[2, 0], &x_o).unwrap();
    // Independent closed form: with Λ = Σ⁻¹, x_1 | x_o ~ N(μ_1 − Λ_11⁻¹ Σ_j Λ_1j (x_j − μ_j), Λ_11⁻¹).
    let lambda = cov.try_inverse().unwrap();
    let var = 1.0 / lambda[(1, 1)];
    let mean = mu[1] - var * (lambda[(1, 0)] * (-0.4 - mu[0]) + lambda[(1, 2)] * (1.1 - mu[2]));
    assert_eq!(cond.dim(), 1);
    assert!(
        (cond.mean()[0] - mean).abs() < 1e-12,
        "{} vs {mean}",
        cond.mean()[0]
    );
    assert!((cond.variance()[0] - var).abs() < 1e-12);
    assert!((cond.weights[0] - 1.0).abs() < 1e-15);
    // The marginal log-density of the observed pair, from the 2 × 2 block directly.
    let s = DMatrix::<f64>::from_row_slice(2, 2, &[1.0, -0.3, -0.3, 2.0]); // (x_2, x_0) block
    let d = DVector::from_column_slice(&[1.1 - 2.0, -0.4 - 0.3]);
    let maha = (d.transpose() * s.clone().try_inverse().unwrap() * &d)[(0, 0)];
    let log_p = -0.5 * (2.0 * (2.0 * std::f64::consts::PI).ln() + s.determinant().ln() + maha);
    assert!((cond.log_marginal - log_p).abs() < 1e-12);
    // Central 90% interval of a Gaussian: mean ± 1.6448536269514722 σ.
    let (lo, hi) = cond.interval(0.9).unwrap();
    let z = 1.644_853_626_951_472_2 * var.sqrt();
    assert!((lo[0] - (mean - z)).abs() < 1e-9 && (hi[0] - (mean + z)).abs() < 1e-9);
}

/// Log of the model's joint density at every grid point, normalised over the grid.
fn grid_posterior(model: &GaussianMixture, points: &DMatrix<f64>, cell: f64) -> Vec<f64> {
    let log_p = model.score_samples(points).unwrap();
    let max = log_p.max();
    let mass: f64 = log_p.iter().map(|v| (v - max).exp()).sum::<f64>() * cell;
    log_p.iter().map(|v| (v - max).exp() / mass).collect()
}

#[test]
fn a_2d_mixture_matches_direct_numerical_conditioning_on_a_grid() {
    let model = mixture(
        &[0.35, 0.65],
        DMatrix::from_row_slice(2, 2, &[-1.0, 2.0, 1.5, -1.0]),
        vec![
            DMatrix::from_row_slice(2, 2, &[1.0, 0.7, 0.7, 1.2]),
            DMatrix::from_row_slice(2, 2, &[0.6, -0.3, -0.3, 0.8]),
        ],
    );
    for &a in &[-2.0, 0.2, 1.0, 3.0] {
        let cond = condition(model.params(), &[0], &[a]).unwrap();
        let (lo, hi, n) = (-12.0, 12.0, 24_001);
        let h = (hi - lo) / (n - 1) as f64;
        let grid: Vec<f64> = (0..n).map(|i| lo + i as f64 * h).collect();
        let pts = DMatrix::from_fn(n, 2, |i, j| if j == 0 { a } else { grid[i] });
        let dens = grid_posterior(&model, &pts, h);
        let mean: f64 = grid.iter().zip(&dens).map(|(x, p)| x * p).sum::<f64>() * h;
        let var: f64 = grid
            .iter()
            .zip(&dens)
            .map(|(x, p)| (x - mean) * (x - mean) * p)
            .sum::<f64>()
            * h;
        assert!(
            (cond.mean()[0] - mean).abs() < 1e-7,
            "a={a}: mean {} vs grid {mean}",
            cond.mean()[0]
        );
        assert!(
            (cond.variance()[0] - var).abs() < 1e-6,
            "a={a}: var {} vs grid {var}",
            cond.variance()[0]
        );
        for i in (0..n).step_by(1500) {
            let analytic = cond.log_density(&[grid[i]]).unwrap().exp();
            assert!(
                (analytic - dens[i]).abs() < 1e-7 * (1.0 + dens[i]),
                "a={a}, x={}: {analytic} vs grid {}",
                grid[i],
                dens[i]
            );
        }
        // The median and the 5% quantile agree with the grid CDF.
        for p in [0.05, 0.5, 0.95] {
            let q = cond.quantile(0, p).unwrap();
            let cdf: f64 = grid
                .iter()
                .zip(&dens)
                .filter(|(x, _)| **x <= q)
                .map(|(_, d)| d)
                .sum::<f64>()
                * h;
            assert!(
                (cdf - p).abs() < 2e-3,
                "a={a}, p={p}: grid cdf at q is {cdf}"
            );
            assert!((cond.cdf(0, q) - p).abs() < 1e-10);
        }
    }
}

#[test]
fn a_3d_mixture_matches_direct_numerical_conditioning_on_a_2d_grid() {
    let model = mixture3();
    let (lo, hi, n) = (-9.0, 9.0, 601);
    let h = (hi - lo) / (n - 1) as f64;
    for x0 in [-1.0, 0.8] {
        let cond = condition(model.params(), &[0], &[x0]).unwrap();
        let pts = DMatrix::from_fn(n * n, 3, |i, j| match j {
            0 => x0,
            1 => lo + (i / n) as f64 * h,
            _ => lo + (i % n) as f64 * h,
        });
        let dens = grid_posterior(&model, &pts, h * h);
        let mut m = [0.0; 2];
        for (i, p) in dens.iter().enumerate() {
            m[0] += pts[(i, 1)] * p * h * h;
            m[1] += pts[(i, 2)] * p * h * h;
        }
        let mut c = DMatrix::<f64>::zeros(2, 2);
        for (i, p) in dens.iter().enumerate() {
            let d = [pts[(i, 1)] - m[0], pts[(i, 2)] - m[1]];
            for a in 0..2 {
                for b in 0..2 {
                    c[(a, b)] += d[a] * d[b] * p * h * h;
                }
            }
        }
        let mean = cond.mean();
        let cov = cond.covariance();
        for a in 0..2 {
            assert!(
                (mean[a] - m[a]).abs() < 1e-6,
                "x0={x0}: mean {mean} vs grid {m:?}"
            );
            for b in 0..2 {
                assert!(
                    (cov[(a, b)] - c[(a, b)]).abs() < 1e-5,
                    "x0={x0}: cov {cov} vs grid {c}"
                );
            }
        }
        assert!((cond.variance() - cov.diagonal()).amax() < 1e-12);
        for i in (0..n * n).step_by(7919) {
            let analytic = cond.log_density(&[pts[(i, 1)], pts[(i, 2)]]).unwrap().exp();
            assert!((analytic - dens[i]).abs() < 1e-7 * (1.0 + dens[i]));
        }
    }
    // Observing two coordinates: x_1 given (x_0, x_2), against a 1-D grid.
    let cond = condition(model.params(), &[0, 2], &[0.5, -0.5]).unwrap();
    let n = 20_001;
    let h = 24.0 / (n - 1) as f64;
    let pts = DMatrix::from_fn(n, 3, |i, j| match j {
        0 => 0.5,
        1 => -12.0 + i as f64 * h,
        _ => -0.5,
    });
    let dens = grid_posterior(&model, &pts, h);
    let mean: f64 = (0..n).map(|i| pts[(i, 1)] * dens[i]).sum::<f64>() * h;
    assert!((cond.mean()[0] - mean).abs() < 1e-7);
}

#[test]
fn weights_use_the_observed_marginal_not_a_zero_padded_vector() {
    // Two components with the same distribution of x_0 but far apart in x_1. Observing
    // x_0 alone says nothing about the component, so the posterior must stay at the prior.
    let model = mixture(
        &[0.4, 0.6],
        DMatrix::from_row_slice(2, 2, &[0.0, 0.0, 0.0, 10.0]),
        vec![DMatrix::identity(2, 2), DMatrix::identity(2, 2)],
    );
    let cond = condition(model.params(), &[0], &[0.3]).unwrap();
    assert!((cond.weights[0] - 0.4).abs() < 1e-12, "{}", cond.weights);
    assert!((cond.weights[1] - 0.6).abs() < 1e-12);
    assert!((cond.mean()[0] - 6.0).abs() < 1e-12);
    // The shortcut: pad the unknown x_1 with zero and score the full vector.
    let padded = DMatrix::from_row_slice(1, 2, &[0.3, 0.0]);
    let wrong = model.predict_proba(&padded).unwrap();
    assert!(
        wrong[(0, 0)] > 0.999_999,
        "zero padding picks the component near zero: {wrong}"
    );
    let wrong_mean = wrong[(0, 0)] * 0.0 + wrong[(0, 1)] * 10.0;
    assert!((wrong_mean - cond.mean()[0]).abs() > 5.0);
}

fn to_full(params: &MixtureParams) -> MixtureParams {
    let k = params.n_components();
    let d = params.n_features();
    let covs: Vec<DMatrix<f64>> = (0..k)
        .map(|c| match &params.covariances {
            Covariances::Full(m) => m[c].clone(),
            Covariances::Tied(m) => m.clone(),
            Covariances::Diag(v) => DMatrix::from_diagonal(&v.row(c).transpose()),
            Covariances::Spherical(v) => DMatrix::identity(d, d) * v[c],
            Covariances::LowRank(_) => unreachable!(),
        })
        .collect();
    MixtureParams::new(
        params.weights.clone(),
        params.means.clone(),
        Covariances::Full(covs),
        0.0,
    )
    .unwrap()
}

#[test]
fn every_covariance_type_conditions_like_its_full_equivalent() {
    let base = mixture3().into_params();
    let variants = [
        Covariances::Tied(spd3(1.0, 0.8, 1.2)),
        Covariances::Diag(DMatrix::from_row_slice(
            3,
            3,
            &[1.0, 0.5, 2.0, 0.3, 1.1, 0.9, 1.4, 0.7, 0.6],
        )),
        Covariances::Spherical(DVector::from_column_slice(&[0.5, 1.5, 0.9])),
        base.covariances.clone(),
    ];
    for cov in variants {
        let p = MixtureParams::new(base.weights.clone(), base.means.clone(), cov, 0.0).unwrap();
        let full = to_full(&p);
        for (observed, x_o) in [
            (vec![1], vec![0.4]),
            (vec![2, 0], vec![-0.7, 1.2]),
            (vec![], vec![]),
        ] {
            let a = condition(&p, &observed, &x_o).unwrap();
            let b = condition(&full, &observed, &x_o).unwrap();
            assert!(
                (&a.weights - &b.weights).amax() < 1e-12,
                "{:?}",
                p.covariance_type()
            );
            assert!((&a.means - &b.means).amax() < 1e-12);
            for (ca, cb) in a.covariances.iter().zip(&b.covariances) {
                assert!((ca - cb).amax() < 1e-12);
            }
            assert!((a.log_marginal - b.log_marginal).abs() < 1e-12);
        }
    }
}

#[test]
fn nothing_observed_gives_the_marginal_and_everything_observed_gives_an_empty_conditional() {
    let model = mixture3();
    let cond = condition(model.params(), &[], &[]).unwrap();
    assert!((&cond.weights - &model.params().weights).amax() < 1e-15);
    let marginal_mean = model.params().means.transpose() * &model.params().weights;
    assert!((cond.mean() - marginal_mean).amax() < 1e-12);
    assert_eq!(cond.log_marginal, 0.0);
    let all = condition(model.params(), &[0, 1, 2], &[0.1, 0.2, 0.3]).unwrap();
    assert_eq!(all.dim(), 0);
    let score = model
        .score_samples(&DMatrix::from_row_slice(1, 3, &[0.1, 0.2, 0.3]))
        .unwrap()[0];
    assert!((all.log_marginal - score).abs() < 1e-12);
}

#[test]
fn samples_have_the_conditional_mean_and_covariance() {
    let model = mixture3();
    let cond = condition(model.params(), &[1], &[0.0]).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = 40_000;
    let s = cond.sample(n, &mut rng).unwrap();
    let mean = s.row_mean().transpose();
    let centred = DMatrix::from_fn(n, 2, |i, j| s[(i, j)] - mean[j]);
    let cov = centred.transpose() * &centred / n as f64;
    let expect = cond.covariance();
    assert!((mean - cond.mean()).amax() < 0.03, "sample mean off");
    assert!(
        (cov - &expect).amax() < 0.05,
        "sample covariance off: {expect}"
    );
    // Draws through the conditioner agree in distribution too (first moment).
    let pc = PatternConditioner::new(model.params(), &[1]).unwrap();
    let draws: Vec<f64> = (0..20_000)
        .map(|_| pc.draw(&[0.0], &mut rng).unwrap()[0])
        .collect();
    let m = draws.iter().sum::<f64>() / draws.len() as f64;
    assert!((m - cond.mean()[0]).abs() < 0.04);
}

#[test]
fn an_affine_map_moves_means_and_covariances_and_keeps_weights() {
    let model = mixture3();
    let cond = condition(model.params(), &[0], &[0.5]).unwrap();
    let map = DMatrix::from_row_slice(2, 2, &[2.0, 0.0, 1.0, 1.0]);
    let offset = DVector::from_column_slice(&[1.0, -3.0]);
    let mapped = cond.affine(&offset, &map).unwrap();
    assert_eq!(mapped.weights, cond.weights);
    assert!((mapped.mean() - (&offset + &map * cond.mean())).amax() < 1e-12);
    assert!((mapped.covariance() - &map * cond.covariance() * map.transpose()).amax() < 1e-12);
    assert!(cond.affine(&offset, &DMatrix::identity(3, 3)).is_err());
}

#[test]
fn bad_requests_are_clear_errors() {
    let p = mixture3().into_params();
    let e = condition(&p, &[3], &[0.0]).unwrap_err().to_string();
    assert!(e.contains("the model has 3 coordinates"), "{e}");
    let e = condition(&p, &[1, 1], &[0.0, 0.0]).unwrap_err().to_string();
    assert!(e.contains("only once"), "{e}");
    let e = condition(&p, &[0, 1], &[0.0]).unwrap_err().to_string();
    assert!(e.contains("1 observed values given for 2"), "{e}");
    let e = condition(&p, &[0], &[f64::NAN]).unwrap_err().to_string();
    assert!(e.contains("must be finite"), "{e}");
    let cond = condition(&p, &[0], &[0.0]).unwrap();
    assert!(cond.quantile(0, 1.0).is_err());
    assert!(cond.quantile(5, 0.5).is_err());
    assert!(cond.interval(0.0).is_err());
}

#[test]
fn normal_cdf_is_symmetric_and_monotone() {
    let mut prev = 0.0;
    for i in -400..=400 {
        let x = i as f64 * 0.02;
        let v = normal_cdf(x);
        assert!(v >= prev);
        assert!((v + normal_cdf(-x) - 1.0).abs() < 1e-15);
        prev = v;
    }
}

#[test]
fn many_rows_condition_like_one_row_at_a_time() {
    let model = mixture3();
    let pc = PatternConditioner::new(model.params(), &[2, 0]).unwrap();
    let rows = DMatrix::from_fn(50, 2, |i, j| (i as f64 * 0.37 + j as f64).sin() * 3.0);
    let many = pc.condition_rows(&rows).unwrap();
    assert_eq!(many.len(), 50);
    for (i, c) in many.iter().enumerate() {
        let one = condition(model.params(), &[2, 0], &[rows[(i, 0)], rows[(i, 1)]]).unwrap();
        assert_eq!(c, &one);
    }
    let e = pc
        .condition_rows(&DMatrix::zeros(3, 3))
        .unwrap_err()
        .to_string();
    assert!(e.contains("dimension mismatch"), "{e}");
    let mut bad = rows.clone();
    bad[(7, 1)] = f64::NAN;
    let e = pc.condition_rows(&bad).unwrap_err().to_string();
    assert!(e.contains("row 7"), "{e}");
}

/// `impute` against a textbook computation that shares none of its code: for each row, the
/// weights π_k N(x_o | μ_k,o, Σ_k,oo) from nalgebra's Cholesky of each observed block, and the
/// component means μ_k,m + Σ_k,mo Σ_k,oo⁻¹ (x_o − μ_k,o) from a linear solve, mixed.
#[test]
fn impute_matches_an_independent_conditional_mean() {
    use gaussmix::missing::{impute, ImputeMode};
    let model = mixture3();
    let p = model.params();
    let Covariances::Full(covs) = &p.covariances else {
        unreachable!()
    };
    let nan = f64::NAN;
    let rows = DMatrix::from_row_slice(
        5,
        3,
        &[
            0.3, nan, -0.7, //
            nan, nan, 1.1, //
            -2.0, 0.4, nan, //
            nan, 1.9, nan, //
            1.0, -1.0, 0.5,
        ],
    );
    let out = impute(p, &rows, ImputeMode::Mean).unwrap();
    for i in 0..rows.nrows() {
        let obs: Vec<usize> = (0..3).filter(|&j| !rows[(i, j)].is_nan()).collect();
        let mis: Vec<usize> = (0..3).filter(|&j| rows[(i, j)].is_nan()).collect();
        if mis.is_empty() {
            assert_eq!(out.row(i), rows.row(i), "a complete row is copied");
            continue;
        }
        let x_o = DVector::from_iterator(obs.len(), obs.iter().map(|&j| rows[(i, j)]));
        let mut log_w = Vec::new();
        let mut cond_means = Vec::new();
        for (k, cov) in covs.iter().enumerate() {
            let s_oo = DMatrix::from_fn(obs.len(), obs.len(), |a, b| cov[(obs[a], obs[b])]);
            let s_mo = DMatrix::from_fn(mis.len(), obs.len(), |a, b| cov[(mis[a], obs[b])]);
            let mu_o = DVector::from_iterator(obs.len(), obs.iter().map(|&j| p.means[(k, j)]));
            let mu_m = DVector::from_iterator(mis.len(), mis.iter().map(|&j| p.means[(k, j)]));
            let diff = &x_o - &mu_o;
            let chol = s_oo.clone().cholesky().unwrap();
            let maha = diff.dot(&chol.solve(&diff));
            let log_det = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
            let ln_2pi = (2.0 * std::f64::consts::PI).ln();
            log_w.push(p.weights[k].ln() - 0.5 * (obs.len() as f64 * ln_2pi + log_det + maha));
            cond_means.push(mu_m + s_mo * s_oo.lu().solve(&diff).unwrap());
        }
        let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
        let total: f64 = w.iter().sum();
        let want = cond_means
            .iter()
            .zip(&w)
            .fold(DVector::zeros(mis.len()), |acc, (m, wk)| {
                acc + m * (wk / total)
            });
        for (a, &j) in mis.iter().enumerate() {
            assert!(
                (out[(i, j)] - want[a]).abs() < 1e-10,
                "row {i}, column {j}: {} against {}",
                out[(i, j)],
                want[a]
            );
        }
        for &j in &obs {
            assert_eq!(out[(i, j)], rows[(i, j)], "observed values are kept");
        }
    }
}
