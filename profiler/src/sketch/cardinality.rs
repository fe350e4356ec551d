//! Distinct-value estimates from HyperLogLog++ over a fixed hash.

use hyperloglogplus::{HyperLogLog, HyperLogLogPlus};
use serde::{Deserialize, Serialize};
use std::hash::{BuildHasher, Hasher};

/// Passes a precomputed [`crate::hash`] value through unchanged.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct PassThrough;

/// The hasher of [`PassThrough`]: its state is the last `u64` written.
#[derive(Debug, Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 hashes are ever inserted; fold anything else in anyway.
        for &b in bytes {
            self.0 = crate::hash::fmix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
}

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

/// Estimated number of distinct values: HyperLogLog++ (Heule et al.) with precision
/// [`Cardinality::PRECISION`], over the process-independent hashes of [`crate::hash`],
/// so sketches from different processes merge.
///
/// Small cardinalities are counted in the sparse representation (precision 25), which is
/// near exact; above a few thousand distinct values the sketch turns dense, with a
/// standard error of `1.04 / sqrt(2^PRECISION)`, about 1.6 %.
#[derive(Debug, Clone, Deserialize)]
pub struct Cardinality {
    hll: HyperLogLogPlus<u64, PassThrough>,
}

impl Serialize for Cardinality {
    /// Flushes the insert buffer (a hash set, whose order varies by process) first, so
    /// the same sketch always serializes to the same bytes.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            hll: &'a HyperLogLogPlus<u64, PassThrough>,
        }
        let mut flushed = self.hll.clone();
        let _ = flushed.count();
        Wire { hll: &flushed }.serialize(s)
    }
}

impl Default for Cardinality {
    fn default() -> Self {
        Cardinality::new()
    }
}

impl Cardinality {
    /// Register-index bits of the dense representation.
    pub const PRECISION: u8 = 12;

    /// An empty sketch.
    pub fn new() -> Self {
        let hll = HyperLogLogPlus::new(Self::PRECISION, PassThrough)
            .unwrap_or_else(|_| unreachable!("PRECISION is within 4..=18"));
        Cardinality { hll }
    }

    /// Adds one value, given as its [`crate::hash`] hash.
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        self.hll.insert(&hash);
    }

    /// Merges `other` into this sketch.
    pub fn merge(&mut self, other: &Cardinality) {
        // Both sides always share PRECISION, the only failure cause.
        let _ = self.hll.merge(&other.hll);
    }

    /// The estimated number of distinct values.
    ///
    /// ```
    /// let mut c = sextant::sketch::Cardinality::new();
    /// for i in 0..1000 {
    ///     c.insert_hash(sextant::hash::hash_f64((i % 100) as f64));
    /// }
    /// assert_eq!(c.estimate().round(), 100.0);
    /// ```
    pub fn estimate(&self) -> f64 {
        // `count` needs `&mut` only to flush its insert buffer; work on a copy.
        self.hll.clone().count()
    }

    /// One standard error of the estimate, relative, in the dense representation.
    pub fn relative_standard_error() -> f64 {
        1.04 / f64::from(1u32 << Self::PRECISION).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::hash_f64;

    fn sketch_of(range: std::ops::Range<u64>) -> Cardinality {
        let mut c = Cardinality::new();
        range.for_each(|i| c.insert_hash(hash_f64(i as f64)));
        c
    }

    #[test]
    fn within_one_percent_while_sparse_or_linear_counting() {
        // Exact-ish up to ~3,000 distinct (sparse representation, then linear
        // counting); above that the dense estimate's own 1.6 % standard error rules.
        for n in [1u64, 10, 100, 1000, 2000, 3000] {
            let est = sketch_of(0..n).estimate();
            assert!(
                (est - n as f64).abs() <= 0.01 * n as f64 + 0.5,
                "{n}: {est}"
            );
        }
    }

    #[test]
    fn within_three_standard_errors_above() {
        for n in [5_000u64, 9_999, 20_000, 100_000, 1_000_000] {
            let est = sketch_of(0..n).estimate();
            let se = Cardinality::relative_standard_error() * n as f64;
            assert!((est - n as f64).abs() <= 3.0 * se, "{n}: {est}");
        }
    }

    #[test]
    fn merge_counts_the_union() {
        let mut a = sketch_of(0..3000);
        a.merge(&sketch_of(2000..6000));
        let est = a.estimate();
        assert!((est - 6000.0).abs() <= 60.0, "{est}");
    }
}
