//! Recording into and merging the per-feature counters.

use criterion::{Criterion, criterion_group, criterion_main};
use sextant::Counts;
use std::hint::black_box;

fn counts(c: &mut Criterion) {
    let column = &sextant_benches::normal_columns(10_000, 1, 1)[0];
    c.bench_function("counts/record_f64 10k", |b| {
        b.iter(|| {
            let mut counts = Counts::new();
            for &x in column {
                counts.record_f64(black_box(x));
            }
            counts
        })
    });
    let parts: Vec<Counts> = (0..1000)
        .map(|i| {
            let mut c = Counts::new();
            c.record_f64(i as f64);
            c
        })
        .collect();
    c.bench_function("counts/merge 1000", |b| {
        b.iter(|| {
            let mut total = Counts::new();
            for p in &parts {
                total.merge(black_box(p));
            }
            total
        })
    });
}

criterion_group!(benches, counts);
criterion_main!(benches);
