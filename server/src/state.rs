//! The server's shared state: model, recorder, baseline, metrics, store.

use crate::metrics::Metrics;
use crate::model::Model;
use sextant::drift::{DriftConfig, DriftReport, compare};
use sextant::recorder::Recorder;
use sextant::store::Store;
use sextant::{FeatureKind, ProfileView, Schema, Window};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            window_ms: 60_000,
            horizon_ms: 15 * 60_000,
            retention_ms: 7 * 86_400_000,
            profiling: true,
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
    instance: u64,
    next_id: AtomicU64,
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
    ) -> Self {
        let seed = sextant::time::now_ms() as u64 ^ (u64::from(std::process::id()) << 32);
        AppState(Arc::new(Inner {
            model,
            recorder,
            baseline,
            metrics,
            store,
            drift: DriftConfig::default(),
            config,
            ready: AtomicBool::new(true),
            instance: sextant::hash::fmix64(seed),
            next_id: AtomicU64::new(0),
        }))
    }

    /// A new prediction id, unique across processes with overwhelming probability.
    pub fn prediction_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:016x}{:016x}", self.instance, n)
    }

    /// The merged profile over the drift horizon, the open window included.
    pub fn horizon_view(&self) -> ProfileView {
        let now = sextant::time::now_ms();
        self.recorder.query(Window::new(
            now - self.config.horizon_ms,
            now + self.config.window_ms,
        ))
    }

    /// The horizon compared with the baseline (prediction included, if both have it).
    pub fn drift_report(&self, view: &ProfileView) -> DriftReport {
        compare(&self.baseline, view, &self.drift)
    }
}
