//! # sextant — the profiling engine
//!
//! sextant records the values a model sees (its features and its predictions) into
//! small, mergeable sketches: one profile per feature and time window. Profiles from
//! different threads, processes and windows merge into one, so a server can keep a live
//! profile per window and anyone can later ask for the profile of any time range.
//!
//! The engine knows nothing of HTTP, Python or files beyond bytes in and bytes out; the
//! server (`sextant-server`) and the Python bindings (`sextant-python`) are thin shells
//! over it.
//!
//! The parts, from the bottom up:
//!
//! - [`counts`]: the counters every feature carries — values seen, missing values and
//!   values by observed type, with NaN and infinities counted apart;
//! - [`hash`]: the fixed, process-independent hash behind cardinality sketches;
//! - [`sketch`]: the mergeable sketches (moments, KLL quantiles, HyperLogLog++,
//!   frequent items, DDSketch);
//! - [`Distribution`], [`text`]: the distributions built from them;
//! - [`feature`]: one feature's profile, and the resolver from its kind to its sketches;
//! - [`profile`]: dataset profiles — live per window, immutable mergeable views;
//! - [`time`]: RFC 3339 and duration parsing for windows.
#![deny(missing_docs)]

pub mod counts;
mod distribution;
pub mod feature;
pub mod hash;
pub mod sketch;
pub mod text;
pub mod time;

pub use counts::{Counts, ValueType};
pub use distribution::Distribution;
pub use feature::{FeatureKind, FeatureProfile, Value};

/// The version of this crate, as written in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
