//! Any bytes given to the CSV reader give a matrix or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = gaussmix::io::parse::delimited(std::path::Path::new("fuzz.csv"), data.to_vec());
});
