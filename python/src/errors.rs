//! The exception hierarchy, and the one conversion from every engine error into it.
//!
//! ```text
//! SextantError (Exception)
//! ├── FormatError       bytes that are not a readable sextant profile
//! ├── MergeError        a feature of different kinds in two profiles
//! ├── FeatureError      no such feature, or a statistic its kind does not have
//! ├── InputError        data the profiler cannot take (say what to change)
//! └── FetchError        a server did not answer with a profile (raised by `fetch`)
//! ```
//!
//! Every fallible function of this crate returns [`Error`]; `From<Error> for PyErr` is
//! the only place an engine error becomes a Python exception. Panics never cross the
//! boundary as panics: pyo3 turns them into `PanicException`, and the engine is tested
//! not to panic on any input the bindings pass it.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    sextant,
    SextantError,
    PyException,
    "Base class of every error sextant raises."
);
create_exception!(
    sextant,
    FormatError,
    SextantError,
    "Bytes that are not a readable sextant profile: not a profile, truncated, damaged (checksum), or written by a newer version."
);
create_exception!(
    sextant,
    MergeError,
    SextantError,
    "Two profiles that cannot merge: a feature has different kinds in each."
);
create_exception!(
    sextant,
    FeatureError,
    SextantError,
    "No feature of that name in the profile, or a statistic its kind does not have."
);
create_exception!(
    sextant,
    InputError,
    SextantError,
    "Data the profiler cannot take; the message says what to change."
);
create_exception!(
    sextant,
    FetchError,
    SextantError,
    "A server did not answer with a profile (unreachable, an HTTP error, or not a profile)."
);

/// Everything that can go wrong in the bindings.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unreadable profile bytes.
    #[error(transparent)]
    Format(#[from] sextant::format::FormatError),
    /// Profiles that do not merge.
    #[error(transparent)]
    Merge(#[from] sextant::MergeError),
    /// An unknown feature, or a statistic its kind lacks.
    #[error("{0}")]
    Feature(String),
    /// Input the profiler cannot take.
    #[error("{0}")]
    Input(String),
    /// A Python error raised while reading the input (propagated as is).
    #[error(transparent)]
    Python(#[from] PyErr),
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Format(e) => FormatError::new_err(e.to_string()),
            Error::Merge(e) => MergeError::new_err(format!(
                "{e}; profile this feature with the same kind on both sides"
            )),
            Error::Feature(m) => FeatureError::new_err(m),
            Error::Input(m) => InputError::new_err(m),
            Error::Python(e) => e,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SextantError", py.get_type::<SextantError>())?;
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("MergeError", py.get_type::<MergeError>())?;
    m.add("FeatureError", py.get_type::<FeatureError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("FetchError", py.get_type::<FetchError>())?;
    Ok(())
}
