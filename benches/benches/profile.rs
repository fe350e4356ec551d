//! The engine's figures for the Engine issue: one row into the live window, a million
//! rows as column slices, merging a thousand views, serialized size, and comparing two
//! 11-feature profiles for drift (the server does it on every scrape).
//!
//! Inputs are built outside the timed closures. Sizes are printed once per run (they
//! are not timings) and recorded in `benches/RESULTS.md`.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sextant::drift::{DriftConfig, compare};
use sextant::recorder::{Recorder, RecorderConfig};
use sextant::{DatasetProfile, FeatureKind, ProfileView, Schema, Value, Window};
use sextant_benches::normal_columns;
use std::hint::black_box;
use std::time::Duration;

fn schema(n: usize) -> Schema {
    let mut s = Schema::new();
    (0..n).for_each(|i| s.push(format!("f{i}"), FeatureKind::Numeric));
    s
}

fn one_row(c: &mut Criterion) {
    let cols = normal_columns(4096, 11, 1);
    let rows: Vec<Vec<Value<'static>>> = (0..4096)
        .map(|r| cols.iter().map(|c| Value::Float(c[r])).collect())
        .collect();
    let recorder = Recorder::new(schema(11), RecorderConfig::default(), None);
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
    let schema = schema(11);
    let mut g = c.benchmark_group("columns");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("1M x 11 f64 column slices", |b| {
        b.iter(|| {
            let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
            p.record_f64_columns(black_box(&refs));
            p
        })
    });
    g.finish();
    let mut p = DatasetProfile::new(&schema, Window::new(0, 1));
    p.record_f64_columns(&refs);
    let bytes = p.view().to_bytes().unwrap();
    eprintln!("serialized 1M x 11 profile: {} bytes", bytes.len());
}

fn merge(c: &mut Criterion) {
    let schema = schema(11);
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
    let schema = schema(11);
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

/// Recorder throughput from one and from two threads (each records into its own shard):
/// the Engine issue asks for two threads to reach at least 1.8 times one thread's rows/s.
/// Two references read the ratio against what the host gives two threads.
fn threads(c: &mut Criterion) {
    const ROWS: usize = 100_000;
    let cols = normal_columns(ROWS, 11, 3);
    let rows: Vec<Vec<Value<'static>>> = (0..ROWS)
        .map(|r| cols.iter().map(|c| Value::Float(c[r])).collect())
        .collect();
    let config = RecorderConfig {
        shards: 2,
        ..RecorderConfig::default()
    };
    let recorder = Recorder::new(schema(11), config, None);
    let mut g = c.benchmark_group("recorder");
    g.sample_size(10)
        .throughput(criterion::Throughput::Elements(ROWS as u64));
    let part = |t: usize, threads: usize| &rows[t * ROWS / threads..(t + 1) * ROWS / threads];
    from_threads(&mut g, &format!("{ROWS} rows"), |t, threads| {
        part(t, threads).iter().for_each(|r| recorder.record_row(r))
    });
    // The same rows into one profile per thread, kept across iterations like the
    // recorder's shards, with nothing shared (no lock, no clock): what two threads give
    // for this work on this host, the ceiling of the recorder's ratio. (On a shared VM
    // two vCPUs do not always give twice one.)
    let profiles: Vec<std::sync::Mutex<DatasetProfile>> = (0..2)
        .map(|_| std::sync::Mutex::new(DatasetProfile::new(&schema(11), Window::new(0, 1))))
        .collect();
    let label = format!("reference: {ROWS} rows into a profile per thread,");
    from_threads(&mut g, &label, |t, threads| {
        let mut p = profiles[t].lock().unwrap_or_else(|e| e.into_inner());
        part(t, threads).iter().for_each(|r| p.record_row(r));
    });
    // And a loop that only computes, in registers, split the same way.
    const STEPS: u64 = 8_000_000;
    from_threads(&mut g, "reference: compute only,", |t, threads| {
        black_box(spin(t as u64, STEPS / threads as u64));
    });
    g.finish();
}

/// Benches `work(t, threads)` on `threads` scoped threads at once (`t` each one's index),
/// from one thread and from two.
fn from_threads(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    label: &str,
    work: impl Fn(usize, usize) + Sync,
) {
    for threads in [1, 2] {
        g.bench_function(format!("{label} from {threads} thread(s)"), |b| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let work = &work;
                        s.spawn(move || work(t, threads));
                    }
                })
            })
        });
    }
}

/// A chain of multiplies and rotations that never leaves the registers.
fn spin(seed: u64, steps: u64) -> u64 {
    (0..steps).fold(black_box(seed), |h, i| {
        (h ^ i).wrapping_mul(0xbf58_476d_1ce4_e5b9).rotate_left(31)
    })
}

criterion_group!(benches, one_row, columns, merge, drift, threads);
criterion_main!(benches);
