//! The `sextant` command line and model server.
//!
//! `main.rs` stays thin: it parses the command line ([`cli::Cli`]) and hands each
//! subcommand to [`cli::run`]. The model server, the profile commands and the drift
//! report each live in their own module as they land.

pub mod cli;
pub mod ingest;
pub mod model;
