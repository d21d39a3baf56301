//! The `gaussmix` command-line tool.

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// Clap's multi-line usage error as one line: its message, the missing arguments and tips,
/// without the usage synopsis, and a pointer to `--help`.
fn usage_error_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more"))
        .collect();
    let mut line = parts.join(" ");
    if let Some(rest) = line.strip_prefix("error: ") {
        line = rest.to_string();
    }
    format!("{line} (see --help)")
}

fn main() -> ExitCode {
    // Like any Unix filter, stop quietly when the reader of our output goes away
    // (`gaussmix info model.npz | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print as clap lays them out, with its status.
        Err(e) if !e.use_stderr() => e.exit(),
        // A usage error follows the rule of every other error: one line, status 1.
        Err(e) => {
            eprintln!("error: {}", usage_error_line(&e));
            return ExitCode::FAILURE;
        }
    };
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::common::with_flag_names(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
