//! # tfs-data — datasets
//!
//! Where datasets live ([`data_dir`]: `--data-dir`, else `$TFS_DATA_DIR`, else `./data`), the IDX
//! format of MNIST and Fashion-MNIST ([`idx`], [`mnist`]), text corpora ([`text`]), and fetching
//! with checksums on first use ([`fetch`], over HTTP(S) with [`http`]), and the Hugging Face
//! hub: its GPT-2 training sets, resumable and checked against the hub's SHA-256
//! ([`hf_datasets`]), and model files in the standard Hugging Face cache ([`hub`]). A missing
//! dataset is downloaded when a `*_fetching` loader is called with [`fetch::Fetch::Online`]; `--offline` or
//! `TFS_OFFLINE=1` turn that into a one-line error naming the file and `tfs data fetch NAME`.
//! Everything read from disk is validated; a bad file is a [`DataError`] that names the file and
//! what was wrong, never a panic.

#![forbid(unsafe_code)]

pub mod fetch;
pub mod hf_datasets;
pub mod http;
pub mod hub;
pub mod idx;
pub mod mnist;
pub mod text;

use std::fmt;
use std::path::{Path, PathBuf};

/// The data folder: `explicit` if given, else `$TFS_DATA_DIR`, else `./data`.
pub fn data_dir(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os("TFS_DATA_DIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("data"),
    }
}

/// An error reading or fetching a dataset.
#[derive(Debug)]
pub enum DataError {
    /// A file the dataset needs is not there.
    Missing { path: PathBuf, hint: String },
    /// Reading failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is there but its contents are wrong.
    Corrupt {
        path: PathBuf,
        offset: u64,
        message: String,
    },
    /// A downloaded or cached file does not have the expected checksum.
    Checksum {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// Downloading failed.
    Download { url: String, message: String },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Missing { path, hint } => {
                write!(f, "{} not found; {hint}", path.display())
            }
            DataError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            DataError::Corrupt {
                path,
                offset,
                message,
            } => {
                write!(f, "{} (byte {offset}): {message}", path.display())
            }
            DataError::Checksum {
                path,
                expected,
                found,
            } => write!(
                f,
                "{}: SHA-256 of the contents is {found}, expected {expected}",
                path.display()
            ),
            DataError::Download { url, message } => write!(f, "downloading {url}: {message}"),
        }
    }
}

/// No `source()`: `Io`'s message already ends with its cause, and `{:#}` would print it twice.
impl std::error::Error for DataError {}
