//! `compare` and `DriftReport`: the engine's drift comparison and its HTML report.

use crate::errors::{Error, Result};
use crate::profile::Profile;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use sextant::drift::{self, DriftConfig, Method, Thresholds};
use std::collections::BTreeMap;

/// A comparison of a profile with its baseline, feature by feature.
#[pyclass(module = "sextant._native", name = "DriftReport", frozen)]
pub struct DriftReport {
    report: drift::DriftReport,
    baseline_label: String,
    current_label: String,
}

#[pymethods]
impl DriftReport {
    /// Whether the dataset drifts (enough of its features do).
    #[getter]
    fn drift(&self) -> bool {
        self.report.drift
    }

    /// The dataset's verdict: `ok`, `warn` or `drift`.
    #[getter]
    fn verdict(&self) -> &'static str {
        self.report.verdict.name()
    }

    /// Names of the drifted features, most severe first.
    #[getter]
    fn drifted(&self) -> Vec<String> {
        self.report
            .features
            .iter()
            .filter(|(_, f)| f.drift)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Names of the compared features, most severe first.
    #[getter]
    fn features(&self) -> Vec<String> {
        self.report
            .features
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Features present in only one of the two profiles.
    #[getter]
    fn unmatched(&self) -> Vec<String> {
        self.report.unmatched.clone()
    }

    /// The report as JSON (the shape of `sextant compare --format json`).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.report)
            .map_err(|e| Error::Input(format!("report not representable as JSON: {e}")).into())
    }

    /// The engine's self-contained HTML report.
    fn to_html(&self) -> String {
        drift::render_html(&self.report, &self.baseline_label, &self.current_label)
    }

    /// A feature's binned shares: `(edges, labels, baseline, current)`; numeric
    /// features have edges (one more than bins), categorical ones labels.
    #[allow(clippy::type_complexity)]
    fn histogram(&self, feature: &str) -> PyResult<(Vec<f64>, Vec<String>, Vec<f64>, Vec<f64>)> {
        let f = self.report.feature(feature).ok_or_else(|| {
            Error::Feature(format!(
                "feature `{feature}` was not compared (compared: {})",
                self.features().join(", ")
            ))
        })?;
        let h = &f.histogram;
        Ok((
            h.edges.clone(),
            h.labels.clone(),
            h.baseline.clone(),
            h.current.clone(),
        ))
    }

    fn __repr__(&self) -> String {
        format!(
            "<sextant DriftReport: {}, {} of {} features drifted>",
            self.report.verdict.name(),
            self.report.features.iter().filter(|(_, f)| f.drift).count(),
            self.report.features_compared
        )
    }
}

fn apply(t: &mut Thresholds, options: &Bound<'_, PyDict>, whose: &str) -> Result<()> {
    for (key, value) in options.iter() {
        let key: String = key.extract()?;
        let bad =
            |want: &str| Error::Input(format!("{whose}option `{key}` must be {want}, got {value}"));
        let float = || -> Result<f64> {
            let v: f64 = value.extract().map_err(|_| bad("a number"))?;
            if v.is_finite() && v >= 0.0 {
                Ok(v)
            } else {
                Err(bad("a finite number ≥ 0"))
            }
        };
        let count = || -> Result<u64> { value.extract().map_err(|_| bad("a whole number ≥ 0")) };
        match key.as_str() {
            "min_samples" => t.min_samples = count()?,
            "small_sample_max" => t.small_sample_max = count()?,
            "alpha" => t.alpha = float()?,
            "wasserstein_drift" => t.wasserstein_drift = float()?,
            "wasserstein_warn" => t.wasserstein_warn = float()?,
            "js_drift" => t.js_drift = float()?,
            "js_warn" => t.js_warn = float()?,
            "psi_drift" => t.psi_drift = float()?,
            "psi_warn" => t.psi_warn = float()?,
            "quality_warn" => t.quality_warn = float()?,
            "bins" => {
                let b = count()?;
                if b < 2 {
                    return Err(bad("at least 2"));
                }
                t.bins = b as usize;
            }
            "method" => {
                let m: Option<String> = value.extract().map_err(|_| bad("a string"))?;
                t.large_sample_method = match m.as_deref() {
                    None | Some("wasserstein") => None,
                    Some("psi") => Some(Method::Psi),
                    Some(_) => return Err(bad("`wasserstein` or `psi`")),
                };
            }
            _ => {
                return Err(Error::Input(format!(
                    "unknown {whose}option `{key}` (known: {})",
                    OPTIONS.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The options `compare` takes, for every feature or per feature.
const OPTIONS: [&str; 12] = [
    "alpha",
    "bins",
    "method",
    "min_samples",
    "small_sample_max",
    "wasserstein_drift",
    "wasserstein_warn",
    "js_drift",
    "js_warn",
    "psi_drift",
    "psi_warn",
    "quality_warn",
];

/// Compares `current` with `baseline`.
#[pyfunction]
#[pyo3(signature = (baseline, current, options, per_feature, dataset_share, baseline_label, current_label))]
#[allow(clippy::too_many_arguments)]
pub fn compare(
    py: Python<'_>,
    baseline: PyRef<'_, Profile>,
    current: PyRef<'_, Profile>,
    options: &Bound<'_, PyDict>,
    per_feature: &Bound<'_, PyDict>,
    dataset_share: Option<f64>,
    baseline_label: String,
    current_label: String,
) -> PyResult<DriftReport> {
    let mut config = DriftConfig::default();
    apply(&mut config.defaults, options, "")?;
    let mut per = BTreeMap::new();
    for (name, opts) in per_feature.iter() {
        let name: String = name.extract()?;
        let opts = opts.cast::<PyDict>().map_err(|_| {
            Error::Input(format!("per_feature[`{name}`] must be a dict of options"))
        })?;
        let mut t = config.defaults.clone();
        apply(&mut t, opts, &format!("per_feature[`{name}`]: "))?;
        per.insert(name, t);
    }
    config.per_feature = per;
    if let Some(share) = dataset_share {
        if !(0.0..=1.0).contains(&share) {
            return Err(
                Error::Input(format!("dataset_share must be in [0, 1], got {share}")).into(),
            );
        }
        config.dataset_share = share;
    }
    let (b, c) = (baseline.view.clone(), current.view.clone());
    let report = py.detach(|| drift::compare(&b, &c, &config));
    Ok(DriftReport {
        report,
        baseline_label,
        current_label,
    })
}
