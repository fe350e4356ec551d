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
/// reallocated once `dst` has reached its largest size (KLL levels, HLL sparse lists).
fn merge_into<T: Copy + Default + Ord>(dst: &mut Vec<T>, src: &[T]) {
    if src.is_empty() {
        return;
    }
    let (mut i, mut j) = (dst.len(), src.len());
    dst.reserve_exact(j);
    dst.resize(i + j, T::default());
    let mut w = dst.len();
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
