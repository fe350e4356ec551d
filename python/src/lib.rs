//! The `sextant._native` extension module: thin pyo3 wrappers over the `sextant` engine.
//!
//! Everything statistical lives in the engine crate; this crate converts between
//! Python objects and the engine's types, and nothing else.

use pyo3::prelude::*;

/// The compiled half of the `sextant` Python package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", sextant::VERSION)?;
    Ok(())
}
