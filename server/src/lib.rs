//! The `sextant` command line and model server.
//!
//! `main.rs` stays thin: it parses the command line ([`cli::Cli`]) and hands each
//! subcommand to [`cli::run`]. The server is [`app::app`] over an [`state::AppState`]
//! (so tests drive the router without sockets), started by [`serve::serve`].

pub mod app;
pub mod cli;
pub mod evaluation;
pub mod feedback;
pub mod ids;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod predict;
pub mod predlog;
pub mod problem;
pub mod serve;
pub mod state;
