//! `gaussmix fit --distributed` and `--shards`: one process of an MPI job. Every process reads
//! its own rows, the library's distributed fit all-gathers their statistics, and rank 0
//! writes the model. Any process's failure, up to the fit's last iteration, is an error on
//! every process, so no model is written.

use std::path::{Path, PathBuf};

use crate::cli::fit::Args;
use gaussmix::Samples;

/// Runs `gaussmix fit` as one process of an MPI job.
#[cfg(not(feature = "mpi"))]
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!(
        "--distributed and --shards need a gaussmix built with MPI: install Open MPI or MPICH and libclang (Debian: apt-get install openmpi-bin libopenmpi-dev libclang-dev), build with `cargo build --release --features mpi`, and start it with `mpirun -n P gaussmix fit …`"
    )
}

/// Runs `gaussmix fit` as one process of an MPI job.
#[cfg(feature = "mpi")]
pub fn run(args: Args) -> anyhow::Result<()> {
    use std::sync::Arc;

    use gaussmix::collective::{exchange_with, Collective};
    use gaussmix::GmmError;

    if args.sample_weight.is_some() {
        anyhow::bail!("--sample-weight is not supported by a distributed fit; fit on one process to weigh samples");
    }
    let world = gaussmix::mpi_world::MpiWorld::init()?;
    let (rank, size) = (world.rank(), world.size());
    let group: Arc<dyn Collective> = Arc::new(world);
    // A process's failure is worded here; Samples::distributed and exchange_with hand it
    // back to that process as it is, and to the others as "rank r of P failed: …".
    let to_gmm = |e: anyhow::Error| GmmError::Caller(format!("{e:#}"));
    let local = (|| {
        if rank == 0 {
            gaussmix::io::check_model_output(&args.output)?;
        }
        local_rows(&args, rank, size)
    })();
    let outcome = Samples::distributed(local.map_err(to_gmm), Arc::clone(&group))
        .map_err(anyhow::Error::from)
        .and_then(|samples| {
            // Settings and files read on every process (a means-init file, a warm-start
            // model) must be good on all of them before the fit starts.
            let prepared =
                crate::cli::fit::prepare(&args, samples.n_samples(), samples.n_features())
                    .map_err(to_gmm);
            let (prepared, _) = exchange_with(group.as_ref(), prepared, |_| Vec::new())?;
            let quiet = args.quiet || rank != 0;
            crate::cli::fit::fit_prepared(&args, &samples, prepared, quiet, rank == 0)
        });
    match outcome {
        // Another process failed and says so itself (rank 0 repeats it): this one stops
        // quietly, after leaving MPI in order.
        Err(e)
            if rank != 0
                && matches!(
                    e.downcast_ref::<GmmError>(),
                    Some(GmmError::Distributed { .. })
                ) =>
        {
            drop(group);
            std::process::exit(1);
        }
        other => other,
    }
}

/// This process's share of `total` items: a contiguous run, the first `total % size`
/// processes one longer.
pub fn share(total: usize, rank: usize, size: usize) -> (usize, usize) {
    (total * rank / size, total * (rank + 1) / size)
}

/// This process's rows: its share of the rows of DATA (a `.npy` file), or its share of the
/// shard files; streamed with `--stream`, else read into memory.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
fn local_rows(args: &Args, rank: usize, size: usize) -> anyhow::Result<Samples<'static>> {
    use gaussmix::RowSource;
    use nalgebra::DMatrix;

    let Some(pattern) = &args.shards else {
        let data = args
            .data
            .as_deref()
            .expect("clap requires DATA without --shards");
        if !data
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
        {
            anyhow::bail!(
                "{}: a distributed fit of one file reads its rows by range, which needs a .npy file; convert it, or split it into shard files and give --shards",
                data.display()
            );
        }
        let mut rows = gaussmix::io::NpyRows::open(data)?;
        let (a, b) = share(rows.n_rows(), rank, size);
        if args.stream && b - a >= 2 {
            let range = gaussmix::io::RowRange::new(rows, a, b - a)?;
            return Ok(Samples::streamed(range, args.chunk_rows)?);
        }
        return Ok(Samples::chunk_columns(rows.read_columns(a, b - a)?)?);
    };
    let files = expand_shards(pattern)?;
    let (a, b) = share(files.len(), rank, size);
    let mine = &files[a..b];
    if mine.is_empty() {
        // No shard for this process: no rows, with the shards' number of features.
        let d = crate::cli::fit::open_rows(&files[0], is_npy(&files[0]))?.n_features();
        return Ok(Samples::chunk_columns(DMatrix::zeros(d, 0))?);
    }
    if args.stream {
        let parts = mine
            .iter()
            .map(|f| crate::cli::fit::open_rows(f, is_npy(f)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let rows = gaussmix::io::ConcatRows::new(parts)?;
        if rows.n_rows() >= 2 {
            return Ok(Samples::streamed(rows, args.chunk_rows)?);
        }
    }
    let mut blocks = Vec::with_capacity(mine.len());
    for f in mine {
        let xt = gaussmix::io::read_matrix_columns(f, gaussmix::io::Missing::Reject)?;
        if let Some(first) = blocks.first().map(|b: &DMatrix<f64>| b.nrows()) {
            if xt.nrows() != first {
                anyhow::bail!(
                    "{}: {} features, but {} has {first}: every shard needs the same columns",
                    f.display(),
                    xt.nrows(),
                    mine[0].display()
                );
            }
        }
        blocks.push(xt);
    }
    let d = blocks[0].nrows();
    let n: usize = blocks.iter().map(|b| b.ncols()).sum();
    let mut xt = DMatrix::<f64>::zeros(d, n);
    let mut at = 0;
    for b in &blocks {
        xt.columns_mut(at, b.ncols()).copy_from(b);
        at += b.ncols();
    }
    Ok(Samples::chunk_columns(xt)?)
}

fn is_npy(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
}

/// The files matching `pattern` (`*` and `?` in the file name only), in name order.
pub fn expand_shards(pattern: &str) -> anyhow::Result<Vec<PathBuf>> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| anyhow::anyhow!("--shards '{pattern}': cannot list {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file() && wildcard(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    files.sort();
    if files.is_empty() {
        anyhow::bail!(
            "--shards '{pattern}': no file in {} matches; quote the pattern so that the shell does not expand it, and use * or ? in the file name",
            dir.display()
        );
    }
    Ok(files)
}

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` one.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Positions after the last `*` seen, in the pattern and in the name, for backtracking.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_a_shell_does() {
        assert!(wildcard("data-*.npy", "data-003.npy"));
        assert!(wildcard("data-*.npy", "data-.npy"));
        assert!(!wildcard("data-*.npy", "data-003.csv"));
        assert!(wildcard("d?t*", "data"));
        assert!(!wildcard("d?t", "data"));
        assert!(wildcard("*a*b", "xxaxxb"));
        assert!(!wildcard("*a*b", "xxaxxbc"));
    }

    #[test]
    fn shares_cover_every_item_once() {
        for (total, size) in [(10, 3), (2, 3), (0, 2), (7, 7)] {
            let mut next = 0;
            for rank in 0..size {
                let (a, b) = share(total, rank, size);
                assert_eq!(a, next);
                next = b;
            }
            assert_eq!(next, total);
        }
    }
}
