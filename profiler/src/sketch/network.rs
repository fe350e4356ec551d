//! The comparator networks of KLL's bulk path: two blocks of 16 values ordered side by
//! side (one vector per position, a lane per block), so that each compare-exchange is
//! one vector min and one vector max over both blocks, without branches; then each block
//! halved to the values at its even or odd positions, as its coin says.
//!
//! The values are finite and canonical (no `-0.0`), for which every min/max below
//! agrees with the order of KLL's keys. On x86_64 the networks run on SSE2's
//! `minpd`/`maxpd`; elsewhere on `f64::min`/`f64::max`. (Written with plain `f64`
//! operations, x86_64 code either spends half its time on `f64::min`'s NaN handling or,
//! as `if a < b`, becomes two unpredictable branches per compare-exchange: 2.2× and 10×
//! slower.)

/// Values in a block.
pub(super) const BLOCK: usize = 16;

/// What a halved block keeps.
pub(super) const RUN: usize = BLOCK / 2;

/// Two blocks ordered and halved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Halves {
    /// Each block's values at its even (coin 0) or odd (coin 1) positions, in order.
    pub(super) runs: [[f64; RUN]; 2],
    /// The smallest value of both blocks.
    pub(super) lo: f64,
    /// The largest value of both blocks.
    pub(super) hi: f64,
}

/// Expands to `fn $name(a, b, coins) -> Halves` applying the listed compare-exchanges,
/// given how the two blocks' values at a position are held in a vector (`$load`),
/// compared (`$min`, `$max`), chosen between by the coins (`$select` of the even and the
/// odd vector under `$mask`) and given back (`$lanes`).
macro_rules! network {
    ($(#[$attr:meta])* $vis:vis $name:ident, $ops:ident; $(($i:literal, $j:literal))*) => {
        $(#[$attr])*
        $vis fn $name(a: &[f64; BLOCK], b: &[f64; BLOCK], coins: [bool; 2]) -> Halves {
            let mut r: [_; BLOCK] = std::array::from_fn(|p| $ops::load(a[p], b[p]));
            $(
                let (x, y) = (r[$i], r[$j]);
                r[$i] = $ops::min(x, y);
                r[$j] = $ops::max(x, y);
            )*
            let mask = $ops::mask(coins);
            let mut runs = [[0.0; RUN]; 2];
            for i in 0..RUN {
                let [x, y] = $ops::lanes($ops::select(r[2 * i], r[2 * i + 1], mask));
                runs[0][i] = x;
                runs[1][i] = y;
            }
            let ([lo_a, lo_b], [hi_a, hi_b]) = ($ops::lanes(r[0]), $ops::lanes(r[BLOCK - 1]));
            Halves {
                runs,
                lo: lo_a.min(lo_b),
                hi: hi_a.max(hi_b),
            }
        }
    };
}

/// Both networks for `network!`, named `$sort` and `$merge`, over the vector operations
/// of module `$ops`.
macro_rules! networks {
    ($(#[$attr:meta])* $vis:vis $sort:ident, $merge:ident; $ops:ident) => {
        network!(
            /// Sorts both blocks (Batcher's odd–even merge sort of 16, 63
            /// compare-exchanges) and halves them.
            $(#[$attr])* $vis $sort, $ops;
        (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15) (0, 2) (1, 3) (4, 6)
        (5, 7) (8, 10) (9, 11) (12, 14) (13, 15) (1, 2) (5, 6) (9, 10) (13, 14) (0, 4)
        (1, 5) (2, 6) (3, 7) (8, 12) (9, 13) (10, 14) (11, 15) (2, 4) (3, 5) (10, 12)
        (11, 13) (1, 2) (3, 4) (5, 6) (9, 10) (11, 12) (13, 14) (0, 8) (1, 9) (2, 10)
        (3, 11) (4, 12) (5, 13) (6, 14) (7, 15) (4, 8) (5, 9) (6, 10) (7, 11) (2, 4) (3, 5)
        (6, 8) (7, 9) (10, 12) (11, 13) (1, 2) (3, 4) (5, 6) (7, 8) (9, 10) (11, 12)
        (13, 14)
        );
        network!(
            /// Merges the two sorted halves of both blocks (the last stage of the same
            /// network, 25 compare-exchanges) and halves them.
            $(#[$attr])* $vis $merge, $ops;
        (0, 8) (1, 9) (2, 10) (3, 11) (4, 12) (5, 13) (6, 14) (7, 15) (4, 8) (5, 9) (6, 10)
        (7, 11) (2, 4) (3, 5) (6, 8) (7, 9) (10, 12) (11, 13) (1, 2) (3, 4) (5, 6) (7, 8)
        (9, 10) (11, 12) (13, 14)
        );
    };
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod imp {
    use super::{BLOCK, Halves, RUN};

    /// SSE2 vectors of two `f64`.
    mod sse2 {
        pub(super) use std::arch::x86_64::{
            __m128d as V, _mm_and_pd, _mm_andnot_pd, _mm_castsi128_pd, _mm_cvtsd_f64,
            _mm_max_pd as max, _mm_min_pd as min, _mm_or_pd, _mm_set_epi64x, _mm_set_pd,
            _mm_unpackhi_pd,
        };

        // Each helper has SSE2 enabled like the networks calling it, so the intrinsics
        // are safe to call in it and it inlines into them.

        #[target_feature(enable = "sse2")]
        pub(super) fn load(a: f64, b: f64) -> V {
            _mm_set_pd(b, a)
        }

        #[target_feature(enable = "sse2")]
        pub(super) fn mask(coins: [bool; 2]) -> V {
            let [a, b] = coins.map(|c| -i64::from(c));
            _mm_castsi128_pd(_mm_set_epi64x(b, a))
        }

        #[target_feature(enable = "sse2")]
        pub(super) fn select(even: V, odd: V, mask: V) -> V {
            _mm_or_pd(_mm_and_pd(mask, odd), _mm_andnot_pd(mask, even))
        }

        #[target_feature(enable = "sse2")]
        pub(super) fn lanes(v: V) -> [f64; 2] {
            [_mm_cvtsd_f64(v), _mm_cvtsd_f64(_mm_unpackhi_pd(v, v))]
        }
    }

    networks!(#[target_feature(enable = "sse2")] sort, merge; sse2);

    #[inline]
    #[allow(unsafe_code)]
    pub(in super::super) fn sort_halve(
        a: &[f64; BLOCK],
        b: &[f64; BLOCK],
        coins: [bool; 2],
    ) -> Halves {
        // SAFETY: `sort` only needs SSE2, which this module is compiled with
        // (`cfg(target_feature = "sse2")`: every x86_64 target has it).
        unsafe { sort(a, b, coins) }
    }

    #[inline]
    #[allow(unsafe_code)]
    pub(in super::super) fn merge_halve(
        a: &[f64; BLOCK],
        b: &[f64; BLOCK],
        coins: [bool; 2],
    ) -> Halves {
        // SAFETY: as in `sort_halve`.
        unsafe { merge(a, b, coins) }
    }
}

/// The networks on plain `f64` pairs: what other targets run, and on x86_64 the tests'
/// check of the SSE2 version.
#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
mod portable {
    use super::{BLOCK, Halves, RUN};

    /// Pairs of `f64` as arrays.
    mod pairs {
        pub(super) fn load(a: f64, b: f64) -> [f64; 2] {
            [a, b]
        }
        pub(super) fn min(x: [f64; 2], y: [f64; 2]) -> [f64; 2] {
            [x[0].min(y[0]), x[1].min(y[1])]
        }
        pub(super) fn max(x: [f64; 2], y: [f64; 2]) -> [f64; 2] {
            [x[0].max(y[0]), x[1].max(y[1])]
        }
        pub(super) fn mask(coins: [bool; 2]) -> [bool; 2] {
            coins
        }
        pub(super) fn select(even: [f64; 2], odd: [f64; 2], mask: [bool; 2]) -> [f64; 2] {
            [0, 1].map(|l| if mask[l] { odd[l] } else { even[l] })
        }
        pub(super) fn lanes(v: [f64; 2]) -> [f64; 2] {
            v
        }
    }

    networks!(#[inline] pub(in super::super) sort_halve, merge_halve; pairs);
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
use portable as imp;

pub(super) use imp::{merge_halve, sort_halve};

#[cfg(test)]
mod tests {
    use super::*;

    type Halver = fn(&[f64; BLOCK], &[f64; BLOCK], [bool; 2]) -> Halves;

    /// Both blocks in full, in the networks' order: even positions from coin 0, odd
    /// positions from coin 1.
    fn ordered(f: Halver, a: &[f64; BLOCK], b: &[f64; BLOCK]) -> [Vec<f64>; 2] {
        let (even, odd) = (f(a, b, [false, false]), f(a, b, [true, true]));
        // Mixed coins pick per block.
        let mixed = f(a, b, [true, false]);
        assert_eq!(mixed.runs, [odd.runs[0], even.runs[1]]);
        [0, 1].map(|l| {
            (0..RUN)
                .flat_map(|i| [even.runs[l][i], odd.runs[l][i]])
                .collect()
        })
    }

    fn bits(m: u32) -> [f64; BLOCK] {
        std::array::from_fn(|p| f64::from((m >> p) & 1))
    }

    fn sorted(v: &[f64]) -> bool {
        v.windows(2).all(|w| w[0] <= w[1])
    }

    /// Each implementation compiled here: the one in use, and the portable one.
    const IMPLEMENTATIONS: [(Halver, Halver); 2] = [
        (sort_halve, merge_halve),
        (portable::sort_halve, portable::merge_halve),
    ];

    #[test]
    fn sorts_every_zero_one_input() {
        // The 0-1 principle: a comparator network that sorts every 0/1 sequence sorts
        // every sequence.
        for (sort, _) in IMPLEMENTATIONS {
            for m in 0..1u32 << BLOCK {
                let [a, b] = ordered(sort, &bits(m), &bits(!m));
                assert!(sorted(&a) && sorted(&b), "{m:016b}");
            }
        }
    }

    #[test]
    fn merges_every_pair_of_sorted_zero_one_halves() {
        // Each half sorted: `a` (`b`) zeros, then ones; the second block has them swapped.
        let half = |zeros: u32| 0xFFu32 << zeros & 0xFF;
        for (_, merge) in IMPLEMENTATIONS {
            for (a, b) in (0..=8).flat_map(|a| (0..=8).map(move |b| (a, b))) {
                let [x, y] = ordered(
                    merge,
                    &bits(half(a) | half(b) << 8),
                    &bits(half(b) | half(a) << 8),
                );
                assert!(sorted(&x) && sorted(&y), "{a} {b}");
            }
        }
    }

    #[test]
    fn keeps_the_values_and_the_extremes() {
        let a: [f64; BLOCK] = std::array::from_fn(|p| ((p * 7) % 16) as f64 - 3.5);
        let b: [f64; BLOCK] = std::array::from_fn(|p| -(p as f64));
        for (sort, _) in IMPLEMENTATIONS {
            let [x, y] = ordered(sort, &a, &b);
            let want: Vec<f64> = (0..16).map(|p| p as f64 - 3.5).collect();
            assert_eq!(x, want);
            assert_eq!((y[0], y[15]), (-15.0, 0.0));
            let h = sort(&a, &b, [false, true]);
            assert_eq!((h.lo, h.hi), (-15.0, 11.5));
            assert_eq!(
                h,
                sort_halve(&a, &b, [false, true]),
                "implementations agree"
            );
        }
    }
}
