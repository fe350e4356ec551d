//! The live window's memory is bounded whatever the traffic, and recording into it
//! allocates nothing once it is warm: a counting allocator measures what an 11-feature
//! numeric profile holds after streams of every shape, and how often it calls the
//! allocator.
//!
//! The counts are per thread (each test runs in its own), so the tests do not see each
//! other's allocations.

// A global allocator cannot be written without `unsafe`; it only forwards to `System`.
#![allow(unsafe_code)]

use sextant::recorder::{Recorder, RecorderConfig};
use sextant::{DatasetProfile, FeatureKind, Schema, Value, Window};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

struct Counting;

thread_local! {
    /// Bytes allocated and not freed by this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// Calls to `alloc` and `realloc` by this thread.
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    // `try_with`: a thread's last frees can come after its locals are gone.
    let _ = LIVE.try_with(|l| l.set(l.get() + bytes));
}

fn call() {
    let _ = CALLS.try_with(|c| c.set(c.get() + 1));
}

fn live() -> isize {
    LIVE.with(Cell::get)
}

fn calls() -> usize {
    CALLS.with(Cell::get)
}

// SAFETY: forwards to the system allocator, only counting sizes and calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        call();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        call();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn schema() -> Schema {
    let mut schema = Schema::new();
    (0..11).for_each(|i| schema.push(format!("f{i}"), FeatureKind::Numeric));
    schema
}

const BUDGET: isize = 256 * 1024;

/// Bytes the profile holds after `rows` rows whose feature `f` of row `r` is `value(r, f)`,
/// and the peak over the stream (sampled every 1,000 rows). Recorded value by value, or
/// as rows of floats (which the profile holds back and records 32 at a time).
fn held_bytes(
    rows: usize,
    value: impl Fn(usize, usize) -> f64,
    rows_of_floats: bool,
) -> (isize, isize) {
    let before = live();
    let mut p = DatasetProfile::new(&schema(), Window::new(0, 60_000));
    let mut peak = 0;
    for r in 0..rows {
        if rows_of_floats {
            p.record_f64_row((0..11).map(|f| value(r, f)));
        } else {
            for f in 0..11 {
                p.record_at(f, Value::Float(value(r, f)));
            }
        }
        if r % 1000 == 0 {
            peak = peak.max(live() - before);
        }
    }
    if !rows_of_floats {
        p.add_rows(rows as u64);
    }
    let held = live() - before;
    drop(p);
    (held, peak.max(held))
}

#[test]
fn a_live_window_of_11_numeric_features_stays_under_256_kib() {
    type Stream = Box<dyn Fn(usize, usize) -> f64>;
    let streams: [(&str, Stream); 4] = [
        ("all distinct", Box::new(|r, f| (r * 11 + f) as f64 * 0.37)),
        (
            "3,000 distinct",
            Box::new(|r, f| ((r * 7919 + f) % 3000) as f64),
        ),
        ("heavy ties", Box::new(|r, _| (r % 7) as f64)),
        ("constant", Box::new(|_, _| 1.0)),
    ];
    for (name, value) in streams {
        // Enough rows for a dozen KLL levels; the state is bounded past that.
        for rows in [10_000, 250_000] {
            for rows_of_floats in [false, true] {
                let (held, peak) = held_bytes(rows, &value, rows_of_floats);
                let how = if rows_of_floats {
                    "rows of floats"
                } else {
                    "values"
                };
                eprintln!("{name}, {rows} rows as {how}: holds {held} bytes, peak {peak}");
                assert!(
                    peak <= BUDGET,
                    "{name}, {rows} rows as {how}: peak {peak} bytes"
                );
            }
        }
    }
}

/// A well-spread value for row `r`, feature `f` (all distinct).
fn spread(r: usize, f: usize) -> f64 {
    ((r * 11 + f) as f64 * 0.618_033_988_749_895).fract() * 100.0 + f as f64
}

/// Rows recorded to warm a window, then rows whose allocator calls are counted.
const WARM: usize = 100_000;
const ROWS: usize = 100_000;

/// Records `WARM` rows with `record` (given the row number), then `ROWS` more, and
/// asserts those made at most four allocator calls per feature.
fn assert_warm_rows_do_not_allocate(what: &str, mut record: impl FnMut(usize)) {
    (0..WARM).for_each(&mut record);
    let before = calls();
    (WARM..WARM + ROWS).for_each(&mut record);
    let n = calls() - before;
    eprintln!("{what}: {n} allocator calls in {ROWS} warm rows");
    assert!(n <= 11 * 4, "{what}: {n} allocator calls in {ROWS} rows");
}

/// Row `r` as values, written into `row`.
fn fill<'a>(row: &'a mut [Value<'static>], r: usize) -> &'a [Value<'static>] {
    for (f, v) in row.iter_mut().enumerate() {
        *v = Value::Float(spread(r, f));
    }
    row
}

/// The request path (a row of floats into the live window, directly or through the
/// recorder) calls the allocator only when a sketch adds a level — a few times per
/// feature each time the row count doubles — and not per row: 100,000 warm rows make
/// fewer calls than there are features times four. (Before the KLL kept its levels in
/// one buffer, they made about 45,000, and the allocator's lock, shared between the
/// request threads, kept two threads from recording faster than one.)
#[test]
fn recording_a_warm_window_does_not_allocate() {
    let mut p = DatasetProfile::new(&schema(), Window::new(0, 60_000));
    assert_warm_rows_do_not_allocate("record_f64_row", |r| {
        p.record_f64_row((0..11).map(|f| spread(r, f)));
    });

    let mut p = DatasetProfile::new(&schema(), Window::new(0, 60_000));
    let mut row = vec![Value::Float(0.0); 11];
    assert_warm_rows_do_not_allocate("record_row", |r| p.record_row(fill(&mut row, r)));

    let config = RecorderConfig {
        shards: 1,
        clock: Arc::new(|| 1_000),
        ..RecorderConfig::default()
    };
    let recorder = Recorder::new(schema(), config, None);
    let mut row = vec![Value::Float(0.0); 11];
    assert_warm_rows_do_not_allocate("Recorder::record_row", |r| {
        recorder.record_row(fill(&mut row, r));
    });
}

/// Feature `f`'s value in row `r`.
type ValueAt = fn(usize, usize) -> f64;

/// A recorder's next windows start in the closed windows' profiles, emptied in place:
/// once the first windows have grown the sketches, a window of the same traffic records
/// without one allocator call — at its start nor after — where a new profile per window
/// made hundreds (the server's resident memory crept up with them, `benches/RESULTS.md`).
/// A window of many distinct values makes its distinct-count sketch's registers anew
/// (a reset one is sparse again, and grows its lists anew): 14 calls per feature and
/// window, against 31 for a new profile.
#[test]
fn a_recorders_next_window_reuses_the_closed_ones_buffers() {
    let now = Arc::new(AtomicI64::new(0));
    let clock = now.clone();
    let config = RecorderConfig {
        shards: 1,
        window_ms: 1_000,
        clock: Arc::new(move || clock.load(Ordering::SeqCst)),
        ..RecorderConfig::default()
    };
    let mut row = vec![Value::Float(0.0); 11];
    // Heavy ties (the distinct-count sketches stay sparse), then well-spread values.
    let streams: [(&str, ValueAt, usize); 2] = [
        ("heavy ties", |r, f| ((r * 7919 + f) % 7) as f64, 0),
        ("all distinct", spread, 11 * 16),
    ];
    for (name, value, limit) in streams {
        let recorder = Recorder::new(schema(), config.clone(), None);
        let mut calls_per_window = Vec::new();
        for w in 0..4 {
            now.store(w * 1_000, Ordering::SeqCst);
            let mut record = |rows: std::ops::Range<usize>| {
                let before = calls();
                for r in rows {
                    for (f, v) in row.iter_mut().enumerate() {
                        *v = Value::Float(value(r, f));
                    }
                    recorder.record_row(&row);
                }
                calls() - before
            };
            // As in a server: the window's first rows arrive before the last one is
            // rotated (whose copy, made by `rotate`, is not counted).
            let first = record(0..100);
            recorder.rotate();
            calls_per_window.push(first + record(100..WARM));
        }
        eprintln!("{name}: allocator calls per window {calls_per_window:?}");
        // Windows 0 and 1 are new profiles; 2 and 3 start in theirs.
        assert!(
            calls_per_window[2..].iter().all(|&n| n <= limit),
            "{name}: allocator calls per window {calls_per_window:?}"
        );
        assert!(calls_per_window[0] > limit, "{name}: {calls_per_window:?}");
    }
}
