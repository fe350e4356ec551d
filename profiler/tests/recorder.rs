//! The recorder: windows close on time, every value lands in exactly one window, and a
//! query merges closed windows with the one still open.

use sextant::recorder::{Recorder, RecorderConfig};
use sextant::{FeatureKind, ProfileView, Schema, Value, Window};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

type Sunk = Arc<Mutex<Vec<(Window, ProfileView)>>>;

fn recorder_with_clock(shards: usize) -> (Arc<Recorder>, Arc<AtomicI64>, Sunk) {
    let now = Arc::new(AtomicI64::new(1_000));
    let clock_now = now.clone();
    let sunk = Arc::new(Mutex::new(Vec::new()));
    let sink_to = sunk.clone();
    let config = RecorderConfig {
        window_ms: 1_000,
        shards,
        history: 3,
        clock: Arc::new(move || clock_now.load(Ordering::SeqCst)),
        ..RecorderConfig::default()
    };
    let schema = Schema::new().with("x", FeatureKind::Numeric);
    let recorder = Recorder::new(
        schema,
        config,
        Some(Box::new(move |w, v| {
            sink_to.lock().unwrap().push((w, v.clone()))
        })),
    );
    (Arc::new(recorder), now, sunk)
}

#[test]
fn rotation_hands_each_closed_window_to_the_sink_once() {
    let (rec, now, sunk) = recorder_with_clock(4);
    rec.record_row(&[Value::Float(1.0)]);
    rec.record_row(&[Value::Float(2.0)]);
    assert!(rec.rotate().is_empty(), "the window is still open");
    now.store(2_500, Ordering::SeqCst);
    rec.record_row(&[Value::Float(3.0)]);
    assert_eq!(rec.rotate(), vec![Window::new(1_000, 2_000)]);
    let sunk = sunk.lock().unwrap();
    assert_eq!(sunk.len(), 1);
    assert_eq!(sunk[0].1.rows(), 2);
    assert_eq!(sunk[0].1.window(), Some(Window::new(1_000, 2_000)));
    // The open window holds the third row; a query over both sees all three.
    assert_eq!(rec.open_view().rows(), 1);
    assert_eq!(rec.query(Window::new(0, 10_000)).rows(), 3);
    assert_eq!(rec.query(Window::new(2_000, 3_000)).rows(), 1);
    assert_eq!(rec.query(Window::new(0, 1_500)).rows(), 2);
}

#[test]
fn history_is_bounded() {
    let (rec, now, sunk) = recorder_with_clock(1);
    for t in 0..10 {
        now.store(1_000 * (t + 1), Ordering::SeqCst);
        rec.record_row(&[Value::Float(t as f64)]);
        rec.rotate();
    }
    assert_eq!(rec.history().len(), 3);
    assert_eq!(sunk.lock().unwrap().len(), 9);
}

#[test]
fn many_threads_lose_nothing_across_rotations() {
    let (rec, now, sunk) = recorder_with_clock(2);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let rec = rec.clone();
            std::thread::spawn(move || {
                for i in 0..5_000 {
                    rec.record_row(&[Value::Float((t * 10_000 + i) as f64)]);
                }
            })
        })
        .collect();
    // Rotate concurrently while the clock moves on.
    for step in 0..20 {
        now.store(1_000 + step * 500, Ordering::SeqCst);
        rec.rotate();
        std::thread::yield_now();
    }
    threads.into_iter().for_each(|t| t.join().unwrap());
    now.store(1_000_000, Ordering::SeqCst);
    rec.rotate();
    let total: u64 = sunk.lock().unwrap().iter().map(|(_, v)| v.rows()).sum();
    assert_eq!(total, 20_000);
    let x = sunk
        .lock()
        .unwrap()
        .iter()
        .map(|(_, v)| v.feature("x").unwrap().count())
        .sum::<u64>();
    assert_eq!(x, 20_000);
}
