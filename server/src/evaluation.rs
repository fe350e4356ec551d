//! Live evaluation: profiles of residuals and errors once ground truth arrives.
//!
//! Each joined feedback records one row into a second recorder with its own windows
//! (stored under `evaluation/` in the data directory): the residual
//! `actual − prediction`, the absolute error and the squared error. A window holds the
//! feedback that *arrived* in it. Over any range, MAE is the mean absolute error, RMSE
//! the square root of the mean squared error and the mean residual the bias — exact,
//! from the profiles' moments, and mergeable across windows and replicas.
//! [`EvaluationCollector`] computes the gauges at scrape time; coverage (the share of
//! predictions over the horizon that have ground truth) comes from the prediction log.

use crate::problem::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{Gauge, Opts};
use serde::Serialize;
use sextant::feature::Metrics as FeatureMetrics;
use sextant::{FeatureKind, ProfileView, Schema, Window};
use std::collections::HashMap;

/// The residual `actual − prediction`.
pub const RESIDUAL: &str = "residual";
/// `|actual − prediction|`.
pub const ABSOLUTE_ERROR: &str = "absolute_error";
/// `(actual − prediction)²`.
pub const SQUARED_ERROR: &str = "squared_error";

/// The schema of evaluation profiles.
pub fn schema() -> Schema {
    Schema::new()
        .with(RESIDUAL, FeatureKind::Numeric)
        .with(ABSOLUTE_ERROR, FeatureKind::Numeric)
        .with(SQUARED_ERROR, FeatureKind::Numeric)
}

/// Evaluation metrics of a range.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    /// Start of the range (RFC 3339).
    pub start: String,
    /// End of the range (RFC 3339).
    pub end: String,
    /// Predictions joined to ground truth.
    pub count: u64,
    /// Mean absolute error.
    pub mae: Option<f64>,
    /// Root mean squared error.
    pub rmse: Option<f64>,
    /// Mean of `actual − prediction`.
    pub mean_residual: Option<f64>,
}

fn mean_of(view: &ProfileView, name: &str) -> Option<f64> {
    let (_, f) = view.features().find(|(n, _)| *n == name)?;
    match f.metrics() {
        FeatureMetrics::Numeric(m) => m.distribution.mean(),
        _ => None,
    }
}

fn count_of(view: &ProfileView, name: &str) -> u64 {
    view.features()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, f)| f.count())
}

impl Evaluation {
    /// The metrics of an evaluation profile over `w`.
    pub fn of(view: &ProfileView, w: Window) -> Self {
        Evaluation {
            start: sextant::time::format_rfc3339(w.start_ms),
            end: sextant::time::format_rfc3339(w.end_ms),
            count: count_of(view, RESIDUAL),
            mae: mean_of(view, ABSOLUTE_ERROR),
            rmse: mean_of(view, SQUARED_ERROR).map(f64::sqrt),
            mean_residual: mean_of(view, RESIDUAL),
        }
    }
}

/// The evaluation profile of every window overlapping `w`: open and in-memory ones from
/// the recorder, older ones from the store.
///
/// # Errors
///
/// The store cannot be read or a merge fails.
pub fn profile_of_range(state: &AppState, w: Window) -> Result<ProfileView, ApiError> {
    crate::app::merged_range(&state.evaluation, state.evaluation_store.as_ref(), w)
}

/// The horizon: `[now − horizon, now]`.
pub fn horizon(state: &AppState) -> Window {
    let now = sextant::time::now_ms();
    Window::new(now - state.config.horizon_ms, now + 1)
}

/// `GET /evaluation?start=&end=`: MAE, RMSE, mean residual and count over the drift
/// horizon (or the range given), coverage over the horizon, and each closed window of
/// the horizon held in memory.
pub async fn evaluation(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    crate::app::off_workers(move || evaluation_json(&state, &q)).await
}

fn evaluation_json(
    state: &AppState,
    q: &HashMap<String, String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let w = if q.contains_key("start") || q.contains_key("end") {
        crate::app::range(q, state.config.horizon_ms)?
    } else {
        horizon(state)
    };
    let view = profile_of_range(state, w)?;
    let summary = Evaluation::of(&view, w);
    let mut json = serde_json::to_value(&summary).unwrap_or_default();
    json["horizon_seconds"] = serde_json::json!(state.config.horizon_ms as f64 / 1000.0);
    json["model_version"] = serde_json::json!(state.model.version());
    let h = horizon(state);
    let counts = state.log.as_ref().map(|l| l.coverage(h.start_ms));
    let coverage = match counts {
        Some((n, k)) => serde_json::json!({
            "predictions": n,
            "with_feedback": k,
            "ratio": (n > 0).then(|| k as f64 / n as f64),
        }),
        None => serde_json::Value::Null,
    };
    json["coverage"] = coverage;
    let windows: Vec<Evaluation> = state
        .evaluation
        .history()
        .iter()
        .filter(|(win, _)| win.overlaps(w))
        .map(|(win, v)| Evaluation::of(v, *win))
        .collect();
    json["windows"] = serde_json::to_value(windows).unwrap_or_default();
    Ok(Json(json))
}

/// The evaluation gauges, computed at scrape time over the drift horizon.
pub struct EvaluationCollector {
    state: AppState,
    mae: Gauge,
    rmse: Gauge,
    mean_residual: Gauge,
    coverage: Gauge,
}

impl EvaluationCollector {
    /// A collector over `state`'s evaluation recorder and prediction log.
    ///
    /// # Errors
    ///
    /// Invalid metric options (a programming error).
    pub fn new(state: AppState) -> prometheus::Result<Self> {
        Ok(EvaluationCollector {
            mae: Gauge::with_opts(Opts::new(
                "sextant_evaluation_mae",
                "Mean absolute error over the drift horizon (feedback arrival time); NaN before any feedback.",
            ))?,
            rmse: Gauge::with_opts(Opts::new(
                "sextant_evaluation_rmse",
                "Root mean squared error over the drift horizon; NaN before any feedback.",
            ))?,
            mean_residual: Gauge::with_opts(Opts::new(
                "sextant_evaluation_mean_residual",
                "Mean of actual - prediction over the drift horizon (positive: the model under-predicts); NaN before any feedback.",
            ))?,
            coverage: Gauge::with_opts(Opts::new(
                "sextant_feedback_coverage_ratio",
                "Share of the predictions logged over the drift horizon that have ground truth; NaN without predictions.",
            ))?,
            state,
        })
    }

    fn refresh(&self) {
        let h = horizon(&self.state);
        let view = self.state.evaluation.query(h);
        let e = Evaluation::of(&view, h);
        self.mae.set(e.mae.unwrap_or(f64::NAN));
        self.rmse.set(e.rmse.unwrap_or(f64::NAN));
        self.mean_residual.set(e.mean_residual.unwrap_or(f64::NAN));
        let ratio = self
            .state
            .log
            .as_ref()
            .map(|l| l.coverage(h.start_ms))
            .and_then(|(n, k)| (n > 0).then(|| k as f64 / n as f64));
        self.coverage.set(ratio.unwrap_or(f64::NAN));
    }

    fn all(&self) -> [&Gauge; 4] {
        [&self.mae, &self.rmse, &self.mean_residual, &self.coverage]
    }
}

impl Collector for EvaluationCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.all().into_iter().flat_map(|c| c.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        self.all().into_iter().flat_map(|c| c.collect()).collect()
    }
}
