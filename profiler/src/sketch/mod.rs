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
