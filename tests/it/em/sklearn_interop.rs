//! Model files written by scikit-learn (`numpy.savez` of a fitted `GaussianMixture`'s
//! attributes, see `tests/data/make_sklearn_models.py`) load here and give scikit-learn's own
//! per-sample log-likelihoods, responsibilities, BIC and AIC; and they survive a save/load
//! round trip through gaussmix's writer unchanged.

use std::path::PathBuf;

use gaussmix::io::{load_model, read_matrix, save_model, Missing};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

#[test]
fn scikit_learn_models_score_the_same() {
    let x = read_matrix(&fixture("sklearn_data.npy"), Missing::Reject).unwrap();
    for cov in ["full", "tied", "diag", "spherical"] {
        let model = load_model(&fixture(&format!("sklearn_{cov}.npz"))).unwrap();
        assert_eq!(model.covariance_type().as_str(), cov);
        let theirs = read_matrix(
            &fixture(&format!("sklearn_{cov}_score_samples.npy")),
            Missing::Reject,
        )
        .unwrap();
        let ours = model.score_samples(&x).unwrap();
        for (a, b) in ours.iter().zip(theirs.iter()) {
            assert!(
                (a - b).abs() <= 1e-10 * b.abs().max(1.0),
                "{cov}: {a} vs {b}"
            );
        }
        let theirs = read_matrix(
            &fixture(&format!("sklearn_{cov}_predict_proba.npy")),
            Missing::Reject,
        )
        .unwrap();
        let ours = model.predict_proba(&x).unwrap();
        assert!(
            (ours - theirs).amax() < 1e-10,
            "{cov}: responsibilities differ"
        );
        let ic = read_matrix(&fixture(&format!("sklearn_{cov}_bic.npy")), Missing::Reject).unwrap();
        let (bic, aic) = (model.bic(&x).unwrap(), model.aic(&x).unwrap());
        assert!(
            (bic - ic[0]).abs() < 1e-8 * ic[0].abs(),
            "{cov}: BIC {bic} vs {}",
            ic[0]
        );
        assert!(
            (aic - ic[1]).abs() < 1e-8 * ic[1].abs(),
            "{cov}: AIC {aic} vs {}",
            ic[1]
        );

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.npz");
        save_model(&p, &model).unwrap();
        let back = load_model(&p).unwrap();
        assert_eq!(
            back.params(),
            model.params(),
            "{cov}: round trip changed the parameters"
        );
        assert_eq!(
            back.score_samples(&x).unwrap(),
            model.score_samples(&x).unwrap()
        );
    }
}
