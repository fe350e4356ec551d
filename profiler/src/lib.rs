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
//! This crate grows module by module; what is here now:
//!
//! - [`counts`]: the counters every feature carries — values seen, missing values and
//!   values by observed type, with NaN and infinities counted apart.
#![deny(missing_docs)]

pub mod counts;

pub use counts::{Counts, ValueType};

/// The version of this crate, as written in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
