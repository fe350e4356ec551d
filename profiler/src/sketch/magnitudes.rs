//! Quantiles of non-negative, heavy-tailed quantities (latency, sizes) with relative
//! value error: DDSketch.

use super::quantiles::serde_bytes_compat::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sketches_ddsketch::{Config, DDSketch};

/// DDSketch with 1 % relative accuracy: a quantile query returns a value within 1 % of
/// a true value of that rank. Fits latency and body sizes, whose scale spans orders of
/// magnitude; it does not fit features whose spread is small next to their location
/// (use [`super::Quantiles`] there).
#[derive(Clone)]
pub struct Magnitudes {
    sketch: DDSketch,
}

impl std::fmt::Debug for Magnitudes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Magnitudes")
            .field("count", &self.count())
            .finish()
    }
}

impl Default for Magnitudes {
    fn default() -> Self {
        Magnitudes::new()
    }
}

impl Magnitudes {
    /// Relative accuracy of quantile values.
    pub const RELATIVE_ACCURACY: f64 = 0.01;

    /// An empty sketch.
    pub fn new() -> Self {
        let config = Config::new(Self::RELATIVE_ACCURACY, 2048, 1e-9);
        Magnitudes {
            sketch: DDSketch::new(config),
        }
    }

    /// Adds one value; NaN and negative values are ignored (count them apart).
    #[inline]
    pub fn update(&mut self, x: f64) {
        if x >= 0.0 && x.is_finite() {
            self.sketch.add(x);
        }
    }

    /// Merges `other` into this sketch.
    pub fn merge(&mut self, other: &Magnitudes) {
        // Fails only on differing configurations, which this type never makes.
        let _ = self.sketch.merge(&other.sketch);
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.sketch.count() as u64
    }

    /// The value at rank `q` in 0..=1, within 1 % relative error.
    ///
    /// ```
    /// let mut m = sextant::sketch::Magnitudes::new();
    /// (1..=1000).for_each(|ms| m.update(ms as f64 / 1000.0));
    /// let p99 = m.quantile(0.99).unwrap();
    /// assert!((p99 - 0.99).abs() <= 0.01 * 0.99 + 1e-3);
    /// ```
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.sketch.quantile(q).ok().flatten()
    }
}

impl Serialize for Magnitudes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.sketch.to_java_bytes())
    }
}

impl<'de> Deserialize<'de> for Magnitudes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = Bytes::deserialize(d)?;
        let sketch = DDSketch::from_java_bytes(&bytes.0)
            .map_err(|e| serde::de::Error::custom(format!("DDSketch: {e}")))?;
        Ok(Magnitudes { sketch })
    }
}
