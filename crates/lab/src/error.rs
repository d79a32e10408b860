//! The lab's typed errors: what went wrong and where.

use std::fmt;
use std::path::PathBuf;

/// An error from selecting or running experiments.
#[derive(Debug)]
pub enum LabError {
    /// The target is neither an experiment id, a phase `pN`, nor `all`.
    UnknownTarget { target: String, known: Vec<String> },
    /// Reading or writing a file or folder failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Drawing a figure failed.
    Plot { path: PathBuf, message: String },
    /// A dataset the experiment needs is not in the data folder.
    DataMissing { id: String, message: String },
    /// An experiment could not run (bad data, bad configuration).
    Experiment { id: String, message: String },
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabError::UnknownTarget { target, known } => write!(
                f,
                "unknown experiment or phase '{target}' (expected an id, pN or all; ids: {})",
                known.join(", ")
            ),
            LabError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            LabError::Plot { path, message } => {
                write!(f, "drawing {} failed: {message}", path.display())
            }
            LabError::Experiment { id, message } | LabError::DataMissing { id, message } => {
                write!(f, "experiment {id}: {message}")
            }
        }
    }
}

/// No `source()`: `Io`'s message already ends with its cause, and `{:#}` would print it twice.
impl std::error::Error for LabError {}

/// Attaches a path to an I/O result.
pub(crate) fn io<T>(path: &std::path::Path, r: std::io::Result<T>) -> Result<T, LabError> {
    r.map_err(|source| LabError::Io {
        path: path.to_path_buf(),
        source,
    })
}

impl LabError {
    /// A dataset error seen by experiment `id`: a missing file is `DataMissing` (skippable), any
    /// other problem with the data an `Experiment` error.
    pub fn from_data(id: &str, e: tfs_data::DataError) -> Self {
        let message = e.to_string();
        match e {
            tfs_data::DataError::Missing { .. } => LabError::DataMissing {
                id: id.into(),
                message,
            },
            _ => LabError::Experiment {
                id: id.into(),
                message,
            },
        }
    }
}
