//! One feature's profile, its kind, and the resolver from kind to sketches.
//!
//! A feature's [`FeatureKind`] (from the schema) decides which metrics it carries; every
//! kind carries [`Counts`]. The resolver is [`FeatureProfile::new`]:
//!
//! | kind | metrics |
//! |---|---|
//! | `numeric`, `integral`, `boolean` | [`Distribution`] (min, max, moments, KLL quantiles), HyperLogLog++ distinct count; frequent items for `integral` and `boolean` (as 0/1) features |
//! | `categorical` | HyperLogLog++ distinct count, frequent items |
//! | `text` | text metadata distributions ([`TextMetrics`]); raw values as frequent items only if the schema opts in |
//! | `magnitude` | DDSketch quantiles (relative error) plus min, max and moments: latency, sizes |
//! | `image` | image metadata distributions ([`ImageMetrics`]), recorded with [`FeatureProfile::record_image`] |
//!
//! Values of a type the kind does not expect are counted under their own type in
//! [`Counts`] and otherwise left out of the metrics, so they are never dropped silently.

use crate::hash::{hash_f64, hash_str};
use crate::image::{ImageMetrics, ImageStats};
use crate::lanes::all_finite;
use crate::sketch::{Cardinality, FrequentItems, Magnitudes, Moments};
use crate::text::TextMetrics;
use crate::{Counts, Distribution, ValueType};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a feature holds, which decides the sketches it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Real numbers.
    Numeric,
    /// Whole numbers (counts, codes, scores).
    Integral,
    /// `true` / `false`.
    Boolean,
    /// Labels from a set (strings).
    Categorical,
    /// Free text: only metadata is kept, raw values only if `keep_raw`.
    Text {
        /// Also keep the most frequent raw values (they may carry personal data).
        keep_raw: bool,
    },
    /// Non-negative heavy-tailed quantities (latency, body sizes): DDSketch.
    Magnitude,
    /// Images: only metadata (size, channel statistics, brightness) is kept.
    Image,
}

impl FeatureKind {
    /// The kind's name in JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::Numeric => "numeric",
            FeatureKind::Integral => "integral",
            FeatureKind::Boolean => "boolean",
            FeatureKind::Categorical => "categorical",
            FeatureKind::Text { .. } => "text",
            FeatureKind::Magnitude => "magnitude",
            FeatureKind::Image => "image",
        }
    }

    /// Whether a value of type `ty` is of this kind (the rest count as wrong-typed).
    pub fn accepts(self, ty: ValueType) -> bool {
        match self {
            FeatureKind::Numeric | FeatureKind::Integral | FeatureKind::Magnitude => {
                matches!(ty, ValueType::Integral | ValueType::Fractional)
            }
            FeatureKind::Boolean => ty == ValueType::Boolean,
            FeatureKind::Categorical | FeatureKind::Text { .. } => ty == ValueType::String,
            FeatureKind::Image => ty == ValueType::Other,
        }
    }
}

impl FeatureKind {
    /// The kind of two profiles of one feature merged, if they can merge: the same
    /// kind, or `integral` with `numeric` (a column of whole numbers in one file and of
    /// reals in another), which gives `numeric`.
    ///
    /// ```
    /// use sextant::FeatureKind::*;
    /// assert_eq!(Integral.merged_with(Numeric), Some(Numeric));
    /// assert_eq!(Numeric.merged_with(Categorical), None);
    /// ```
    pub fn merged_with(self, other: FeatureKind) -> Option<FeatureKind> {
        match (self, other) {
            (a, b) if a == b => Some(a),
            (FeatureKind::Integral, FeatureKind::Numeric)
            | (FeatureKind::Numeric, FeatureKind::Integral) => Some(FeatureKind::Numeric),
            _ => None,
        }
    }
}

impl fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One observed value, borrowed from the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Null, absent, or an empty string.
    Missing,
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A floating-point number (NaN and ±∞ included).
    Float(f64),
    /// Text.
    Str(&'a str),
    /// Anything else (nested objects, lists, bytes).
    Other,
}

impl Value<'_> {
    /// The type this value is counted under, or `None` if missing.
    pub fn value_type(&self) -> Option<ValueType> {
        match self {
            Value::Missing => None,
            Value::Bool(_) => Some(ValueType::Boolean),
            Value::Int(_) => Some(ValueType::Integral),
            Value::Float(_) => Some(ValueType::Fractional),
            Value::Str("") => None,
            Value::Str(_) => Some(ValueType::String),
            Value::Other => Some(ValueType::Other),
        }
    }
}

/// Numeric metrics: distribution, distinct count, frequent integer values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NumericMetrics {
    /// The finite values' distribution.
    pub distribution: Distribution,
    /// Distinct finite values.
    pub distinct: Cardinality,
    /// Frequent integer (and boolean, as 0/1) values; created on the first one.
    pub frequent: Option<FrequentItems<i64>>,
}

impl NumericMetrics {
    #[inline]
    fn update(&mut self, x: f64) {
        self.distribution.update(x);
        self.distinct.insert_hash(hash_f64(x));
    }

    #[inline]
    fn update_int(&mut self, i: i64) {
        self.update(i as f64);
        self.frequent
            .get_or_insert_with(FrequentItems::new)
            .update(i);
    }

    fn reset(&mut self) {
        self.distribution.reset();
        self.distinct.reset();
        if let Some(f) = &mut self.frequent {
            f.reset();
        }
    }

    /// Merges `other`, and in between asks for the memory merging `next` will read:
    /// once the quantiles are merged, the keys of `next` their next merge reads are
    /// known, and merging the distinct counts leaves them time to arrive.
    fn merge(&mut self, other: &NumericMetrics, next: Option<&NumericMetrics>) {
        self.distribution.merge(&other.distribution);
        if let Some(next) = next {
            self.distribution.prefetch_merge(&next.distribution);
            self.distinct.prefetch_merge(&next.distinct);
        }
        self.distinct.merge(&other.distinct);
        match (&mut self.frequent, &other.frequent) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => self.frequent = Some(b.clone()),
            _ => {}
        }
    }
}

/// Categorical metrics: distinct count and frequent values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CategoricalMetrics {
    /// Distinct values.
    pub distinct: Cardinality,
    /// Frequent values.
    pub frequent: FrequentItems<String>,
}

impl CategoricalMetrics {
    fn update(&mut self, s: &str) {
        self.distinct.insert_hash(hash_str(s));
        self.frequent.update_ref(s);
    }

    fn reset(&mut self) {
        self.distinct.reset();
        self.frequent.reset();
    }

    fn merge(&mut self, other: &CategoricalMetrics) {
        self.distinct.merge(&other.distinct);
        self.frequent.merge(&other.frequent);
    }
}

/// Magnitude metrics: relative-error quantiles plus exact min, max and moments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MagnitudeMetrics {
    /// Relative-error quantiles.
    pub sketch: Magnitudes,
    /// Count, mean, variance.
    pub moments: Moments,
    /// Exact minimum and maximum (`None` before the first value).
    pub range: Option<(f64, f64)>,
}

impl MagnitudeMetrics {
    fn update(&mut self, x: f64) {
        self.sketch.update(x);
        self.moments.update(x);
        let (lo, hi) = self.range.unwrap_or((x, x));
        self.range = Some((lo.min(x), hi.max(x)));
    }

    fn merge(&mut self, other: &MagnitudeMetrics) {
        self.sketch.merge(&other.sketch);
        self.moments.merge(&other.moments);
        self.range = match (self.range, other.range) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (a, b) => a.or(b),
        };
    }
}

/// Text metrics: metadata distributions, raw values only if opted in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TextFeatureMetrics {
    /// Metadata distributions.
    pub metadata: TextMetrics,
    /// Raw values (only when the schema's `keep_raw` is set).
    pub raw: Option<CategoricalMetrics>,
}

/// The metrics a feature carries, chosen by its kind.
///
/// Text and image metrics hold eight and ten distributions: they are boxed, so that a
/// numeric feature's profile (what a live window holds eleven of, and a merge of views
/// reads a thousand times) is not as large as an image's. (Serialized, a box is its
/// contents: the format does not change.) The numeric variant, the largest left, stays
/// inline: it is the one the request path updates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(clippy::large_enum_variant)]
pub enum Metrics {
    /// For numeric, integral and boolean features.
    Numeric(NumericMetrics),
    /// For categorical features.
    Categorical(CategoricalMetrics),
    /// For text features.
    Text(Box<TextFeatureMetrics>),
    /// For magnitudes.
    Magnitude(MagnitudeMetrics),
    /// For images.
    Image(Box<ImageMetrics>),
}

/// The profile of one feature: its counters and the metrics its kind calls for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeatureProfile {
    kind: FeatureKind,
    counts: Counts,
    metrics: Metrics,
}

/// Two profiles of one feature disagree on its kind and cannot merge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("feature kinds differ: {left} and {right}")]
pub struct KindMismatch {
    /// This side's kind.
    pub left: FeatureKind,
    /// The other side's kind.
    pub right: FeatureKind,
}

impl FeatureProfile {
    /// An empty profile with the metrics `kind` calls for (the resolver).
    pub fn new(kind: FeatureKind) -> Self {
        let metrics = match kind {
            FeatureKind::Numeric | FeatureKind::Integral | FeatureKind::Boolean => {
                Metrics::Numeric(NumericMetrics::default())
            }
            FeatureKind::Categorical => Metrics::Categorical(CategoricalMetrics::default()),
            FeatureKind::Text { keep_raw } => Metrics::Text(Box::new(TextFeatureMetrics {
                metadata: TextMetrics::default(),
                raw: keep_raw.then(CategoricalMetrics::default),
            })),
            FeatureKind::Magnitude => Metrics::Magnitude(MagnitudeMetrics::default()),
            FeatureKind::Image => Metrics::Image(Box::default()),
        };
        FeatureProfile {
            kind,
            counts: Counts::new(),
            metrics,
        }
    }

    /// Empties the profile, keeping its kind and the buffers its sketches grew, so that
    /// the next window recorded into it allocates nothing until it outgrows this one:
    /// what [`crate::recorder::Recorder`] does with a closed window's live profiles.
    /// It is then equal to [`FeatureProfile::new`] of its kind.
    pub fn reset(&mut self) {
        self.counts = Counts::new();
        match &mut self.metrics {
            Metrics::Numeric(m) => m.reset(),
            Metrics::Categorical(m) => m.reset(),
            Metrics::Text(m) => {
                m.metadata.reset();
                m.raw.iter_mut().for_each(CategoricalMetrics::reset);
            }
            // DDSketch has no reset of its own: made anew.
            Metrics::Magnitude(m) => *m = MagnitudeMetrics::default(),
            Metrics::Image(m) => m.reset(),
        }
    }

    /// The feature's kind.
    pub fn kind(&self) -> FeatureKind {
        self.kind
    }

    /// The counters.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Values of the feature's own type (numbers for a numeric feature, ...).
    pub fn count(&self) -> u64 {
        self.counts
            .by_type()
            .filter(|&(t, _)| self.kind.accepts(t))
            .map(|(_, n)| n)
            .sum()
    }

    /// Present values of another type than the feature's.
    pub fn wrong_type(&self) -> u64 {
        self.counts.present() - self.count()
    }

    /// Counts `n` missing values, as `n` records of [`Value::Missing`] would.
    pub fn record_missing_n(&mut self, n: u64) {
        self.counts.record_missing_n(n);
    }

    /// Records one value.
    ///
    /// ```
    /// use sextant::{FeatureKind, FeatureProfile, Value};
    /// let mut f = FeatureProfile::new(FeatureKind::Numeric);
    /// for v in [Value::Float(1.5), Value::Int(2), Value::Str("oops"), Value::Missing] {
    ///     f.record(v);
    /// }
    /// assert_eq!((f.count(), f.wrong_type(), f.counts().missing()), (2, 1, 1));
    /// ```
    pub fn record(&mut self, value: Value<'_>) {
        let Some(ty) = value.value_type() else {
            self.counts.record_missing();
            return;
        };
        match (value, &mut self.metrics) {
            (Value::Float(x), Metrics::Numeric(m)) => {
                self.counts.record_f64(x);
                if x.is_finite() {
                    m.update(x);
                }
            }
            (Value::Int(i), Metrics::Numeric(m)) if self.kind == FeatureKind::Integral => {
                self.counts.record(ty);
                m.update_int(i);
            }
            (Value::Int(i), Metrics::Numeric(m)) if self.kind == FeatureKind::Numeric => {
                // A whole number among reals: a real; its frequency is not tracked.
                self.counts.record(ty);
                m.update(i as f64);
            }
            (Value::Bool(b), Metrics::Numeric(m)) if self.kind == FeatureKind::Boolean => {
                self.counts.record(ty);
                m.update_int(i64::from(b));
            }
            (Value::Str(s), Metrics::Categorical(m)) => {
                self.counts.record(ty);
                m.update(s);
            }
            (Value::Str(s), Metrics::Text(m)) => {
                self.counts.record(ty);
                m.metadata.update(s);
                if let Some(raw) = &mut m.raw {
                    raw.update(s);
                }
            }
            (Value::Float(x), Metrics::Magnitude(m)) => {
                self.counts.record_f64(x);
                if x.is_finite() {
                    m.update(x);
                }
            }
            (Value::Int(i), Metrics::Magnitude(m)) => {
                self.counts.record(ty);
                m.update(i as f64);
            }
            (Value::Float(x), _) => self.counts.record_f64(x),
            _ => self.counts.record(ty),
        }
    }

    /// Records one image's metadata (counted as a value of type `other`). In a feature
    /// of another kind the image is counted as wrong-typed.
    pub fn record_image(&mut self, image: &ImageStats) {
        self.counts.record(ValueType::Other);
        if let Metrics::Image(m) = &mut self.metrics {
            m.update(image);
        }
    }

    /// Records one number: the hot path of a numeric feature.
    #[inline]
    pub fn record_f64(&mut self, x: f64) {
        self.record(Value::Float(x));
    }

    /// Records a column of numbers (NaN and ±∞ counted apart), faster than one by one.
    pub fn record_f64_slice(&mut self, xs: &[f64]) {
        let Metrics::Numeric(m) = &mut self.metrics else {
            xs.iter().for_each(|&x| self.record(Value::Float(x)));
            return;
        };
        const CHUNK: usize = 512;
        let mut record_finite = |counts: &mut Counts, finite: &[f64]| {
            counts.record_n(ValueType::Fractional, finite.len() as u64);
            m.distribution.update_finite_slice(finite);
            m.distinct.insert_f64s(finite);
        };
        for chunk in xs.chunks(CHUNK) {
            // Columns are nearly always all finite: then no copy, and no buffer to zero
            // (4 KiB of `memset` a call was 9 % of the time of a live profile's rows).
            if all_finite(chunk) {
                record_finite(&mut self.counts, chunk);
            } else {
                let mut buf = [0.0f64; CHUNK];
                let mut n = 0;
                for &x in chunk {
                    if x.is_finite() {
                        buf[n] = x;
                        n += 1;
                    } else {
                        self.counts.record_f64(x);
                    }
                }
                record_finite(&mut self.counts, &buf[..n]);
            }
        }
    }

    /// Merges another profile of the same feature into this one.
    ///
    /// # Errors
    ///
    /// [`KindMismatch`] if the two profiles are of different kinds (this one is left
    /// unchanged).
    pub fn merge(&mut self, other: &FeatureProfile) -> Result<(), KindMismatch> {
        self.merge_before(other, None)
    }

    /// [`FeatureProfile::merge`] of `other` when `next` is to be merged after it: asks
    /// for what that merge will read while this one runs (see
    /// [`crate::ProfileView::merge_all`]).
    pub(crate) fn merge_before(
        &mut self,
        other: &FeatureProfile,
        next: Option<&FeatureProfile>,
    ) -> Result<(), KindMismatch> {
        let mismatch = KindMismatch {
            left: self.kind,
            right: other.kind,
        };
        let Some(kind) = self.kind.merged_with(other.kind) else {
            return Err(mismatch);
        };
        match (&mut self.metrics, &other.metrics) {
            (Metrics::Numeric(a), Metrics::Numeric(b)) => {
                let next = next.and_then(|n| match &n.metrics {
                    Metrics::Numeric(m) => Some(m),
                    _ => None,
                });
                a.merge(b, next);
            }
            (Metrics::Categorical(a), Metrics::Categorical(b)) => a.merge(b),
            (Metrics::Text(a), Metrics::Text(b)) => {
                a.metadata.merge(&b.metadata);
                match (&mut a.raw, &b.raw) {
                    (Some(x), Some(y)) => x.merge(y),
                    (None, Some(y)) => a.raw = Some(y.clone()),
                    _ => {}
                }
            }
            (Metrics::Magnitude(a), Metrics::Magnitude(b)) => a.merge(b),
            (Metrics::Image(a), Metrics::Image(b)) => a.merge(b),
            // Same kind always resolves to the same metrics; a decoded file whose
            // metrics contradict its kind is refused here.
            _ => return Err(mismatch),
        }
        self.kind = kind;
        self.counts.merge(&other.counts);
        Ok(())
    }

    /// Whether the metrics are the ones this kind resolves to (checked after decoding).
    pub fn is_consistent(&self) -> bool {
        matches!(
            (&self.kind, &self.metrics),
            (
                FeatureKind::Numeric | FeatureKind::Integral | FeatureKind::Boolean,
                Metrics::Numeric(_)
            ) | (FeatureKind::Categorical, Metrics::Categorical(_))
                | (FeatureKind::Text { .. }, Metrics::Text(_))
                | (FeatureKind::Magnitude, Metrics::Magnitude(_))
                | (FeatureKind::Image, Metrics::Image(_))
        )
    }
}
