//! The command line: one subcommand per job.
//!
//! Exit codes are part of the contract: 0 on success, 2 on a usage error (clap's own
//! code), 1 on a data or file error, with a message on stderr saying what is wrong and
//! where.

use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// sextant — statistical profiles of what your model sees, fast enough for the request path.
///
/// Serve the wine-quality model with live feature profiles and Prometheus metrics, profile
/// files into mergeable profiles, inspect and merge them, and compare a profile with its
/// training baseline.
#[derive(Debug, Parser)]
#[command(name = "sextant", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the embedded wine-quality model, with live profiles, drift and /metrics.
    Serve(ServeArgs),
    /// Profile a CSV or JSON Lines file into a profile file.
    Profile(ProfileArgs),
    /// Show a profile file as a table, or as JSON.
    Show(ShowArgs),
    /// Merge profile files into one.
    Merge(MergeArgs),
    /// Compare a profile with its baseline: drift per feature, as a table, JSON or HTML.
    Compare(CompareArgs),
}

/// Options of `sextant serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SEXTANT_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Directory where closed windows (and the prediction log) are stored.
    #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
    pub data_dir: PathBuf,
    /// Length of one profile window, e.g. `60s`, `5m`.
    #[arg(long, env = "SEXTANT_WINDOW", default_value = "60s")]
    pub window: String,
    /// How far back drift and the profile-derived metrics look, e.g. `15m`.
    #[arg(long, env = "SEXTANT_DRIFT_HORIZON", default_value = "15m")]
    pub drift_horizon: String,
    /// How long closed windows are kept on disk, e.g. `7d`.
    #[arg(long, env = "SEXTANT_RETENTION", default_value = "7d")]
    pub retention: String,
    /// Serve another exported model (JSON) instead of the embedded one.
    #[arg(long, env = "SEXTANT_MODEL")]
    pub model: Option<PathBuf>,
}

/// Options of `sextant profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The CSV (with a header) or JSON Lines file to profile.
    pub file: PathBuf,
    /// Field delimiter of a CSV file (default: guessed from the header).
    #[arg(long, short)]
    pub delimiter: Option<char>,
    /// Treat this column as free text (repeatable).
    #[arg(long = "text", value_name = "COL")]
    pub text: Vec<String>,
    /// Where to write the profile.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Options of `sextant show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The profile file to show.
    pub profile: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Options of `sextant merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The profile files to merge.
    #[arg(required = true, num_args = 1..)]
    pub profiles: Vec<PathBuf>,
    /// Where to write the merged profile.
    #[arg(long, short)]
    pub output: PathBuf,
}

/// Options of `sextant compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline profile (e.g. the training data's).
    pub baseline: PathBuf,
    /// The profile to compare with it (e.g. production traffic's).
    pub current: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report here.
    #[arg(long, value_name = "OUT")]
    pub html: Option<PathBuf>,
}

/// Runs one parsed command line.
///
/// # Errors
///
/// Any data or file error of the command, with context saying what and where; the
/// binary prints it and exits with status 1.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let name = match cli.command {
        Command::Serve(_) => "serve",
        Command::Profile(_) => "profile",
        Command::Show(_) => "show",
        Command::Merge(_) => "merge",
        Command::Compare(_) => "compare",
    };
    bail!("`sextant {name}` is not yet available in this build")
}
