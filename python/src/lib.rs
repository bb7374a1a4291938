//! `anodiff._core`: the compiled layer of the `anodiff` Python package.
//!
//! Thin wrappers over `anodiff-core`: argument conversion, the GIL released around every
//! computation (`py.detach`), long loops cut into pieces with `py.check_signals()` between them
//! (Ctrl-C), and `anodiff_core::Error` mapped to Python exceptions with the same messages as the
//! command line. Structured results cross the boundary as JSON text (the same serde
//! serialisation the CLI prints) and become dataclasses in `py_src/anodiff/`. The user-facing API
//! (broadcasting, defaults, documentation) lives in Python.

use pyo3::prelude::*;

mod dask;
mod diffusion;
mod errors;
mod geometry;
mod linalg;
mod stats;

/// Runs `f` on consecutive pieces `[i, min(i + piece, n))` of `0..n` with the GIL released,
/// checking for Ctrl-C between pieces.
pub(crate) fn in_pieces<F>(py: Python<'_>, n: usize, piece: usize, mut f: F) -> PyResult<()>
where
    F: FnMut(std::ops::Range<usize>) -> PyResult<()> + Send,
{
    let piece = piece.max(1);
    let mut start = 0;
    while start < n {
        let end = (start + piece).min(n);
        py.detach(|| f(start..end))?;
        py.check_signals()?;
        start = end;
    }
    Ok(())
}

/// JSON text of a serialisable value (our result types always serialise).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("serialising: {e}")))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    stats::register(m)?;
    diffusion::register(m)?;
    linalg::register(m)?;
    geometry::register(m)?;
    dask::register(m)?;
    Ok(())
}
