//! The fixed hash behind every cardinality sketch.
//!
//! HyperLogLog sketches only merge when both sides hashed their values the same way, so
//! the hash must not depend on the process (the standard library's `RandomState` does) or
//! on the platform. Values are hashed by their canonical bytes:
//!
//! - numbers by the bit pattern of their `f64` value, with `-0.0` folded into `0.0` and
//!   every NaN into one canonical NaN, so `3`, `3.0` and `-0.0 + 3.0` count as one value;
//! - text by its UTF-8 bytes;
//!
//! then mixed with the 64-bit finalizer of MurmurHash3 (`fmix64`), whose avalanche gives
//! HyperLogLog the uniform bits it needs. Text goes through 64-bit FNV-1a first. These
//! functions are part of the file format: changing them is a format version change.

const SEED: u64 = 0x5345_5854_414e_5431; // "SEXTANT1"

/// MurmurHash3's 64-bit finalizer: a bijection with full avalanche.
#[inline]
pub const fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The canonical bits of a number: `-0.0` as `0.0`, every NaN as one NaN.
#[inline]
pub fn canonical_bits(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

/// Hash of a number, by its canonical `f64` bits.
///
/// ```
/// use sextant::hash::hash_f64;
/// assert_eq!(hash_f64(-0.0), hash_f64(0.0));
/// assert_eq!(hash_f64(3.0), hash_f64(3_i64 as f64));
/// assert_ne!(hash_f64(1.0), hash_f64(2.0));
/// ```
#[inline]
pub fn hash_f64(x: f64) -> u64 {
    fmix64(canonical_bits(x) ^ SEED)
}

/// [`hash_f64`] of a finite number, without the NaN test (`x + 0.0` folds `-0.0`).
#[inline]
pub(crate) fn hash_finite_f64(x: f64) -> u64 {
    debug_assert!(x.is_finite());
    hash_prechecked_f64(x)
}

/// [`hash_finite_f64`] for loops that check their whole slice is finite once: a check
/// of each value would keep the compiler from vectorizing them in the (optimized) unit
/// tests, which then would not test the vector code users run.
#[inline(always)]
pub(crate) fn hash_prechecked_f64(x: f64) -> u64 {
    fmix64((x + 0.0).to_bits() ^ SEED)
}

/// Hash of a text value, by its UTF-8 bytes.
///
/// ```
/// use sextant::hash::hash_str;
/// assert_eq!(hash_str("red"), hash_str("red"));
/// assert_ne!(hash_str("red"), hash_str("white"));
/// ```
#[inline]
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ SEED;
    for &b in s.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    fmix64(h ^ s.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_fixed_across_processes_and_versions() {
        // Pinned values: if these change, stored sketches stop merging with new ones.
        assert_eq!(hash_f64(1.0), 0x61f1_b755_ec08_cb56);
        assert_eq!(hash_str("sextant"), 0x7653_07b5_538b_22e0);
    }

    #[test]
    fn the_finite_path_hashes_alike() {
        for x in [0.0, -0.0, 1.0, -2.5, 1e-310, f64::MAX, f64::MIN] {
            assert_eq!(hash_finite_f64(x), hash_f64(x), "{x}");
        }
    }

    #[test]
    fn nan_payloads_hash_alike() {
        let other_nan = f64::from_bits(f64::NAN.to_bits() | 1);
        assert!(other_nan.is_nan());
        assert_eq!(hash_f64(other_nan), hash_f64(f64::NAN));
    }
}
