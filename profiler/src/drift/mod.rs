//! Drift: how a profile differs from its baseline, and whether that matters.
//!
//! Every feature present in both profiles is compared with tests fitted to its kind, on
//! the sketches alone (no raw data):
//!
//! - **numeric** (numeric, integral, boolean): Kolmogorov–Smirnov statistic from the two
//!   quantile sketches, PSI, Jensen–Shannon distance and Hellinger distance over bins at
//!   the baseline's quantiles, Wasserstein-1 distance divided by the baseline's standard
//!   deviation, and the mean shift in baseline standard deviations;
//! - **categorical**: chi-squared test of homogeneity, Jensen–Shannon distance and PSI
//!   over the frequent categories of both sides plus an "other" bucket, and the
//!   categories new in the current profile or gone from it;
//! - **text** and **image**: the numeric tests on each metadata distribution; the
//!   feature takes the verdict of its most drifted measure;
//! - **data quality**, every kind: change in the missing rate and in the wrong-type rate.
//!
//! # How the verdict is decided, and why
//!
//! A p-value answers "could these two samples come from one distribution?". At large n
//! the answer is "no" for every real-world pair, however small the difference; and a
//! KS test on sketches has an extra problem: each sketch's CDF is off by up to its rank
//! error ε, which at large n exceeds the KS critical value, so a naive sketch KS (as
//! whylogs does it) flags identical distributions most of the time. So:
//!
//! - **small samples** (the smaller side below [`Thresholds::small_sample_max`], 1,000 by
//!   default, as Evidently): the p-value leads. The KS statistic is first reduced by
//!   both sketches' rank error (`D − ε_b − ε_c`, floored at 0) — sketches below a few
//!   hundred values are exact, ε = 0 — so sketch error cannot fake significance; drift
//!   when `p < alpha` (0.05), warn when `p < 2·alpha`. Categorical: chi-squared p-value.
//! - **large samples**: the effect size leads. Numeric: Wasserstein-1 over the baseline
//!   standard deviation, drift at ≥ 0.1 σ, warn at ≥ 0.05 σ — a threshold far above
//!   both the sampling noise at n ≥ 1,000 (≈ 0.04 σ) and the sketches' own error, and
//!   below the 0.2 σ shift a user wants caught. Categorical: Jensen–Shannon distance,
//!   drift at ≥ 0.1, warn at ≥ 0.05.
//!
//! PSI uses [`Thresholds::bins`] (10) bins with edges at the baseline's quantiles;
//! every bin's share is floored at 10⁻⁴ and the shares renormalized before taking logs
//! (the usual smoothing, so an empty bin gives a large but finite PSI). JS distance is
//! the square root of the base-2 Jensen–Shannon divergence, in `[0, 1]`.
//!
//! Below [`Thresholds::min_samples`] (30) values on either side there is no verdict:
//! the measures are reported, the method is `none` and the verdict `ok`.
//!
//! Every default can be changed, for all features or per feature ([`DriftConfig`]).

mod compare;
mod report;
pub mod stats;

pub use compare::{compare, compare_features};
pub use report::render_html;

use serde::Serialize;
use std::collections::BTreeMap;

/// A feature's (or the dataset's) verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No meaningful difference.
    Ok,
    /// A difference worth a look.
    Warn,
    /// Drift.
    Drift,
}

impl Verdict {
    /// `ok`, `warn` or `drift`.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Drift => "drift",
        }
    }
}

/// The test behind a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Two-sample Kolmogorov–Smirnov, sketch-error aware; p-value leads.
    Ks,
    /// Wasserstein-1 over the baseline's standard deviation; effect size leads.
    Wasserstein,
    /// Chi-squared test of homogeneity; p-value leads.
    Chi2,
    /// Jensen–Shannon distance; effect size leads.
    JensenShannon,
    /// Population stability index (only when configured).
    Psi,
    /// Not enough data on one side to compare.
    None,
}

impl Method {
    /// The method's name in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Method::Ks => "ks",
            Method::Wasserstein => "wasserstein",
            Method::Chi2 => "chi2",
            Method::JensenShannon => "jensen_shannon",
            Method::Psi => "psi",
            Method::None => "none",
        }
    }
}

/// Thresholds of the tests (see the module docs for the defaults and their reasons).
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Below this many values on either side there is no verdict (method `none`): a
    /// handful of values says nothing about a distribution.
    pub min_samples: u64,
    /// Below this many values on the smaller side, p-values lead.
    pub small_sample_max: u64,
    /// Significance level of p-value tests.
    pub alpha: f64,
    /// Wasserstein-1 / σ at which a numeric feature drifts.
    pub wasserstein_drift: f64,
    /// Wasserstein-1 / σ at which it warns.
    pub wasserstein_warn: f64,
    /// Jensen–Shannon distance at which a categorical feature drifts.
    pub js_drift: f64,
    /// Jensen–Shannon distance at which it warns.
    pub js_warn: f64,
    /// Force one method for large samples instead of the effect size (e.g. `Psi`).
    pub large_sample_method: Option<Method>,
    /// PSI at which a feature drifts when PSI is the method (0.25, the usual rule).
    pub psi_drift: f64,
    /// PSI at which it warns (0.1).
    pub psi_warn: f64,
    /// Bins for PSI, JS and Hellinger.
    pub bins: usize,
    /// Change in missing or wrong-type rate (absolute) that makes a warning.
    pub quality_warn: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_samples: 30,
            small_sample_max: 1000,
            alpha: 0.05,
            wasserstein_drift: 0.1,
            wasserstein_warn: 0.05,
            js_drift: 0.1,
            js_warn: 0.05,
            large_sample_method: None,
            psi_drift: 0.25,
            psi_warn: 0.1,
            bins: 10,
            quality_warn: 0.05,
        }
    }
}

/// Drift settings: default thresholds, per-feature overrides, and the share of drifted
/// features that makes the dataset drift.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftConfig {
    /// Thresholds for every feature without an override.
    pub defaults: Thresholds,
    /// Per-feature thresholds.
    pub per_feature: BTreeMap<String, Thresholds>,
    /// The dataset drifts when at least this share of features drifts (0.5).
    pub dataset_share: f64,
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            defaults: Thresholds::default(),
            per_feature: BTreeMap::new(),
            dataset_share: 0.5,
        }
    }
}

impl DriftConfig {
    /// The thresholds of one feature.
    pub fn for_feature(&self, name: &str) -> &Thresholds {
        self.per_feature.get(name).unwrap_or(&self.defaults)
    }
}

/// Binned shares of both sides, for plots.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Histogram {
    /// Bin labels: numeric bin edges (`len + 1` of them) or category names (`len`).
    pub edges: Vec<f64>,
    /// Category names, for categorical features.
    pub labels: Vec<String>,
    /// Baseline share per bin.
    pub baseline: Vec<f64>,
    /// Current share per bin.
    pub current: Vec<f64>,
}

/// One feature's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureDrift {
    /// The feature's kind.
    pub kind: &'static str,
    /// Whether the verdict is drift.
    pub drift: bool,
    /// ok / warn / drift.
    pub verdict: Verdict,
    /// The method behind the verdict.
    pub method: Method,
    /// Its statistic.
    pub statistic: Option<f64>,
    /// The threshold the statistic was held against (alpha for p-value methods).
    pub threshold: Option<f64>,
    /// The p-value, where meaningful.
    pub p_value: Option<f64>,
    /// The effect size (Wasserstein-1/σ or JS distance).
    pub effect_size: Option<f64>,
    /// Values in the baseline.
    pub baseline_n: u64,
    /// Values in the current profile.
    pub current_n: u64,
    /// For text and image features: the metadata measure behind the verdict.
    pub driver: Option<String>,
    /// Every measure computed, by name (`ks`, `psi`, `js`, `hellinger`,
    /// `wasserstein_norm`, `mean_shift`, `chi2`, `missing_rate_change`, ...).
    #[serde(flatten)]
    pub measures: BTreeMap<String, f64>,
    /// Categories seen now but not in the baseline.
    pub new_categories: Vec<String>,
    /// Baseline categories not seen now.
    pub gone_categories: Vec<String>,
    /// Binned shares for the report's plots.
    #[serde(skip)]
    pub histogram: Histogram,
}

/// The comparison of two profiles.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    /// Whether the dataset drifts (the share of drifted features reached
    /// [`DriftConfig::dataset_share`]).
    pub drift: bool,
    /// The dataset's verdict: drift, warn if any feature warns or drifts, else ok.
    pub verdict: Verdict,
    /// Share of compared features that drift.
    pub drifted_share: f64,
    /// Number of features compared.
    pub features_compared: usize,
    /// Rows in the baseline.
    pub baseline_rows: u64,
    /// Rows in the current profile.
    pub current_rows: u64,
    /// Per feature, most severe first.
    #[serde(serialize_with = "ordered")]
    pub features: Vec<(String, FeatureDrift)>,
    /// Features in only one of the two profiles.
    pub unmatched: Vec<String>,
}

fn ordered<S: serde::Serializer>(
    features: &[(String, FeatureDrift)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(features.len()))?;
    for (k, v) in features {
        map.serialize_entry(k, v)?;
    }
    map.end()
}

impl DriftReport {
    /// One feature's comparison by name.
    pub fn feature(&self, name: &str) -> Option<&FeatureDrift> {
        self.features
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| f)
    }
}
