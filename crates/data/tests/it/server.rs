//! A tiny HTTP/1.1 server on 127.0.0.1 for the fetch tests: it serves made-up files from a
//! route table, one request per connection (`Connection: close`), and can misbehave on purpose.
//!
//! It listens on port 0 (the system picks a free port), answers at most `max_requests`
//! requests in a thread, and stops by itself after that many or after a deadline, so a failing
//! test never leaves it running. It records the paths asked for.
//!
//! [`Reply::Hub`] plays the Hugging Face hub serving an LFS file: HEAD and GET on the path answer
//! `302` to `/cdn` + the path with `X-Linked-Etag` (the SHA-256) and `X-Linked-Size`; GET on the
//! `/cdn` path serves the bytes, honouring `Range: bytes=N-` with `206`, and can break its first
//! answers off midway to test resuming.
//!
//! Left out: keep-alive, chunked encoding, methods but GET and HEAD; it is a test double, not a
//! server.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server answers on a path.
#[derive(Clone)]
pub enum Reply {
    /// 200 with these bytes.
    Body(Vec<u8>),
    /// 200 announcing the full length of these bytes, then only the first `sent` of them before
    /// the connection is closed.
    Truncated { body: Vec<u8>, sent: usize },
    /// An LFS file on the hub (see the module comment): the first `cut_gets` GETs of the body
    /// stop after `cut_at` bytes of it (counted from the start of the file).
    Hub {
        body: Vec<u8>,
        sha256: String,
        cut_at: usize,
        cut_gets: Arc<AtomicUsize>,
    },
}

/// A running test server; unknown paths get 404.
pub struct Server {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

/// How long the server waits for requests before stopping by itself.
const DEADLINE: Duration = Duration::from_secs(20);

impl Server {
    /// Starts serving `routes` (path → reply) for at most `max_requests` requests.
    pub fn start(routes: Vec<(&str, Reply)>, max_requests: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let routes: Vec<(String, Reply)> = routes
            .into_iter()
            .map(|(p, r)| (p.to_string(), r))
            .collect();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut served = 0;
            while served < max_requests && start.elapsed() < DEADLINE {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        answer(stream, &routes, &seen);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => break,
                }
            }
        });
        Server {
            base,
            requests,
            thread: Some(thread),
        }
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The thread ends by itself (request budget or deadline); do not wait for it here.
        self.thread.take();
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port_base() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Reads one request head, records the path asked for (before replying, so that a client that
/// has seen the reply also sees the request recorded), writes the reply.
fn answer(
    mut stream: TcpStream,
    routes: &[(String, Reply)],
    seen: &Mutex<Vec<String>>,
) -> Option<()> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let method = head.split_whitespace().next()?.to_string();
    let path = head.split_whitespace().nth(1)?.to_string();
    let range = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("range: bytes=")
                .map(str::to_string)
        })
        .and_then(|r| r.trim().trim_end_matches('-').parse::<usize>().ok());
    seen.lock().unwrap().push(path.clone());
    if let Some((_, Reply::Hub { body, sha256, .. })) = routes.iter().find(|(p, _)| *p == path) {
        let head = format!(
            "HTTP/1.1 302 Found\r\nLocation: /cdn{path}\r\nX-Linked-Etag: \"{sha256}\"\r\nX-Linked-Size: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).ok()?;
        stream.flush().ok()?;
        return Some(());
    }
    if let Some((
        _,
        Reply::Hub {
            body,
            cut_at,
            cut_gets,
            ..
        },
    )) = path
        .strip_prefix("/cdn")
        .and_then(|p| routes.iter().find(|(r, _)| r == p))
    {
        let from = range.unwrap_or(0);
        if from >= body.len() && range.is_some() {
            let h = format!("HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", body.len());
            stream.write_all(h.as_bytes()).ok()?;
            return Some(());
        }
        let status = match range {
            Some(_) => format!(
                "206 Partial Content\r\nContent-Range: bytes {from}-{}/{}",
                body.len() - 1,
                body.len()
            ),
            None => "200 OK".to_string(),
        };
        let h = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len() - from
        );
        let cut = cut_gets
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let end = if cut { (*cut_at).max(from) } else { body.len() };
        stream.write_all(h.as_bytes()).ok()?;
        if method != "HEAD" {
            stream.write_all(&body[from..end]).ok()?;
        }
        stream.flush().ok()?;
        stream.shutdown(std::net::Shutdown::Both).ok();
        return Some(());
    }
    let reply = routes.iter().find(|(p, _)| *p == path).map(|(_, r)| r);
    let status_and_body = |status: &str, len: usize| {
        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let result = match reply {
        None => stream
            .write_all(status_and_body("404 Not Found", 9).as_bytes())
            .and_then(|()| stream.write_all(b"not found")),
        Some(Reply::Body(body)) => stream
            .write_all(status_and_body("200 OK", body.len()).as_bytes())
            .and_then(|()| stream.write_all(body)),
        Some(Reply::Truncated { body, sent }) => stream
            .write_all(status_and_body("200 OK", body.len()).as_bytes())
            .and_then(|()| stream.write_all(&body[..*sent])),
        Some(Reply::Hub { .. }) => unreachable!("answered above"),
    };
    result.ok()?;
    stream.flush().ok()?;
    stream.shutdown(std::net::Shutdown::Both).ok();
    Some(())
}
