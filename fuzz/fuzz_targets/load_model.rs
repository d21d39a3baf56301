//! Any bytes given to the model loader give a model or an error, never a panic; a model that
//! loads can be queried without a panic either.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = gaussmix::io::parse::model(std::path::Path::new("fuzz.npz"), data.to_vec()) {
        let x = nalgebra::DMatrix::<f64>::zeros(2, model.n_features());
        let _ = model.score_samples(&x);
    }
});
