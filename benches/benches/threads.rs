//! Two threads against one, for the Engine issue's "two threads ≥ 1.8× one thread":
//! 100,000 rows of 11 numeric features recorded from one thread, then the same rows
//! split between two threads, in pairs, many times over.
//!
//! `cargo bench -p sextant-benches --bench threads [-- ROUNDS]` (default 30 rounds,
//! after 3 to warm up). Each round measures, one right after the other, each work from
//! one thread and from two, so a pair shares the host's state of the moment; the figures
//! are medians over the rounds of each pair's ratio:
//!
//! - **wall**: one thread's wall time over two threads' — what this host gave;
//! - **on CPU**: one thread's CPU time over the longer of the two threads' CPU times —
//!   what two threads give when each has a CPU of its own the whole time. On a shared
//!   virtual machine the host takes vCPUs away ("steal", printed for the run); CPU time
//!   does not count that. Work the threads cause each other (cache lines passed between
//!   cores, a lock spinning) and work split unevenly show in it; time a thread spends
//!   asleep on a contended lock does not (it shows in the wall figure only, which the
//!   on-CPU figure must therefore not replace).
//!
//! Three works: the recorder (a shard per thread); the same rows into a profile per
//! thread with nothing shared (the ceiling of the recorder's ratio for this work); and
//! a chain of multiplies in registers (what the host gives work that touches no memory).

use sextant::recorder::{Recorder, RecorderConfig};
use sextant::{DatasetProfile, Window};
use sextant_benches::{machine_ticks, normal_columns, numeric_schema, rows_of, thread_cpu_ns};
use std::hint::black_box;
use std::sync::Mutex;
use std::time::Instant;

const ROWS: usize = 100_000;
const WARM_UP: usize = 3;

/// One run of a work on some threads at once.
struct Run {
    wall_ms: f64,
    /// Each thread's CPU time.
    cpu_ms: Vec<f64>,
}

impl Run {
    /// The CPU time of the thread that ran longest: what the run takes when each thread
    /// has a CPU of its own.
    fn longest_cpu_ms(&self) -> f64 {
        self.cpu_ms.iter().copied().fold(0.0, f64::max)
    }
}

/// Runs `work(t, threads)` on `threads` scoped threads at once (`t` each one's index).
fn run(threads: usize, work: &(dyn Fn(usize, usize) + Sync)) -> Run {
    let start = Instant::now();
    let cpu_ns: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let before = thread_cpu_ns();
                    work(t, threads);
                    thread_cpu_ns() - before
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    Run {
        wall_ms: start.elapsed().as_secs_f64() * 1e3,
        cpu_ms: cpu_ns.into_iter().map(|ns| ns as f64 / 1e6).collect(),
    }
}

/// A work's pairs of runs, from one thread and from two.
struct Pairs<'w> {
    name: &'static str,
    work: &'w (dyn Fn(usize, usize) + Sync),
    pairs: Vec<(Run, Run)>,
}

impl Pairs<'_> {
    /// First quartile, median and third quartile of `f` over the pairs.
    fn quartiles_of(&self, f: impl Fn(&Run, &Run) -> f64) -> (f64, f64, f64) {
        quartiles(self.pairs.iter().map(|(one, two)| f(one, two)).collect())
    }

    fn row(&self) -> String {
        let w = self.quartiles_of(|one, two| one.wall_ms / two.wall_ms);
        let c = self.quartiles_of(|one, two| one.cpu_ms[0] / two.longest_cpu_ms());
        let median = |f: fn(&Run, &Run) -> f64| self.quartiles_of(f).1;
        format!(
            "| {} | {:.2}× ({:.2}–{:.2}) | {:.2}× ({:.2}–{:.2}) | {:.1} / {:.1} ms | {:.1} / {:.1} ms |",
            self.name,
            w.1,
            w.0,
            w.2,
            c.1,
            c.0,
            c.2,
            median(|one, _| one.wall_ms),
            median(|one, _| one.cpu_ms[0]),
            median(|_, two| two.wall_ms),
            median(|_, two| two.longest_cpu_ms()),
        )
    }
}

/// First quartile, median and third quartile.
fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

/// A chain of multiplies and rotations that never leaves the registers.
fn spin(seed: u64, steps: u64) -> u64 {
    (0..steps).fold(black_box(seed), |h, i| {
        (h ^ i).wrapping_mul(0xbf58_476d_1ce4_e5b9).rotate_left(31)
    })
}

fn main() {
    // `cargo bench` passes `--bench`; a number among the arguments is the rounds.
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(30)
        .max(1);
    let rows = rows_of(&normal_columns(ROWS, 11, 3));
    let part = |t: usize, threads: usize| &rows[t * ROWS / threads..(t + 1) * ROWS / threads];
    let recorder = Recorder::new(
        numeric_schema(11),
        RecorderConfig {
            shards: 2,
            ..RecorderConfig::default()
        },
        None,
    );
    // Kept across rounds, like the recorder's shards within a window.
    let profiles: Vec<Mutex<DatasetProfile>> = (0..2)
        .map(|_| Mutex::new(DatasetProfile::new(&numeric_schema(11), Window::new(0, 1))))
        .collect();
    let record = |t: usize, threads: usize| {
        part(t, threads)
            .iter()
            .for_each(|r| recorder.record_row(black_box(r)))
    };
    let own_profile = |t: usize, threads: usize| {
        let mut p = profiles[t].lock().unwrap_or_else(|e| e.into_inner());
        part(t, threads)
            .iter()
            .for_each(|r| p.record_row(black_box(r)));
    };
    let compute = |t: usize, threads: usize| {
        black_box(spin(t as u64, 8_000_000 / threads as u64));
    };
    let mut works = [
        (
            "recorder, a shard per thread",
            &record as &(dyn Fn(usize, usize) + Sync),
        ),
        (
            "reference: a profile per thread, nothing shared",
            &own_profile,
        ),
        ("reference: compute only", &compute),
    ]
    .map(|(name, work)| Pairs {
        name,
        work,
        pairs: Vec::new(),
    });
    let ticks_before = machine_ticks();
    for round in 0..WARM_UP + rounds {
        for w in &mut works {
            let pair = (run(1, w.work), run(2, w.work));
            if round >= WARM_UP {
                w.pairs.push(pair);
            }
        }
    }
    println!(
        "{ROWS} rows of 11 numeric features, {rounds} rounds of pairs (medians, quartiles in brackets)\n"
    );
    println!(
        "| work | two threads / one, wall | two threads / one, on CPU | one thread, wall / CPU | two threads, wall / CPU of the longer |"
    );
    println!("|---|---|---|---|---|");
    works.iter().for_each(|w| println!("{}", w.row()));
    if let (Some((all0, steal0)), Some((all1, steal1))) = (ticks_before, machine_ticks()) {
        let share = (steal1 - steal0) as f64 / (all1 - all0).max(1) as f64;
        println!(
            "\nthe host took {:.0} % of this machine's CPU time during the run (steal)",
            share * 100.0
        );
    }
}
