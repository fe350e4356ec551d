//! The `sextant._native` extension module: thin pyo3 wrappers over the `sextant` engine.
//!
//! Everything statistical lives in the engine crate; this crate converts between
//! Python objects and the engine's types, and nothing else. The Python package
//! (`python/sextant/`) turns DataFrames, arrays and dicts into prepared columns and
//! wraps these classes with numpy-style docstrings and pandas conversions.
//!
//! - `errors`: the exception hierarchy and the one conversion into it;
//! - `array`: numpy memory borrowed without copying (the only `unsafe` code);
//! - `profile`: `Profile` and `profile_columns`, the GIL released while the engine
//!   works;
//! - `drift`: `compare` and `DriftReport`.

mod array;
mod drift;
mod errors;
mod profile;

use pyo3::prelude::*;

/// The compiled half of the `sextant` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", sextant::VERSION)?;
    errors::register(m)?;
    m.add_class::<profile::Profile>()?;
    m.add_class::<drift::DriftReport>()?;
    m.add_function(wrap_pyfunction!(profile::profile_columns, m)?)?;
    m.add_function(wrap_pyfunction!(drift::compare, m)?)?;
    Ok(())
}
