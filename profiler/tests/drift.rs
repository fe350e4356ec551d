//! Drift decisions that hold up: false alarms and power over many independent trials,
//! and sketch statistics against exact computation on the raw data.
//!
//! The trial counts here keep `cargo test` quick; `cargo test --release -p sextant
//! --test drift -- --ignored` runs the full sizes (10^6, 10^7) and more trials.

mod common;

use common::{Rng, wine_columns};
use sextant::drift::{DriftConfig, compare};
use sextant::{DatasetProfile, FeatureKind, ProfileView, Schema, Window};

fn profile(xs: &[f64]) -> ProfileView {
    let schema = Schema::new().with("x", FeatureKind::Numeric);
    let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
    p.record_f64_columns(&[xs]);
    p.view()
}

fn normal(r: &mut Rng, n: usize, shift: f64) -> Vec<f64> {
    (0..n).map(|_| r.normal() + shift).collect()
}

/// How many of `trials` comparisons of N(0,1) against N(shift,1), n each, drift.
fn flagged(n: usize, shift: f64, trials: u64, seed: u64) -> u64 {
    (0..trials)
        .filter(|t| {
            let mut r = Rng::new(seed * 1_000 + t);
            let (a, b) = (normal(&mut r, n, 0.0), normal(&mut r, n, shift));
            compare(&profile(&a), &profile(&b), &DriftConfig::default()).drift
        })
        .count() as u64
}

#[test]
fn identical_distributions_rarely_alarm() {
    // At most 5 % of trials; with 20 trials that is 1.
    for (n, trials) in [(1_000, 20), (10_000, 20), (100_000, 6)] {
        let alarms = flagged(n, 0.0, trials, n as u64);
        assert!(
            alarms * 20 <= trials,
            "n={n}: {alarms} of {trials} false alarms"
        );
    }
}

#[test]
fn small_shifts_are_caught() {
    // 0.3σ at n = 1,000 and 0.2σ at n ≥ 100,000, in at least 95 % of trials.
    let caught = flagged(1_000, 0.3, 20, 7);
    assert!(caught >= 19, "0.3σ at n=1000: {caught} of 20");
    let caught = flagged(100_000, 0.2, 6, 8);
    assert_eq!(caught, 6, "0.2σ at n=100000");
}

#[test]
#[ignore = "large samples: run with --release -- --ignored"]
fn large_samples_full_run() {
    for (n, trials) in [
        (1_000usize, 200u64),
        (100_000, 40),
        (1_000_000, 20),
        (10_000_000, 10),
    ] {
        let alarms = flagged(n, 0.0, trials, 100 + n as u64);
        assert!(
            alarms * 20 <= trials,
            "n={n}: {alarms} of {trials} false alarms"
        );
    }
    assert!(flagged(1_000, 0.3, 200, 9) >= 190);
    for n in [100_000usize, 1_000_000, 10_000_000] {
        let t = 10;
        assert!(
            flagged(n, 0.2, t, 10 + n as u64) * 100 >= 95 * t,
            "0.2σ at {n}"
        );
    }
}

/// Exact two-sample KS statistic on raw data.
fn exact_ks(a: &[f64], b: &[f64]) -> f64 {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let mut d: f64 = 0.0;
    for &x in a.iter().chain(&b) {
        let fa = a.partition_point(|&v| v <= x) as f64 / a.len() as f64;
        let fb = b.partition_point(|&v| v <= x) as f64 / b.len() as f64;
        d = d.max((fa - fb).abs());
    }
    d
}

/// Exact bin shares of raw data for the given inner edges (bins `(-∞, e0]`, ...).
fn exact_shares(xs: &[f64], edges: &[f64]) -> Vec<f64> {
    let mut counts = vec![0.0; edges.len() + 1];
    for &x in xs {
        counts[edges.partition_point(|&e| e < x)] += 1.0;
    }
    counts.iter().map(|c| c / xs.len() as f64).collect()
}

fn exact_psi(b: &[f64], c: &[f64]) -> f64 {
    let fl = |p: &[f64]| -> Vec<f64> {
        let v: Vec<f64> = p.iter().map(|x| x.max(1e-4)).collect();
        let t: f64 = v.iter().sum();
        v.into_iter().map(|x| x / t).collect()
    };
    let (b, c) = (fl(b), fl(c));
    b.iter().zip(&c).map(|(p, q)| (q - p) * (q / p).ln()).sum()
}

fn exact_js(b: &[f64], c: &[f64]) -> f64 {
    let m: Vec<f64> = b.iter().zip(c).map(|(x, y)| 0.5 * (x + y)).collect();
    let kl = |p: &[f64]| -> f64 {
        p.iter()
            .zip(&m)
            .filter(|(x, _)| **x > 0.0)
            .map(|(x, y)| x * (x / y).log2())
            .sum()
    };
    (0.5 * kl(b) + 0.5 * kl(c)).sqrt()
}

#[test]
fn sketch_statistics_match_exact_ones_on_wine_and_synthetic_data() {
    let (names, red) = wine_columns("winequality-red.csv");
    let (_, white) = wine_columns("winequality-white.csv");
    let mut r = Rng::new(42);
    let mut pairs: Vec<(String, Vec<f64>, Vec<f64>)> = names
        .iter()
        .zip(red.iter().zip(&white))
        .map(|(n, (a, b))| (n.clone(), a.clone(), b.clone()))
        .collect();
    pairs.push((
        "normal shift".into(),
        normal(&mut r, 50_000, 0.0),
        normal(&mut r, 50_000, 0.25),
    ));
    pairs.push((
        "lognormal".into(),
        normal(&mut r, 20_000, 0.0)
            .iter()
            .map(|x| x.exp())
            .collect(),
        normal(&mut r, 30_000, 0.1)
            .iter()
            .map(|x| x.exp())
            .collect(),
    ));
    for (name, a, b) in pairs {
        let report = compare(&profile(&a), &profile(&b), &DriftConfig::default());
        let f = report.feature("x").unwrap();
        let ks = f.measures["ks"];
        let exact = exact_ks(&a, &b);
        assert!(
            (ks - exact).abs() <= 0.02,
            "{name}: ks {ks} vs exact {exact}"
        );
        // PSI with the same bins (the baseline sketch's deciles), exact shares.
        let bp = profile(&a);
        let sextant::feature::Metrics::Numeric(m) = bp.feature("x").unwrap().metrics() else {
            unreachable!()
        };
        let mut edges: Vec<f64> = (1..10)
            .filter_map(|i| m.distribution.quantile(i as f64 / 10.0))
            .collect();
        edges.dedup();
        let (sa, sb) = (exact_shares(&a, &edges), exact_shares(&b, &edges));
        let psi = exact_psi(&sa, &sb);
        let js = exact_js(&sa, &sb);
        assert!(
            (f.measures["js"] - js).abs() <= 0.02,
            "{name}: js {} vs exact {js}",
            f.measures["js"]
        );
        // PSI's logarithm magnifies the sketch's rank error in nearly empty bins, so
        // where PSI is far past any threshold (> 0.5) only its relative value is held.
        let tolerance = if psi <= 0.5 { 0.02 } else { 0.2 * psi };
        assert!(
            (f.measures["psi"] - psi).abs() <= tolerance,
            "{name}: psi {} vs exact {psi}",
            f.measures["psi"]
        );
    }
}
