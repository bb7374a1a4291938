//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in `anodiff-core`.
///
/// Every variant names the offending parameter, value, file or step, so that a command-line user
/// can act on the message without reading the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is outside its documented range or is not finite.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name as the user sees it (`alpha`, `window`, ...).
        name: &'static str,
        /// What is wrong and what range is accepted.
        reason: String,
    },
    /// Input data cannot be analysed (empty, too short, NaN/infinite, constant, ...).
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// Arrays or files whose dimensions do not fit together.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A file whose contents are malformed, truncated or inconsistent.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it (with a line number or step where one applies).
        reason: String,
    },
    /// An operating-system I/O error, with the file it happened on.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An iterative method stopped without meeting its tolerance.
    #[error("did not converge: {0}")]
    NotConverged(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidParameter`].
    pub fn param(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
