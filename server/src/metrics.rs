//! Prometheus metrics: names in one place, labels bounded.
//!
//! Labels only ever carry a route template, a method, a status class, a feature name
//! from the model's schema, a quantile or a drift method — never a value a client sent.
//! Three kinds of series:
//!
//! - **system**, updated by [`track_http`] around every request: counts, latency, body
//!   sizes, requests in flight;
//! - **model**, updated on the request path only where they are plain counters (the
//!   prediction histogram, rejected fields); everything derived from profiles comes from
//!   [`ProfileCollector`], which reads the latest merged view at scrape time, so the
//!   request path never pays for quantiles or drift;
//! - **resources**: the process collector (CPU, memory, file descriptors, threads) and
//!   `sextant_build_info`.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{
    GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};
use sextant::drift::{DriftReport, Verdict};
use sextant::feature::Metrics as FeatureMetrics;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Quantiles exported per feature.
pub const EXPORTED_QUANTILES: [(f64, &str); 5] = [
    (0.05, "0.05"),
    (0.25, "0.25"),
    (0.5, "0.5"),
    (0.75, "0.75"),
    (0.95, "0.95"),
];

/// Drift measures exported per feature as `sextant_feature_drift_score{method=...}`.
pub const DRIFT_MEASURES: [&str; 6] = ["ks", "psi", "js", "hellinger", "wasserstein_norm", "chi2"];

/// The metrics updated on the request path.
pub struct Metrics {
    /// Everything, for `/metrics`.
    pub registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    request_size: HistogramVec,
    response_size: HistogramVec,
    in_flight: IntGauge,
    /// Predictions served.
    pub prediction: HistogramVec,
    /// The served model's series of [`Metrics::prediction`] (looked up once).
    pub model_prediction: prometheus::Histogram,
    /// Fields rejected by validation, by feature and reason.
    pub rejected_fields: IntCounterVec,
    /// Feedback items by outcome (joined, duplicate, unknown, invalid).
    pub feedback: IntCounterVec,
    /// Absolute error of each joined feedback.
    pub absolute_error: prometheus::Histogram,
    /// Seconds from prediction to its ground truth, per joined feedback.
    pub label_delay: prometheus::Histogram,
}

/// The outcomes of `sextant_feedback_total`.
pub const FEEDBACK_OUTCOMES: [&str; 4] = ["joined", "duplicate", "unknown", "invalid"];

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

impl Metrics {
    /// Registers every metric but the profile collector, which needs the recorder and is
    /// registered by the server at start-up.
    ///
    /// # Errors
    ///
    /// A metric could not be registered (a programming error: duplicate names).
    pub fn new(model_version: &str) -> prometheus::Result<Metrics> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template, method and status class.",
            ),
            &["handler", "method", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from request to response, by route.",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5,
            ]),
            &["handler", "method"],
        )?;
        let sizes = vec![
            64.0,
            128.0,
            256.0,
            512.0,
            1024.0,
            4096.0,
            16384.0,
            65536.0,
            262_144.0,
            1_048_576.0,
        ];
        let request_size = HistogramVec::new(
            HistogramOpts::new("http_request_size_bytes", "Request body sizes, by route.")
                .buckets(sizes.clone()),
            &["handler"],
        )?;
        let response_size = HistogramVec::new(
            HistogramOpts::new("http_response_size_bytes", "Response body sizes, by route.")
                .buckets(sizes),
            &["handler"],
        )?;
        let in_flight = IntGauge::new("http_requests_in_flight", "Requests being served now.")?;
        let prediction = HistogramVec::new(
            HistogramOpts::new("sextant_prediction", "Predicted wine quality (0 to 10).")
                .buckets((0..=20).map(|i| f64::from(i) * 0.5).collect()),
            &["model"],
        )?;
        let rejected_fields = IntCounterVec::new(
            Opts::new(
                "sextant_rejected_fields_total",
                "Fields rejected by validation, by feature and reason (missing, wrong_type, out_of_range).",
            ),
            &["feature", "reason"],
        )?;
        let feedback = IntCounterVec::new(
            Opts::new(
                "sextant_feedback_total",
                "Feedback items received, by outcome: joined, duplicate (already had ground truth), unknown (id not issued by this fleet, or older than retention), invalid.",
            ),
            &["outcome"],
        )?;
        for outcome in FEEDBACK_OUTCOMES {
            feedback.with_label_values(&[outcome]);
        }
        let absolute_error = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "sextant_absolute_error",
                "Absolute error |actual - prediction| of each prediction joined to ground truth.",
            )
            .buckets(vec![0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0]),
        )?;
        let label_delay = prometheus::Histogram::with_opts(
            HistogramOpts::new(
                "sextant_label_delay_seconds",
                "Seconds from a prediction to its ground truth, per joined feedback.",
            )
            .buckets(vec![
                1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0, 604_800.0,
            ]),
        )?;
        let build = IntGaugeVec::new(
            Opts::new(
                "sextant_build_info",
                "Always 1: the server's version and model version.",
            ),
            &["version", "model"],
        )?;
        build
            .with_label_values(&[sextant::VERSION, model_version])
            .set(1);
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(request_size.clone()))?;
        registry.register(Box::new(response_size.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(prediction.clone()))?;
        registry.register(Box::new(rejected_fields.clone()))?;
        registry.register(Box::new(feedback.clone()))?;
        registry.register(Box::new(absolute_error.clone()))?;
        registry.register(Box::new(label_delay.clone()))?;
        registry.register(Box::new(build))?;
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        let model_prediction = prediction.with_label_values(&[model_version]);
        Ok(Metrics {
            model_prediction,
            registry,
            requests,
            duration,
            request_size,
            response_size,
            in_flight,
            prediction,
            rejected_fields,
            feedback,
            absolute_error,
            label_delay,
        })
    }

    /// The exposition text of every metric.
    pub fn render(&self) -> String {
        let families = self.registry.gather();
        prometheus::TextEncoder::new()
            .encode_to_string(&families)
            .unwrap_or_default()
    }
}

/// Decrements the in-flight gauge even if the handler's future is dropped.
struct InFlight<'a>(&'a IntGauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware: counts, times and sizes every request under its route template.
pub async fn track_http(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let m = &state.metrics;
    // The route's pattern (a shared string: no copy), never the raw path.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let handler = matched.as_ref().map_or("unmatched", MatchedPath::as_str);
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    };
    let req_size = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    m.in_flight.inc();
    let guard = InFlight(&m.in_flight);
    let start = Instant::now();
    let resp = next.run(req).await;
    drop(guard);
    let elapsed = start.elapsed().as_secs_f64();
    let status = status_class(resp.status().as_u16());
    m.requests
        .with_label_values(&[handler, method, status])
        .inc();
    m.duration
        .with_label_values(&[handler, method])
        .observe(elapsed);
    m.request_size
        .with_label_values(&[handler])
        .observe(req_size);
    let resp_size = http_body_size(&resp);
    m.response_size
        .with_label_values(&[handler])
        .observe(resp_size);
    resp
}

fn http_body_size(resp: &Response) -> f64 {
    use axum::body::HttpBody;
    resp.body()
        .size_hint()
        .exact()
        .or_else(|| {
            resp.headers()
                .get(axum::http::header::CONTENT_LENGTH)?
                .to_str()
                .ok()?
                .parse()
                .ok()
        })
        .unwrap_or(0) as f64
}

/// Sets `gauge{feature, q}` to `d`'s quantiles at [`EXPORTED_QUANTILES`].
fn set_quantiles(gauge: &GaugeVec, feature: &str, d: &sextant::Distribution) {
    let values = d.quantiles_at(&EXPORTED_QUANTILES.map(|(q, _)| q));
    for ((_, key), v) in EXPORTED_QUANTILES.iter().zip(values) {
        if let Some(v) = v {
            gauge.with_label_values(&[feature, key]).set(v);
        }
    }
}

/// Profile- and drift-derived gauges, computed at scrape time from the live profile
/// over the drift horizon (the open window included).
pub struct ProfileCollector {
    state: AppState,
    quantile: GaugeVec,
    baseline_quantile: GaugeVec,
    mean: GaugeVec,
    stddev: GaugeVec,
    count: GaugeVec,
    missing: GaugeVec,
    wrong_type: GaugeVec,
    distinct: GaugeVec,
    drift_score: GaugeVec,
    drift: GaugeVec,
    detections: IntCounterVec,
    dataset_drift: GaugeVec,
    rows: GaugeVec,
    previous: Mutex<HashMap<String, bool>>,
}

impl ProfileCollector {
    /// A collector over `state`'s recorder and baseline.
    ///
    /// # Errors
    ///
    /// Invalid metric options (a programming error).
    pub fn new(state: AppState) -> prometheus::Result<Self> {
        let g =
            |name: &str, help: &str, labels: &[&str]| GaugeVec::new(Opts::new(name, help), labels);
        let collector = ProfileCollector {
            quantile: g(
                "sextant_feature_quantile",
                "Feature quantiles over the drift horizon, by rank q (`quantile` is reserved for summaries).",
                &["feature", "q"],
            )?,
            baseline_quantile: g(
                "sextant_baseline_feature_quantile",
                "Feature quantiles of the training baseline, by rank q (the band live quantiles are compared with).",
                &["feature", "q"],
            )?,
            mean: g(
                "sextant_feature_mean",
                "Feature mean over the drift horizon.",
                &["feature"],
            )?,
            stddev: g(
                "sextant_feature_stddev",
                "Feature standard deviation over the drift horizon.",
                &["feature"],
            )?,
            count: g(
                "sextant_feature_values",
                "Values of the feature's type seen over the drift horizon.",
                &["feature"],
            )?,
            missing: g(
                "sextant_feature_missing",
                "Missing values over the drift horizon.",
                &["feature"],
            )?,
            wrong_type: g(
                "sextant_feature_wrong_type",
                "Values of the wrong type over the drift horizon.",
                &["feature"],
            )?,
            distinct: g(
                "sextant_feature_distinct",
                "Estimated distinct values over the drift horizon.",
                &["feature"],
            )?,
            drift_score: g(
                "sextant_feature_drift_score",
                "Drift measures against the training baseline, by method.",
                &["feature", "method"],
            )?,
            drift: g(
                "sextant_feature_drift",
                "1 when the feature drifts from the training baseline, else 0.",
                &["feature"],
            )?,
            detections: IntCounterVec::new(
                Opts::new(
                    "sextant_drift_detections_total",
                    "Times a feature entered drift.",
                ),
                &["feature"],
            )?,
            dataset_drift: g(
                "sextant_dataset_drift",
                "Dataset drift: 1 when the share of drifted features reaches its threshold; and that share.",
                &["measure"],
            )?,
            rows: g(
                "sextant_profile_rows",
                "Rows profiled over the drift horizon.",
                &["scope"],
            )?,
            previous: Mutex::new(HashMap::new()),
            state,
        };
        // The baseline never changes: its quantiles are set once, never reset.
        for (name, f) in collector.state.baseline.features() {
            if let FeatureMetrics::Numeric(m) = f.metrics() {
                set_quantiles(&collector.baseline_quantile, name, &m.distribution);
            }
        }
        Ok(collector)
    }

    /// The gauges recomputed from the horizon at every scrape.
    fn per_scrape(&self) -> [&GaugeVec; 9] {
        [
            &self.quantile,
            &self.mean,
            &self.stddev,
            &self.count,
            &self.missing,
            &self.wrong_type,
            &self.distinct,
            &self.drift_score,
            &self.drift,
        ]
    }

    fn vecs(&self) -> impl Iterator<Item = &dyn Collector> {
        let per_scrape = self.per_scrape().into_iter().map(|g| g as &dyn Collector);
        let kept: [&dyn Collector; 4] = [
            &self.baseline_quantile,
            &self.detections,
            &self.dataset_drift,
            &self.rows,
        ];
        per_scrape.chain(kept)
    }

    fn refresh(&self) {
        let view = self.state.horizon_view();
        // Series of features or measures no longer in the horizon must not linger.
        for v in self.per_scrape() {
            v.reset();
        }
        self.rows
            .with_label_values(&["horizon"])
            .set(view.rows() as f64);
        for (name, f) in view.features() {
            self.count.with_label_values(&[name]).set(f.count() as f64);
            self.missing
                .with_label_values(&[name])
                .set(f.counts().missing() as f64);
            self.wrong_type
                .with_label_values(&[name])
                .set(f.wrong_type() as f64);
            if let FeatureMetrics::Numeric(m) = f.metrics() {
                let d = &m.distribution;
                set_quantiles(&self.quantile, name, d);
                if let Some(mean) = d.mean() {
                    self.mean.with_label_values(&[name]).set(mean);
                }
                if let Some(sd) = d.stddev() {
                    self.stddev.with_label_values(&[name]).set(sd);
                }
                self.distinct
                    .with_label_values(&[name])
                    .set(m.distinct.estimate());
            }
        }
        let report: DriftReport = self.state.drift_report(&view);
        let mut previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        for (name, f) in &report.features {
            for method in DRIFT_MEASURES {
                if let Some(v) = f.measures.get(method) {
                    self.drift_score.with_label_values(&[name, method]).set(*v);
                }
            }
            let drifting = f.verdict == Verdict::Drift;
            self.drift
                .with_label_values(&[name])
                .set(f64::from(u8::from(drifting)));
            // The counter exists (at 0) for every feature, so rate() works from the start.
            let counter = self.detections.with_label_values(&[name]);
            if drifting && !previous.get(name).copied().unwrap_or(false) {
                counter.inc();
            }
            previous.insert(name.clone(), drifting);
        }
        self.dataset_drift
            .with_label_values(&["drift"])
            .set(f64::from(u8::from(report.drift)));
        self.dataset_drift
            .with_label_values(&["drifted_share"])
            .set(report.drifted_share);
    }
}

impl Collector for ProfileCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.vecs().flat_map(|c| c.desc()).collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        self.vecs().flat_map(|c| c.collect()).collect()
    }
}
