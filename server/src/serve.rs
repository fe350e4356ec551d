//! `sextant serve`: build the state, bind, rotate windows, shut down gracefully.

use crate::app::app;
use crate::cli::ServeArgs;
use crate::evaluation::EvaluationCollector;
use crate::ids::IdSigner;
use crate::metrics::{Metrics, ProfileCollector};
use crate::model::Model;
use crate::predlog::PredictionLog;
use crate::state::{AppState, FeedbackParts, PREDICTION, ServerConfig, SharedSecret, schema_of};
use anyhow::{Context, Result, bail};
use sextant::recorder::{Recorder, RecorderConfig, Sink};
use sextant::store::Store;
use sextant::{DatasetProfile, ProfileView, Value, Window};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The training split the embedded model was fitted on (features and `quality`).
pub const TRAIN_SPLIT_CSV: &str = include_str!("../model/train-split.csv");

/// The baseline: the training split's features and the model's predictions on them,
/// profiled with the same schema as live traffic.
///
/// # Errors
///
/// The split is malformed or lacks one of the model's features.
pub fn baseline_profile(model: &Model, csv: &str) -> Result<ProfileView> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .context("empty training split")?
        .split(',')
        .collect();
    let idx: Vec<usize> = model
        .feature_names()
        .map(|f| {
            header
                .iter()
                .position(|h| *h == f)
                .with_context(|| format!("training split lacks feature `{f}`"))
        })
        .collect::<Result<_>>()?;
    let schema = schema_of(model);
    let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
    p.set_tag("dataset", "training split");
    p.set_tag("model_version", model.version());
    let n = model.n_features();
    let mut row = vec![0.0; n];
    for (i, line) in lines.filter(|l| !l.trim().is_empty()).enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        for (j, &c) in idx.iter().enumerate() {
            row[j] = cells
                .get(c)
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("training split line {}: bad `{}`", i + 2, header[c]))?;
        }
        let q = model.predict(&row);
        let mut values: Vec<Value<'_>> = row.iter().map(|&x| Value::Float(x)).collect();
        values.push(Value::Float(q));
        p.record_row(&values);
    }
    debug_assert!(p.position(PREDICTION) == Some(n));
    Ok(p.view())
}

/// A sink writing each closed window to the store, merging with a file already there
/// (a window closed at shutdown and reopened after a restart).
fn store_sink(store: Store) -> Sink {
    Box::new(move |window: Window, view: &ProfileView| {
        let existing = store
            .path_of(window)
            .ok()
            .and_then(|p| std::fs::read(p).ok());
        let merged = match existing.map(|b| ProfileView::from_bytes(&b)) {
            Some(Ok(old)) => old.merge(view).unwrap_or_else(|_| view.clone()),
            _ => view.clone(),
        };
        let result = merged
            .to_bytes()
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(store.write(window, &bytes)?));
        match result {
            Ok(path) => {
                tracing::debug!(path = %path.display(), rows = merged.rows(), "window stored")
            }
            Err(e) => tracing::error!(error = %e, "could not store window"),
        }
    })
}

/// Threads of the blocking pool (see `serve`).
const BLOCKING_THREADS: usize = 4;

/// Closed windows of feature profiles the recorder keeps in memory.
const FEATURE_WINDOWS_IN_MEMORY: usize = 2;

/// Builds the server state: model, baseline, recorder (with history reloaded from the
/// store) and metrics.
///
/// # Errors
///
/// The model, the data directory or the baseline cannot be loaded.
pub fn build_state(model: Model, data_dir: &Path, config: ServerConfig) -> Result<AppState> {
    let baseline = baseline_profile(&model, TRAIN_SPLIT_CSV)?;
    let store = Store::open(data_dir)
        .with_context(|| format!("data directory `{}`", data_dir.display()))?;
    let history = usize::try_from(config.horizon_ms / config.window_ms).unwrap_or(0) + 2;
    let recorder = Arc::new(Recorder::new(
        schema_of(&model),
        RecorderConfig {
            window_ms: config.window_ms,
            // The drift horizon's older windows are read from the store and merged once
            // per rotation (`AppState::horizon_view`): memory stays flat, whatever the
            // horizon.
            history: FEATURE_WINDOWS_IN_MEMORY,
            tags: [("model_version".to_owned(), model.version().to_owned())].into(),
            ..RecorderConfig::default()
        },
        Some(store_sink(store.clone())),
    ));
    // Resume: the windows within the horizon come back into memory.
    let now = sextant::time::now_ms();
    let read = store.read_range(now - config.horizon_ms, now)?;
    for d in &read.damaged {
        tracing::warn!(path = %d.path.display(), error = %d.error, "skipping damaged window file");
    }
    for (stored, bytes) in read.windows {
        if let Ok(view) = ProfileView::from_bytes(&bytes) {
            recorder.preload(stored.window, view);
        }
    }
    // Evaluation windows, in their own store.
    let eval_store = Store::open(data_dir.join("evaluation"))
        .with_context(|| format!("data directory `{}`", data_dir.display()))?;
    let evaluation = Arc::new(Recorder::new(
        crate::evaluation::schema(),
        RecorderConfig {
            window_ms: config.window_ms,
            history,
            tags: [("model_version".to_owned(), model.version().to_owned())].into(),
            ..RecorderConfig::default()
        },
        Some(store_sink(eval_store.clone())),
    ));
    let read = eval_store.read_range(now - config.horizon_ms, now)?;
    for (stored, bytes) in read.windows {
        if let Ok(view) = ProfileView::from_bytes(&bytes) {
            evaluation.preload(stored.window, view);
        }
    }
    let key = crate::ids::load_key(
        config.shared_secret.as_ref().map(|s| s.0.as_slice()),
        data_dir,
    )
    .with_context(|| format!("prediction id key in `{}`", data_dir.display()))?;
    let ids = IdSigner::new(&key, model.version());
    let log = if config.prediction_log {
        Some(PredictionLog::open(
            data_dir,
            model.version(),
            model.feature_names().map(str::to_owned).collect(),
            config.retention_ms,
            config.horizon_ms,
        )?)
    } else {
        None
    };
    let metrics = Metrics::new(model.version())?;
    let state = AppState::new(
        model,
        recorder,
        baseline,
        metrics,
        Some(store),
        config,
        FeedbackParts {
            ids,
            log,
            evaluation,
            evaluation_store: Some(eval_store),
        },
    );
    let collector = ProfileCollector::new(state.clone())?;
    state.metrics.registry.register(Box::new(collector))?;
    let collector = EvaluationCollector::new(state.clone())?;
    state.metrics.registry.register(Box::new(collector))?;
    Ok(state)
}

/// How often the housekeeping thread rotates windows.
const ROTATION_TICK: Duration = Duration::from_secs(1);

/// Retention runs at the first rotation tick and then once every this many (ten minutes).
const RETENTION_EVERY: u64 = 600;

/// The thread that rotates windows (each closed one goes to the store, with an fsync)
/// and applies retention, off the async workers and off the blocking pool: a rotation
/// meeting a scrape there would need a second pool thread, and each new thread may bring
/// a heap arena of its own (a step in resident memory, `benches/RESULTS.md`).
struct Housekeeper {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Housekeeper {
    fn start(state: AppState) -> Result<Self> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sextant-rotate".into())
            .spawn(move || {
                let mut next = std::time::Instant::now() + ROTATION_TICK;
                for n in 0u64.. {
                    let wait = next.saturating_duration_since(std::time::Instant::now());
                    match stopped.recv_timeout(wait) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        // Asked to stop, or the server is gone.
                        _ => return,
                    }
                    next += ROTATION_TICK;
                    // A panic in one tick (a bug) is logged and the next tick runs, as
                    // when each rotation was a task of its own: windows keep closing.
                    let tick = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        state.recorder.rotate();
                        state.evaluation.rotate();
                        if n.is_multiple_of(RETENTION_EVERY) {
                            apply_retention(&state);
                        }
                    }));
                    if tick.is_err() {
                        tracing::error!("a window rotation panicked; rotating again next tick");
                    }
                }
            })
            .context("cannot start the rotation thread")?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread after the rotation in progress, if any.
    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

/// Fixes glibc's mmap threshold at its default, 128 KiB. Left to itself, glibc raises
/// the threshold to the size of each mapped block freed, so that after the first
/// rotation or scrape the large buffers they use for a moment (a window file read, the
/// merges of the horizon) come from the heap arenas instead, and each arena's top then
/// stays where the largest such moment left it: resident memory that rose in steps
/// during the first minutes of a soak. Set explicitly, the threshold stays
/// (`mallopt(3)`), and those buffers go back to the system when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    /// `M_MMAP_THRESHOLD` of glibc's `malloc.h`.
    const M_MMAP_THRESHOLD: std::ffi::c_int = -3;
    /// Blocks of this size or more are mapped on their own and unmapped when freed.
    const THRESHOLD: std::ffi::c_int = 128 * 1024;
    #[allow(unsafe_code)]
    unsafe extern "C" {
        fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
    }
    #[allow(unsafe_code)]
    // SAFETY: glibc's `mallopt` takes any parameter and value (it answers 0 to those it
    // refuses) and may be called from any thread at any time.
    let done = unsafe { mallopt(M_MMAP_THRESHOLD, THRESHOLD) };
    if done != 1 {
        tracing::debug!("glibc refused to fix its mmap threshold");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_mmap_threshold() {}

fn apply_retention(state: &AppState) {
    let cutoff = sextant::time::now_ms().saturating_sub(state.config.retention_ms);
    for store in [&state.store, &state.evaluation_store]
        .into_iter()
        .flatten()
    {
        match store.remove_older_than(cutoff) {
            Ok(0) => {}
            Ok(k) => tracing::info!(removed = k, "retention: removed old windows"),
            Err(e) => tracing::warn!(error = %e, "retention failed"),
        }
    }
}

fn duration(flag: &str, text: &str) -> Result<i64> {
    sextant::time::parse_duration_ms(text).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

async fn shutdown_signal(state: AppState) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: draining requests");
    state.ready.store(false, Ordering::Relaxed);
}

/// Runs `sextant serve` until SIGTERM or SIGINT; then drains requests and stores the
/// open window.
///
/// # Errors
///
/// Bad flags, an unloadable model, or an address that cannot be bound.
pub fn serve(args: &ServeArgs) -> Result<()> {
    fix_mmap_threshold();
    let config = ServerConfig {
        window_ms: duration("window", &args.window)?,
        horizon_ms: duration("drift-horizon", &args.drift_horizon)?,
        retention_ms: duration("retention", &args.retention)?,
        profiling: !args.no_profiling,
        prediction_log: !args.no_prediction_log,
        payload_log: !args.no_payload_log,
        shared_secret: args
            .shared_secret
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| SharedSecret(s.as_bytes().to_vec())),
    };
    let drain = Duration::from_millis(
        u64::try_from(duration("drain-timeout", &args.drain_timeout)?).unwrap_or(0),
    );
    if config.horizon_ms < config.window_ms {
        bail!(
            "--drift-horizon ({}) must be at least one --window ({})",
            args.drift_horizon,
            args.window
        );
    }
    let model = match &args.model {
        None => Model::embedded()?.clone(),
        Some(path) => {
            let json = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read model `{}`", path.display()))?;
            Model::from_json(&json).with_context(|| format!("model `{}`", path.display()))?
        }
    };
    let state = build_state(model, &args.data_dir, config.clone())?;
    // The blocking pool runs the endpoints that merge windows (a scrape among them,
    // `app::off_workers`); rotations have a thread of their own (`Housekeeper`), so
    // that a scrape and a rotation never meet there and make it grow. Its threads are
    // kept, not left to exit after 10 idle seconds as by default, where a scrape every
    // 10 to 15 s would find its thread gone now and then and make one anew; and they
    // are few, each being a stack and perhaps a heap arena (a new one showed as a step
    // in resident memory, `benches/RESULTS.md`). The rest of a burst of queries waits.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_keep_alive(Duration::from_secs(24 * 3600))
        .build()?;
    let housekeeper = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let addr = listener.local_addr()?;
        tracing::info!(
            %addr,
            model = state.model.version(),
            data_dir = %args.data_dir.display(),
            window_s = config.window_ms / 1000,
            "sextant serving"
        );
        let housekeeper = Housekeeper::start(state.clone())?;
        let (signalled, drain_started) = tokio::sync::oneshot::channel();
        let signal = {
            let state = state.clone();
            async move {
                shutdown_signal(state).await;
                let _ = signalled.send(());
            }
        };
        let server = axum::serve(listener, app(state.clone())).with_graceful_shutdown(signal);
        let deadline = async move {
            match drain_started.await {
                Ok(()) => tokio::time::sleep(drain).await,
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            served = server.into_future() => served.context("server error")?,
            () = deadline => tracing::warn!(
                drain_timeout_s = drain.as_secs_f64(),
                "requests still open after the drain timeout: closing their connections"
            ),
        }
        anyhow::Ok(housekeeper)
    })?;
    // Every task still serving a connection (a client that kept one open past the
    // drain: an unfinished body, say) stops here, at its next wait: none can record
    // anything after the flush below, and none can keep the process from storing the
    // open window before the orchestrator's SIGKILL.
    rt.shutdown_timeout(Duration::from_secs(1));
    housekeeper.stop();
    // The log's writer is a thread of its own: waiting for it needs only channels.
    let flush = tokio::runtime::Builder::new_current_thread().build()?;
    flush.block_on(async {
        if let Some(log) = &state.log {
            log.flush().await;
        }
    });
    state.evaluation.flush();
    let closed = state.recorder.flush();
    tracing::info!(windows = closed.len(), "open window stored; bye");
    Ok(())
}
