//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in `anodiff-trainers`.
///
/// Every variant names the offending file, parameter or step so that a command-line user can act
/// on the message without reading the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is outside its documented range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name as the user sees it (`lr`, `batch-size`, ...).
        name: &'static str,
        /// What is wrong and what range is accepted.
        reason: String,
    },
    /// A dataset or checkpoint file that is missing, truncated or malformed.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file at fault.
        path: PathBuf,
        /// What is wrong with it (expected size, bad label, ...).
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
    /// Training diverged: the loss, a weight or a recorded gradient became NaN or infinite.
    #[error(
        "training diverged at step {step}: {quantity} is {loss}; every step before it is recorded"
    )]
    Diverged {
        /// The step (0-based) at which a value was not finite.
        step: usize,
        /// What was not finite: `the minibatch loss`, `weight 17`, `gradient coordinate 3`.
        quantity: String,
        /// The non-finite value (NaN or infinite).
        loss: f64,
    },
    /// Another process holds the run directory's lock (see [`crate::lock`]): it is training
    /// there now.
    #[error(
        "run directory {} is in use by another training process ({holder}); wait for it to \
         end or end it",
        dir.display()
    )]
    RunInUse {
        /// The run directory.
        dir: PathBuf,
        /// Who holds it, as the lock file says: `pid N on HOST`.
        holder: String,
    },
    /// The run directory holds a run of another configuration than the one asked for.
    #[error(
        "run directory {} holds a run of another configuration ('here' is the one asked for, \
         'there' the one in its run.json): {}; choose another directory, or delete this one \
         to train anew",
        dir.display(),
        differences.join("; ")
    )]
    ConfigMismatch {
        /// The run directory.
        dir: PathBuf,
        /// Each differing setting, as [`crate::run::TrainConfig::run_differences`] says it.
        differences: Vec<String>,
    },
    /// An error from candle (tensor shapes, device, autograd).
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// An error from the statistics crate (the trajectory store, Lanczos).
    #[error(transparent)]
    Core(#[from] anodiff_core::Error),
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
pub type Result<T> = std::result::Result<T, Error>;
