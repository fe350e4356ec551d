//! The served model's evaluator: one prediction of the embedded wine model (50 trees),
//! on the red-wine rows of `../shared/data`, so branches go every way real traffic sends
//! them.

use criterion::{Criterion, criterion_group, criterion_main};
use sextant_server::model::Model;
use std::hint::black_box;

/// Up to `n` red-wine rows: the CSV's first columns are the model's features, in order.
fn wine_rows(model: &Model, n: usize) -> Vec<Vec<f64>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/winequality-red.csv"
    );
    let text = std::fs::read_to_string(path).expect("../shared/data/winequality-red.csv");
    text.lines()
        .skip(1)
        .take(n)
        .map(|line| {
            line.split(';')
                .take(model.n_features())
                .map(|c| c.parse().expect("a number"))
                .collect()
        })
        .collect()
}

fn predict(c: &mut Criterion) {
    let model = Model::embedded().expect("the embedded model loads");
    let rows = wine_rows(model, 256);
    assert!(!rows.is_empty(), "no wine rows read");
    let mut i = 0;
    c.bench_function("model/predict one wine row", |b| {
        b.iter(|| {
            i = (i + 1) % rows.len();
            model.predict(black_box(&rows[i]))
        })
    });
}

criterion_group!(benches, predict);
criterion_main!(benches);
