//! Quantiles, ranks and CDFs from a KLL sketch (our own: see `sketch/kll.rs`).

use super::kll::{Kll, SortedView};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Quantiles of finite values, from a KLL sketch.
///
/// The error is in rank, not value: a quantile query for rank `q` returns a value whose
/// true rank is within [`Quantiles::rank_error`] of `q` (with 99 % confidence), whatever
/// the data's location and scale — which is what KS, PSI and histograms need. With the
/// default `k` of [`Quantiles::DEFAULT_K`] the bound is 0.99 %, and the sketch of a
/// million values keeps about 800 of them. The minimum and maximum are exact.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantiles {
    sketch: Kll,
}

impl Default for Quantiles {
    fn default() -> Self {
        Quantiles::new()
    }
}

impl Quantiles {
    /// The default accuracy parameter: the smallest round `k` whose rank error bound,
    /// `2.296 / k^0.9723`, is under 1 % (0.986 %).
    pub const DEFAULT_K: u16 = 272;

    /// An empty sketch with the default `k`.
    pub fn new() -> Self {
        Quantiles::with_k(Self::DEFAULT_K)
    }

    /// An empty sketch with accuracy parameter `k` (clamped to 8..=65535).
    pub fn with_k(k: u16) -> Self {
        Quantiles {
            sketch: Kll::new(k),
        }
    }

    /// Empties the sketch, keeping its `k` and the buffer it grew: refilling it
    /// allocates only past its largest size so far (a recorder's live windows reuse
    /// their sketches this way).
    ///
    /// ```
    /// let mut q = sextant::sketch::Quantiles::new();
    /// q.update(1.0);
    /// q.reset();
    /// assert_eq!(q, sextant::sketch::Quantiles::new());
    /// ```
    pub fn reset(&mut self) {
        self.sketch.reset();
    }

    /// Adds one value; NaN (and ±∞) is ignored (count it apart, see [`crate::Counts`]).
    #[inline]
    pub fn update(&mut self, x: f64) {
        self.sketch.update(x);
    }

    /// Adds a slice of finite values in a fraction of the time of
    /// [`Quantiles::update`] on each: level 0 is filled by slice and, once the sketch
    /// is large, its bottom levels are sorted and compacted by sorting networks, never
    /// more often than value by value, so the same rank-error bound holds. The caller
    /// passes finite values; should one not be, the slice is taken value by value,
    /// skipping what is not finite.
    ///
    /// ```
    /// let mut q = sextant::sketch::Quantiles::new();
    /// let xs: Vec<f64> = (1..=1000).map(f64::from).collect();
    /// q.update_slice(&xs);
    /// assert_eq!(q.count(), 1000);
    /// assert_eq!(q.quantile(1.0), Some(1000.0));
    /// ```
    pub fn update_slice(&mut self, xs: &[f64]) {
        self.sketch.update_slice(xs);
    }

    /// [`Quantiles::update_slice`] of values the caller has checked are finite.
    pub(crate) fn update_finite(&mut self, xs: &[f64]) {
        self.sketch.update_finite(xs);
    }

    /// The exact smallest and largest value, if any.
    pub(crate) fn extremes(&self) -> Option<(f64, f64)> {
        self.sketch.extremes()
    }

    /// Asks for the keys merging `other` into this sketch, as it is now, reads.
    pub(crate) fn prefetch_merge(&self, other: &Quantiles) {
        self.sketch.prefetch_merge(&other.sketch);
    }

    /// Merges `other` into this sketch.
    pub fn merge(&mut self, other: &Quantiles) {
        // Skipped only if the total count would overflow u64.
        self.sketch.merge(&other.sketch);
    }

    /// Number of values seen.
    pub fn count(&self) -> u64 {
        self.sketch.n()
    }

    /// Whether no value was seen.
    pub fn is_empty(&self) -> bool {
        self.sketch.n() == 0
    }

    /// Number of values the sketch keeps.
    pub fn retained(&self) -> usize {
        self.sketch.retained()
    }

    /// The single-sided normalized rank error (99 % confidence) for this sketch's `k`;
    /// 0 while the sketch still holds every value.
    pub fn rank_error(&self) -> f64 {
        if self.sketch.is_estimation_mode() {
            self.sketch.rank_error_bound()
        } else {
            0.0
        }
    }

    /// The value at normalized rank `q` in 0..=1 (inclusive criterion: the smallest
    /// retained value whose cumulative weight over the count is at least `q`; 0 and 1
    /// give the exact minimum and maximum), if any value was seen and `q` is in range.
    ///
    /// ```
    /// let mut q = sextant::sketch::Quantiles::new();
    /// (1..=100).for_each(|x| q.update(x as f64));
    /// assert_eq!(q.quantile(0.5), Some(50.0));
    /// assert_eq!(q.quantile(1.0), Some(100.0));
    /// ```
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q)
    }

    /// [`Quantiles::quantile`] at each of `qs`, sorting the sketch once: use this, not
    /// a loop of `quantile`, for grids and bin edges.
    ///
    /// ```
    /// let mut q = sextant::sketch::Quantiles::new();
    /// (1..=100).for_each(|i| q.update(f64::from(i)));
    /// assert_eq!(q.quantiles(&[0.0, 0.5, 2.0]), vec![Some(1.0), Some(50.0), None]);
    /// ```
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        self.sketch.sorted_view().quantiles(qs)
    }

    /// A sorted snapshot for many queries: each [`Quantiles::quantile`] or
    /// [`Quantiles::cdf`] call sorts the sketch, this sorts it once.
    ///
    /// ```
    /// let mut q = sextant::sketch::Quantiles::new();
    /// (1..=100).for_each(|i| q.update(f64::from(i)));
    /// let s = q.sorted();
    /// assert_eq!(s.quantiles(&[0.5]), vec![Some(50.0)]);
    /// assert_eq!(s.cdf(&[50.0]), Some(vec![0.5]));
    /// ```
    pub fn sorted(&self) -> SortedQuantiles {
        SortedQuantiles(self.sketch.sorted_view())
    }

    /// The normalized rank of `x`: the share of values `<= x`.
    pub fn rank(&self, x: f64) -> Option<f64> {
        self.sketch.rank(x)
    }

    /// The share of values `<= x` at each of `points` (any order; NaN gives `None`).
    pub fn cdf(&self, points: &[f64]) -> Option<Vec<f64>> {
        self.sketch.cdf(points)
    }

    /// The compact serialization (gap-coded sorted keys, see `sketch/kll.rs`): about 6.5 bytes per retained value.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.sketch.to_bytes()
    }

    /// Reads [`Quantiles::to_bytes`]' output, checking every field.
    ///
    /// # Errors
    ///
    /// A message saying what is wrong with the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        Kll::from_bytes(bytes)
            .map(|sketch| Quantiles { sketch })
            .map_err(|e| format!("KLL sketch: {e}"))
    }
}

/// A sorted snapshot of a [`Quantiles`] sketch (see [`Quantiles::sorted`]).
#[derive(Debug, Clone)]
pub struct SortedQuantiles(SortedView);

impl SortedQuantiles {
    /// The value at each normalized rank of `qs` (as [`Quantiles::quantile`]).
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        self.0.quantiles(qs)
    }

    /// The share of values `<= x` at each of `points` (as [`Quantiles::cdf`]).
    pub fn cdf(&self, points: &[f64]) -> Option<Vec<f64>> {
        self.0.cdf(points)
    }
}

impl Serialize for Quantiles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.to_bytes())
    }
}

impl<'de> Deserialize<'de> for Quantiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes: serde_bytes_compat::Bytes = Deserialize::deserialize(d)?;
        Quantiles::from_bytes(&bytes.0).map_err(serde::de::Error::custom)
    }
}

/// A `Vec<u8>` that deserializes from serde's bytes (what `serialize_bytes` writes).
pub(crate) mod serde_bytes_compat {
    use serde::Deserializer;
    use serde::de::{Error, SeqAccess, Visitor};
    use std::fmt;

    /// Owned bytes.
    pub(crate) struct Bytes(pub(crate) Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_byte_buf<E: Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                    Ok(Bytes(v))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                    let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                    while let Some(b) = seq.next_element()? {
                        out.push(b);
                    }
                    Ok(Bytes(out))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }
}
