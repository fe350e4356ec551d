//! Counters every feature carries, whatever its kind.
//!
//! A value is counted once in [`Counts::total`] and once under the type it was observed
//! as. A value of a type the feature does not expect is still counted — under its own
//! type — so a client that sends a string where a number belongs shows up in the
//! profile instead of vanishing. Missing values (null, or an empty string) are counted
//! apart from every type, and floating-point NaN and ±∞ are counted on top of their
//! fractional count, because most statistics skip them and a user needs to know how many
//! were skipped.
//!
//! Merging adds every counter, so it is exact, associative and commutative, with
//! [`Counts::default`] as identity.

/// The type a value was observed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ValueType {
    /// A whole number (`i64`, `u64`, or a float read from text without a fraction).
    Integral,
    /// A floating-point number, including NaN and ±∞.
    Fractional,
    /// `true` or `false`.
    Boolean,
    /// Text.
    String,
    /// Anything else: nested objects, lists, bytes.
    Other,
}

impl ValueType {
    /// Every type, in the order they are reported.
    pub const ALL: [ValueType; 5] = [
        ValueType::Integral,
        ValueType::Fractional,
        ValueType::Boolean,
        ValueType::String,
        ValueType::Other,
    ];

    /// The lower-case name used in JSON output and in metric labels.
    ///
    /// ```
    /// assert_eq!(sextant::ValueType::Fractional.name(), "fractional");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            ValueType::Integral => "integral",
            ValueType::Fractional => "fractional",
            ValueType::Boolean => "boolean",
            ValueType::String => "string",
            ValueType::Other => "other",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Counts of values by observed type, plus missing values, NaN and infinities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    by_type: [u64; 5],
    missing: u64,
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
}

impl Counts {
    /// An empty set of counters (the identity of [`Counts::merge`]).
    pub const fn new() -> Self {
        Counts {
            by_type: [0; 5],
            missing: 0,
            nan: 0,
            pos_inf: 0,
            neg_inf: 0,
        }
    }

    /// Counts one value observed as `ty`.
    pub fn record(&mut self, ty: ValueType) {
        self.by_type[ty.index()] += 1;
    }

    /// Counts `n` values observed as `ty` at once.
    pub fn record_n(&mut self, ty: ValueType, n: u64) {
        self.by_type[ty.index()] += n;
    }

    /// Counts one floating-point value: as fractional, and apart when it is NaN or ±∞.
    ///
    /// ```
    /// let mut c = sextant::Counts::new();
    /// for x in [1.5, f64::NAN, f64::INFINITY, -f64::INFINITY] {
    ///     c.record_f64(x);
    /// }
    /// assert_eq!(c.of(sextant::ValueType::Fractional), 4);
    /// assert_eq!((c.nan(), c.pos_inf(), c.neg_inf()), (1, 1, 1));
    /// assert_eq!(c.finite(), 1);
    /// ```
    pub fn record_f64(&mut self, x: f64) {
        self.by_type[ValueType::Fractional.index()] += 1;
        if x.is_nan() {
            self.nan += 1;
        } else if x == f64::INFINITY {
            self.pos_inf += 1;
        } else if x == f64::NEG_INFINITY {
            self.neg_inf += 1;
        }
    }

    /// Counts one missing value (null, or an empty field).
    pub fn record_missing(&mut self) {
        self.missing += 1;
    }

    /// Counts `n` missing values at once.
    pub fn record_missing_n(&mut self, n: u64) {
        self.missing += n;
    }

    /// Values seen of type `ty`.
    pub const fn of(&self, ty: ValueType) -> u64 {
        self.by_type[ty.index()]
    }

    /// Every value seen, missing ones included.
    pub fn total(&self) -> u64 {
        self.present() + self.missing
    }

    /// Every value seen that was not missing, whatever its type.
    pub fn present(&self) -> u64 {
        self.by_type.iter().sum()
    }

    /// Missing values (null or empty).
    pub const fn missing(&self) -> u64 {
        self.missing
    }

    /// Fractional values that were NaN.
    pub const fn nan(&self) -> u64 {
        self.nan
    }

    /// Fractional values that were +∞.
    pub const fn pos_inf(&self) -> u64 {
        self.pos_inf
    }

    /// Fractional values that were −∞.
    pub const fn neg_inf(&self) -> u64 {
        self.neg_inf
    }

    /// Numeric values (integral or fractional) that were finite.
    pub fn finite(&self) -> u64 {
        self.of(ValueType::Integral) + self.of(ValueType::Fractional)
            - self.nan
            - self.pos_inf
            - self.neg_inf
    }

    /// Every type with its count, in [`ValueType::ALL`] order.
    pub fn by_type(&self) -> impl Iterator<Item = (ValueType, u64)> + '_ {
        ValueType::ALL.into_iter().map(|t| (t, self.of(t)))
    }

    /// Adds `other`'s counters to these. Exact, associative and commutative.
    ///
    /// ```
    /// use sextant::{Counts, ValueType};
    /// let mut a = Counts::new();
    /// a.record(ValueType::Integral);
    /// let mut b = Counts::new();
    /// b.record_missing();
    /// a.merge(&b);
    /// assert_eq!((a.total(), a.missing()), (2, 1));
    /// ```
    pub fn merge(&mut self, other: &Counts) {
        for (a, b) in self.by_type.iter_mut().zip(other.by_type) {
            *a += b;
        }
        self.missing += other.missing;
        self.nan += other.nan;
        self.pos_inf += other.pos_inf;
        self.neg_inf += other.neg_inf;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One event for a counter: a type, a float or a missing value.
    fn event() -> impl Strategy<Value = (u8, f64)> {
        (
            0u8..7,
            prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY)],
        )
    }

    fn apply(c: &mut Counts, (kind, x): (u8, f64)) {
        match kind {
            0..=4 => c.record(ValueType::ALL[kind as usize]),
            5 => c.record_f64(x),
            _ => c.record_missing(),
        }
    }

    fn counts_of(events: &[(u8, f64)]) -> Counts {
        let mut c = Counts::new();
        events.iter().for_each(|&e| apply(&mut c, e));
        c
    }

    #[test]
    fn wrong_types_are_counted_not_dropped() {
        let mut c = Counts::new();
        c.record_f64(1.0);
        c.record(ValueType::String);
        c.record_missing();
        assert_eq!(c.total(), 3);
        assert_eq!(c.of(ValueType::String), 1);
        assert_eq!(c.finite(), 1);
    }

    proptest! {
        #[test]
        fn merge_is_associative_commutative_with_identity(
            a in prop::collection::vec(event(), 0..50),
            b in prop::collection::vec(event(), 0..50),
            c in prop::collection::vec(event(), 0..50),
        ) {
            let (ca, cb, cc) = (counts_of(&a), counts_of(&b), counts_of(&c));
            let mut left = ca;
            left.merge(&cb);
            left.merge(&cc);
            let mut bc = cb;
            bc.merge(&cc);
            let mut right = ca;
            right.merge(&bc);
            prop_assert_eq!(left, right);
            let mut ab = ca;
            ab.merge(&cb);
            let mut ba = cb;
            ba.merge(&ca);
            prop_assert_eq!(ab, ba);
            let mut id = ca;
            id.merge(&Counts::new());
            prop_assert_eq!(id, ca);
            // Partition then merge equals the whole.
            let whole: Vec<_> = a.iter().chain(&b).chain(&c).copied().collect();
            prop_assert_eq!(left, counts_of(&whole));
        }
    }
}
