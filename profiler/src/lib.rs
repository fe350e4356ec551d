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
//! - [`Distribution`], [`text`], [`image`]: the distributions built from them, and the
//!   metadata of text and images;
//! - [`feature`]: one feature's profile, and the resolver from its kind to its sketches;
//! - [`profile`]: dataset profiles — live per window, immutable mergeable views;
//! - [`format`](mod@format): the versioned, checksummed file format of profiles;
//! - [`store`]: a directory of closed windows, written atomically, verified on read;
//! - [`recorder`]: tumbling windows for servers, sharded across threads;
//! - [`summary`]: a profile as plain data (the JSON of `sextant show --json`);
//! - [`drift`]: comparison with a baseline — tests, effect sizes, the HTML report;
//! - [`time`]: RFC 3339 and duration parsing for windows.
#![deny(missing_docs)]

pub mod counts;
mod distribution;
pub mod drift;
pub mod feature;
pub mod format;
pub mod hash;
pub mod image;
mod lanes;
mod prefetch;
pub mod profile;
pub mod recorder;
pub mod sketch;
pub mod store;
pub mod summary;
pub mod text;
pub mod time;

pub use counts::{Counts, ValueType};
pub use distribution::Distribution;
pub use feature::{FeatureKind, FeatureProfile, Value};
pub use profile::{DatasetProfile, MergeError, ProfileView, Schema, Window};

/// The version of this crate, as written in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
