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
//! slower.) Where the processor has AVX-512F, [`Wide`] runs the same networks over
//! eight blocks at once, one 512-bit vector per position: the same runs, with the bulk
//! path's networks and their loads and stores in 56 % of the time (`perf` of the columns
//! bench; `benches/RESULTS.md`).

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

/// Expands `$m! { $args ; (i, j) ... }` with the compare-exchanges that sort a block:
/// Batcher's odd–even merge sort of 16, 63 of them.
macro_rules! sorting_pairs {
    ($m:ident! { $($args:tt)* }) => {
        $m! { $($args)* ;
        (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15) (0, 2) (1, 3) (4, 6)
        (5, 7) (8, 10) (9, 11) (12, 14) (13, 15) (1, 2) (5, 6) (9, 10) (13, 14) (0, 4)
        (1, 5) (2, 6) (3, 7) (8, 12) (9, 13) (10, 14) (11, 15) (2, 4) (3, 5) (10, 12)
        (11, 13) (1, 2) (3, 4) (5, 6) (9, 10) (11, 12) (13, 14) (0, 8) (1, 9) (2, 10)
        (3, 11) (4, 12) (5, 13) (6, 14) (7, 15) (4, 8) (5, 9) (6, 10) (7, 11) (2, 4) (3, 5)
        (6, 8) (7, 9) (10, 12) (11, 13) (1, 2) (3, 4) (5, 6) (7, 8) (9, 10) (11, 12)
        (13, 14)
        }
    };
}

/// Expands `$m! { $args ; (i, j) ... }` with the compare-exchanges that merge a block's
/// two sorted halves: the last stage of the same network, 25 of them.
macro_rules! merging_pairs {
    ($m:ident! { $($args:tt)* }) => {
        $m! { $($args)* ;
        (0, 8) (1, 9) (2, 10) (3, 11) (4, 12) (5, 13) (6, 14) (7, 15) (4, 8) (5, 9) (6, 10)
        (7, 11) (2, 4) (3, 5) (6, 8) (7, 9) (10, 12) (11, 13) (1, 2) (3, 4) (5, 6) (7, 8)
        (9, 10) (11, 12) (13, 14)
        }
    };
}

/// Both networks for `network!`, named `$sort` and `$merge`, over the vector operations
/// of module `$ops`.
macro_rules! networks {
    ($(#[$attr:meta])* $vis:vis $sort:ident, $merge:ident; $ops:ident) => {
        sorting_pairs!(network! {
            /// Sorts both blocks and halves them.
            $(#[$attr])* $vis $sort, $ops
        });
        merging_pairs!(network! {
            /// Merges the two sorted halves of both blocks and halves them.
            $(#[$attr])* $vis $merge, $ops
        });
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

/// Which network a level of the bulk path runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Network {
    /// Sorts blocks (level 0).
    Sort,
    /// Merges blocks' two sorted halves (the levels above).
    Merge,
}

impl Network {
    /// Orders two blocks and halves them (see [`Halves`]).
    #[inline]
    pub(super) fn halve(self, a: &[f64; BLOCK], b: &[f64; BLOCK], coins: [bool; 2]) -> Halves {
        match self {
            Network::Sort => sort_halve(a, b, coins),
            Network::Merge => merge_halve(a, b, coins),
        }
    }
}

/// Blocks a [`Wide`] network orders at once: a 512-bit vector of `f64` per position
/// (the coins' `u8` mask and the 8 × 8 transpositions count on 8).
pub(super) const LANES: usize = 8;
const _: () = assert!(LANES == 8);

/// The networks over [`LANES`] blocks at once, one AVX-512 vector (8 `f64`) per position:
/// a quarter of the vector operations a block of the two-block networks takes, plus the
/// transpositions in and out. Only where the processor has AVX-512F: [`Wide::new`] finds
/// out, so holding a `Wide` is the proof that it does.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wide(Private);

/// What only [`Wide::new`] makes; on other targets nothing can (no value of it exists).
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
struct Private;

#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy)]
enum Private {}

impl Wide {
    /// The wide networks, if this processor runs them.
    #[inline]
    pub(super) fn new() -> Option<Wide> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Wide(Private));
        }
        None
    }

    /// Orders blocks `first .. first + LANES` of `buf` (each [`BLOCK`] values, finite
    /// and canonical) with `network` and halves them: block `first + j` keeps the values
    /// at its odd positions if bit `j` of `coins` is set, else at its even ones, and its
    /// [`RUN`] of them is written to `buf` from `(first + j) · RUN` — after every block
    /// is read, so the runs may overwrite them. Returns the blocks' smallest and largest
    /// values. The same runs as [`Network::halve`] on each pair.
    #[inline]
    pub(super) fn halve(
        self,
        network: Network,
        buf: &mut [f64],
        first: usize,
        coins: u8,
    ) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        {
            let blocks = &buf[first * BLOCK..][..LANES * BLOCK];
            let blocks: &[f64; LANES * BLOCK] = blocks.try_into().expect("LANES blocks");
            #[allow(unsafe_code)]
            // SAFETY: a `Wide` exists only where the processor has AVX-512F, all that
            // the networks are compiled for.
            let (ordered, lo, hi) = unsafe {
                match network {
                    Network::Sort => wide::sort(blocks, coins),
                    Network::Merge => wide::merge(blocks, coins),
                }
            };
            buf[first * RUN..][..LANES * RUN].copy_from_slice(&ordered);
            (lo, hi)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (network, buf, first, coins);
            match self.0 {}
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{BLOCK, LANES, RUN};
    use std::arch::x86_64::{
        __m512d as V, _mm512_loadu_pd, _mm512_mask_blend_pd, _mm512_max_pd, _mm512_min_pd,
        _mm512_reduce_max_pd, _mm512_reduce_min_pd, _mm512_shuffle_f64x2, _mm512_storeu_pd,
        _mm512_unpackhi_pd, _mm512_unpacklo_pd,
    };

    /// Transposes 8 × 8 values: vector `i` of the result holds lane `i` of each input
    /// vector, in their order (unpacks within 128-bit lanes, then two shuffles of them).
    #[target_feature(enable = "avx512f")]
    fn transpose(r: [V; 8]) -> [V; 8] {
        let t: [V; 8] = std::array::from_fn(|i| {
            let (a, b) = (r[i & !1], r[i | 1]);
            if i & 1 == 0 {
                _mm512_unpacklo_pd(a, b)
            } else {
                _mm512_unpackhi_pd(a, b)
            }
        });
        // t[0]: a0 b0 | a2 b2 | a4 b4 | a6 b6, t[1]: a1 b1 | a3 b3 | …, t[2]: c0 d0 | …
        let lanes_02 = |x, y| _mm512_shuffle_f64x2::<0b10_00_10_00>(x, y);
        let lanes_13 = |x, y| _mm512_shuffle_f64x2::<0b11_01_11_01>(x, y);
        // u[0]: a0 b0 a4 b4 c0 d0 c4 d4, u[1]: a2 b2 a6 b6 …, u[2]: a1 b1 a5 b5 …,
        // u[3]: a3 b3 a7 b7 …; u[4..8] the same of rows e to h.
        let u = [
            lanes_02(t[0], t[2]),
            lanes_13(t[0], t[2]),
            lanes_02(t[1], t[3]),
            lanes_13(t[1], t[3]),
            lanes_02(t[4], t[6]),
            lanes_13(t[4], t[6]),
            lanes_02(t[5], t[7]),
            lanes_13(t[5], t[7]),
        ];
        [
            lanes_02(u[0], u[4]),
            lanes_02(u[2], u[6]),
            lanes_02(u[1], u[5]),
            lanes_02(u[3], u[7]),
            lanes_13(u[0], u[4]),
            lanes_13(u[2], u[6]),
            lanes_13(u[1], u[5]),
            lanes_13(u[3], u[7]),
        ]
    }

    /// A vector per position of the 8 blocks: lane `j` of vector `p` is block `j`'s
    /// value at `p`.
    #[target_feature(enable = "avx512f")]
    fn load(blocks: &[f64; LANES * BLOCK]) -> [V; BLOCK] {
        let half = |h: usize| {
            transpose(std::array::from_fn(|j| {
                let row = &blocks[j * BLOCK + h * 8..][..8];
                #[allow(unsafe_code)]
                // SAFETY: `row` holds the 8 values read.
                unsafe {
                    _mm512_loadu_pd(row.as_ptr())
                }
            }))
        };
        let (lo, hi) = (half(0), half(1));
        std::array::from_fn(|p| if p < 8 { lo[p] } else { hi[p - 8] })
    }

    /// Each block's run by its coin, the blocks' runs one after the other.
    #[target_feature(enable = "avx512f")]
    fn halve(r: &[V; BLOCK], coins: u8) -> [f64; LANES * RUN] {
        // Position i of each block's run, a lane per block: the odd value where the
        // block's coin is set.
        let picked: [V; RUN] =
            std::array::from_fn(|i| _mm512_mask_blend_pd(coins, r[2 * i], r[2 * i + 1]));
        let runs = transpose(picked);
        let mut out = [0.0; LANES * RUN];
        for (j, run) in runs.iter().enumerate() {
            let dst = &mut out[j * RUN..][..RUN];
            #[allow(unsafe_code)]
            // SAFETY: `dst` has room for the 8 values written.
            unsafe {
                _mm512_storeu_pd(dst.as_mut_ptr(), *run)
            };
        }
        out
    }

    /// Expands to `fn $name(blocks, coins) -> (runs, lo, hi)` applying the listed
    /// compare-exchanges to 8 blocks at once.
    macro_rules! wide_network {
        ($(#[$attr:meta])* $name:ident; $(($i:literal, $j:literal))*) => {
            $(#[$attr])*
            #[target_feature(enable = "avx512f")]
            pub(super) fn $name(
                blocks: &[f64; LANES * BLOCK],
                coins: u8,
            ) -> ([f64; LANES * RUN], f64, f64) {
                let mut r = load(blocks);
                $(
                    let (x, y) = (r[$i], r[$j]);
                    r[$i] = _mm512_min_pd(x, y);
                    r[$j] = _mm512_max_pd(x, y);
                )*
                (
                    halve(&r, coins),
                    _mm512_reduce_min_pd(r[0]),
                    _mm512_reduce_max_pd(r[BLOCK - 1]),
                )
            }
        };
    }

    sorting_pairs!(wide_network! {
        /// Sorts 8 blocks and halves them.
        sort
    });
    merging_pairs!(wide_network! {
        /// Merges the two sorted halves of 8 blocks and halves them.
        merge
    });
}

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

    #[test]
    fn wide_networks_give_the_runs_of_the_two_block_ones() {
        let Some(wide) = Wide::new() else {
            eprintln!("no AVX-512F here: the wide networks are not run");
            return;
        };
        // Distinct values, ties, and (for merging) blocks whose halves are each sorted.
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 40) % 50) as f64 - 25.0
        };
        for round in 0..200 {
            let network = if round % 2 == 0 {
                Network::Sort
            } else {
                Network::Merge
            };
            let mut blocks: Vec<[f64; BLOCK]> = (0..LANES)
                .map(|_| std::array::from_fn(|_| next()))
                .collect();
            if network == Network::Merge {
                for b in &mut blocks {
                    b[..RUN].sort_by(f64::total_cmp);
                    b[RUN..].sort_by(f64::total_cmp);
                }
            }
            let coins = (round * 37 % 256) as u8;
            let mut buf: Vec<f64> = blocks.iter().flatten().copied().collect();
            let (lo, hi) = wide.halve(network, &mut buf, 0, coins);
            let mut want: Vec<f64> = Vec::new();
            let (mut want_lo, mut want_hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for pair in 0..LANES / 2 {
                let coin = |j: usize| coins >> j & 1 == 1;
                let (j, k) = (2 * pair, 2 * pair + 1);
                let h = network.halve(&blocks[j], &blocks[k], [coin(j), coin(k)]);
                want.extend(h.runs.iter().flatten());
                (want_lo, want_hi) = (want_lo.min(h.lo), want_hi.max(h.hi));
            }
            assert_eq!(&buf[..LANES * RUN], &want[..], "round {round}");
            assert_eq!((lo, hi), (want_lo, want_hi), "round {round}");
            // The blocks' second half is left as it was.
            let rest: Vec<f64> = blocks[LANES / 2..].iter().flatten().copied().collect();
            assert_eq!(&buf[LANES * RUN..], &rest[..]);
        }
    }
}
