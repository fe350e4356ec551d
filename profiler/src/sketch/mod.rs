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
    while j > 0 {
        w -= 1;
        if i > 0 && dst[i - 1] > src[j - 1] {
            dst[w] = dst[i - 1];
            i -= 1;
        } else {
            dst[w] = src[j - 1];
            j -= 1;
        }
    }
}
