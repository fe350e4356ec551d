//! The server's shared state: model, recorder, baseline, metrics, store, prediction log.

use crate::ids::IdSigner;
use crate::metrics::Metrics;
use crate::model::Model;
use crate::predlog::PredictionLog;
use sextant::drift::{DriftConfig, DriftReport, compare};
use sextant::recorder::Recorder;
use sextant::store::Store;
use sextant::{FeatureKind, ProfileView, Schema, Window};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};

/// The name of the prediction in profiles.
pub const PREDICTION: &str = "prediction";

/// Settings of a running server, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Window length, ms.
    pub window_ms: i64,
    /// How far back drift and profile metrics look, ms.
    pub horizon_ms: i64,
    /// How long closed windows are kept, ms.
    pub retention_ms: i64,
    /// Whether requests are profiled (off only to measure what profiling costs).
    pub profiling: bool,
    /// Whether predictions are logged (off: no log, and `POST /feedback` answers 503).
    pub prediction_log: bool,
    /// Whether the log keeps each prediction's features.
    pub payload_log: bool,
    /// The key replicas share to verify each other's prediction ids.
    pub shared_secret: Option<SharedSecret>,
}

/// A secret that never shows in logs or `Debug` output.
#[derive(Clone)]
pub struct SharedSecret(pub Vec<u8>);

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            window_ms: 60_000,
            horizon_ms: 15 * 60_000,
            retention_ms: 7 * 86_400_000,
            profiling: true,
            prediction_log: true,
            payload_log: true,
            shared_secret: None,
        }
    }
}

/// Shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

/// What [`AppState`] holds.
pub struct Inner {
    /// The model served.
    pub model: Model,
    /// Live profiles of features and predictions, per window.
    pub recorder: Arc<Recorder>,
    /// The training split's profile.
    pub baseline: ProfileView,
    /// Request-path metrics and the registry.
    pub metrics: Metrics,
    /// Closed windows on disk, if any.
    pub store: Option<Store>,
    /// Drift thresholds.
    pub drift: DriftConfig,
    /// Settings.
    pub config: ServerConfig,
    /// Whether the server takes traffic (false while draining).
    pub ready: AtomicBool,
    /// Issues and verifies prediction ids.
    pub ids: IdSigner,
    /// The prediction log, unless switched off.
    pub log: Option<PredictionLog>,
    /// Live profiles of residuals and errors, per window (by feedback time).
    pub evaluation: Arc<Recorder>,
    /// Closed evaluation windows on disk, if any.
    pub evaluation_store: Option<Store>,
    /// The drift horizon's closed windows, merged (see [`AppState::horizon_view`]).
    horizon: Mutex<Option<(HorizonKey, ProfileView)>>,
}

/// What the merged closed windows of the horizon depend on: the first window the horizon
/// overlaps and the recorder's [`Recorder::generation`].
type HorizonKey = (i64, u64);

/// The feedback side of the state: ids, log, evaluation profiles.
pub struct FeedbackParts {
    /// Issues and verifies prediction ids.
    pub ids: IdSigner,
    /// The prediction log, unless switched off.
    pub log: Option<PredictionLog>,
    /// Live evaluation profiles.
    pub evaluation: Arc<Recorder>,
    /// Closed evaluation windows on disk.
    pub evaluation_store: Option<Store>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// The profile schema of a model: its features, then the prediction.
pub fn schema_of(model: &Model) -> Schema {
    let mut schema = Schema::new();
    for name in model.feature_names() {
        schema.push(name, FeatureKind::Numeric);
    }
    schema.push(PREDICTION, FeatureKind::Numeric);
    schema
}

impl AppState {
    /// State around a model, recorder, baseline and optional store.
    pub fn new(
        model: Model,
        recorder: Arc<Recorder>,
        baseline: ProfileView,
        metrics: Metrics,
        store: Option<Store>,
        config: ServerConfig,
        feedback: FeedbackParts,
    ) -> Self {
        AppState(Arc::new(Inner {
            model,
            recorder,
            baseline,
            metrics,
            store,
            drift: DriftConfig::default(),
            config,
            ready: AtomicBool::new(true),
            ids: feedback.ids,
            log: feedback.log,
            evaluation: feedback.evaluation,
            evaluation_store: feedback.evaluation_store,
            horizon: Mutex::new(None),
        }))
    }

    /// The merged profile over the drift horizon, the open window included.
    ///
    /// The closed windows of the horizon are merged once, when a window closes or the
    /// horizon's start passes into the next window, and kept; each call merges that with
    /// the open window only. The recorder keeps just the last few closed windows in
    /// memory and the rest are read from the store, so memory does not grow with the
    /// horizon's length (`benches/load/soak.sh`). If the store cannot be read, the
    /// windows in memory are used and the error is logged.
    pub fn horizon_view(&self) -> ProfileView {
        let now = sextant::time::now_ms();
        let range = Window::new(now - self.config.horizon_ms, now + self.config.window_ms);
        let first = range.start_ms.div_euclid(self.config.window_ms) * self.config.window_ms;
        let key = (first, self.recorder.generation());
        let closed = {
            let mut cache = self.horizon.lock().unwrap_or_else(PoisonError::into_inner);
            match &*cache {
                Some((k, view)) if *k == key => view.clone(),
                _ => {
                    let closed = Window::new(first, range.end_ms);
                    let views =
                        crate::app::closed_views(&self.recorder, self.store.as_ref(), closed)
                            .unwrap_or_else(|e| {
                                tracing::warn!(error = e.detail(), "drift horizon: store not read");
                                vec![self.recorder.query(closed)]
                            });
                    let view = ProfileView::merge_all(&views).unwrap_or_default();
                    *cache = Some((key, view.clone()));
                    view
                }
            }
        };
        ProfileView::merge_all(&[closed, self.recorder.live_view(range)]).unwrap_or_default()
    }

    /// The horizon compared with the baseline (prediction included, if both have it).
    pub fn drift_report(&self, view: &ProfileView) -> DriftReport {
        compare(&self.baseline, view, &self.drift)
    }
}
