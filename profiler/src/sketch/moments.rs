//! Count, mean and variance with an exact, numerically stable merge.

use serde::{Deserialize, Serialize};

/// Count, mean and sum of squared deviations (`m2`) of finite values.
///
/// Single values update by Welford's method; slices are summarized by a two-pass pass
/// (mean, then squared deviations) and merged in; merging follows Chan, Golub and
/// LeVeque's parallel formulas, so profiling partitions and merging them agrees with
/// profiling the whole to rounding error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// No values yet.
    pub const fn new() -> Self {
        Moments {
            n: 0,
            mean: 0.0,
            m2: 0.0,
        }
    }

    /// Adds one finite value.
    #[inline]
    pub fn update(&mut self, x: f64) {
        self.n += 1;
        let n = self.n as f64;
        let delta = x - self.mean;
        if delta.is_finite() {
            self.mean += delta / n;
        } else {
            // Values of both signs near ±f64::MAX: the difference overflows, the
            // weighted parts cannot.
            self.mean = self.mean - self.mean / n + x / n;
        }
        self.m2 += delta * (x - self.mean);
    }

    /// Adds a slice of finite values.
    ///
    /// ```
    /// let mut m = sextant::sketch::Moments::new();
    /// m.update_slice(&[1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(m.mean(), Some(2.5));
    /// assert!((m.variance().unwrap() - 5.0 / 3.0).abs() < 1e-12);
    /// ```
    pub fn update_slice(&mut self, xs: &[f64]) {
        if xs.is_empty() {
            return;
        }
        let n = xs.len() as f64;
        let mut mean = crate::lanes::sum_of(xs, |x| x) / n;
        if !mean.is_finite() {
            // The sum overflowed (values near ±f64::MAX; of both signs, lanes at +∞
            // and −∞ give NaN); the mean itself cannot.
            mean = crate::lanes::sum_of(xs, |x| x / n);
        }
        let m2 = crate::lanes::sum_of(xs, |x| (x - mean) * (x - mean));
        self.merge(&Moments {
            n: xs.len() as u64,
            mean,
            m2,
        });
    }

    /// Merges `other` into these moments (Chan et al.).
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        let delta = other.mean - self.mean;
        // Weighted form keeps precision when one side is much larger; weighting each
        // side by its share (not multiplying by its count) keeps it finite near
        // ±f64::MAX.
        self.mean = self.mean * (na / nf) + other.mean * (nb / nf);
        self.m2 += other.m2 + delta * delta * na * nb / nf;
        self.n = n;
    }

    /// Number of values.
    pub const fn count(&self) -> u64 {
        self.n
    }

    /// Mean, if any value was seen.
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Sample variance (denominator `n − 1`, as pandas), if two values were seen.
    pub fn variance(&self) -> Option<f64> {
        (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).max(0.0))
    }

    /// Sample standard deviation (denominator `n − 1`).
    pub fn stddev(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }

    /// Sum of the values (`mean × n`).
    pub fn sum(&self) -> f64 {
        self.mean * self.n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn exact(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, var)
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
    }

    #[test]
    fn location_far_above_scale_stays_accurate() {
        let xs: Vec<f64> = (0..10_000)
            .map(|i| 1e9 + ((i % 17) as f64 - 8.0) * 1e-3)
            .collect();
        let mut m = Moments::new();
        xs.iter().for_each(|&x| m.update(x));
        let (mean, var) = exact(&xs);
        assert!(close(m.mean().unwrap(), mean, 1e-12));
        assert!(
            close(m.variance().unwrap(), var, 1e-6),
            "{:?}",
            m.variance()
        );
    }

    proptest! {
        #[test]
        fn partitions_merge_to_the_whole(
            xs in prop::collection::vec(-1e6f64..1e6, 2..300),
            cut1 in 0usize..300, cut2 in 0usize..300,
        ) {
            let (a, b) = (cut1.min(xs.len()), cut2.min(xs.len()));
            let (lo, hi) = (a.min(b), a.max(b));
            let mut parts = [Moments::new(), Moments::new(), Moments::new()];
            parts[0].update_slice(&xs[..lo]);
            xs[lo..hi].iter().for_each(|&x| parts[1].update(x));
            parts[2].update_slice(&xs[hi..]);
            let mut left = parts[0];
            left.merge(&parts[1]);
            left.merge(&parts[2]);
            let mut right = parts[2];
            right.merge(&parts[1]);
            right.merge(&parts[0]);
            let (mean, var) = exact(&xs);
            prop_assert_eq!(left.count(), xs.len() as u64);
            for m in [left, right] {
                prop_assert!((m.mean().unwrap() - mean).abs() <= 1e-9 * mean.abs().max(1.0));
                prop_assert!(close(m.variance().unwrap(), var, 1e-9) || var < 1e-9);
            }
        }
    }

    #[test]
    fn means_near_the_largest_float_stay_finite() {
        let big = f64::MAX * 0.9;
        let mut slice = Moments::new();
        slice.update_slice(&[big; 10]);
        assert_eq!(slice.mean(), Some(big));
        let mut merged = Moments::new();
        for _ in 0..3 {
            merged.merge(&slice);
        }
        let mean = merged.mean().unwrap();
        assert!((mean - big).abs() <= big * 1e-15, "{mean}");
        assert_eq!(merged.variance(), Some(0.0));
        // Both signs, in a slice and value by value: the mean is 0 (the variance is
        // beyond any float, and says so).
        let mixed: Vec<f64> = (0..16)
            .map(|i| if i % 2 == 0 { big } else { -big })
            .collect();
        let mut slice = Moments::new();
        slice.update_slice(&mixed);
        let mut one = Moments::new();
        mixed.iter().for_each(|&x| one.update(x));
        for m in [slice, one] {
            assert!(m.mean().unwrap().abs() <= big * 1e-15, "{m:?}");
            assert_eq!(m.variance(), Some(f64::INFINITY), "{m:?}");
        }
    }
}
