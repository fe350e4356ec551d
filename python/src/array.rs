//! Borrowing a numpy array's memory without copying it.
//!
//! The stable ABI for Python 3.9 (`abi3-py39`) has no buffer protocol (it entered the
//! limited API in 3.11), so the bindings read numpy's `__array_interface__` instead:
//! its data pointer, type string, shape and strides. Only 1-D, C-contiguous, aligned
//! arrays of exactly the expected type are borrowed; the Python side passes every
//! column through `np.ascontiguousarray(col, dtype=...)`, which copies only when the
//! layout requires it. This is the one module of the workspace with `unsafe` code.
#![allow(unsafe_code)]

use crate::errors::{Error, Result};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// A numpy element type that can be borrowed.
pub trait Element: Copy + Send + Sync + 'static {
    /// The numpy dtype name, for messages.
    const DTYPE: &'static str;
    /// The `__array_interface__` type string on this machine.
    const TYPESTR: &'static str;
}

impl Element for f64 {
    const DTYPE: &'static str = "float64";
    const TYPESTR: &'static str = if cfg!(target_endian = "little") {
        "<f8"
    } else {
        ">f8"
    };
}

impl Element for i64 {
    const DTYPE: &'static str = "int64";
    const TYPESTR: &'static str = if cfg!(target_endian = "little") {
        "<i8"
    } else {
        ">i8"
    };
}

/// numpy's `bool`, one byte, read as `u8` (non-zero is true) so no byte value is invalid.
impl Element for u8 {
    const DTYPE: &'static str = "bool";
    const TYPESTR: &'static str = "|b1";
}

/// The contents of a 1-D numpy array, borrowed for as long as `array` is.
///
/// # Errors
///
/// [`Error::Input`] if `array` is not a 1-D, C-contiguous, aligned numpy array of `T`.
pub fn borrow<'a, T: Element>(array: &'a Bound<'_, PyAny>, what: &str) -> Result<&'a [T]> {
    let wrong = |why: String| {
        Error::Input(format!(
            "{what}: expected a 1-D contiguous numpy array of {}, {why} (pass np.ascontiguousarray(values, dtype=np.{}))",
            T::DTYPE,
            T::DTYPE
        ))
    };
    let iface = array
        .getattr("__array_interface__")
        .map_err(|_| wrong(format!("got {}", type_name(array))))?;
    let iface = iface
        .cast::<PyDict>()
        .map_err(|_| wrong("its __array_interface__ is not a dict".into()))?;
    let get = |key: &str| -> Result<Bound<'_, PyAny>> {
        iface
            .get_item(key)?
            .ok_or_else(|| wrong(format!("its __array_interface__ has no `{key}`")))
    };
    let typestr: String = get("typestr")?.extract()?;
    if typestr != T::TYPESTR {
        return Err(wrong(format!("got type string `{typestr}`")));
    }
    let shape = get("shape")?;
    let shape = shape
        .cast::<PyTuple>()
        .map_err(|_| wrong("its shape is not a tuple".into()))?;
    if shape.len() != 1 {
        return Err(wrong(format!("got {} dimensions", shape.len())));
    }
    let len: usize = shape.get_item(0)?.extract()?;
    if let Ok(Some(strides)) = iface.get_item("strides")
        && !strides.is_none()
    {
        let stride: Vec<isize> = strides.extract()?;
        if stride != [std::mem::size_of::<T>() as isize] {
            return Err(wrong(format!("got strides {stride:?}")));
        }
    }
    let (address, _readonly): (usize, bool) = get("data")?.extract()?;
    if len == 0 {
        return Ok(&[]);
    }
    if address == 0 || address % std::mem::align_of::<T>() != 0 {
        return Err(wrong(format!("its data at {address:#x} is not aligned")));
    }
    // SAFETY: numpy's array interface promises `len` contiguous, initialized, aligned
    // elements of type `T` (type string, shape and strides checked above) at `address`,
    // owned by `array` or its base, which `array` keeps alive. The returned slice
    // borrows `array`, so the memory outlives it; numpy cannot resize an array while
    // a reference to it is held (its refcheck). `T` is `f64`, `i64` or `u8`, for which
    // every bit pattern is valid. As with every reader of numpy memory that releases
    // the GIL (numpy's own ufuncs, rust-numpy), a Python thread writing into the same
    // array at that moment would race; the bindings document that.
    Ok(unsafe { std::slice::from_raw_parts(address as *const T, len) })
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an object".into())
}
