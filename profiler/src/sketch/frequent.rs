//! The most frequent values, from the DataSketches frequent-items sketch.

use super::quantiles::serde_bytes_compat::Bytes;
use datasketches::frequencies::{ErrorType, FrequentItemValue, FrequentItemsSketch};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::hash::Hash;

/// One frequent value with its estimated count and guaranteed bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrequentItem<T> {
    /// The value.
    pub value: T,
    /// Estimated number of occurrences.
    pub estimate: u64,
    /// The true count is at least this.
    pub lower_bound: u64,
    /// The true count is at most this.
    pub upper_bound: u64,
}

/// Heavy hitters of a stream of integers (`i64`) or strings (`String`).
///
/// The sketch keeps at most `0.75 × MAX_MAP_SIZE` values. Every count it reports is
/// within [`FrequentItems::maximum_error`] of the truth, and [`FrequentItems::items`]
/// has no false negatives: every value occurring more than `maximum_error` times is
/// listed. While fewer distinct values than the map holds were seen, counts are exact.
#[derive(Debug, Clone)]
pub struct FrequentItems<T: Eq + Hash> {
    sketch: FrequentItemsSketch<T>,
}

impl<T: Eq + Hash> Default for FrequentItems<T> {
    fn default() -> Self {
        FrequentItems::new()
    }
}

impl<T: Eq + Hash> FrequentItems<T> {
    /// Maximum size of the sketch's hash map.
    pub const MAX_MAP_SIZE: usize = 128;

    /// An empty sketch.
    pub fn new() -> Self {
        let sketch = FrequentItemsSketch::new(Self::MAX_MAP_SIZE)
            .unwrap_or_else(|_| unreachable!("MAX_MAP_SIZE is a power of two in range"));
        FrequentItems { sketch }
    }

    /// Empties the sketch (its map is made anew at its smallest size).
    pub fn reset(&mut self) {
        self.sketch.reset();
    }

    /// Counts one occurrence of `value`.
    #[inline]
    pub fn update(&mut self, value: T) {
        self.sketch.update(value);
    }

    /// Counts one occurrence of a borrowed value, allocating only when it is new.
    #[inline]
    pub fn update_ref<Q>(&mut self, value: &Q)
    where
        T: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = T> + ?Sized,
    {
        self.sketch.update_ref(value);
    }

    /// Merges `other` into this sketch.
    pub fn merge(&mut self, other: &FrequentItems<T>)
    where
        T: Clone,
    {
        self.sketch.merge(&other.sketch);
    }

    /// The largest possible error of any reported count.
    pub fn maximum_error(&self) -> u64 {
        self.sketch.maximum_error()
    }

    /// Total number of occurrences counted.
    pub fn total(&self) -> u64 {
        self.sketch.total_weight()
    }

    /// Every value that may occur more than [`FrequentItems::maximum_error`] times (no
    /// false negatives), most frequent first.
    ///
    /// ```
    /// let mut f = sextant::sketch::FrequentItems::<i64>::new();
    /// for x in [5, 5, 5, 6, 6, 7] {
    ///     f.update(x);
    /// }
    /// let top = f.items();
    /// assert_eq!((top[0].value, top[0].estimate), (5, 3));
    /// assert_eq!(top.len(), 3);
    /// ```
    pub fn items(&self) -> Vec<FrequentItem<T>>
    where
        T: Clone + Ord,
    {
        let mut rows: Vec<FrequentItem<T>> = self
            .sketch
            .frequent_items(ErrorType::NoFalseNegatives)
            .into_iter()
            .map(|r| FrequentItem {
                value: r.item().clone(),
                estimate: r.estimate(),
                lower_bound: r.lower_bound(),
                upper_bound: r.upper_bound(),
            })
            .collect();
        rows.sort_by(|a, b| b.estimate.cmp(&a.estimate).then(a.value.cmp(&b.value)));
        rows
    }
}

impl<T: FrequentItemValue + Clone> Serialize for FrequentItems<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.sketch.serialize())
    }
}

impl<'de, T: FrequentItemValue + Clone> Deserialize<'de> for FrequentItems<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = Bytes::deserialize(d)?;
        FrequentItemsSketch::deserialize(&bytes.0)
            .map(|sketch| FrequentItems { sketch })
            .map_err(|e| serde::de::Error::custom(format!("frequent items sketch: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_above_the_error_bound() {
        let mut f = FrequentItems::<String>::new();
        // 10 heavy values among 5,000 distinct light ones.
        for i in 0..50_000u32 {
            let v = if i % 5 == 0 {
                format!("heavy-{}", i % 10)
            } else {
                format!("light-{i}")
            };
            f.update_ref(v.as_str());
        }
        let items = f.items();
        let err = f.maximum_error();
        for h in (0..10).step_by(5) {
            let name = format!("heavy-{h}");
            let row = items
                .iter()
                .find(|r| r.value == name)
                .expect("heavy value listed");
            assert!(
                row.lower_bound <= 5000 && 5000 <= row.upper_bound,
                "{row:?}"
            );
        }
        assert!(items.iter().all(|r| r.upper_bound > err));
    }
}
