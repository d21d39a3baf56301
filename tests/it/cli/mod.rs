//! The command-line tool, run as a user would.

mod commands;
mod hostile;
mod values;
