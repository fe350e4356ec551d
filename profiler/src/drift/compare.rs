//! The comparisons themselves (see the module docs for the design).

use super::stats::{chi2_sf, ks_p_value};
use super::{DriftConfig, DriftReport, FeatureDrift, Histogram, Method, Thresholds, Verdict};
use crate::Distribution;
use crate::feature::{CategoricalMetrics, FeatureProfile, Metrics};
use crate::profile::ProfileView;
use crate::sketch::SortedQuantiles;
use std::collections::{BTreeMap, HashMap};

/// Ranks at which quantile sketches are sampled for KS and Wasserstein.
const GRID: usize = 200;
/// Floor of a bin's share before PSI's logarithm.
const SHARE_FLOOR: f64 = 1e-4;
/// Bins of a numeric histogram in the report.
const PLOT_BINS: usize = 30;

/// Compares `current` with `baseline`, feature by feature.
///
/// ```
/// use sextant::drift::{compare, DriftConfig, Verdict};
/// use sextant::{DatasetProfile, FeatureKind, Schema, Window};
/// let schema = Schema::new().with("x", FeatureKind::Numeric);
/// let profile = |shift: f64| {
///     let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
///     let xs: Vec<f64> = (0..5000).map(|i| (i % 100) as f64 / 10.0 + shift).collect();
///     p.record_f64_columns(&[&xs]);
///     p.view()
/// };
/// let same = compare(&profile(0.0), &profile(0.0), &DriftConfig::default());
/// assert_eq!(same.verdict, Verdict::Ok);
/// let moved = compare(&profile(0.0), &profile(2.0), &DriftConfig::default());
/// assert!(moved.drift);
/// assert_eq!(moved.feature("x").unwrap().method.name(), "wasserstein");
/// ```
pub fn compare(baseline: &ProfileView, current: &ProfileView, config: &DriftConfig) -> DriftReport {
    let mut features = Vec::new();
    let mut unmatched = Vec::new();
    for (name, b) in baseline.features() {
        match current.feature(name) {
            Some(c) => {
                if let Some(d) = compare_features(b, c, config.for_feature(name)) {
                    features.push((name.to_owned(), d));
                } else {
                    unmatched.push(name.to_owned());
                }
            }
            None => unmatched.push(name.to_owned()),
        }
    }
    for (name, _) in current.features() {
        if baseline.feature(name).is_none() {
            unmatched.push(name.to_owned());
        }
    }
    features.sort_by(|(na, a), (nb, b)| {
        b.verdict
            .cmp(&a.verdict)
            .then(severity(b).total_cmp(&severity(a)))
            .then(na.cmp(nb))
    });
    let compared = features.len();
    let drifted = features.iter().filter(|(_, f)| f.drift).count();
    let drifted_share = if compared == 0 {
        0.0
    } else {
        drifted as f64 / compared as f64
    };
    let drift = compared > 0 && drifted_share >= config.dataset_share;
    let verdict = if drift {
        Verdict::Drift
    } else {
        features
            .iter()
            .map(|(_, f)| f.verdict.min(Verdict::Warn))
            .max()
            .unwrap_or(Verdict::Ok)
    };
    DriftReport {
        drift,
        verdict,
        drifted_share,
        features_compared: compared,
        baseline_rows: baseline.rows(),
        current_rows: current.rows(),
        features,
        unmatched,
    }
}

/// How far past its threshold a feature is, for sorting (p-value methods invert).
fn severity(f: &FeatureDrift) -> f64 {
    match (f.method, f.statistic, f.threshold, f.p_value) {
        (Method::Ks | Method::Chi2, _, Some(alpha), Some(p)) => alpha / p.max(1e-300),
        (_, Some(s), Some(t), _) if t > 0.0 => s / t,
        _ => 0.0,
    }
}

/// Compares two profiles of one feature; `None` if their kinds differ.
pub fn compare_features(
    baseline: &FeatureProfile,
    current: &FeatureProfile,
    t: &Thresholds,
) -> Option<FeatureDrift> {
    baseline.kind().merged_with(current.kind())?;
    let mut drift = match (baseline.metrics(), current.metrics()) {
        (Metrics::Numeric(b), Metrics::Numeric(c)) => numeric(&b.distribution, &c.distribution, t),
        (Metrics::Categorical(b), Metrics::Categorical(c)) => categorical(b, c, t),
        (Metrics::Text(b), Metrics::Text(c)) => worst_of(
            b.metadata.distributions().zip(c.metadata.distributions()),
            t,
        ),
        (Metrics::Image(b), Metrics::Image(c)) => {
            worst_of(b.distributions().zip(c.distributions()), t)
        }
        _ => insufficient(0, 0),
    };
    drift.kind = baseline.kind().name();
    // Data quality.
    let rate = |num: u64, f: &FeatureProfile| {
        let total = f.counts().total();
        if total == 0 {
            0.0
        } else {
            num as f64 / total as f64
        }
    };
    let missing =
        rate(current.counts().missing(), current) - rate(baseline.counts().missing(), baseline);
    let wrong = rate(current.wrong_type(), current) - rate(baseline.wrong_type(), baseline);
    drift.measures.insert("missing_rate_change".into(), missing);
    drift
        .measures
        .insert("wrong_type_rate_change".into(), wrong);
    if (missing.abs() >= t.quality_warn || wrong.abs() >= t.quality_warn)
        && drift.verdict == Verdict::Ok
    {
        drift.verdict = Verdict::Warn;
    }
    drift.drift = drift.verdict == Verdict::Drift;
    Some(drift)
}

fn insufficient(bn: u64, cn: u64) -> FeatureDrift {
    FeatureDrift {
        kind: "",
        drift: false,
        verdict: Verdict::Ok,
        method: Method::None,
        statistic: None,
        threshold: None,
        p_value: None,
        effect_size: None,
        baseline_n: bn,
        current_n: cn,
        driver: None,
        measures: BTreeMap::new(),
        new_categories: Vec::new(),
        gone_categories: Vec::new(),
        histogram: Histogram::default(),
    }
}

/// The verdict of the worst metadata distribution, with every measure prefixed.
fn worst_of<'a>(
    pairs: impl Iterator<
        Item = (
            (&'static str, &'a Distribution),
            (&'static str, &'a Distribution),
        ),
    >,
    t: &Thresholds,
) -> FeatureDrift {
    let mut worst: Option<(&'static str, FeatureDrift)> = None;
    let mut measures = BTreeMap::new();
    for ((name, b), (_, c)) in pairs {
        let d = numeric(b, c, t);
        for (k, v) in &d.measures {
            measures.insert(format!("{name}.{k}"), *v);
        }
        let worse = match &worst {
            None => true,
            Some((_, w)) => (d.verdict, severity(&d)) > (w.verdict, severity(w)),
        };
        if worse {
            worst = Some((name, d));
        }
    }
    match worst {
        Some((name, mut d)) => {
            d.measures = measures;
            d.driver = Some(name.to_owned());
            d
        }
        None => insufficient(0, 0),
    }
}

/// Shares of each side in the bins between consecutive `edges` (plus the two open
/// ends), from CDFs evaluated at the edges.
fn shares(cdf: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(cdf.len() + 1);
    let mut prev = 0.0;
    for &c in cdf {
        out.push((c - prev).max(0.0));
        prev = c;
    }
    out.push((1.0 - prev).max(0.0));
    out
}

fn smoothed(p: &[f64]) -> Vec<f64> {
    let floored: Vec<f64> = p.iter().map(|&x| x.max(SHARE_FLOOR)).collect();
    let total: f64 = floored.iter().sum();
    floored.into_iter().map(|x| x / total).collect()
}

/// PSI over smoothed shares.
fn psi(b: &[f64], c: &[f64]) -> f64 {
    let (b, c) = (smoothed(b), smoothed(c));
    b.iter()
        .zip(&c)
        .map(|(&p, &q)| (q - p) * (q / p).ln())
        .sum()
}

/// Jensen–Shannon distance (base 2), in [0, 1].
fn js_distance(b: &[f64], c: &[f64]) -> f64 {
    let kl = |p: &[f64], m: &[f64]| -> f64 {
        p.iter()
            .zip(m)
            .filter(|&(&x, _)| x > 0.0)
            .map(|(&x, &y)| x * (x / y).log2())
            .sum()
    };
    let m: Vec<f64> = b.iter().zip(c).map(|(x, y)| 0.5 * (x + y)).collect();
    (0.5 * kl(b, &m) + 0.5 * kl(c, &m)).max(0.0).sqrt().min(1.0)
}

/// Hellinger distance, in [0, 1].
fn hellinger(b: &[f64], c: &[f64]) -> f64 {
    let bc: f64 = b.iter().zip(c).map(|(x, y)| (x * y).sqrt()).sum();
    (1.0 - bc).max(0.0).sqrt()
}

fn normalize(v: &[f64]) -> Vec<f64> {
    let total: f64 = v.iter().sum();
    if total > 0.0 {
        v.iter().map(|x| x / total).collect()
    } else {
        v.to_vec()
    }
}

/// Numeric comparison of two distributions' sketches.
fn numeric(b: &Distribution, c: &Distribution, t: &Thresholds) -> FeatureDrift {
    let (bn, cn) = (b.count(), c.count());
    let mut out = insufficient(bn, cn);
    if bn == 0 || cn == 0 {
        return out;
    }
    let (bq, cq) = (b.quantiles(), c.quantiles());
    // One sorted snapshot per side serves every query below.
    let (bs, cs) = (bq.sorted(), cq.sorted());
    let grid: Vec<f64> = (0..GRID).map(|i| (i as f64 + 0.5) / GRID as f64).collect();
    let b_at: Vec<f64> = bs.quantiles(&grid).into_iter().flatten().collect();
    let c_at: Vec<f64> = cs.quantiles(&grid).into_iter().flatten().collect();
    // KS: the largest CDF gap, over both sketches' quantile points and extremes.
    let mut points: Vec<f64> = b_at.iter().chain(&c_at).copied().collect();
    points.extend([b.min(), b.max(), c.min(), c.max()].into_iter().flatten());
    points.sort_unstable_by(f64::total_cmp);
    points.dedup();
    let (Some(fb), Some(fc)) = (bs.cdf(&points), cs.cdf(&points)) else {
        return out;
    };
    let ks = fb
        .iter()
        .zip(&fc)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    let eps = bq.rank_error() + cq.rank_error();
    let ks_adjusted = (ks - eps).max(0.0);
    let p = ks_p_value(ks_adjusted, bn, cn);
    // Wasserstein-1 from the quantile functions, over the baseline's σ.
    let w1 = b_at
        .iter()
        .zip(&c_at)
        .map(|(x, y)| (x - y).abs())
        .sum::<f64>()
        / b_at.len().max(1) as f64;
    let sigma = b.stddev().filter(|s| *s > 0.0);
    let scale = sigma.unwrap_or_else(|| b.mean().map_or(1.0, |m| m.abs().max(1.0)));
    let w1_norm = w1 / scale;
    let mean_shift = (c.mean().unwrap_or(0.0) - b.mean().unwrap_or(0.0)) / scale;
    // Bins at the baseline's quantiles.
    let ranks: Vec<f64> = (1..t.bins.max(2))
        .map(|i| i as f64 / t.bins.max(2) as f64)
        .collect();
    let mut edges: Vec<f64> = bs.quantiles(&ranks).into_iter().flatten().collect();
    edges.dedup();
    let (sb, sc) = match (bs.cdf(&edges), cs.cdf(&edges)) {
        (Some(x), Some(y)) => (shares(&x), shares(&y)),
        _ => (vec![1.0], vec![1.0]),
    };
    let measures = [
        ("ks", ks),
        ("ks_adjusted", ks_adjusted),
        ("ks_p_value", p),
        ("rank_error", eps),
        ("psi", psi(&sb, &sc)),
        ("js", js_distance(&sb, &sc)),
        ("hellinger", hellinger(&sb, &sc)),
        ("wasserstein", w1),
        ("wasserstein_norm", w1_norm),
        ("mean_shift", mean_shift),
    ];
    out.measures = measures.iter().map(|&(k, v)| (k.to_owned(), v)).collect();
    out.effect_size = Some(w1_norm);
    if bn.min(cn) < t.min_samples {
        // Too few values for a verdict; the measures stand as information.
    } else if bn.min(cn) < t.small_sample_max {
        out.method = Method::Ks;
        out.statistic = Some(ks_adjusted);
        out.threshold = Some(t.alpha);
        out.p_value = Some(p);
        out.verdict = grade_p_value(p, t.alpha);
    } else if t.large_sample_method == Some(Method::Psi) {
        let v = out.measures["psi"];
        out.method = Method::Psi;
        out.statistic = Some(v);
        out.threshold = Some(t.psi_drift);
        out.verdict = grade(v, t.psi_warn, t.psi_drift);
    } else {
        out.method = Method::Wasserstein;
        out.statistic = Some(w1_norm);
        out.threshold = Some(t.wasserstein_drift);
        out.verdict = grade(w1_norm, t.wasserstein_warn, t.wasserstein_drift);
    }
    out.histogram = numeric_histogram(&bs, &cs);
    out
}

/// The verdict of a p-value: drift below `alpha`, warn below twice `alpha`.
fn grade_p_value(p: f64, alpha: f64) -> Verdict {
    if p < alpha {
        Verdict::Drift
    } else if p < 2.0 * alpha {
        Verdict::Warn
    } else {
        Verdict::Ok
    }
}

fn grade(v: f64, warn: f64, drift: f64) -> Verdict {
    if v >= drift {
        Verdict::Drift
    } else if v >= warn {
        Verdict::Warn
    } else {
        Verdict::Ok
    }
}

fn numeric_histogram(b: &SortedQuantiles, c: &SortedQuantiles) -> Histogram {
    let tails = |s: &SortedQuantiles| match s.quantiles(&[0.005, 0.995])[..] {
        [Some(lo), Some(hi)] => (lo, hi),
        _ => (0.0, 1.0),
    };
    let ((blo, bhi), (clo, chi)) = (tails(b), tails(c));
    let (lo, hi) = (blo.min(clo), bhi.max(chi));
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let edges: Vec<f64> = (0..=PLOT_BINS)
        .map(|i| lo + (hi - lo) * i as f64 / PLOT_BINS as f64)
        .collect();
    let binned = |s: &SortedQuantiles| -> Vec<f64> {
        let cdf = s.cdf(&edges).unwrap_or_default();
        cdf.windows(2).map(|w| (w[1] - w[0]).max(0.0)).collect()
    };
    Histogram {
        baseline: binned(b),
        current: binned(c),
        edges,
        labels: Vec::new(),
    }
}

/// Categorical comparison over frequent items plus an "other" bucket.
fn categorical(b: &CategoricalMetrics, c: &CategoricalMetrics, t: &Thresholds) -> FeatureDrift {
    let (bn, cn) = (b.frequent.total(), c.frequent.total());
    let mut out = insufficient(bn, cn);
    if bn == 0 || cn == 0 {
        return out;
    }
    let bi: HashMap<String, u64> = b
        .frequent
        .items()
        .into_iter()
        .map(|r| (r.value, r.estimate))
        .collect();
    let ci: HashMap<String, u64> = c
        .frequent
        .items()
        .into_iter()
        .map(|r| (r.value, r.estimate))
        .collect();
    let mut labels: Vec<String> = bi.keys().chain(ci.keys()).cloned().collect();
    labels.sort();
    labels.dedup();
    // Most frequent first (baseline, then current), for the plot and the table.
    labels.sort_by_key(|l| {
        std::cmp::Reverse(bi.get(l).copied().unwrap_or(0) + ci.get(l).copied().unwrap_or(0))
    });
    let counts = |m: &HashMap<String, u64>, total: u64| -> Vec<f64> {
        let mut v: Vec<f64> = labels
            .iter()
            .map(|l| m.get(l).copied().unwrap_or(0) as f64)
            .collect();
        let listed: f64 = v.iter().sum();
        v.push((total as f64 - listed).max(0.0));
        v
    };
    let (kb, kc) = (counts(&bi, bn), counts(&ci, cn));
    // Chi-squared test of homogeneity over the non-empty columns.
    let (nb, nc) = (bn as f64, cn as f64);
    let n = nb + nc;
    let mut chi2 = 0.0;
    let mut cols = 0usize;
    for (&x, &y) in kb.iter().zip(&kc) {
        let col = x + y;
        if col <= 0.0 {
            continue;
        }
        cols += 1;
        let (eb, ec) = (nb * col / n, nc * col / n);
        chi2 += (x - eb).powi(2) / eb + (y - ec).powi(2) / ec;
    }
    let df = cols.saturating_sub(1).max(1) as f64;
    let p = if cols < 2 { 1.0 } else { chi2_sf(chi2, df) };
    let (pb, pc) = (normalize(&kb), normalize(&kc));
    let js = js_distance(&pb, &pc);
    out.measures = [
        ("chi2", chi2),
        ("chi2_p_value", p),
        ("js", js),
        ("psi", psi(&pb, &pc)),
        ("hellinger", hellinger(&pb, &pc)),
    ]
    .iter()
    .map(|&(k, v)| (k.to_owned(), v))
    .collect();
    out.effect_size = Some(js);
    out.new_categories = labels
        .iter()
        .filter(|l| !bi.contains_key(*l) && b.frequent.maximum_error() == 0)
        .cloned()
        .collect();
    out.gone_categories = labels
        .iter()
        .filter(|l| !ci.contains_key(*l) && c.frequent.maximum_error() == 0)
        .cloned()
        .collect();
    if bn.min(cn) < t.small_sample_max {
        out.method = Method::Chi2;
        out.statistic = Some(chi2);
        out.threshold = Some(t.alpha);
        out.p_value = Some(p);
        out.verdict = grade_p_value(p, t.alpha);
    } else {
        out.method = Method::JensenShannon;
        out.statistic = Some(js);
        out.threshold = Some(t.js_drift);
        out.verdict = grade(js, t.js_warn, t.js_drift);
    }
    let mut hist_labels = labels.clone();
    hist_labels.push("(other)".into());
    out.histogram = Histogram {
        edges: Vec::new(),
        labels: hist_labels,
        baseline: pb,
        current: pc,
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_of_identical_and_disjoint_shares() {
        let a = [0.5, 0.5, 0.0];
        let b = [0.0, 0.0, 1.0];
        assert_eq!(js_distance(&a, &a), 0.0);
        assert!((js_distance(&a, &b) - 1.0).abs() < 1e-12);
        assert!((hellinger(&a, &b) - 1.0).abs() < 1e-12);
        assert!(psi(&a, &a).abs() < 1e-12);
        assert!(psi(&a, &b) > 10.0);
    }
}
