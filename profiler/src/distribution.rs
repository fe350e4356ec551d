//! The distribution of a stream of finite numbers: exact min, max, mean and variance,
//! and sketched quantiles. The building block of numeric, text and image metrics.

use crate::sketch::{Moments, Quantiles};
use serde::{Deserialize, Serialize};

/// Exact min, max and moments plus a KLL quantile sketch of finite values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Distribution {
    moments: Moments,
    min: f64,
    max: f64,
    quantiles: Quantiles,
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution::new()
    }
}

/// How many values the slice path summarizes at once (kept on the stack).
const CHUNK: usize = 512;

impl Distribution {
    /// An empty distribution.
    pub fn new() -> Self {
        Distribution {
            moments: Moments::new(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            quantiles: Quantiles::new(),
        }
    }

    /// Empties the distribution, keeping the buffers its sketch grew (see
    /// [`Quantiles::reset`]).
    pub fn reset(&mut self) {
        self.moments = Moments::new();
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
        self.quantiles.reset();
    }

    /// Adds one value; the caller passes finite values only.
    #[inline]
    pub fn update(&mut self, x: f64) {
        debug_assert!(x.is_finite());
        self.moments.update(x);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        self.quantiles.update(x);
    }

    /// Adds a slice of finite values, faster than one by one. The caller filters out
    /// NaN and ±∞ (as [`crate::FeatureProfile`] does, counting them apart): they are not
    /// checked again here.
    pub fn update_finite_slice(&mut self, xs: &[f64]) {
        for chunk in xs.chunks(CHUNK) {
            self.moments.update_slice(chunk);
            self.quantiles.update_finite(chunk);
        }
        // The sketch keeps the exact extremes: no pass of our own.
        if let Some((lo, hi)) = self.quantiles.extremes() {
            self.min = self.min.min(lo);
            self.max = self.max.max(hi);
        }
    }

    /// Asks for the keys merging `other` into this distribution, as it is now, reads.
    pub(crate) fn prefetch_merge(&self, other: &Distribution) {
        self.quantiles.prefetch_merge(&other.quantiles);
    }

    /// Merges `other` into this distribution.
    pub fn merge(&mut self, other: &Distribution) {
        self.moments.merge(&other.moments);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.quantiles.merge(&other.quantiles);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.moments.count()
    }

    /// The smallest value, exact.
    pub fn min(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.min)
    }

    /// The largest value, exact.
    pub fn max(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.max)
    }

    /// The mean, exact up to rounding.
    pub fn mean(&self) -> Option<f64> {
        self.moments.mean()
    }

    /// The sample standard deviation (denominator `n − 1`).
    pub fn stddev(&self) -> Option<f64> {
        self.moments.stddev()
    }

    /// The moments (count, mean, variance).
    pub fn moments(&self) -> &Moments {
        &self.moments
    }

    /// The quantile sketch.
    pub fn quantiles(&self) -> &Quantiles {
        &self.quantiles
    }

    /// The value at rank `q`, clamped into the exact `[min, max]`.
    ///
    /// ```
    /// let mut d = sextant::Distribution::new();
    /// d.update_finite_slice(&[3.0, 1.0, 2.0]);
    /// assert_eq!(d.quantile(0.0), Some(1.0));
    /// assert_eq!(d.quantile(0.5), Some(2.0));
    /// assert_eq!(d.quantile(1.0), Some(3.0));
    /// ```
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let v = self.quantiles.quantile(q)?;
        Some(v.clamp(self.min, self.max))
    }

    /// [`Distribution::quantile`] at each of `qs` (`None` where out of 0..=1 or while
    /// empty), from one pass over the sketch.
    pub fn quantiles_at(&self, qs: &[f64]) -> Vec<Option<f64>> {
        self.quantiles
            .quantiles(qs)
            .into_iter()
            .map(|v| v.map(|v| v.clamp(self.min, self.max)))
            .collect()
    }
}
