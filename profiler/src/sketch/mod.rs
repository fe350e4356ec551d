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
/// `src.len()` and is filled from the back, so no second buffer is allocated and none is
/// reallocated once `dst` has reached its largest size (HLL sparse lists; the KLL merges
/// within its one buffer).
fn merge_into<T: Copy + Default + Ord>(dst: &mut Vec<T>, src: &[T]) {
    if src.is_empty() {
        return;
    }
    let (mut i, mut j) = (dst.len(), src.len());
    dst.reserve_exact(j);
    dst.resize(i + j, T::default());
    let mut w = dst.len();
    if j * 16 < i {
        // A few into many (a merge's compacted keys into a long level): each of `src`,
        // from the back, is placed after the run of `dst` above it moves in one copy.
        while j > 0 {
            let x = src[j - 1];
            let at = dst[..i].partition_point(|&d| d <= x);
            let run = i - at;
            dst.copy_within(at..i, w - run);
            w -= run + 1;
            dst[w] = x;
            i = at;
            j -= 1;
        }
        return;
    }
    // Without branches on the comparison (it is a coin flip on sketch data): the
    // larger of the two heads goes to the back, and its side steps down.
    while i > 0 && j > 0 {
        let (a, b) = (dst[i - 1], src[j - 1]);
        let from_dst = a > b;
        w -= 1;
        dst[w] = if from_dst { a } else { b };
        i -= usize::from(from_dst);
        j -= usize::from(!from_dst);
    }
    // What is left of `dst` is in place already.
    dst[..j].copy_from_slice(&src[..j]);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn merge_into_is_a_sorted_merge(
            mut dst in prop::collection::vec(0u32..50, 0..200),
            mut src in prop::collection::vec(0u32..50, 0..40),
        ) {
            dst.sort_unstable();
            src.sort_unstable();
            let mut want = [dst.clone(), src.clone()].concat();
            want.sort_unstable();
            super::merge_into(&mut dst, &src);
            prop_assert_eq!(dst, want);
        }
    }
}
