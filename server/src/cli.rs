//! The command line: one subcommand per job.
//!
//! Exit codes are part of the contract: 0 on success, 2 on a usage error (clap's own
//! code), 1 on a data or file error, with a message on stderr saying what is wrong and
//! where.

use crate::ingest::{IngestOptions, profile_file};
use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use sextant::ProfileView;
use sextant::drift::{self, DriftConfig, DriftReport, Verdict};
use sextant::summary::ProfileSummary;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::path::PathBuf;

/// An error in how a command was called (a flag's value, an output path), as opposed to
/// in the data: `main` exits with 2 for it, as clap does for its own.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Fails with a [`UsageError`] of `message`.
macro_rules! usage {
    ($($arg:tt)*) => {
        return Err(UsageError(format!($($arg)*)).into())
    };
}

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
    /// Export the prediction log (and its ground truth) as CSV or JSON Lines.
    ExportPredictions(ExportArgs),
}

/// Options of `sextant export-predictions`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The server's data directory (holding `predictions.sqlite`).
    #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "./sextant-data")]
    pub data_dir: PathBuf,
    /// Predictions made at or after this time (RFC 3339 or unix seconds).
    #[arg(long)]
    pub since: Option<String>,
    /// Predictions made before this time (RFC 3339 or unix seconds).
    #[arg(long)]
    pub until: Option<String>,
    /// Only predictions that have ground truth.
    #[arg(long)]
    pub with_feedback: bool,
    /// Where to write: `.csv` or `.jsonl` (the format follows the extension).
    #[arg(long, short)]
    pub output: PathBuf,
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
    /// On SIGTERM or SIGINT, how long requests still open may take to finish before
    /// their connections are closed and the open window is stored, e.g. `10s` (keep it
    /// below the orchestrator's grace period: Kubernetes' default is 30 s).
    #[arg(long, env = "SEXTANT_DRAIN_TIMEOUT", default_value = "10s")]
    pub drain_timeout: String,
    /// Serve another exported model (JSON) instead of the embedded one.
    #[arg(long, env = "SEXTANT_MODEL")]
    pub model: Option<PathBuf>,
    /// Do not profile requests (for measuring what profiling costs).
    #[arg(long, env = "SEXTANT_NO_PROFILING")]
    pub no_profiling: bool,
    /// Do not log predictions (no feedback either; for measuring what the log costs).
    #[arg(long, env = "SEXTANT_NO_PREDICTION_LOG")]
    pub no_prediction_log: bool,
    /// Log predictions without their features.
    #[arg(long, env = "SEXTANT_NO_PAYLOAD_LOG")]
    pub no_payload_log: bool,
    /// Key the replicas share to accept feedback for each other's predictions (default:
    /// a key kept in the data directory, for a single replica).
    #[arg(long, env = "SEXTANT_SHARED_SECRET", hide_env_values = true)]
    pub shared_secret: Option<String>,
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
/// binary prints it and exits with status 1 (2 for a [`UsageError`]).
pub fn run(cli: Cli) -> anyhow::Result<()> {
    init_logging(matches!(cli.command, Command::Serve(_)));
    match cli.command {
        Command::Serve(args) => crate::serve::serve(&args),
        Command::Compare(args) => compare(&args),
        Command::Profile(args) => profile(&args),
        Command::Show(args) => show(&args),
        Command::Merge(args) => merge(&args),
        Command::ExportPredictions(args) => export_predictions(&args),
    }
}

/// Logs to stderr through `tracing`, filtered by `SEXTANT_LOG`: a server's structured
/// log from `info` on, with times; for one-off commands only what the library warns of
/// (a prediction log's rows kept as they were, say), plainly.
fn init_logging(serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEXTANT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = if serving {
        fmt.try_init()
    } else {
        fmt.without_time().with_target(false).try_init()
    };
}

fn export_predictions(args: &ExportArgs) -> anyhow::Result<()> {
    use crate::predlog::{ExportFilter, ExportFormat};
    let format = match args.output.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("csv") => ExportFormat::Csv,
        Some(e) if e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson") => {
            ExportFormat::JsonLines
        }
        _ => usage!(
            "-o `{}`: the extension must be .csv or .jsonl",
            args.output.display()
        ),
    };
    let time = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<i64>> {
        v.as_deref()
            .map(|s| {
                sextant::time::parse_timestamp(s)
                    .map_err(|e| UsageError(format!("--{flag}: {e}")).into())
            })
            .transpose()
    };
    let filter = ExportFilter {
        since_ms: time("since", &args.since)?,
        until_ms: time("until", &args.until)?,
        with_feedback: args.with_feedback,
    };
    if let (Some(since), Some(until)) = (filter.since_ms, filter.until_ms)
        && since >= until
    {
        usage!("--since must be before --until");
    }
    let log = args.data_dir.join(crate::predlog::FILE_NAME);
    if !log.is_file() {
        bail!("no prediction log at `{}`", log.display());
    }
    let conn = crate::predlog::open_existing(&args.data_dir)
        .with_context(|| format!("cannot open `{}`", log.display()))?;
    refuse_to_overwrite(&args.output, &[&log])?;
    let mut n = 0;
    write_atomically(&args.output, |file| {
        n = crate::predlog::export(&conn, filter, format, file)
            .with_context(|| format!("exporting `{}`", log.display()))?;
        Ok(())
    })?;
    eprintln!("exported {n} predictions to `{}`", args.output.display());
    Ok(())
}

/// Reads a profile file, saying which file is wrong and how.
///
/// # Errors
///
/// The file cannot be read or is not a valid profile.
pub fn read_profile(path: &Path) -> anyhow::Result<ProfileView> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    ProfileView::from_bytes(&bytes).with_context(|| format!("`{}`", path.display()))
}

/// Writes a profile file atomically (temp file, then rename).
///
/// # Errors
///
/// The file cannot be written.
pub fn write_profile(view: &ProfileView, path: &Path) -> anyhow::Result<()> {
    let bytes = view
        .to_bytes()
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    write_atomically(path, |file| Ok(file.write_all(&bytes)?))
}

/// Writes `path` through `write` into a temporary file beside it, renamed over `path`
/// once complete: a reader never sees half a file, and a failure leaves neither a
/// partial file nor the temporary one behind.
fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // Beside it, named after all of it (`report.html` and `report.json` do not share).
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".sextant-tmp");
    let tmp = path.with_file_name(name);
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        write(&mut out)?;
        out.into_inner()
            .map_err(std::io::IntoInnerError::into_error)?
            .sync_all()?;
        std::fs::rename(&tmp, path)?;
        anyhow::Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

/// A [`UsageError`] if `output` is one of `inputs` (writing it would destroy that input).
fn refuse_to_overwrite(output: &Path, inputs: &[&Path]) -> anyhow::Result<()> {
    let Ok(out) = std::fs::canonicalize(output) else {
        return Ok(()); // Not there yet: it cannot be an input.
    };
    for input in inputs {
        if std::fs::canonicalize(input).is_ok_and(|i| i == out) {
            usage!(
                "-o `{}` is also an input: writing it would replace `{}`; choose another output",
                output.display(),
                input.display()
            );
        }
    }
    Ok(())
}

fn profile(args: &ProfileArgs) -> anyhow::Result<()> {
    let delimiter = match args.delimiter {
        None => None,
        Some(c) if c.is_ascii() => Some(c as u8),
        Some(c) => usage!("--delimiter must be a single ASCII character, not `{c}`"),
    };
    refuse_to_overwrite(&args.output, &[&args.file])?;
    let opts = IngestOptions {
        delimiter,
        text_columns: args.text.clone(),
        progress: true,
    };
    let view = profile_file(&args.file, &opts)?;
    write_profile(&view, &args.output)?;
    eprintln!(
        "profiled {} rows, {} features into `{}`",
        view.rows(),
        view.features().count(),
        args.output.display()
    );
    Ok(())
}

fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let view = read_profile(&args.profile)?;
    let summary = ProfileSummary::of(&view);
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&summary)?;
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{}", render_table(&summary))?;
    }
    Ok(())
}

fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let inputs: Vec<&Path> = args.profiles.iter().map(PathBuf::as_path).collect();
    refuse_to_overwrite(&args.output, &inputs)?;
    let mut merged = ProfileView::empty();
    for path in &args.profiles {
        let view = read_profile(path)?;
        merged = merged
            .merge(&view)
            .with_context(|| format!("merging `{}`", path.display()))?;
    }
    write_profile(&merged, &args.output)?;
    eprintln!(
        "merged {} profiles ({} rows) into `{}`",
        args.profiles.len(),
        merged.rows(),
        args.output.display()
    );
    Ok(())
}

fn compare(args: &CompareArgs) -> anyhow::Result<()> {
    let baseline = read_profile(&args.baseline)?;
    let current = read_profile(&args.current)?;
    let report = drift::compare(&baseline, &current, &DriftConfig::default());
    if report.features_compared == 0 && !report.unmatched.is_empty() {
        bail!(
            "`{}` and `{}` have no feature in common to compare (not compared: {})",
            args.baseline.display(),
            args.current.display(),
            report.unmatched.join(", ")
        );
    }
    if let Some(path) = &args.html {
        refuse_to_overwrite(path, &[&args.baseline, &args.current])?;
        let html = drift::render_html(
            &report,
            &args.baseline.display().to_string(),
            &args.current.display().to_string(),
        );
        write_atomically(path, |file| Ok(file.write_all(html.as_bytes())?))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&report)?;
        writeln!(out, "{json}")?;
    } else {
        write!(out, "{}", render_drift_table(&report))?;
    }
    Ok(())
}

/// A drift report as an aligned text table, most severe first.
pub fn render_drift_table(r: &DriftReport) -> String {
    let mut out = format!(
        "{}: {} of {} features drifted ({:.0}%); baseline {} rows, current {} rows\n",
        match r.verdict {
            Verdict::Drift => "DRIFT",
            Verdict::Warn => "WARN",
            Verdict::Ok => "OK",
        },
        r.features.iter().filter(|(_, f)| f.drift).count(),
        r.features_compared,
        r.drifted_share * 100.0,
        r.baseline_rows,
        r.current_rows
    );
    let header = [
        "feature",
        "verdict",
        "method",
        "statistic",
        "threshold",
        "p-value",
        "effect",
        "psi",
        "baseline n",
        "current n",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (name, f) in &r.features {
        rows.push(vec![
            name.clone(),
            f.verdict.name().into(),
            f.method.name().into(),
            fmt_num(f.statistic),
            fmt_num(f.threshold),
            fmt_num(f.p_value),
            fmt_num(f.effect_size),
            fmt_num(f.measures.get("psi").copied()),
            f.baseline_n.to_string(),
            f.current_n.to_string(),
        ]);
    }
    out.push_str(&align(&rows, 3));
    if !r.unmatched.is_empty() {
        out.push_str(&format!("not compared: {}\n", r.unmatched.join(", ")));
    }
    out
}

/// Aligns rows of cells into columns; the first `left` columns left-aligned.
fn align(rows: &[Vec<String>], left: usize) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c < left {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn fmt_num(x: Option<f64>) -> String {
    match x {
        None => "-".into(),
        Some(v) if v == v.trunc() && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1e5 || v.abs() < 1e-3 => format!("{v:.4e}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// A profile summary as an aligned text table.
pub fn render_table(s: &ProfileSummary) -> String {
    let mut out = String::new();
    let window = match (&s.window_start, &s.window_end) {
        (Some(a), Some(b)) => format!("[{a}, {b})"),
        _ => "-".into(),
    };
    out.push_str(&format!("rows: {}   window: {window}\n", s.rows));
    for (k, v) in &s.tags {
        out.push_str(&format!("tag {k}: {v}\n"));
    }
    let header = [
        "feature", "kind", "count", "missing", "wrong", "mean", "stddev", "min", "p50", "max",
        "distinct",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    for (name, f) in &s.features {
        let p50 = f.quantiles.as_ref().and_then(|q| q.get("0.5").copied());
        rows.push(vec![
            name.clone(),
            f.kind.to_string(),
            f.count.to_string(),
            f.missing.to_string(),
            f.wrong_type.to_string(),
            fmt_num(f.mean),
            fmt_num(f.stddev),
            fmt_num(f.min),
            fmt_num(p50),
            fmt_num(f.max),
            f.distinct_estimate
                .map_or("-".into(), |d| format!("{d:.0}")),
        ]);
    }
    out.push_str(&align(&rows, 2));
    out
}
