//! Each sketch alone on one million normal values: where the time of a profile goes.

use criterion::{Criterion, criterion_group, criterion_main};
use sextant::hash::hash_f64;
use sextant::sketch::{Cardinality, Moments, Quantiles};
use std::hint::black_box;
use std::time::Duration;

fn sketches(c: &mut Criterion) {
    let xs = &sextant_benches::normal_columns(1_000_000, 1, 3)[0];
    let mut g = c.benchmark_group("sketch 1M values");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("moments (slice)", |b| {
        b.iter(|| {
            let mut m = Moments::new();
            m.update_slice(black_box(xs));
            m
        })
    });
    g.bench_function("kll update", |b| {
        b.iter(|| {
            let mut q = Quantiles::new();
            xs.iter().for_each(|&x| q.update(black_box(x)));
            q
        })
    });
    g.bench_function("kll update_slice", |b| {
        b.iter(|| {
            let mut q = Quantiles::new();
            q.update_slice(black_box(xs));
            q
        })
    });
    g.bench_function("kll update_slice, first 50k values", |b| {
        b.iter(|| {
            let mut q = Quantiles::new();
            q.update_slice(black_box(&xs[..50_000]));
            q
        })
    });
    g.bench_function("hll insert", |b| {
        b.iter(|| {
            let mut h = Cardinality::new();
            xs.iter()
                .for_each(|&x| h.insert_hash(hash_f64(black_box(x))));
            h
        })
    });
    g.bench_function("hll insert_f64s", |b| {
        b.iter(|| {
            let mut h = Cardinality::new();
            h.insert_f64s(black_box(xs));
            h
        })
    });
    g.finish();

    // Merging a thousand small sketches into one, as the Engine issue's merge of 1,000
    // views does for each feature.
    let parts: Vec<(Cardinality, Quantiles)> = (0..1000u64)
        .map(|i| {
            let xs = &sextant_benches::normal_columns(1000, 1, 100 + i)[0];
            let mut h = Cardinality::new();
            h.insert_f64s(xs);
            let mut q = Quantiles::new();
            q.update_slice(xs);
            (h, q.clone())
        })
        .collect();
    let mut g = c.benchmark_group("merge 1000 sketches of 1000 values");
    g.sample_size(20);
    g.bench_function("hll", |b| {
        b.iter(|| {
            let mut all = Cardinality::new();
            parts.iter().for_each(|(h, _)| all.merge(black_box(h)));
            all
        })
    });
    g.bench_function("kll", |b| {
        b.iter(|| {
            let mut all = Quantiles::new();
            parts.iter().for_each(|(_, q)| all.merge(black_box(q)));
            all
        })
    });
    g.finish();
}

criterion_group!(benches, sketches);
criterion_main!(benches);
