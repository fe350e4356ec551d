//! The sketches a feature profile is built from, each a thin, mergeable, serializable
//! wrapper that fixes the parameters sextant relies on:
//!
//! - [`Moments`]: count, mean and variance, merged exactly (Chan et al.);
//! - [`Quantiles`]: our own KLL sketch for quantiles, ranks and CDFs,
//!   with a rank-error bound independent of the data's location and scale;
//! - [`Cardinality`]: HyperLogLog++ over the fixed hash of [`crate::hash`];
//! - [`FrequentItems`]: the DataSketches frequent-items sketch, for integers, booleans
//!   and categories;
//! - [`Magnitudes`]: DDSketch, relative value error, for non-negative heavy-tailed
//!   quantities such as latency and body sizes.

mod cardinality;
mod frequent;
mod kll;
mod magnitudes;
mod moments;
mod network;
mod quantiles;

pub use cardinality::Cardinality;
pub use frequent::{FrequentItem, FrequentItems};
pub use magnitudes::Magnitudes;
pub use moments::Moments;
pub use quantiles::{Quantiles, SortedQuantiles};

/// Merges the sorted `src` into the sorted `dst` in place: `dst` grows by exactly
/// `src.len()` (its keys move to the back, then [`merge_front`]), so no second buffer is
/// allocated and none is reallocated once `dst` has reached its largest size (HLL
/// sparse lists).
fn merge_into<T: Copy + Default + Ord>(dst: &mut Vec<T>, src: &[T]) {
    if src.is_empty() {
        return;
    }
    let (i, j) = (dst.len(), src.len());
    dst.reserve_exact(j);
    dst.resize(i + j, T::default());
    dst.copy_within(..i, j);
    merge_front(dst, src);
}

/// Merges the sorted `src` with the sorted keys of `dst[src.len()..]` into all of `dst`,
/// from the front: the first `src.len()` places are free, and each key of `dst` is read
/// before its place is written (the write position trails the read one by the `src`
/// keys not yet placed). The KLL merges its levels this way within its one buffer.
fn merge_front<T: Copy + Ord>(dst: &mut [T], src: &[T]) {
    let (j, n) = (src.len(), dst.len());
    let (mut a, mut b, mut w) = (j, 0, 0);
    if (n - j) > 16 * j {
        // A few into many (a merge's compacted keys into a long level): the run of
        // `dst` below each of `src` moves down in one copy.
        for &x in src {
            let at = a + dst[a..].partition_point(|&d| d <= x);
            dst.copy_within(a..at, w);
            w += at - a;
            a = at;
            dst[w] = x;
            w += 1;
        }
        return;
    }
    // Four keys of `dst` at a time against the next of `src`: those at most it (a
    // prefix, `dst` being sorted) are counted without a branch and all four copied, and
    // the key of `src` goes after them unless all four were. One comparison chain a key
    // of `src` (or four keys of `dst`), not one a key passed: the runs between keys of
    // `src` are short in a sketch, so the test on the count rarely mispredicts. Four copied ahead are written
    // within the gap between the write and read positions, which is the number of keys
    // of `src` left: the loop stops at fewer than four.
    while b + 4 <= j && a + 4 <= n {
        let y = src[b];
        let run = [dst[a], dst[a + 1], dst[a + 2], dst[a + 3]];
        let c: usize = run.iter().map(|&x| usize::from(x <= y)).sum();
        dst[w..w + 4].copy_from_slice(&run);
        a += c;
        w += c;
        if c < 4 {
            dst[w] = y;
            w += 1;
            b += 1;
        }
    }
    // The last few keys of `src` one at a time, each after the run of `dst` at most it
    // (a branch a key of `dst` passed, mispredicted about once a run: fewer cycles than
    // a branch-free step a key passed, on the short runs of a sketch). What is left of
    // `dst` is in place already.
    while b < j {
        let y = src[b];
        while a < n && dst[a] <= y {
            dst[w] = dst[a];
            a += 1;
            w += 1;
        }
        dst[w] = y;
        w += 1;
        b += 1;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Every path (few into many; four at a time, then one by one), with ties (or
        /// few of them), either side empty, and either side running out first;
        /// `merge_into` and `merge_front` alike.
        #[test]
        fn merge_into_and_merge_front_are_sorted_merges(
            mut dst in prop::collection::vec(any::<u32>(), 0..300),
            mut src in prop::collection::vec(any::<u32>(), 0..40),
            values in prop_oneof![Just(50u32), Just(1 << 20)],
        ) {
            dst.iter_mut().chain(src.iter_mut()).for_each(|x| *x %= values);
            dst.sort_unstable();
            src.sort_unstable();
            let mut want = [dst.clone(), src.clone()].concat();
            want.sort_unstable();
            let mut gapped = vec![u32::MAX; src.len()];
            gapped.extend_from_slice(&dst);
            super::merge_front(&mut gapped, &src);
            prop_assert_eq!(&gapped, &want);
            super::merge_into(&mut dst, &src);
            prop_assert_eq!(dst, want);
        }
    }
}
