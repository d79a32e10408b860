//! Files of a Hugging Face hub repository, fetched into the standard Hugging Face cache (the
//! folder Python's `huggingface_hub` and `transformers` use, so either side finds what the other
//! downloaded).
//!
//! ```text
//!   URL      {endpoint}/{repo}/resolve/{revision}/{file}        endpoint: $HF_ENDPOINT or https://huggingface.co
//!   cache    $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
//!            models--{org}--{name}/
//!              blobs/{etag}                       the bytes, named by their ETag
//!              snapshots/{commit}/{file}          a relative symlink to ../../blobs/{etag}
//!              refs/{revision}                    the commit the revision (e.g. `main`) resolved to
//! ```
//!
//! One file is fetched in two requests, as `huggingface_hub` does. A metadata request that
//! follows no redirect except relative ones (a renamed repository answers with a relative
//! redirect to its new name; a large file answers with an absolute redirect to a CDN, which is not
//! followed here) reads `X-Repo-Commit` (the commit `revision` names), `X-Linked-Etag` (for a
//! Git LFS file: its SHA-256) or else `ETag`, and the size. Then the download proper goes through
//! [`crate::http::http_download`] (redirects followed, progress bar, a short body is an error)
//! into `blobs/{etag}.partial`; an LFS file's SHA-256 is checked against its ETag; then the
//! `.partial` is renamed and the snapshot link and the ref are written. A file already in the
//! cache (the ref names a snapshot that has it) is used without any request, and with
//! `HF_HUB_OFFLINE=1` a file not in the cache is an error that names it.
//!
//! The metadata request is a GET of byte 0 (`Range: bytes=0-0`), not a HEAD, so that a server
//! that does not implement HEAD still answers (the hub answers both).
//!
//! Left out: authentication (gated and private repositories answer 401/403, reported as such),
//! checking a cached file against a newer commit (delete the cache folder to refetch), resuming a
//! broken download, locking against a second process downloading the same blob, datasets and
//! spaces (model repositories only).

use crate::http::{agent_builder, http_download, transport_message};
use crate::DataError;
use std::path::{Path, PathBuf};

/// Where files come from and where they go.
#[derive(Clone, Debug, PartialEq)]
pub struct Hub {
    /// `https://huggingface.co`, or a mirror / test server; no trailing slash.
    pub endpoint: String,
    /// The hub cache folder (holds `models--org--name/`).
    pub cache: PathBuf,
    /// Never make a request: only files already in the cache.
    pub offline: bool,
}

impl Hub {
    /// The settings `huggingface_hub` reads: `HF_ENDPOINT`, `HF_HUB_CACHE` / `HF_HOME`,
    /// `HF_HUB_OFFLINE`.
    pub fn from_env() -> Hub {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let cache = var("HF_HUB_CACHE")
            .map(PathBuf::from)
            .or_else(|| var("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
            .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub")))
            .unwrap_or_else(|| PathBuf::from(".cache/huggingface/hub"));
        let endpoint = std::env::var("HF_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| "https://huggingface.co".into());
        let offline = var("HF_HUB_OFFLINE").is_some_and(|v| v != "0" && !v.is_empty());
        Hub {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            cache,
            offline,
        }
    }

    /// `cache/models--org--name`.
    pub fn repo_dir(&self, repo: &str) -> PathBuf {
        self.cache
            .join(format!("models--{}", repo.replace('/', "--")))
    }

    /// The cached copy of `file` at `revision`, if the cache has one.
    pub fn cached(&self, repo: &str, revision: &str, file: &str) -> Option<PathBuf> {
        let dir = self.repo_dir(repo);
        let commit = if is_commit(revision) {
            revision.to_string()
        } else {
            std::fs::read_to_string(dir.join("refs").join(revision)).ok()?
        };
        let p = dir.join("snapshots").join(commit.trim()).join(file);
        p.exists().then_some(p)
    }

    /// `file` of model repository `repo` at `revision` (a branch, tag or commit): from the cache,
    /// else downloaded into it. Returns the path in `snapshots/`.
    pub fn fetch(&self, repo: &str, revision: &str, file: &str) -> Result<PathBuf, DataError> {
        if !is_repo_id(repo) {
            return Err(download_error(
                repo,
                "not a hub repository id (NAME or ORG/NAME)".into(),
            ));
        }
        if let Some(p) = self.cached(repo, revision, file) {
            return Ok(p);
        }
        let url = format!(
            "{}/{repo}/resolve/{}/{file}",
            self.endpoint,
            revision.replace('/', "%2F")
        );
        if self.offline {
            return Err(DataError::Missing {
                path: self.repo_dir(repo).join("snapshots").join(file),
                hint: format!(
                    "offline (--offline, TFS_OFFLINE or HF_HUB_OFFLINE), so {url} is not downloaded"
                ),
            });
        }
        let meta = metadata(&url)?;
        let dir = self.repo_dir(repo);
        let blob = dir.join("blobs").join(&meta.etag);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| DataError::Io { path, source }
        };
        std::fs::create_dir_all(dir.join("blobs")).map_err(io(&dir))?;
        if !blob.exists() {
            let partial = blob.with_extension("partial");
            let got = http_download(&url, &partial).and_then(|()| check(&partial, &meta, &url));
            if let Err(e) = got {
                std::fs::remove_file(&partial).ok();
                return Err(e);
            }
            std::fs::rename(&partial, &blob).map_err(io(&blob))?;
        }
        let link = dir.join("snapshots").join(&meta.commit).join(file);
        let parent = link.parent().expect("a file in a snapshot");
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        if !link.exists() {
            link_or_copy(&blob, &link, file).map_err(io(&link))?;
        }
        if !is_commit(revision) {
            let r = dir.join("refs").join(revision);
            std::fs::create_dir_all(r.parent().expect("refs/")).map_err(io(&r))?;
            std::fs::write(&r, &meta.commit).map_err(io(&r))?;
        }
        Ok(link)
    }
}

/// `NAME` or `ORG/NAME`, each part of letters, digits, `-`, `_`, `.`, not starting with `.` or
/// `-` and without `..` (so it cannot name a path outside the cache).
pub fn is_repo_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('/').collect();
    parts.len() <= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 96
                && !p.starts_with(['.', '-'])
                && !p.contains("..")
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
}

/// 40 lowercase hex digits: a Git commit.
fn is_commit(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn download_error(url: &str, message: String) -> DataError {
    DataError::Download {
        url: url.to_string(),
        message,
    }
}

/// What the metadata request says about one file.
#[derive(Debug)]
struct Meta {
    commit: String,
    etag: String,
    size: Option<u64>,
}

/// The metadata request (see the module header).
fn metadata(url: &str) -> Result<Meta, DataError> {
    let fail = |m: String| download_error(url, m);
    let agent = agent_builder().map_err(fail)?.redirects(0).build();
    let mut at = url.to_string();
    for _ in 0..5 {
        let r = match agent.get(&at).set("Range", "bytes=0-0").call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let why = match code {
                    401 | 403 => "the repository is gated or private (tokens are not supported)",
                    404 => "no such repository, revision or file",
                    _ => r.status_text(),
                };
                return Err(fail(format!("HTTP {code}: {why}")));
            }
            Err(ureq::Error::Transport(t)) => return Err(fail(transport_message(&t))),
        };
        let location = r.header("Location").map(str::to_string);
        if (300..400).contains(&r.status()) {
            if let Some(rel) = location.as_deref().filter(|l| l.starts_with('/')) {
                let origin = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
                at = format!("{origin}{rel}");
                continue;
            }
        }
        let header = |k: &str| r.header(k).map(|v| v.trim().to_string());
        let commit = header("X-Repo-Commit")
            .ok_or_else(|| fail("the answer has no X-Repo-Commit header".into()))?;
        let etag = header("X-Linked-Etag")
            .or_else(|| header("ETag"))
            .ok_or_else(|| fail("the answer has no ETag header".into()))?;
        let etag = etag.trim_start_matches("W/").trim_matches('"').to_string();
        if !is_commit(&commit)
            || etag.is_empty()
            || !etag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(fail(format!(
                "unexpected commit {commit:?} or ETag {etag:?}"
            )));
        }
        let size = header("X-Linked-Size")
            .or_else(|| {
                header("Content-Range").and_then(|c| c.rsplit('/').next().map(str::to_string))
            })
            .and_then(|s| s.parse().ok());
        return Ok(Meta { commit, etag, size });
    }
    Err(fail("more than 5 redirects".into()))
}

/// The downloaded file has the announced size and, for an LFS file, the SHA-256 its ETag names.
fn check(path: &Path, meta: &Meta, url: &str) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if meta.size.is_some_and(|s| s != len) {
        return Err(download_error(
            url,
            format!("{len} bytes received, {} announced", meta.size.unwrap_or(0)),
        ));
    }
    if meta.etag.len() == 64 && meta.etag.bytes().all(|b| b.is_ascii_hexdigit()) {
        let found = crate::hf_datasets::sha256_file(path)?;
        if found != meta.etag.to_ascii_lowercase() {
            return Err(DataError::Checksum {
                path: path.to_path_buf(),
                expected: meta.etag.clone(),
                found,
            });
        }
    }
    Ok(())
}

/// `link` → `../../blobs/{etag}` (one more `..` per folder inside `file`); a copy where symlinks
/// are not available.
fn link_or_copy(blob: &Path, link: &Path, file: &str) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut rel = PathBuf::from("../..");
        for _ in 0..file.matches('/').count() {
            rel.push("..");
        }
        rel.push("blobs");
        rel.push(blob.file_name().expect("a blob name"));
        std::os::unix::fs::symlink(rel, link)
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        std::fs::copy(blob, link).map(|_| ())
    }
}
