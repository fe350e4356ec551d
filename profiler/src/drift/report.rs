//! The drift report as one self-contained HTML page: inline CSS and SVG, no scripts,
//! nothing fetched from the network. The CLI writes it, the server serves it and Python
//! shows it in notebooks.

use super::{DriftReport, FeatureDrift, Histogram, Verdict};
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn num(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(0.0) => "0".into(),
        Some(v) if v.abs() < 1e-3 || v.abs() >= 1e5 => format!("{v:.3e}"),
        Some(v) => format!("{v:.4}"),
    }
}

fn color(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "#2e7d32",
        Verdict::Warn => "#ef6c00",
        Verdict::Drift => "#c62828",
    }
}

/// Baseline (blue, filled) and current (orange, outlined) shares as an SVG chart.
fn chart(h: &Histogram) -> String {
    let n = h.baseline.len().min(h.current.len());
    if n == 0 {
        return "<p class=\"muted\">no data to plot</p>".into();
    }
    let (w, ht, pad) = (560.0, 180.0, 28.0);
    let top = h
        .baseline
        .iter()
        .chain(&h.current)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let bw = (w - 2.0 * pad) / n as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {}\" width=\"{w}\" height=\"{}\" role=\"img\">",
        ht + 40.0,
        ht + 40.0
    );
    let _ = write!(
        svg,
        "<line x1=\"{pad}\" y1=\"{ht}\" x2=\"{}\" y2=\"{ht}\" stroke=\"#999\"/>",
        w - pad
    );
    for i in 0..n {
        let x = pad + i as f64 * bw;
        let hb = h.baseline[i] / top * (ht - 10.0);
        let hc = h.current[i] / top * (ht - 10.0);
        let _ = write!(
            svg,
            "<rect class=\"baseline\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hb:.1}\" fill=\"#1f77b4\" fill-opacity=\"0.45\"><title>baseline {:.2}%</title></rect>",
            ht - hb,
            (bw - 1.0).max(0.5),
            h.baseline[i] * 100.0
        );
        let _ = write!(
            svg,
            "<rect class=\"current\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{hc:.1}\" fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\"><title>current {:.2}%</title></rect>",
            ht - hc,
            (bw - 1.0).max(0.5),
            h.current[i] * 100.0
        );
    }
    // Axis labels: numeric edges at both ends and the middle, or category names.
    if h.labels.is_empty() && h.edges.len() == n + 1 {
        for (i, anchor) in [(0, "start"), (n / 2, "middle"), (n, "end")] {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"{anchor}\">{}</text>",
                pad + i as f64 * bw,
                ht + 14.0,
                esc(&num(Some(h.edges[i])))
            );
        }
    } else {
        for (i, l) in h.labels.iter().take(n).enumerate() {
            let short: String = l.chars().take(12).collect();
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                pad + (i as f64 + 0.5) * bw,
                ht + 14.0,
                esc(&short)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

fn feature_row(name: &str, f: &FeatureDrift) -> String {
    format!(
        "<tr><td><a href=\"#f-{id}\">{name}</a></td><td>{kind}</td><td style=\"color:{c};font-weight:600\">{v}</td><td>{m}</td><td>{s}</td><td>{t}</td><td>{p}</td><td>{e}</td><td>{bn}</td><td>{cn}</td></tr>",
        id = esc(name),
        name = esc(name),
        kind = f.kind,
        c = color(f.verdict),
        v = f.verdict.name(),
        m = f.method.name(),
        s = num(f.statistic),
        t = num(f.threshold),
        p = num(f.p_value),
        e = num(f.effect_size),
        bn = f.baseline_n,
        cn = f.current_n,
    )
}

/// Renders a drift report as a self-contained HTML page.
///
/// ```
/// use sextant::drift::{compare, render_html, DriftConfig};
/// use sextant::ProfileView;
/// let report = compare(&ProfileView::empty(), &ProfileView::empty(), &DriftConfig::default());
/// let html = render_html(&report, "baseline", "current");
/// assert!(html.starts_with("<!DOCTYPE html>"));
/// assert!(!html.contains("<script"));
/// ```
pub fn render_html(report: &DriftReport, baseline_label: &str, current_label: &str) -> String {
    let mut h = String::with_capacity(16 * 1024);
    h.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>sextant drift report</title><style>");
    h.push_str("body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:1100px}table{border-collapse:collapse;width:100%;font-size:14px}th,td{padding:4px 8px;border-bottom:1px solid #ddd;text-align:right}th:first-child,td:first-child,td:nth-child(2),td:nth-child(3),td:nth-child(4){text-align:left}.muted{color:#777}.feature{margin-top:2rem}.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}h1{font-size:1.5rem}h2{font-size:1.15rem}code{background:#f4f4f4;padding:1px 4px}");
    h.push_str("</style></head><body>");
    let _ = write!(
        h,
        "<h1>Drift report</h1><p class=\"summary\" style=\"font-size:1.1rem\"><strong style=\"color:{}\">{}</strong>: {} of {} features drifted ({:.0}%). Baseline <code>{}</code> ({} rows) against current <code>{}</code> ({} rows).</p>",
        color(report.verdict),
        match report.verdict {
            Verdict::Drift => "Dataset drift",
            Verdict::Warn => "Some features changed",
            Verdict::Ok => "No drift",
        },
        report.features.iter().filter(|(_, f)| f.drift).count(),
        report.features_compared,
        report.drifted_share * 100.0,
        esc(baseline_label),
        report.baseline_rows,
        esc(current_label),
        report.current_rows
    );
    h.push_str("<table><thead><tr><th>feature</th><th>kind</th><th>verdict</th><th>method</th><th>statistic</th><th>threshold</th><th>p-value</th><th>effect size</th><th>baseline n</th><th>current n</th></tr></thead><tbody>");
    for (name, f) in &report.features {
        h.push_str(&feature_row(name, f));
    }
    h.push_str("</tbody></table>");
    if !report.unmatched.is_empty() {
        let names: Vec<String> = report.unmatched.iter().map(|n| esc(n)).collect();
        let _ = write!(
            h,
            "<p class=\"muted\">Not compared (in one profile only, or of different kinds): {}</p>",
            names.join(", ")
        );
    }
    h.push_str("<p class=\"legend muted\"><span style=\"background:#1f77b4;opacity:.45\"></span>baseline<span style=\"border:2px solid #ff7f0e\"></span>current</p>");
    for (name, f) in &report.features {
        let _ = write!(
            h,
            "<section class=\"feature\" id=\"f-{}\"><h2>{} <small style=\"color:{}\">{}</small></h2>",
            esc(name),
            esc(name),
            color(f.verdict),
            f.verdict.name()
        );
        if let Some(driver) = &f.driver {
            let _ = write!(
                h,
                "<p class=\"muted\">verdict from its <code>{}</code> distribution</p>",
                esc(driver)
            );
        }
        h.push_str(&chart(&f.histogram));
        let measures: Vec<String> = f
            .measures
            .iter()
            .map(|(k, v)| format!("{} = {}", esc(k), num(Some(*v))))
            .collect();
        let _ = write!(h, "<p class=\"muted\">{}</p>", measures.join(" · "));
        if !f.new_categories.is_empty() {
            let v: Vec<String> = f.new_categories.iter().map(|s| esc(s)).collect();
            let _ = write!(h, "<p>New categories: {}</p>", v.join(", "));
        }
        if !f.gone_categories.is_empty() {
            let v: Vec<String> = f.gone_categories.iter().map(|s| esc(s)).collect();
            let _ = write!(h, "<p>Categories gone: {}</p>", v.join(", "));
        }
        h.push_str("</section>");
    }
    h.push_str("<p class=\"muted\">Generated by sextant. Small samples: sketch-error-aware KS / chi-squared p-values; large samples: effect sizes (Wasserstein-1 / σ, Jensen–Shannon).</p></body></html>");
    h
}
