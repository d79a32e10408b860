//! A stand-in for the Hugging Face hub on 127.0.0.1, enough for `tfs_data::hub`: for each file of
//! one repository it answers `GET /{repo}/resolve/main/{file}` the way the hub does.
//!
//! - a small file: 200 (206 with `Content-Range` for a `Range: bytes=0-0` request), with
//!   `ETag` and `X-Repo-Commit`;
//! - a large ("LFS") file: 302 to an absolute `/cdn/{file}` URL, with `X-Linked-Etag` (its
//!   SHA-256), `X-Linked-Size` and `X-Repo-Commit`; the CDN path answers 200 with the bytes;
//! - `/{old}/resolve/…` of a renamed repository: 307 with a relative `Location` to the new name;
//! - anything else: 404.
//!
//! One request per connection (`Connection: close`); it stops by itself after a deadline or a
//! request budget, and records every path asked for.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[derive(Clone)]
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
    pub lfs: bool,
}

pub struct HubServer {
    pub base: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HubServer {
    /// Serves `files` of `repo` (and redirects `renamed_from`, if given, to `repo`).
    pub fn start(repo: &str, renamed_from: Option<&str>, files: Vec<File>) -> HubServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, repo, old, b) = (
            Arc::clone(&requests),
            repo.to_string(),
            renamed_from.map(str::to_string),
            base.clone(),
        );
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut served = 0;
            while served < 64 && start.elapsed() < Duration::from_secs(30) {
                match listener.accept() {
                    Ok((s, _)) => {
                        served += 1;
                        answer(s, &b, &repo, old.as_deref(), &files, &seen);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => break,
                }
            }
        });
        HubServer { base, requests }
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(
    mut s: TcpStream,
    base: &str,
    repo: &str,
    old: Option<&str>,
    files: &[File],
    seen: &Mutex<Vec<String>>,
) -> Option<()> {
    s.set_nonblocking(false).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match s.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let first_byte_only = head.to_ascii_lowercase().contains("range: bytes=0-0");
    seen.lock().unwrap().push(path.clone());
    let mut reply = |status: &str, headers: Vec<String>, body: &[u8]| {
        let mut h = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for x in headers {
            h.push_str(&x);
            h.push_str("\r\n");
        }
        h.push_str("\r\n");
        s.write_all(h.as_bytes())
            .and_then(|()| s.write_all(body))
            .ok()
    };
    if let Some(rest) = old.and_then(|o| path.strip_prefix(&format!("/{o}/"))) {
        return reply(
            "307 Temporary Redirect",
            vec![format!("Location: /{repo}/{rest}")],
            b"",
        );
    }
    if let Some(name) = path.strip_prefix("/cdn/") {
        if let Some(f) = files.iter().find(|f| f.name == name) {
            return reply("200 OK", vec![], &f.bytes);
        }
    }
    let prefix = format!("/{repo}/resolve/main/");
    let Some(f) = path
        .strip_prefix(&prefix)
        .and_then(|n| files.iter().find(|f| f.name == n))
    else {
        return reply("404 Not Found", vec![], b"not found");
    };
    let commit = format!("X-Repo-Commit: {COMMIT}");
    if f.lfs {
        let sha = tfs_data::fetch::sha256_hex(&f.bytes);
        let headers = vec![
            commit,
            format!("X-Linked-Etag: \"{sha}\""),
            format!("X-Linked-Size: {}", f.bytes.len()),
            format!("Location: {base}/cdn/{}", f.name),
        ];
        return reply("302 Found", headers, b"");
    }
    let etag = format!("ETag: \"{}\"", &tfs_data::fetch::sha256_hex(&f.bytes)[..40]);
    if first_byte_only {
        let range = format!("Content-Range: bytes 0-0/{}", f.bytes.len());
        reply(
            "206 Partial Content",
            vec![commit, etag, range],
            &f.bytes[..1],
        )
    } else {
        reply("200 OK", vec![commit, etag], &f.bytes)
    }
}
