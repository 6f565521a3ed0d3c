//! What each platform adds to the extension module: its engine client's start, and its
//! builders' dry run (the exact message, built by the Rust platform's encoders).

pub(crate) mod gather;
pub(crate) mod hiven;
pub(crate) mod hpx;
pub(crate) mod moobius;

use pyo3::{exceptions::PyValueError, prelude::*, types::PyDict};

/// An optional string option of `platform_options`.
pub(crate) fn opt_str(options: Option<&Bound<'_, PyDict>>, key: &str) -> PyResult<Option<String>> {
    match options.map(|o| o.get_item(key)).transpose()?.flatten() {
        Some(v) if !v.is_none() => Ok(Some(v.extract()?)),
        _ => Ok(None),
    }
}

/// A required string option of `platform_options`.
pub(crate) fn req_str(options: Option<&Bound<'_, PyDict>>, key: &str) -> PyResult<String> {
    opt_str(options, key)?
        .ok_or_else(|| PyValueError::new_err(format!("platform option {key:?} is required")))
}
