//! A profile summarized as plain data: what `sextant show --json`, the server's
//! `GET /profiles?format=json` and Python's `to_pandas()` report.
//!
//! The shape is a contract:
//!
//! ```json
//! {"rows": 1599, "window_start": "2025-11-25T08:00:00Z", "window_end": "...",
//!  "tags": {}, "features": {"alcohol": {"kind": "numeric", "count": 1599, "missing": 0,
//!  "type_counts": {"integral": 0, "fractional": 1599, ...}, "nan": 0, "inf": 0,
//!  "min": 8.4, "max": 14.9, "mean": 10.42, "stddev": 1.07,
//!  "quantiles": {"0.01": 9.0, "0.05": 9.2, "0.25": 9.5, "0.5": 10.2, "0.75": 11.1,
//!  "0.95": 12.5, "0.99": 13.4}, "rank_error": 0.0, "distinct_estimate": 65.0,
//!  "frequent_items": [...]}}}
//! ```
//!
//! Statistics that do not apply to a feature's kind (quantiles of a categorical
//! feature) are `null`. Text features add a `text` object with one distribution summary
//! per metadata measure; magnitudes report DDSketch quantiles.

use crate::feature::{FeatureProfile, Metrics};
use crate::profile::ProfileView;
use crate::time::format_rfc3339;
use crate::{Distribution, ValueType};
use serde::Serialize;
use std::collections::BTreeMap;

/// The quantiles every summary reports, with their JSON keys.
pub const SUMMARY_QUANTILES: [(f64, &str); 7] = [
    (0.01, "0.01"),
    (0.05, "0.05"),
    (0.25, "0.25"),
    (0.5, "0.5"),
    (0.75, "0.75"),
    (0.95, "0.95"),
    (0.99, "0.99"),
];

/// A profile's summary.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileSummary {
    /// Rows recorded.
    pub rows: u64,
    /// Window start, RFC 3339 (null for an empty profile).
    pub window_start: Option<String>,
    /// Window end (exclusive), RFC 3339.
    pub window_end: Option<String>,
    /// Free tags.
    pub tags: BTreeMap<String, String>,
    /// Per feature, in profile order (JSON objects keep insertion order here).
    #[serde(serialize_with = "ordered")]
    pub features: Vec<(String, FeatureSummary)>,
}

fn ordered<S: serde::Serializer>(
    features: &[(String, FeatureSummary)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(features.len()))?;
    for (k, v) in features {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

/// A distribution's summary statistics.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DistributionSummary {
    /// Values in the distribution (finite values only).
    pub n: u64,
    /// Exact minimum.
    pub min: Option<f64>,
    /// Exact maximum.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub stddev: Option<f64>,
    /// Quantiles keyed by rank (`"0.5"`), or `null`.
    pub quantiles: Option<BTreeMap<&'static str, f64>>,
}

impl DistributionSummary {
    fn of(d: &Distribution) -> Self {
        DistributionSummary {
            n: d.count(),
            min: d.min(),
            max: d.max(),
            mean: d.mean(),
            stddev: d.stddev(),
            quantiles: (d.count() > 0).then(|| {
                let values = d.quantiles_at(&SUMMARY_QUANTILES.map(|(q, _)| q));
                SUMMARY_QUANTILES
                    .iter()
                    .zip(values)
                    .filter_map(|(&(_, key), v)| Some((key, v?)))
                    .collect()
            }),
        }
    }
}

/// A frequent value in a summary (numbers and strings alike, as JSON values).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FrequentSummary {
    /// The value.
    pub value: serde_json::Value,
    /// Estimated count.
    pub estimate: u64,
    /// Guaranteed lower bound of the count.
    pub lower_bound: u64,
    /// Guaranteed upper bound of the count.
    pub upper_bound: u64,
}

/// One feature's summary.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary {
    /// The feature's kind.
    pub kind: &'static str,
    /// Values of the feature's own type.
    pub count: u64,
    /// Missing values.
    pub missing: u64,
    /// Present values of another type.
    pub wrong_type: u64,
    /// Values by observed type.
    pub type_counts: BTreeMap<&'static str, u64>,
    /// NaN values (numeric features).
    pub nan: u64,
    /// ±∞ values (numeric features).
    pub inf: u64,
    /// Exact minimum of finite values.
    pub min: Option<f64>,
    /// Exact maximum.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
    /// Sample standard deviation.
    pub stddev: Option<f64>,
    /// Quantiles keyed by rank.
    pub quantiles: Option<BTreeMap<&'static str, f64>>,
    /// The quantile sketch's normalized rank error (99 % confidence); 0 while exact.
    pub rank_error: Option<f64>,
    /// Estimated distinct values.
    pub distinct_estimate: Option<f64>,
    /// Frequent values, most frequent first, where kept.
    pub frequent_items: Option<Vec<FrequentSummary>>,
    /// Text metadata distributions (text features).
    pub text: Option<BTreeMap<&'static str, DistributionSummary>>,
    /// Image metadata distributions (image features).
    pub image: Option<BTreeMap<&'static str, DistributionSummary>>,
}

impl FeatureSummary {
    /// Summarizes one feature's profile.
    pub fn of(f: &FeatureProfile) -> Self {
        let c = f.counts();
        let mut s = FeatureSummary {
            kind: f.kind().name(),
            count: f.count(),
            missing: c.missing(),
            wrong_type: f.wrong_type(),
            type_counts: ValueType::ALL
                .iter()
                .map(|&t| (t.name(), c.of(t)))
                .collect(),
            nan: c.nan(),
            inf: c.pos_inf() + c.neg_inf(),
            min: None,
            max: None,
            mean: None,
            stddev: None,
            quantiles: None,
            rank_error: None,
            distinct_estimate: None,
            frequent_items: None,
            text: None,
            image: None,
        };
        match f.metrics() {
            Metrics::Numeric(m) => {
                let d = DistributionSummary::of(&m.distribution);
                (s.min, s.max, s.mean, s.stddev, s.quantiles) =
                    (d.min, d.max, d.mean, d.stddev, d.quantiles);
                s.rank_error = Some(m.distribution.quantiles().rank_error());
                s.distinct_estimate = Some(m.distinct.estimate());
                s.frequent_items = m.frequent.as_ref().map(|fi| {
                    fi.items()
                        .into_iter()
                        .map(|r| FrequentSummary {
                            value: r.value.into(),
                            estimate: r.estimate,
                            lower_bound: r.lower_bound,
                            upper_bound: r.upper_bound,
                        })
                        .collect()
                });
            }
            Metrics::Categorical(m) => {
                s.distinct_estimate = Some(m.distinct.estimate());
                s.frequent_items = Some(strings(&m.frequent));
            }
            Metrics::Text(m) => {
                s.text = Some(
                    m.metadata
                        .distributions()
                        .map(|(name, d)| (name, DistributionSummary::of(d)))
                        .collect(),
                );
                if let Some(raw) = &m.raw {
                    s.distinct_estimate = Some(raw.distinct.estimate());
                    s.frequent_items = Some(strings(&raw.frequent));
                }
            }
            Metrics::Image(m) => {
                s.image = Some(
                    m.distributions()
                        .map(|(name, d)| (name, DistributionSummary::of(d)))
                        .collect(),
                );
            }
            Metrics::Magnitude(m) => {
                s.min = m.range.map(|r| r.0);
                s.max = m.range.map(|r| r.1);
                s.mean = m.moments.mean();
                s.stddev = m.moments.stddev();
                s.quantiles = (m.sketch.count() > 0).then(|| {
                    SUMMARY_QUANTILES
                        .iter()
                        .filter_map(|&(q, key)| Some((key, m.sketch.quantile(q)?)))
                        .collect()
                });
            }
        }
        s
    }
}

fn strings(f: &crate::sketch::FrequentItems<String>) -> Vec<FrequentSummary> {
    f.items()
        .into_iter()
        .map(|r| FrequentSummary {
            value: r.value.into(),
            estimate: r.estimate,
            lower_bound: r.lower_bound,
            upper_bound: r.upper_bound,
        })
        .collect()
}

impl ProfileSummary {
    /// Summarizes a profile.
    ///
    /// ```
    /// use sextant::{DatasetProfile, FeatureKind, Schema, Window};
    /// use sextant::summary::ProfileSummary;
    /// let schema = Schema::new().with("x", FeatureKind::Numeric);
    /// let mut p = DatasetProfile::new(&schema, Window::new(0, 60_000));
    /// p.record_f64_columns(&[&[1.0, 2.0, 3.0, f64::NAN]]);
    /// let s = ProfileSummary::of(&p.view());
    /// let json = serde_json::to_value(&s).unwrap();
    /// assert_eq!(json["rows"], 4);
    /// assert_eq!(json["window_end"], "1970-01-01T00:01:00Z");
    /// assert_eq!(json["features"]["x"]["count"], 4);
    /// assert_eq!(json["features"]["x"]["nan"], 1);
    /// assert_eq!(json["features"]["x"]["quantiles"]["0.5"], 2.0);
    /// ```
    pub fn of(view: &ProfileView) -> Self {
        ProfileSummary {
            rows: view.rows(),
            window_start: view.window().map(|w| format_rfc3339(w.start_ms)),
            window_end: view.window().map(|w| format_rfc3339(w.end_ms)),
            tags: view.tags().clone(),
            features: view
                .features()
                .map(|(n, f)| (n.to_owned(), FeatureSummary::of(f)))
                .collect(),
        }
    }
}
