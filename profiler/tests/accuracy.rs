//! Quantile accuracy against exact computation: rank error ≤ 1 % at default settings.

mod common;

use common::{Rng, max_rank_error, wine_columns};
use sextant::{DatasetProfile, FeatureKind, FeatureProfile, Schema, Window};

fn check(name: &str, data: &[f64]) {
    let mut f = FeatureProfile::new(FeatureKind::Numeric);
    f.record_f64_slice(data);
    let sextant::feature::Metrics::Numeric(m) = f.metrics() else {
        unreachable!()
    };
    let d = &m.distribution;
    let mut sorted = data.to_vec();
    sorted.sort_by(f64::total_cmp);
    let err = max_rank_error(&sorted, |q| d.quantile(q).unwrap());
    assert!(err <= 0.01, "{name}: rank error {err}");
    assert_eq!(d.min(), sorted.first().copied(), "{name}: min");
    assert_eq!(d.max(), sorted.last().copied(), "{name}: max");
    assert_eq!(d.count(), data.len() as u64);
}

#[test]
fn every_wine_column() {
    for file in ["winequality-red.csv", "winequality-white.csv"] {
        let (names, cols) = wine_columns(file);
        for (name, col) in names.iter().zip(&cols) {
            check(&format!("{file}:{name}"), col);
        }
    }
}

#[test]
fn location_far_above_scale() {
    let mut r = Rng::new(1);
    let data: Vec<f64> = (0..200_000).map(|_| 1000.0 + 1e-3 * r.normal()).collect();
    check("1000 + N(0, 1e-3)", &data);
}

#[test]
fn lognormal_heavy_tail() {
    let mut r = Rng::new(2);
    let data: Vec<f64> = (0..200_000).map(|_| (2.0 * r.normal()).exp()).collect();
    check("lognormal(0, 2)", &data);
}

#[test]
fn integers_with_heavy_ties_negative_and_constant() {
    let mut r = Rng::new(3);
    let ties: Vec<f64> = (0..200_000).map(|_| (r.next_u64() % 7) as f64).collect();
    check("integers 0..7", &ties);
    let neg: Vec<f64> = (0..100_000).map(|_| -1.0 - r.uniform() * 50.0).collect();
    check("all negative", &neg);
    check("constant", &vec![4.25; 50_000]);
}

#[test]
fn sizes_from_ten_up() {
    let mut r = Rng::new(4);
    // 10^7 takes a while unoptimized; `cargo test --release -- --ignored` covers it.
    for n in [10usize, 100, 1_000, 10_000, 100_000, 1_000_000] {
        let data: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        check(&format!("N(0,1) n={n}"), &data);
    }
}

#[test]
#[ignore = "10^7 values: run with --release -- --ignored"]
fn ten_million() {
    let mut r = Rng::new(5);
    let data: Vec<f64> = (0..10_000_000).map(|_| r.normal()).collect();
    check("N(0,1) n=10^7", &data);
}

#[test]
fn profiles_of_partitions_merge_to_the_profile_of_the_whole() {
    let (names, cols) = wine_columns("winequality-red.csv");
    let mut schema = Schema::new();
    names
        .iter()
        .for_each(|n| schema.push(n.clone(), FeatureKind::Numeric));
    let whole = {
        let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        p.record_f64_columns(&refs);
        p.view()
    };
    let mut parts = Vec::new();
    for (lo, hi) in [(0, 400), (400, 401), (401, 1599)] {
        let mut p = DatasetProfile::new(&schema, Window::new(lo as i64, hi as i64));
        let refs: Vec<&[f64]> = cols.iter().map(|c| &c[lo..hi]).collect();
        p.record_f64_columns(&refs);
        parts.push(p.view());
    }
    let merged = sextant::ProfileView::merge_all(parts.iter().rev()).unwrap();
    assert_eq!(merged.rows(), whole.rows());
    for ((name, a), (_, b)) in merged.features().zip(whole.features()) {
        use sextant::feature::Metrics::Numeric;
        let (Numeric(ma), Numeric(mb)) = (a.metrics(), b.metrics()) else {
            unreachable!()
        };
        let (da, db) = (&ma.distribution, &mb.distribution);
        assert_eq!(a.counts(), b.counts(), "{name}");
        assert_eq!((da.min(), da.max()), (db.min(), db.max()), "{name}");
        let rel = |x: f64, y: f64| (x - y).abs() / y.abs().max(1e-300);
        assert!(rel(da.mean().unwrap(), db.mean().unwrap()) < 1e-9, "{name}");
        assert!(
            rel(da.stddev().unwrap(), db.stddev().unwrap()) < 1e-9,
            "{name}"
        );
        let mut sorted = cols[names.iter().position(|n| n == name).unwrap()].clone();
        sorted.sort_by(f64::total_cmp);
        assert!(max_rank_error(&sorted, |q| da.quantile(q).unwrap()) <= 0.01);
    }
}
