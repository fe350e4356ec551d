//! Inputs for sextant's benchmarks, built the same way in every bench and every run.
//!
//! The generator is a fixed SplitMix64 stream, so a bench's input depends only on its
//! seed: figures from two runs, or from a Rust bench and its Python peer script, are
//! measured on the same numbers.

use sextant::{FeatureKind, Schema, Value};

/// A small deterministic random stream (SplitMix64), with uniform and normal draws.
#[derive(Debug, Clone)]
pub struct Stream {
    state: u64,
}

impl Stream {
    /// A stream that always yields the same numbers for the same seed.
    pub fn new(seed: u64) -> Self {
        Stream { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw from the open interval (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// `cols` columns of `rows` standard normal values each, column `c` shifted by `c`.
pub fn normal_columns(rows: usize, cols: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut s = Stream::new(seed);
    (0..cols)
        .map(|c| (0..rows).map(|_| s.normal() + c as f64).collect())
        .collect()
}

/// A schema of `n` numeric features named `f0`, `f1`, ….
pub fn numeric_schema(n: usize) -> Schema {
    let mut s = Schema::new();
    (0..n).for_each(|i| s.push(format!("f{i}"), FeatureKind::Numeric));
    s
}

/// The rows of `cols` (equal lengths), each a row's values in column order.
pub fn rows_of(cols: &[Vec<f64>]) -> Vec<Vec<Value<'static>>> {
    let n = cols.first().map_or(0, Vec::len);
    (0..n)
        .map(|r| cols.iter().map(|c| Value::Float(c[r])).collect())
        .collect()
}

/// The CPU time the calling thread has run so far, in nanoseconds, from Linux's
/// `/proc/thread-self/schedstat`, which the benches that use it cannot do without
/// (panics, saying so, where that file does not exist).
///
/// On a virtual machine whose host takes the vCPU away ("steal"), wall time counts the
/// time taken away and this does not: it is the thread's own cost, which is what
/// comparing two builds, or one thread with two, needs on a shared host.
///
/// The kernel brings a running thread's figure up to date only at its scheduler's
/// events (a tick, a switch): the thread yields first, which is one, so the figure is
/// exact to the call rather than up to a tick (4 ms at 250 Hz) behind.
pub fn thread_cpu_ns() -> u64 {
    std::thread::yield_now();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("this bench needs Linux's /proc/thread-self/schedstat")
}

/// The machine's CPU time so far, as (all, stolen) in clock ticks, summed over CPUs from
/// `/proc/stat`; `None` where that file does not exist or reads otherwise.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = s
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is
    // already in user, so only the first eight add up to the whole.
    let all = fields.iter().take(8).sum();
    Some((all, *fields.get(7)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_normal_draws_look_normal() {
        let a = normal_columns(100_000, 2, 7);
        assert_eq!(a, normal_columns(100_000, 2, 7));
        assert_ne!(a, normal_columns(100_000, 2, 8));
        for (c, col) in a.iter().enumerate() {
            let n = col.len() as f64;
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            // 5 standard errors: the mean's is 1/sqrt(n), the variance's about sqrt(2/n).
            assert!((mean - c as f64).abs() < 5.0 / n.sqrt(), "mean {mean}");
            assert!((var - 1.0).abs() < 5.0 * (2.0 / n).sqrt(), "variance {var}");
        }
    }

    #[test]
    fn uniform_stays_inside_the_open_unit_interval() {
        let mut s = Stream::new(1);
        assert!((0..10_000).map(|_| s.uniform()).all(|u| u > 0.0 && u < 1.0));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn thread_cpu_time_grows_with_work_and_steal_is_a_share() {
        let before = thread_cpu_ns();
        let mut s = Stream::new(3);
        let sum: u64 = (0..2_000_000).map(|_| s.next_u64() >> 40).sum();
        std::hint::black_box(sum);
        assert!(thread_cpu_ns() > before);
        let (all, steal) = machine_ticks().unwrap();
        assert!(all > 0 && steal <= all);
    }
}
