//! Downloading one file over HTTP(S): the transfer beneath [`crate::fetch`].
//!
//! [`http_download`] GETs a URL with a blocking client (ureq; rustls with Mozilla's roots, or the
//! system TLS on macOS) and streams the body into a local file while a progress bar on stderr shows
//! bytes, rate and time left (indicatif hides it when stderr is not a terminal). It fails with a
//! typed [`DataError::Download`] that names the URL and says why: no connection within
//! [`CONNECT_TIMEOUT`] (so a machine without network fails in seconds, not minutes), no byte for
//! [`READ_TIMEOUT`], an HTTP status other than 2xx, or a body shorter than its `Content-Length`
//! (a dropped connection is an error, never a short file that looks complete).
//!
//! [`http_download_resume`] continues an interrupted transfer instead: it asks for the bytes past
//! what the destination already holds (`Range: bytes=N-`), appends a `206 Partial Content` answer
//! (after checking its `Content-Range` starts at N), starts over on a `200` (a server that ignores
//! ranges), and keeps what it received when the connection breaks, so the next call goes on from
//! there. [`head_no_redirect`] reads a URL's headers without following a redirect (where the
//! Hugging Face hub puts an LFS file's SHA-256).
//!
//! The caller chooses the destination (fetch passes `NAME.partial`) and verifies the contents;
//! this file knows nothing of checksums or datasets.
//!
//! Left out: retries (fetch tries the next mirror instead), proxies, and transparent
//! decompression (the bytes are stored as served).

use crate::DataError;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

/// How long to wait for a TCP connection (and TLS handshake) before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a transfer may stall (no byte received) before giving up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Downloads `url` into `dest` (created or truncated), with a progress bar on stderr.
///
/// On error `dest` may hold part of the body; the caller removes it.
pub fn http_download(url: &str, dest: &Path) -> Result<(), DataError> {
    let fail = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let response = match agent().map_err(fail)?.get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            return Err(fail(format!("HTTP {code} {}", r.status_text())))
        }
        Err(ureq::Error::Transport(t)) => return Err(fail(transport_message(&t))),
    };
    let total: Option<u64> = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse().ok());
    let io = |source| DataError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let out = File::create(dest).map_err(io)?;
    let bar = progress_bar(total, url.rsplit('/').next().unwrap_or(url));
    copy_body(response, out, total, &bar, url, dest)
}

/// Downloads `url` into `dest`, continuing from the bytes `dest` already holds (see the module
/// comment). On a broken transfer `dest` keeps what arrived, for the next call to resume.
pub fn http_download_resume(url: &str, dest: &Path) -> Result<(), DataError> {
    let fail = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let io = |source| DataError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let have = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
    let mut req = agent().map_err(fail)?.get(url);
    if have > 0 {
        req = req.set("Range", &format!("bytes={have}-"));
    }
    let response = match req.call() {
        Ok(r) => r,
        // The file is already whole (or longer than the server's): the checksum decides.
        Err(ureq::Error::Status(416, _)) => return Ok(()),
        Err(ureq::Error::Status(code, r)) => {
            return Err(fail(format!("HTTP {code} {}", r.status_text())))
        }
        Err(ureq::Error::Transport(t)) => return Err(fail(transport_message(&t))),
    };
    let resumed = response.status() == 206;
    if resumed {
        let range = response.header("Content-Range").unwrap_or("");
        if !range.starts_with(&format!("bytes {have}-")) {
            return Err(fail(format!(
                "asked for bytes {have}- and got the range '{range}'"
            )));
        }
    }
    let rest: Option<u64> = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse().ok());
    let out = if resumed {
        std::fs::OpenOptions::new().append(true).open(dest)
    } else {
        File::create(dest)
    }
    .map_err(io)?;
    let start = if resumed { have } else { 0 };
    let bar = progress_bar(
        rest.map(|r| r + start),
        url.rsplit('/').next().unwrap_or(url),
    );
    bar.set_position(start);
    copy_body(response, out, rest, &bar, url, dest)
}

/// Streams a response body into `out`, checking it against its Content-Length (`total`).
fn copy_body(
    response: ureq::Response,
    mut out: File,
    total: Option<u64>,
    bar: &ProgressBar,
    url: &str,
    dest: &Path,
) -> Result<(), DataError> {
    let fail = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let io = |source| DataError::Io {
        path: dest.to_path_buf(),
        source,
    };
    let mut body = response.into_reader();
    let mut buf = vec![0u8; 64 * 1024];
    let mut got: u64 = 0;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                bar.abandon();
                return Err(fail(format!("transfer broke off after {got} bytes: {e}")));
            }
        };
        out.write_all(&buf[..n]).map_err(io)?;
        got += n as u64;
        bar.inc(n as u64);
    }
    if let Some(total) = total {
        if got != total {
            bar.abandon();
            return Err(fail(format!(
                "connection closed after {got} of {total} bytes"
            )));
        }
    }
    out.sync_all().map_err(io)?;
    bar.finish_and_clear();
    Ok(())
}

/// The status and headers of a HEAD request to `url`, not following redirects (a 3xx is
/// returned as it is). `headers` are looked up by name, case-insensitively.
pub fn head_no_redirect(url: &str) -> Result<(u16, Vec<(String, String)>), DataError> {
    let fail = |message: String| DataError::Download {
        url: url.to_string(),
        message,
    };
    let agent = agent_with(0).map_err(fail)?;
    let r = match agent.head(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            return Err(fail(format!("HTTP {code} {}", r.status_text())))
        }
        Err(ureq::Error::Transport(t)) => return Err(fail(transport_message(&t))),
    };
    let headers = r
        .headers_names()
        .into_iter()
        .filter_map(|n| {
            r.header(&n)
                .map(|v| (n.to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    Ok((r.status(), headers))
}

/// A client with our timeouts and no automatic decompression.
fn agent() -> Result<ureq::Agent, String> {
    agent_with(5)
}

/// [`agent`] following at most `redirects` redirects.
fn agent_with(redirects: u32) -> Result<ureq::Agent, String> {
    Ok(builder_with(redirects)?.build())
}

/// [`agent`]'s settings, for a caller that changes one (the hub's metadata request follows no
/// redirects).
pub(crate) fn agent_builder() -> Result<ureq::AgentBuilder, String> {
    builder_with(5)
}

fn builder_with(redirects: u32) -> Result<ureq::AgentBuilder, String> {
    let builder = ureq::AgentBuilder::new()
        .redirects(redirects)
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        .user_agent(concat!("tfs-data/", env!("CARGO_PKG_VERSION")));
    #[cfg(target_os = "macos")]
    let builder = {
        let tls = ureq::native_tls::TlsConnector::new()
            .map_err(|e| format!("could not set up TLS: {e}"))?;
        builder.tls_connector(std::sync::Arc::new(tls))
    };
    Ok(builder)
}

/// One line: the kind of failure, ureq's message, and the underlying cause.
pub(crate) fn transport_message(t: &ureq::Transport) -> String {
    let mut s = t.kind().to_string();
    if let Some(m) = t.message() {
        s.push_str(": ");
        s.push_str(m);
    }
    if let Some(cause) = std::error::Error::source(t) {
        s.push_str(": ");
        s.push_str(&cause.to_string());
    }
    s.replace(['\n', '\r'], " ")
}

/// A byte-counting bar (or a spinner when the length is unknown) drawn on stderr.
fn progress_bar(total: Option<u64>, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "  {msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "  {msg:28} {spinner} {bytes} {bytes_per_sec}"
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(name.to_string());
    bar
}
