//! Datasets on the Hugging Face hub, for GPT-2 training (Phase 8): FineWeb-Edu's `sample/10BT`
//! Parquet shards and TinyStories V2 (GPT-4 stories), fetched into `DATA_DIR/fineweb-edu/` and
//! `DATA_DIR/tinystories/` by `tfs data fetch fineweb-edu --shards N` and
//! `tfs data fetch tinystories`.
//!
//! A file's URL is `ENDPOINT/datasets/REPO/resolve/main/PATH`, ENDPOINT being `$HF_ENDPOINT` (the
//! variable the hub's own clients read, for a mirror) or `https://huggingface.co`.
//!
//! **What is verified.** These files are stored with Git LFS, and the hub answers a HEAD request
//! on their URL (without following its redirect to the storage server) with `X-Linked-Etag: "SHA"`
//! — the SHA-256 of the contents, which is LFS's object id — and `X-Linked-Size`. [`fetch_hub`]
//! reads both first and checks the downloaded file against them; a file the hub publishes no
//! SHA-256 for (not an LFS file) is checked by its size alone (`Content-Length`), and the result
//! says so. A file already present is re-hashed against the same headers (`Cached`), or replaced.
//!
//! **Resuming.** Bytes go to `NAME.partial`, which survives an interrupted transfer; the next run
//! asks only for the rest (HTTP `Range`, see [`crate::http::http_download_resume`]). A complete
//! file whose SHA-256 is wrong is deleted (starting over is the only cure), then the error is
//! returned. Only a verified file is renamed to `NAME`.
//!
//! Offline (`--offline`, `$TFS_OFFLINE`), files present are reported as cached without checking,
//! and a missing one is a [`DataError::Missing`] naming the command that gets it.
//!
//! Left out: the hub's API (listing a repository, revisions other than `main`, tokens for gated
//! datasets), parallel downloads, and TinyStories' JSON archive (the two text files suffice).

use crate::fetch::Fetched;
use crate::http::{head_no_redirect, http_download_resume};
use crate::DataError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The hub's address when `$HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// `$HF_ENDPOINT` if set and not empty, else [`DEFAULT_ENDPOINT`]; no trailing slash.
pub fn endpoint() -> String {
    std::env::var("HF_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// A file of a dataset repository on the hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubFile {
    /// `owner/name` of the dataset repository.
    pub repo: &'static str,
    /// Path inside the repository.
    pub path: String,
}

impl HubFile {
    /// `ENDPOINT/datasets/REPO/resolve/main/PATH`.
    pub fn url(&self, endpoint: &str) -> String {
        format!(
            "{endpoint}/datasets/{}/resolve/main/{}",
            self.repo, self.path
        )
    }

    /// The local file name: the last component of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}

/// A dataset of the hub that `tfs data fetch` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubDataset {
    /// `HuggingFaceFW/fineweb-edu`, `sample/10BT/000_00000.parquet` … (about 2 GB each).
    FinewebEdu,
    /// `roneneldan/TinyStories`, `TinyStoriesV2-GPT4-{train,valid}.txt` (stories separated by
    /// `<|endoftext|>` lines).
    TinyStories,
}

impl HubDataset {
    pub const ALL: [HubDataset; 2] = [HubDataset::FinewebEdu, HubDataset::TinyStories];

    /// The name of the command and of the folder in the data folder.
    pub fn name(self) -> &'static str {
        match self {
            HubDataset::FinewebEdu => "fineweb-edu",
            HubDataset::TinyStories => "tinystories",
        }
    }

    pub fn from_name(name: &str) -> Option<HubDataset> {
        HubDataset::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The files to fetch; `shards` (≥ 1) counts FineWeb-Edu's Parquet files, from the first.
    pub fn files(self, shards: usize) -> Vec<HubFile> {
        match self {
            HubDataset::FinewebEdu => (0..shards.max(1))
                .map(|i| HubFile {
                    repo: "HuggingFaceFW/fineweb-edu",
                    path: format!("sample/10BT/{i:03}_00000.parquet"),
                })
                .collect(),
            HubDataset::TinyStories => ["train", "valid"]
                .iter()
                .map(|s| HubFile {
                    repo: "roneneldan/TinyStories",
                    path: format!("TinyStoriesV2-GPT4-{s}.txt"),
                })
                .collect(),
        }
    }
}

/// What the hub says a file should be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    pub len: Option<u64>,
    /// Lowercase hex SHA-256 of the contents, when the hub publishes it (LFS files).
    pub sha256: Option<String>,
}

/// Reads a file's expected size and SHA-256 from the hub's answer to HEAD (see the module
/// comment). A redirect without `X-Linked-Etag` to a path on the same server (a renamed
/// repository) is followed, at most 3 times.
pub fn expected(url: &str) -> Result<Expected, DataError> {
    let mut url = url.to_string();
    for _ in 0..4 {
        let (status, headers) = head_no_redirect(&url)?;
        let get = |n: &str| headers.iter().find(|h| h.0 == n).map(|h| h.1.as_str());
        let sha = get("x-linked-etag").map(|e| e.trim_start_matches("W/").trim_matches('"'));
        let sha = sha
            .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase);
        let len = get("x-linked-size")
            .or(if (300..400).contains(&status) {
                None
            } else {
                get("content-length")
            })
            .and_then(|v| v.trim().parse().ok());
        if sha.is_some() || !(300..400).contains(&status) {
            return Ok(Expected { len, sha256: sha });
        }
        match get("location") {
            Some(l) if l.starts_with('/') => {
                let origin: String = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                url = format!("{origin}{l}");
            }
            _ => return Ok(Expected { len, sha256: None }),
        }
    }
    Err(DataError::Download {
        url,
        message: "too many redirects on HEAD".into(),
    })
}

/// Lowercase hex SHA-256 of a file, read in 1 MiB blocks.
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks `path` against `exp`; says what was checked.
pub fn check(path: &Path, exp: &Expected) -> Result<&'static str, DataError> {
    let len = std::fs::metadata(path)
        .map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    if let Some(want) = exp.len.filter(|&w| w != len) {
        return Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: format!("{want} bytes"),
            found: format!("{len} bytes"),
        });
    }
    match &exp.sha256 {
        Some(want) => {
            let found = sha256_file(path)?;
            if &found != want {
                return Err(DataError::Checksum {
                    path: path.to_path_buf(),
                    expected: want.clone(),
                    found,
                });
            }
            Ok("sha256")
        }
        None if exp.len.is_some() => Ok("size only (the hub publishes no SHA-256 for it)"),
        None => Ok("not verified (the hub gave neither SHA-256 nor size)"),
    }
}

/// One file fetched by [`fetch_hub`] and what was verified about it.
#[derive(Clone, Debug, PartialEq)]
pub struct HubFetched {
    pub fetched: Fetched,
    /// "sha256", "size only (…)", or "not verified (offline)".
    pub verified: &'static str,
}

/// Makes `files` present and verified in `DATA_DIR/NAME/` (see the module comment).
pub fn fetch_hub(
    name: &str,
    files: &[HubFile],
    data_dir: &Path,
    endpoint: &str,
    offline: bool,
) -> Result<Vec<HubFetched>, DataError> {
    let dir = data_dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|source| DataError::Io {
        path: dir.clone(),
        source,
    })?;
    let mut done = Vec::new();
    for file in files {
        let path = dir.join(file.name());
        if offline {
            if !path.is_file() {
                return Err(DataError::Missing {
                    path,
                    hint: format!("offline, so not downloaded: run `tfs data fetch {name}`"),
                });
            }
            done.push(HubFetched {
                fetched: Fetched::Cached(path),
                verified: "not verified (offline)",
            });
            continue;
        }
        let url = file.url(endpoint);
        let exp = expected(&url)?;
        let mut rejected = None;
        if path.is_file() {
            match check(&path, &exp) {
                Ok(verified) => {
                    done.push(HubFetched {
                        fetched: Fetched::Cached(path),
                        verified,
                    });
                    continue;
                }
                Err(e) => {
                    rejected = Some(e.to_string());
                    std::fs::remove_file(&path).ok();
                }
            }
        }
        let partial = partial_path(&path);
        if partial.exists() {
            eprintln!("resuming {} ...", partial.display());
        }
        http_download_resume(&url, &partial).map_err(|e| match e {
            DataError::Download { url, message } if partial.exists() => DataError::Download {
                url,
                message: format!(
                    "{message} ({} kept: run the command again to resume)",
                    partial.display()
                ),
            },
            e => e,
        })?;
        let verified = match check(&partial, &exp) {
            Ok(v) => v,
            Err(e) => {
                // Complete but wrong: resuming cannot fix it, so the next run starts over.
                std::fs::remove_file(&partial).ok();
                return Err(e);
            }
        };
        std::fs::rename(&partial, &path).map_err(|source| DataError::Io {
            path: path.clone(),
            source,
        })?;
        let fetched = match rejected {
            Some(reason) => Fetched::Replaced { path, reason },
            None => Fetched::Downloaded(path),
        };
        done.push(HubFetched { fetched, verified });
    }
    Ok(done)
}

/// `NAME.partial` beside `NAME`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}
