//! Datasets fetched on first use, with checksums, into a cache that is never left half-written.
//!
//! Each file is verified by the SHA-256 of its *decompressed* contents, so a mirror that
//! recompresses the same data still verifies, and a truncated or altered download does not. A
//! file already in the cache that verifies is not downloaded again; one that does not is replaced.
//! Downloads go to `NAME.partial` and are renamed into place only after they verify; a failed
//! download leaves neither file behind. Mirrors are tried in order.
//!
//! Two entry points:
//! - [`fetch`] makes every file present and verified (`tfs data fetch NAME`).
//! - [`ensure`] is the first-use path of the loaders (`mnist::load_mnist_fetching`,
//!   `text::load_tiny_shakespeare_fetching`): a dataset whose files are all there is used as it
//!   is (no re-hashing on every run); a missing one is fetched when the mode is [`Fetch::Online`],
//!   and otherwise is a one-line [`DataError::Missing`] naming the file expected and the command
//!   `tfs data fetch NAME`. A failed download (no network, a bad mirror) gives the same error,
//!   with the reason.
//!
//! **`TFS_DATA_MIRROR`**: a base URL tried before the datasets' own sources, laid out like the
//! data folder (`MIRROR/mnist/train-images-idx3-ubyte.gz`), for a local or institutional copy.
//!
//! **`TFS_OFFLINE`**: set to anything but empty or `0`, it forces [`Fetch::Offline`] in
//! [`ensure`] and [`Fetch::from_env`], whatever the caller asked, so that a test suite or a
//! sandboxed run never touches the network.
//!
//! The transfer is [`http_download`] (a Rust HTTP client, see [`crate::http`]); [`fetch`] and
//! [`ensure_with`] take any downloader, so tests serve files from 127.0.0.1.
//!
//! Left out: resuming partial downloads, locking against two processes fetching the same dataset
//! at once, verifying files that are present on the first-use path (`tfs data fetch` does).

use crate::idx::read_maybe_gz_capped;
use crate::DataError;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

pub use crate::http::http_download;

/// A file of a dataset: its name on the mirror, and the SHA-256 and length of its contents.
#[derive(Clone, Copy, Debug)]
pub struct FileSpec {
    pub name: &'static str,
    pub sha256: &'static str,
    pub len: usize,
}

/// A downloadable dataset.
#[derive(Clone, Copy, Debug)]
pub struct DatasetSpec {
    pub name: &'static str,
    /// Base URLs tried in order; a file's URL is `BASE/NAME`.
    pub mirrors: &'static [&'static str],
    pub files: &'static [FileSpec],
}

/// MNIST (LeCun, Cortes & Burges): contents hashes of the four decompressed IDX files.
pub const MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist",
        "https://storage.googleapis.com/cvdf-datasets/mnist",
    ],
    files: &[
        FileSpec {
            name: "train-images-idx3-ubyte.gz",
            sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            len: 47_040_016,
        },
        FileSpec {
            name: "train-labels-idx1-ubyte.gz",
            sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            len: 60_008,
        },
        FileSpec {
            name: "t10k-images-idx3-ubyte.gz",
            sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            len: 7_840_016,
        },
        FileSpec {
            name: "t10k-labels-idx1-ubyte.gz",
            sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            len: 10_008,
        },
    ],
};

/// Tiny Shakespeare (Karpathy's char-rnn corpus): one UTF-8 text file.
pub const TINY_SHAKESPEARE: DatasetSpec = DatasetSpec {
    name: "tinyshakespeare",
    mirrors: &["https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare"],
    files: &[FileSpec {
        name: "input.txt",
        sha256: "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        len: 1_115_394,
    }],
};

/// The datasets `tfs data fetch` knows.
pub const DATASETS: [DatasetSpec; 2] = [MNIST, TINY_SHAKESPEARE];

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks a file's decompressed contents against its spec.
pub fn verify(path: &Path, spec: &FileSpec) -> Result<(), DataError> {
    // Never more than one byte past the expected length: a wrong file is reported, not inflated.
    let contents = read_maybe_gz_capped(path, spec.len + 1)?;
    let found = sha256_hex(&contents);
    if contents.len() != spec.len || found != spec.sha256 {
        return Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: format!("{} ({} bytes)", spec.sha256, spec.len),
            found: format!("{found} ({} bytes)", contents.len()),
        });
    }
    Ok(())
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq)]
pub enum Fetched {
    /// Already in the cache and verified.
    Cached(PathBuf),
    /// Downloaded and verified.
    Downloaded(PathBuf),
    /// A copy was there but did not verify (`reason`); it was downloaded again and verified.
    Replaced { path: PathBuf, reason: String },
}

/// Makes every file of `spec` present and verified in `DATA_DIR/NAME/`, using `download`.
pub fn fetch(
    spec: &DatasetSpec,
    data_dir: &Path,
    download: &dyn Fn(&str, &Path) -> Result<(), DataError>,
) -> Result<Vec<Fetched>, DataError> {
    let dir = data_dir.join(spec.name);
    std::fs::create_dir_all(&dir).map_err(|source| DataError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut done = Vec::new();
    for file in spec.files {
        let mut rejected = None;
        if let Some(path) = present(&dir, file) {
            match verify(&path, file) {
                Ok(()) => {
                    done.push(Fetched::Cached(path));
                    continue;
                }
                Err(e) => rejected = Some(e.to_string()),
            }
        }
        let path = dir.join(file.name);
        let partial = dir.join(format!("{}.partial", file.name));
        let mut last_err = None;
        for url in urls(spec, file, std::env::var("TFS_DATA_MIRROR").ok().as_deref()) {
            let attempt = download(&url, &partial).and_then(|()| verify(&partial, file));
            match attempt {
                Ok(()) => {
                    std::fs::rename(&partial, &path).map_err(|source| DataError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    last_err = None;
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        std::fs::remove_file(&partial).ok();
        match (last_err, rejected) {
            (Some(DataError::Download { url, message }), Some(reason)) => {
                return Err(DataError::Download {
                    url,
                    message: format!("{message} (the cached copy was rejected: {reason})"),
                })
            }
            (Some(e), _) => return Err(e),
            (None, Some(reason)) => done.push(Fetched::Replaced { path, reason }),
            (None, None) => done.push(Fetched::Downloaded(path)),
        }
    }
    Ok(done)
}

/// The URLs tried for `file`, in order: `MIRROR/DATASET/FILE` first when a mirror is given
/// (`$TFS_DATA_MIRROR`: a local or institutional copy laid out like the data folder), then
/// `BASE/FILE` for each of the dataset's own mirrors.
pub fn urls(spec: &DatasetSpec, file: &FileSpec, mirror: Option<&str>) -> Vec<String> {
    let own = mirror
        .filter(|m| !m.is_empty())
        .map(|m| format!("{}/{}/{}", m.trim_end_matches('/'), spec.name, file.name));
    own.into_iter()
        .chain(
            spec.mirrors
                .iter()
                .map(|b| format!("{}/{}", b.trim_end_matches('/'), file.name)),
        )
        .collect()
}

/// Where a copy of `file` already is in `dir`: `dir/NAME`, else `dir/NAME` without its `.gz`
/// (a decompressed copy, which the loaders accept too).
pub fn present(dir: &Path, file: &FileSpec) -> Option<PathBuf> {
    let path = dir.join(file.name);
    if path.is_file() {
        return Some(path);
    }
    let raw = dir.join(file.name.strip_suffix(".gz")?);
    raw.is_file().then_some(raw)
}

/// The first file of `spec` with no copy in `DATA_DIR/NAME/`, as the path it is expected at.
pub fn missing_file(spec: &DatasetSpec, data_dir: &Path) -> Option<PathBuf> {
    let dir = data_dir.join(spec.name);
    spec.files
        .iter()
        .find(|f| present(&dir, f).is_none())
        .map(|f| dir.join(f.name))
}

/// Whether a dataset that is not on disk may be downloaded on first use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetch {
    /// Download what is missing (the default, as torchvision and nanoGPT do).
    Online,
    /// Never touch the network: a missing dataset is an error naming the command that gets it.
    Offline,
}

impl Fetch {
    /// `Offline` when `offline` (a `--offline` flag) is set or `$TFS_OFFLINE` is set to anything
    /// but empty or `0`; else `Online`.
    pub fn from_env(offline: bool) -> Fetch {
        Fetch::resolve(offline, std::env::var_os("TFS_OFFLINE").as_deref())
    }

    /// [`Fetch::from_env`] with the variable's value given: the testable rule.
    pub fn resolve(offline: bool, tfs_offline: Option<&OsStr>) -> Fetch {
        let var_says_offline = matches!(tfs_offline, Some(v) if !v.is_empty() && v != "0");
        if offline || var_says_offline {
            Fetch::Offline
        } else {
            Fetch::Online
        }
    }
}

/// Makes `spec` usable from `data_dir` on first use: nothing to do when all its files are there;
/// otherwise downloads them over HTTP(S) with [`http_download`] when `mode` is `Online` and
/// `$TFS_OFFLINE` does not say otherwise. See [`ensure_with`] for the errors.
pub fn ensure(spec: &DatasetSpec, data_dir: &Path, mode: Fetch) -> Result<(), DataError> {
    let mode = Fetch::from_env(mode == Fetch::Offline);
    ensure_with(spec, data_dir, mode, &http_download)
}

/// [`ensure`] with the downloader given and `$TFS_OFFLINE` not consulted.
///
/// Errors: offline with a file missing, or a download that failed (network, HTTP status, wrong
/// checksum on every mirror), is [`DataError::Missing`] naming the first missing file, why it was
/// not fetched, and `tfs data fetch NAME`, on one line. A local problem (the folder cannot be
/// created or written) stays a [`DataError::Io`].
pub fn ensure_with(
    spec: &DatasetSpec,
    data_dir: &Path,
    mode: Fetch,
    download: &dyn Fn(&str, &Path) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let Some(missing) = missing_file(spec, data_dir) else {
        return Ok(());
    };
    let get_it = format!(
        "run `tfs data fetch {0}` (or set --data-dir / TFS_DATA_DIR to a folder holding {0}/)",
        spec.name
    );
    if mode == Fetch::Offline {
        return Err(DataError::Missing {
            path: missing,
            hint: format!("offline, so not downloaded: {get_it}"),
        });
    }
    let dir = data_dir.join(spec.name);
    eprintln!("fetching {} into {} ...", spec.name, dir.display());
    match fetch(spec, data_dir, download) {
        Ok(_) => Ok(()),
        Err(
            e @ (DataError::Download { .. }
            | DataError::Checksum { .. }
            | DataError::Corrupt { .. }),
        ) => {
            let why = e.to_string().replace(['\n', '\r'], " ");
            Err(DataError::Missing {
                path: missing,
                hint: format!("fetching it failed ({why}); {get_it}"),
            })
        }
        Err(e) => Err(e),
    }
}
