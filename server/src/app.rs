//! The router: every endpoint, the metrics middleware, problem+json everywhere.

use crate::predict::predict;
use crate::problem::{ApiError, problem_layer};
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router, middleware};
use serde::Serialize;
use sextant::recorder::Recorder;
use sextant::store::Store;
use sextant::summary::ProfileSummary;
use sextant::{ProfileView, Window};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// Largest request body accepted for one instance (and for every other route).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest body of a batch (`{"instances": [...]}`, up to 1,000 rows of ~250 bytes).
pub const MAX_BATCH_BODY: usize = 1024 * 1024;

/// The whole application over `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/predict",
            post(predict).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)),
        )
        .route(
            "/feedback",
            post(crate::feedback::feedback).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)),
        )
        .route("/evaluation", get(crate::evaluation::evaluation))
        .route("/healthcheck", get(healthcheck))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/profiles", get(profiles))
        .route("/profiles/windows", get(windows))
        .route("/profiles/baseline", get(baseline))
        .route("/drift", get(drift))
        .route("/drift/report", get(drift_report))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_http,
        ))
        .layer(middleware::map_response(problem_layer))
        .with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for `{}`", uri.path()),
    )
}

async fn healthcheck() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if state.ready.load(Ordering::Relaxed) {
        Ok(Json(serde_json::json!({
            "status": "ready",
            "model_version": state.model.version(),
            "baseline_rows": state.baseline.rows(),
        })))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
        ))
    }
}

/// Runs `f` on tokio's blocking pool. The endpoints that merge windows or compare them
/// with the baseline (a scrape does both) take milliseconds and a burst of allocations,
/// which would hold up a request worker's requests and interleave with their own
/// allocations in its heap (the scrapes drive the soak's rise in resident memory:
/// `benches/RESULTS.md`). A panic in `f` becomes a 500.
pub(crate) async fn off_workers<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the request's work failed: {e}"),
        ))
    })
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = off_workers(move || Ok(state.metrics.render())).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Reads `start`/`end` (RFC 3339 or unix seconds) with defaults.
pub(crate) fn range(q: &HashMap<String, String>, default_span_ms: i64) -> Result<Window, ApiError> {
    let now = sextant::time::now_ms();
    let parse = |key: &str| -> Result<Option<i64>, ApiError> {
        q.get(key)
            .map(|v| {
                sextant::time::parse_timestamp(v)
                    .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("`{key}`: {e}")))
            })
            .transpose()
    };
    let end = parse("end")?.unwrap_or(now + 1);
    let start = parse("start")?.unwrap_or(end - default_span_ms);
    if start >= end {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "`start` must be before `end`",
        ));
    }
    Ok(Window::new(start, end))
}

/// The merged profile of every window overlapping `w`: the open one and the closed
/// ones held in memory from the recorder, older closed ones from the store.
pub fn profile_of_range(state: &AppState, w: Window) -> Result<ProfileView, ApiError> {
    merged_range(&state.recorder, state.store.as_ref(), w)
}

/// The merged profile of every window of `recorder` overlapping `w`, older closed ones
/// from `store`.
///
/// # Errors
///
/// The store cannot be read or the profiles do not merge.
pub fn merged_range(
    recorder: &Recorder,
    store: Option<&Store>,
    w: Window,
) -> Result<ProfileView, ApiError> {
    let mut views = closed_views(recorder, store, w)?;
    views.push(recorder.live_view(w));
    merge(&views)
}

/// Merges views of one schema (an internal error otherwise).
pub(crate) fn merge(views: &[ProfileView]) -> Result<ProfileView, ApiError> {
    ProfileView::merge_all(views)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The closed windows of `recorder` overlapping `w`: those in its in-memory history,
/// then the older ones from `store` (damaged files are logged and skipped).
///
/// # Errors
///
/// The store cannot be read.
pub(crate) fn closed_views(
    recorder: &Recorder,
    store: Option<&Store>,
    w: Window,
) -> Result<Vec<ProfileView>, ApiError> {
    let history = recorder.history();
    let mut views: Vec<ProfileView> = history
        .iter()
        .filter(|(win, _)| win.overlaps(w))
        .map(|(_, v)| v.clone())
        .collect();
    if let Some(store) = store {
        let read = store
            .read_range(w.start_ms, w.end_ms)
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        for d in &read.damaged {
            tracing::warn!(path = %d.path.display(), error = %d.error, "skipping damaged window file");
        }
        let in_memory = |win: &Window| history.iter().any(|(h, _)| h == win);
        for (stored, bytes) in read.windows {
            if in_memory(&stored.window) {
                continue;
            }
            match ProfileView::from_bytes(&bytes) {
                Ok(v) => views.push(v),
                Err(e) => {
                    tracing::warn!(path = %stored.path.display(), error = %e, "skipping unreadable window")
                }
            }
        }
    }
    Ok(views)
}

fn respond_profile(view: &ProfileView, q: &HashMap<String, String>) -> Result<Response, ApiError> {
    match q.get("format").map(String::as_str).unwrap_or("bin") {
        "bin" => {
            let bytes = view
                .to_bytes()
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            Ok((
                [
                    (header::CONTENT_TYPE, "application/vnd.sextant.profile"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"profile.sxp\"",
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        "json" => Ok(Json(ProfileSummary::of(view)).into_response()),
        other => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("`format` must be `bin` or `json`, not `{other}`"),
        )),
    }
}

async fn profiles(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let w = range(&q, 3_600_000)?;
    off_workers(move || respond_profile(&profile_of_range(&state, w)?, &q)).await
}

async fn baseline(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    respond_profile(&state.baseline, &q)
}

#[derive(Serialize)]
struct WindowInfo {
    start: String,
    end: String,
    state: &'static str,
    bytes: Option<u64>,
    rows: Option<u64>,
}

async fn windows(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    use sextant::time::format_rfc3339 as t;
    let mut out = Vec::new();
    if let Some(store) = &state.store {
        let list = store
            .list()
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        out.extend(list.into_iter().map(|s| WindowInfo {
            start: t(s.window.start_ms),
            end: t(s.window.end_ms),
            state: "closed",
            bytes: Some(s.bytes),
            rows: None,
        }));
    }
    let open = state.recorder.open_view();
    if let Some(w) = open.window() {
        out.push(WindowInfo {
            start: t(w.start_ms),
            end: t(w.end_ms),
            state: "open",
            bytes: None,
            rows: Some(open.rows()),
        });
    }
    Ok(Json(serde_json::json!({
        "window_seconds": state.config.window_ms as f64 / 1000.0,
        "windows": out,
    })))
}

async fn drift(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    off_workers(move || {
        let report = state.drift_report(&state.horizon_view());
        let mut json = serde_json::to_value(&report).unwrap_or_default();
        json["horizon_seconds"] = serde_json::json!(state.config.horizon_ms as f64 / 1000.0);
        json["model_version"] = serde_json::json!(state.model.version());
        Ok(Json(json))
    })
    .await
}

async fn drift_report(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    off_workers(move || {
        let report = state.drift_report(&state.horizon_view());
        let label = format!("last {} min of traffic", state.config.horizon_ms / 60_000);
        Ok(Html(sextant::drift::render_html(
            &report,
            "training split",
            &label,
        )))
    })
    .await
}
