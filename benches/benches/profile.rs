//! The engine's figures for the Engine issue: one row into the live window, a million
//! rows as column slices, merging a thousand views, serialized size, and comparing two
//! 11-feature profiles for drift (the server does it on every scrape). Two threads
//! against one are measured in pairs by the `threads` bench.
//!
//! Inputs are built outside the timed closures. Sizes are printed once per run (they
//! are not timings) and recorded in `benches/RESULTS.md`.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sextant::drift::{DriftConfig, compare};
use sextant::recorder::{Recorder, RecorderConfig};
use sextant::{DatasetProfile, ProfileView, Window};
use sextant_benches::{normal_columns, numeric_schema, rows_of, thread_cpu_ns};
use std::hint::black_box;
use std::time::Duration;

fn one_row(c: &mut Criterion) {
    let cols = normal_columns(4096, 11, 1);
    let rows = rows_of(&cols);
    let recorder = Recorder::new(numeric_schema(11), RecorderConfig::default(), None);
    // Warm the window so the timed path is the steady state, not its first allocation.
    rows.iter().for_each(|r| recorder.record_row(r));
    let mut i = 0;
    c.bench_function("record_row/11 numeric features, live window", |b| {
        b.iter(|| {
            recorder.record_row(black_box(&rows[i & 4095]));
            i += 1;
        })
    });
}

fn columns(c: &mut Criterion) {
    let cols = normal_columns(1_000_000, 11, 2);
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let schema = numeric_schema(11);
    let work = || {
        let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
        p.record_f64_columns(black_box(&refs));
        p
    };
    let mut g = c.benchmark_group("columns");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("1M x 11 f64 column slices", |b| b.iter(work));
    g.finish();
    // The same work in the thread's CPU time, which leaves out what the host of a shared
    // virtual machine takes away (see `ThreadCpu`).
    let mut cpu = Criterion::default()
        .with_measurement(ThreadCpu(WallTime))
        .configure_from_args();
    let mut g = cpu.benchmark_group("columns, CPU time");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("1M x 11 f64 column slices", |b| b.iter(work));
    g.finish();
    let bytes = work().view().to_bytes().unwrap();
    eprintln!("serialized 1M x 11 profile: {} bytes", bytes.len());
}

/// The bench thread's CPU time ([`thread_cpu_ns`]) as criterion's measurement, shown in
/// the units of wall time (whose formatter it borrows). Only for work that runs on the
/// bench's own thread.
struct ThreadCpu(WallTime);

impl Measurement for ThreadCpu {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }

    fn end(&self, start: u64) -> u64 {
        self.start() - start
    }

    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }

    fn zero(&self) -> u64 {
        0
    }

    fn to_f64(&self, ns: &u64) -> f64 {
        *ns as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

fn merge(c: &mut Criterion) {
    let schema = numeric_schema(11);
    let views: Vec<ProfileView> = (0..1000)
        .map(|i| {
            let cols = normal_columns(1000, 11, 100 + i);
            let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
            let mut p = DatasetProfile::new(&schema, Window::new(i as i64, i as i64 + 1));
            p.record_f64_columns(&refs);
            p.view()
        })
        .collect();
    let mut g = c.benchmark_group("merge");
    g.sample_size(10);
    g.bench_function("1000 views of 11 features", |b| {
        b.iter_batched(
            || views.clone(),
            |views| ProfileView::merge_all(black_box(&views)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn drift(c: &mut Criterion) {
    let schema = numeric_schema(11);
    let view = |seed: u64, shift: f64| {
        let mut cols = normal_columns(100_000, 11, seed);
        cols.iter_mut().flatten().for_each(|x| *x += shift);
        let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
        let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
        p.record_f64_columns(&refs);
        p.view()
    };
    let (baseline, current) = (view(7, 0.0), view(8, 0.1));
    let config = DriftConfig::default();
    c.bench_function("drift/compare 11 numeric features (100k rows each)", |b| {
        b.iter(|| compare(black_box(&baseline), black_box(&current), &config))
    });
}

criterion_group!(benches, one_row, columns, merge, drift);
criterion_main!(benches);
