//! The live window's memory is bounded whatever the traffic: a counting allocator
//! measures what an 11-feature numeric profile holds after streams of every shape.
//!
//! One test per binary: the allocator counts the whole process.

// A global allocator cannot be written without `unsafe`; it only forwards to `System`.
#![allow(unsafe_code)]

use sextant::{DatasetProfile, FeatureKind, Schema, Value, Window};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const BUDGET: isize = 256 * 1024;

/// Bytes the profile holds after `rows` rows whose feature `f` of row `r` is `value(r, f)`,
/// and the peak over the stream (sampled every 1,000 rows). Recorded value by value, or
/// as rows of floats (which the profile holds back and records 32 at a time).
fn held_bytes(
    rows: usize,
    value: impl Fn(usize, usize) -> f64,
    rows_of_floats: bool,
) -> (isize, isize) {
    let mut schema = Schema::new();
    (0..11).for_each(|i| schema.push(format!("f{i}"), FeatureKind::Numeric));
    let before = LIVE.load(Ordering::Relaxed);
    let mut p = DatasetProfile::new(&schema, Window::new(0, 60_000));
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
            peak = peak.max(LIVE.load(Ordering::Relaxed) - before);
        }
    }
    if !rows_of_floats {
        p.add_rows(rows as u64);
    }
    let held = LIVE.load(Ordering::Relaxed) - before;
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
