//! Distributed fits over the members of an in-process group (`ThreadGroup`: the same
//! collectives as MPI, on threads): every member gets the same model, equal to the fit of all
//! the rows on one process to 1e-12; shards of unequal size, a member without rows, and
//! members streaming from files work; a member's failure is an error on every member.
//! `mpi.rs` runs the same through `mpirun` and the CLI.

use std::sync::Arc;

use crate::common::{assert_same_fit, draw, fit_cpu, truth};

use gaussmix::collective::{Collective, ThreadGroup};
use gaussmix::io::{NpyRows, RowRange};
use gaussmix::{
    fit, CovarianceType, FitConfig, FitOptions, GaussianMixture, GmmError, InitMethod, Samples,
    VariationalConfig,
};
use nalgebra::DMatrix;

/// Runs `member(rank, group)` on one thread per member and returns every member's result.
fn on_members<T: Send>(
    size: usize,
    member: impl Fn(usize, Arc<dyn Collective>) -> T + Sync,
) -> Vec<T> {
    let members: Vec<Arc<dyn Collective>> = ThreadGroup::new(size)
        .unwrap()
        .into_iter()
        .map(|m| Arc::new(m) as Arc<dyn Collective>)
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = members
            .iter()
            .enumerate()
            .map(|(rank, m)| {
                let m = Arc::clone(m);
                let member = &member;
                s.spawn(move || member(rank, m))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Rows `bounds[r]..bounds[r + 1]` of `x` for member `r`, as a chunk (zero rows allowed).
fn rows_of(x: &DMatrix<f64>, bounds: &[usize], rank: usize) -> Samples<'static> {
    let (a, b) = (bounds[rank], bounds[rank + 1]);
    Samples::chunk_columns(x.rows(a, b - a).transpose()).unwrap()
}

/// The fit of `x` split at `bounds` over `bounds.len() - 1` members; every member's model.
fn fit_split(x: &DMatrix<f64>, bounds: &[usize], config: &FitConfig) -> Vec<GaussianMixture> {
    on_members(bounds.len() - 1, |rank, group| {
        let samples = Samples::distributed(Ok(rows_of(x, bounds, rank)), group).unwrap();
        fit(&samples, config, FitOptions::new()).unwrap()
    })
}

fn assert_members_agree(models: &[GaussianMixture]) {
    for m in &models[1..] {
        assert_eq!(
            m.params(),
            models[0].params(),
            "every member: the same model"
        );
        assert_eq!(
            m.summary().lower_bound_history,
            models[0].summary().lower_bound_history
        );
    }
}

#[test]
fn a_distributed_fit_equals_the_in_memory_fit_from_the_same_means() {
    let (x, _) = draw(&truth(4), 3000, 31);
    // initial means far from the clusters', so that EM takes many iterations
    let means = DMatrix::from_fn(3, 4, |c, j| (c as f64 - 1.0) * 0.5 + j as f64 * 0.1);
    // unequal shards, one member without rows
    let bounds = [0, 1200, 1200, 1201, 3000];
    for t in CovarianceType::ALL {
        let config = FitConfig::new(3)
            .covariance_type(t)
            .init(InitMethod::Means(means.clone()))
            .tol(1e-8);
        let memory = fit_cpu(&x, &config).unwrap();
        let models = fit_split(&x, &bounds, &config);
        assert_members_agree(&models);
        assert!(
            memory.summary().n_iter >= 5,
            "{t}: a fit of several iterations, not {}",
            memory.summary().n_iter
        );
        assert_same_fit(&format!("{t}"), &models[0], &memory, 1e-12);
        assert!(
            models[0]
                .summary()
                .device
                .contains("thread group, rank 0 of 4"),
            "{}",
            models[0].summary().device
        );
    }
}

#[test]
fn the_default_initialisation_equals_a_streamed_fit_of_all_the_rows() {
    // With all rows gathered for the k-means (N ≤ 50 000), the distributed default fit is
    // the streamed one: k-means on every row, then every row to its nearest mean.
    let (x, _) = draw(&truth(3), 4000, 32);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    gaussmix::io::write_matrix(&path, &x).unwrap();
    for t in [CovarianceType::Full, CovarianceType::Diag] {
        let config = FitConfig::new(4).covariance_type(t).seed(5).n_init(2);
        let streamed = fit(
            &Samples::streamed(NpyRows::open(&path).unwrap(), 4000).unwrap(),
            &config,
            FitOptions::new(),
        )
        .unwrap();
        let models = fit_split(&x, &[0, 700, 2600, 4000], &config);
        assert_members_agree(&models);
        assert_same_fit(&format!("{t}"), &models[0], &streamed, 1e-12);
    }
}

#[test]
fn members_may_stream_their_rows_from_a_file() {
    let (x, _) = draw(&truth(3), 3000, 33);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    gaussmix::io::write_matrix(&path, &x).unwrap();
    let config = FitConfig::new(3).seed(2);
    let bounds = [0, 1000, 2500, 3000];
    let in_memory = fit_split(&x, &bounds, &config);
    let streamed = on_members(3, |rank, group| {
        let (a, b) = (bounds[rank], bounds[rank + 1]);
        // member 1 streams its rows in chunks of 400; the others hold theirs
        let local = if rank == 1 {
            let range = RowRange::new(NpyRows::open(&path).unwrap(), a, b - a).unwrap();
            Samples::streamed(range, 400).unwrap()
        } else {
            rows_of(&x, &bounds, rank)
        };
        let samples = Samples::distributed(Ok(local), group).unwrap();
        fit(&samples, &config, FitOptions::new()).unwrap()
    });
    assert_members_agree(&streamed);
    assert_same_fit("streamed member", &streamed[0], &in_memory[0], 1e-12);
}

#[test]
fn a_member_that_cannot_read_its_rows_stops_every_member() {
    let (x, _) = draw(&truth(2), 300, 34);
    let errors = on_members(3, |rank, group| {
        let local = if rank == 2 {
            Err(GmmError::file("shard-2.npy", "cannot open: no such file"))
        } else {
            Ok(rows_of(&x, &[0, 100, 200, 300], rank))
        };
        Samples::distributed(local, group).unwrap_err().to_string()
    });
    assert!(
        errors[2].starts_with("shard-2.npy: cannot open"),
        "{}",
        errors[2]
    );
    for e in &errors[..2] {
        assert!(
            e.contains("rank 2 of 3 failed") && e.contains("shard-2.npy: cannot open"),
            "{e}"
        );
    }
    // the same columns on every member
    let errors = on_members(2, |rank, group| {
        let cols = if rank == 0 { 2 } else { 3 };
        let local = Samples::chunk_columns(DMatrix::from_element(cols, 5, 1.0)).unwrap();
        Samples::distributed(Ok(local), group)
            .unwrap_err()
            .to_string()
    });
    for e in errors {
        assert!(e.contains("need the same columns"), "{e}");
    }
}

#[test]
fn what_a_distributed_fit_does_not_do_is_refused_on_every_member() {
    let (x, _) = draw(&truth(2), 200, 35);
    let refusals = [
        (
            FitConfig::new(2).init(InitMethod::Labels(vec![0; 200])),
            "initialise from means",
        ),
        (
            FitConfig::new(2).variational(VariationalConfig::default()),
            "distributed variational fit",
        ),
    ];
    for (config, expected) in refusals {
        for e in on_members(2, |rank, group| {
            let samples =
                Samples::distributed(Ok(rows_of(&x, &[0, 120, 200], rank)), group).unwrap();
            fit(&samples, &config, FitOptions::new())
                .unwrap_err()
                .to_string()
        }) {
            assert!(e.contains(expected), "{e}");
        }
    }
    // fewer samples than features: the exact low-rank path, which is not distributed
    let wide = DMatrix::from_fn(12, 40, |i, j| ((i * 7 + j * 3) % 11) as f64);
    for e in on_members(2, |rank, group| {
        let samples = Samples::distributed(Ok(rows_of(&wide, &[0, 5, 12], rank)), group).unwrap();
        fit(&samples, &FitConfig::new(2), FitOptions::new())
            .unwrap_err()
            .to_string()
    }) {
        assert!(e.contains("Gram matrix needs every pair of rows"), "{e}");
    }
}
