//! Merge laws of dataset profiles: associative, commutative, empty is identity —
//! compared through their summaries and their bytes.

mod common;

use common::Rng;
use proptest::prelude::*;
use sextant::summary::ProfileSummary;
use sextant::{DatasetProfile, FeatureKind, ProfileView, Schema, Value, Window};

fn schema() -> Schema {
    Schema::new()
        .with("x", FeatureKind::Numeric)
        .with("n", FeatureKind::Integral)
        .with("c", FeatureKind::Categorical)
        .with("t", FeatureKind::Text { keep_raw: false })
}

fn view_of(rows: &[(f64, i64, u8, bool)], start: i64) -> ProfileView {
    let mut p = DatasetProfile::new(&schema(), Window::new(start, start + 10));
    let cats = ["red", "white", "rosé", ""];
    for &(x, n, c, missing) in rows {
        let text = format!("Note {n}: {}", cats[c as usize % 4]);
        p.record_row(&[
            if missing {
                Value::Missing
            } else {
                Value::Float(x)
            },
            Value::Int(n),
            Value::Str(cats[c as usize % 4]),
            Value::Str(&text),
        ]);
    }
    p.view()
}

/// A summary with means and standard deviations rounded to 1e-9 relative (they are
/// exact up to floating-point rounding, which depends on the order of merging).
/// Quantiles are exact here too: fewer rows than the sketch holds.
fn exact_json(v: &ProfileView) -> serde_json::Value {
    let mut json = serde_json::to_value(ProfileSummary::of(v)).unwrap();
    round_moments(&mut json);
    json
}

fn round_moments(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value.as_f64() {
                    Some(x) if (key == "mean" || key == "stddev") && x != 0.0 => {
                        let scale = 10f64.powi(9 - x.abs().max(1.0).log10().ceil() as i32);
                        *value = serde_json::json!((x * scale).round() / scale);
                    }
                    _ => round_moments(value),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(round_moments),
        _ => {}
    }
}

fn rows() -> impl Strategy<Value = Vec<(f64, i64, u8, bool)>> {
    prop::collection::vec(
        (-1e3f64..1e3, -5i64..5, 0u8..4, prop::bool::weighted(0.1)),
        0..60,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn associative_commutative_with_identity(a in rows(), b in rows(), c in rows()) {
        let (va, vb, vc) = (view_of(&a, 0), view_of(&b, 10), view_of(&c, 20));
        let left = va.merge(&vb).unwrap().merge(&vc).unwrap();
        let right = va.merge(&vb.merge(&vc).unwrap()).unwrap();
        prop_assert_eq!(exact_json(&left), exact_json(&right));
        let ab = va.merge(&vb).unwrap();
        let ba = vb.merge(&va).unwrap();
        prop_assert_eq!(exact_json(&ab), exact_json(&ba));
        let id = va.merge(&ProfileView::empty()).unwrap();
        prop_assert_eq!(exact_json(&id), exact_json(&va));
        let id = ProfileView::empty().merge(&va).unwrap();
        prop_assert_eq!(exact_json(&id), exact_json(&va));
        // Partition then merge equals the whole.
        let all: Vec<_> = a.iter().chain(&b).chain(&c).copied().collect();
        let whole = view_of(&all, 0);
        let mut w = exact_json(&whole);
        let mut l = exact_json(&left);
        w["window_end"] = serde_json::Value::Null;
        l["window_end"] = serde_json::Value::Null;
        prop_assert_eq!(l, w);
    }

    #[test]
    fn bytes_round_trip(a in rows()) {
        let v = view_of(&a, 5);
        let bytes = v.to_bytes().unwrap();
        let back = ProfileView::from_bytes(&bytes).unwrap();
        prop_assert_eq!(exact_json(&back), exact_json(&v));
        // Writing what was read and reading it again changes nothing.
        let again = ProfileView::from_bytes(&back.to_bytes().unwrap()).unwrap();
        prop_assert_eq!(exact_json(&again), exact_json(&v));
    }
}

#[test]
fn kinds_that_differ_refuse_to_merge_and_say_which_feature() {
    let a = DatasetProfile::new(
        &Schema::new().with("f", FeatureKind::Numeric),
        Window::new(0, 1),
    );
    let b = DatasetProfile::new(
        &Schema::new().with("f", FeatureKind::Categorical),
        Window::new(0, 1),
    );
    let err = a.view().merge(&b.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot merge feature `f`: feature kinds differ: numeric and categorical"
    );
}

#[test]
fn merge_all_equals_merging_one_by_one() {
    // 200 views of 4 features: 800 feature merges, enough for merge_all to share the
    // features out between threads. Features appear late and in other orders.
    let mut rng = Rng::new(0x5eed);
    let mut next = || rng.next_u64() >> 33;
    let views: Vec<ProfileView> = (0..200)
        .map(|i| {
            let rows: Vec<_> = (0..30)
                .map(|_| {
                    let x = next() as f64 / 1e5 - 1e4;
                    (x, next() as i64 % 7, (next() % 4) as u8, next() % 10 == 0)
                })
                .collect();
            let mut schema = Schema::new();
            if i % 3 != 0 {
                schema = schema.with("x", FeatureKind::Numeric);
            }
            schema = schema.with("n", FeatureKind::Integral);
            if i >= 50 {
                schema = schema.with(format!("late {}", i % 2), FeatureKind::Numeric);
            }
            let mut p = DatasetProfile::new(&schema, Window::new(i, i + 1));
            let xs: Vec<f64> = rows.iter().map(|r| r.0).collect();
            let ns: Vec<f64> = rows.iter().map(|r| r.1 as f64).collect();
            let mut columns: Vec<&[f64]> = Vec::new();
            if i % 3 != 0 {
                columns.push(&xs);
            }
            columns.push(&ns);
            if i >= 50 {
                columns.push(&xs);
            }
            p.record_f64_columns(&columns);
            p.view()
        })
        .collect();
    let one_by_one = views
        .iter()
        .fold(ProfileView::empty(), |acc, v| acc.merge(v).unwrap());
    let all = ProfileView::merge_all(&views).unwrap();
    assert_eq!(all.to_bytes().unwrap(), one_by_one.to_bytes().unwrap());
    assert_eq!(all.rows(), 200 * 30);

    // A kind that differs: the same error as one by one.
    let odd = DatasetProfile::new(
        &Schema::new().with("n", FeatureKind::Categorical),
        Window::new(0, 1),
    )
    .view();
    let mut with_odd = views.clone();
    with_odd.insert(120, odd);
    let err = ProfileView::merge_all(&with_odd).unwrap_err();
    let fold_err = with_odd
        .iter()
        .try_fold(ProfileView::empty(), |acc, v| acc.merge(v))
        .unwrap_err();
    assert_eq!(err, fold_err);
    assert_eq!(
        err.to_string(),
        "cannot merge feature `n`: feature kinds differ: integral and categorical"
    );
}

#[test]
fn rows_held_back_are_all_recorded() {
    // Rows of floats are held back and recorded together; mixed with every other way of
    // recording, and viewed half-way, the profile is the one recorded value by value.
    let schema = Schema::new()
        .with("a", FeatureKind::Numeric)
        .with("b", FeatureKind::Numeric)
        .with("q", FeatureKind::Numeric);
    let mut held = DatasetProfile::new(&schema, Window::new(0, 10));
    let mut plain = DatasetProfile::new(&schema, Window::new(0, 10));
    let mut rng = Rng::new(7);
    for r in 0..150 {
        let row = [rng.normal(), rng.uniform() * 100.0, (r % 7) as f64];
        let mut plain_row = row.map(Value::Float);
        if r % 50 == 49 {
            // A missing value (not a row of floats), then a stray value of one feature.
            plain_row[1] = Value::Missing;
            held.record_row(&plain_row);
            held.record_at(1, Value::Float(f64::NAN));
        } else if r % 2 == 0 {
            held.record_f64_row(row);
        } else {
            held.record_row(&plain_row);
        }
        for (i, v) in plain_row.into_iter().enumerate() {
            plain.record_at(i, v);
        }
        plain.add_rows(1);
        if r % 50 == 49 {
            plain.record_at(1, Value::Float(f64::NAN));
        }
        if r == 100 {
            // A short row: the rest is missing.
            held.record_f64_row([row[0]]);
            plain.record_at(0, Value::Float(row[0]));
            plain.record_at(1, Value::Missing);
            plain.record_at(2, Value::Missing);
            plain.add_rows(1);
        }
        if r == 75 {
            assert_eq!(exact_json(&held.view()), exact_json(&plain.view()));
        }
    }
    assert_eq!(held.view().rows(), 151);
    assert_eq!(exact_json(&held.view()), exact_json(&plain.view()));
}

/// Rows of every kind but images: `rows` of them, `distinct` values per column.
fn record_mixed(p: &mut DatasetProfile, rows: usize, distinct: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    for r in 0..rows {
        let i = (rng.uniform() * distinct as f64) as usize;
        let label = format!("label {i}");
        let text = format!("Note {i}: {} words", r % 13);
        p.record_row(&[
            Value::Float(rng.normal() * 10.0 + i as f64),
            Value::Int(i as i64),
            Value::Str(&label),
            Value::Str(&text),
            Value::Float(rng.uniform() * 1e3),
        ]);
    }
}

#[test]
fn a_reset_profile_records_as_a_new_one() {
    // A recorder's next window starts in the closed window's profile, emptied: what it
    // then records must be what a new profile would, byte for byte — after windows whose
    // sketches grew levels and turned dense, and after ones that stayed small.
    let schema = schema().with("m", FeatureKind::Magnitude);
    let window = Window::new(10, 20);
    for (first_rows, first_distinct) in [(200_000, 100_000), (50, 5), (0, 1)] {
        for (rows, distinct) in [(30_000, 20_000), (3_000, 7), (40, 40)] {
            let mut reused = DatasetProfile::new(&schema, Window::new(0, 10));
            reused.set_tag("model", "v1");
            record_mixed(&mut reused, first_rows, first_distinct, 1);
            reused.reset();
            reused.set_window(window);
            record_mixed(&mut reused, rows, distinct, 2);
            let mut fresh = DatasetProfile::new(&schema, window);
            fresh.set_tag("model", "v1");
            record_mixed(&mut fresh, rows, distinct, 2);
            assert_eq!(
                reused.view().to_bytes().unwrap(),
                fresh.view().to_bytes().unwrap(),
                "{first_rows} rows of {first_distinct} distinct, then {rows} of {distinct}"
            );
        }
    }
}
