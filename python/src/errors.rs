//! `anodiff_core::Error` as Python exceptions.

use pyo3::create_exception;
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _core,
    FitError,
    PyValueError,
    "A fit could not be made (bad data, or the estimator failed); a ValueError."
);
create_exception!(
    _core,
    ConvergenceError,
    PyRuntimeError,
    "An iterative method stopped without meeting its tolerance."
);

/// A core error on its way to Python (the orphan rule forbids `From<Error> for PyErr` here).
pub struct CoreError(pub anodiff_core::Error);

impl From<anodiff_core::Error> for CoreError {
    fn from(e: anodiff_core::Error) -> Self {
        CoreError(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(e: CoreError) -> PyErr {
        use anodiff_core::Error as E;
        let msg = e.0.to_string();
        match &e.0 {
            E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                PyFileNotFoundError::new_err(msg)
            }
            E::Io { .. } => PyOSError::new_err(msg),
            E::NotConverged(_) => ConvergenceError::new_err(msg),
            _ => PyValueError::new_err(msg),
        }
    }
}

/// Shorthand: a core result as a Python result.
pub fn core<T>(r: anodiff_core::Result<T>) -> PyResult<T> {
    r.map_err(|e| CoreError(e).into())
}

/// A core error from a fit, as [`FitError`].
pub fn fit_err(e: anodiff_core::Error) -> PyErr {
    match e {
        anodiff_core::Error::NotConverged(_) => CoreError(e).into(),
        e => FitError::new_err(e.to_string()),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FitError", py.get_type::<FitError>())?;
    m.add("ConvergenceError", py.get_type::<ConvergenceError>())?;
    Ok(())
}
