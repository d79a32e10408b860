//! Fetching against a local HTTP server on 127.0.0.1 serving made-up files (see `server.rs`):
//! download and verify, cache, mirror failover, wrong checksum, dropped connection, offline and
//! unreachable-network errors. No other address is ever contacted and no dataset is committed.

use crate::server::{closed_port_base, Reply, Server};
use crate::{gz, temp_dir};
use std::cell::Cell;
use std::ffi::OsStr;
use std::path::Path;
use tfs_data::fetch::*;
use tfs_data::DataError;

const CONTENT: &[u8] = b"\x00\x00\x08\x01\x00\x00\x00\x03abc";

/// A one-file dataset named `toy` whose mirrors are `bases` (leaked: specs are `'static`).
fn spec(bases: &[&str]) -> DatasetSpec {
    let sha: &'static str = Box::leak(sha256_hex(CONTENT).into_boxed_str());
    let files: &'static [FileSpec] = Box::leak(
        vec![FileSpec {
            name: "f.gz",
            sha256: sha,
            len: CONTENT.len(),
        }]
        .into_boxed_slice(),
    );
    let mirrors: Vec<&'static str> = bases
        .iter()
        .map(|b| &*Box::leak(b.to_string().into_boxed_str()))
        .collect();
    DatasetSpec {
        name: "toy",
        mirrors: Box::leak(mirrors.into_boxed_slice()),
        files,
    }
}

fn no_download(url: &str, _: &Path) -> Result<(), DataError> {
    panic!("unexpected download of {url}")
}

#[test]
fn a_file_is_downloaded_verified_and_then_cached() {
    let data = temp_dir("http-ok");
    let server = Server::start(vec![("/a/f.gz", Reply::Body(gz(CONTENT)))], 1);
    let spec = spec(&[&format!("{}/a", server.base)]);
    let got = fetch(&spec, &data, &http_download).unwrap();
    assert_eq!(got, vec![Fetched::Downloaded(data.join("toy/f.gz"))]);
    verify(&data.join("toy/f.gz"), &spec.files[0]).unwrap();
    assert!(!data.join("toy/f.gz.partial").exists());
    // Second run: verified in place, no request.
    let got = fetch(&spec, &data, &http_download).unwrap();
    assert_eq!(got, vec![Fetched::Cached(data.join("toy/f.gz"))]);
    assert_eq!(server.requests(), vec!["/a/f.gz"]);
}

#[test]
fn a_wrong_checksum_is_rejected_and_nothing_is_left() {
    let data = temp_dir("http-bad-sum");
    let server = Server::start(vec![("/f.gz", Reply::Body(gz(b"not the file")))], 1);
    let err = fetch(&spec(&[&server.base]), &data, &http_download).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err:?}");
    assert!(!data.join("toy/f.gz").exists());
    assert!(!data.join("toy/f.gz.partial").exists());
}

#[test]
fn a_dropped_connection_is_an_error_not_a_short_file() {
    let data = temp_dir("http-drop");
    let body = gz(&vec![7u8; 100_000]);
    let sent = body.len() / 2;
    let server = Server::start(vec![("/f.gz", Reply::Truncated { body, sent })], 2);
    // The downloader itself reports the short body ...
    let dest = data.join("direct");
    match http_download(&format!("{}/f.gz", server.base), &dest).unwrap_err() {
        DataError::Download { url, message } => {
            eprintln!("{message}");
            assert!(url.ends_with("/f.gz"), "{url}");
            assert!(message.contains("bytes"), "{message}");
        }
        e => panic!("{e:?}"),
    }
    // ... and fetch leaves no file, whole or partial.
    let err = fetch(&spec(&[&server.base]), &data, &http_download).unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err:?}");
    assert!(!data.join("toy/f.gz").exists());
    assert!(!data.join("toy/f.gz.partial").exists());
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_404_falls_back_to_the_next_mirror() {
    let data = temp_dir("http-404");
    let server = Server::start(vec![("/good/f.gz", Reply::Body(gz(CONTENT)))], 2);
    let bases = [
        format!("{}/gone", server.base),
        format!("{}/good", server.base),
    ];
    let bases = [bases[0].as_str(), bases[1].as_str()];
    let got = fetch(&spec(&bases), &data, &http_download).unwrap();
    assert!(matches!(got[0], Fetched::Downloaded(_)));
    assert_eq!(server.requests(), vec!["/gone/f.gz", "/good/f.gz"]);
    // A 404 alone is a Download error naming the status.
    let server = Server::start(vec![], 1);
    match http_download(&format!("{}/x", server.base), &data.join("x")).unwrap_err() {
        DataError::Download { message, .. } => assert!(message.contains("404"), "{message}"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_damaged_cached_file_is_replaced() {
    let data = temp_dir("http-damaged");
    let server = Server::start(vec![("/f.gz", Reply::Body(gz(CONTENT)))], 1);
    let spec = spec(&[&server.base]);
    std::fs::create_dir_all(data.join("toy")).unwrap();
    std::fs::write(data.join("toy/f.gz"), b"junk").unwrap();
    let got = fetch(&spec, &data, &http_download).unwrap();
    // The reason the cached copy was rejected is reported, not hidden.
    match &got[0] {
        Fetched::Replaced { reason, .. } => assert!(reason.contains("SHA-256"), "{reason}"),
        f => panic!("{f:?}"),
    }
    verify(&data.join("toy/f.gz"), &spec.files[0]).unwrap();
}

#[test]
fn offline_a_missing_dataset_is_one_line_naming_the_file_and_the_command() {
    let data = temp_dir("offline");
    let spec = spec(&[&closed_port_base()]);
    let err = ensure_with(&spec, &data, Fetch::Offline, &no_download).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("toy/f.gz not found"), "{msg}");
    assert!(msg.contains("offline"), "{msg}");
    assert!(msg.contains("`tfs data fetch toy`"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    // The real loaders say the same about the real datasets (offline: no network touched).
    let msg = tfs_data::mnist::load_mnist_fetching(&data, Fetch::Offline)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("mnist/train-images-idx3-ubyte.gz not found"),
        "{msg}"
    );
    assert!(msg.contains("`tfs data fetch mnist`"), "{msg}");
    let msg = tfs_data::text::load_tiny_shakespeare_fetching(&data, Fetch::Offline)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("tinyshakespeare/input.txt not found"), "{msg}");
    assert!(msg.contains("`tfs data fetch tinyshakespeare`"), "{msg}");
}

#[test]
fn an_unreachable_network_is_a_missing_error_with_the_reason() {
    let data = temp_dir("unreachable");
    let spec = spec(&[&closed_port_base()]);
    let err = ensure_with(&spec, &data, Fetch::Online, &http_download).unwrap_err();
    assert!(matches!(err, DataError::Missing { .. }), "{err:?}");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(msg.contains("toy/f.gz not found"), "{msg}");
    assert!(
        msg.contains("fetching it failed (downloading http://127.0.0.1:"),
        "{msg}"
    );
    assert!(msg.contains("`tfs data fetch toy`"), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    assert!(!data.join("toy/f.gz.partial").exists());
}

#[test]
fn online_a_missing_dataset_is_fetched_then_used() {
    let data = temp_dir("ensure-online");
    let server = Server::start(vec![("/f.gz", Reply::Body(gz(CONTENT)))], 1);
    let spec = spec(&[&server.base]);
    ensure_with(&spec, &data, Fetch::Online, &http_download).unwrap();
    verify(&data.join("toy/f.gz"), &spec.files[0]).unwrap();
    assert_eq!(missing_file(&spec, &data), None);
}

#[test]
fn an_existing_file_is_not_downloaded_again() {
    let data = temp_dir("ensure-present");
    let spec = spec(&[&closed_port_base()]);
    std::fs::create_dir_all(data.join("toy")).unwrap();
    // Present compressed: used as it is, online or offline.
    std::fs::write(data.join("toy/f.gz"), gz(CONTENT)).unwrap();
    ensure_with(&spec, &data, Fetch::Online, &no_download).unwrap();
    ensure_with(&spec, &data, Fetch::Offline, &no_download).unwrap();
    let calls = Cell::new(0);
    let counting = |_: &str, _: &Path| -> Result<(), DataError> {
        calls.set(calls.get() + 1);
        Ok(())
    };
    assert!(matches!(
        fetch(&spec, &data, &counting).unwrap()[0],
        Fetched::Cached(_)
    ));
    // Present decompressed (as the loaders accept): also found and verified.
    std::fs::remove_file(data.join("toy/f.gz")).unwrap();
    std::fs::write(data.join("toy/f"), CONTENT).unwrap();
    ensure_with(&spec, &data, Fetch::Online, &no_download).unwrap();
    assert_eq!(
        fetch(&spec, &data, &counting).unwrap(),
        vec![Fetched::Cached(data.join("toy/f"))]
    );
    assert_eq!(calls.get(), 0);
}

#[test]
fn tfs_offline_forces_offline() {
    let off = |flag, var: Option<&str>| Fetch::resolve(flag, var.map(OsStr::new));
    assert_eq!(off(false, None), Fetch::Online);
    assert_eq!(off(false, Some("")), Fetch::Online);
    assert_eq!(off(false, Some("0")), Fetch::Online);
    assert_eq!(off(false, Some("1")), Fetch::Offline);
    assert_eq!(off(true, None), Fetch::Offline);
    assert_eq!(Fetch::from_env(true), Fetch::Offline);
}

#[test]
fn the_shared_copies_verify_against_the_specs() {
    let Some(dir) = std::env::var_os("TFS_DATA_DIR") else {
        eprintln!("TFS_DATA_DIR not set: MNIST checksum test skipped");
        return;
    };
    for spec in DATASETS {
        for f in spec.files {
            verify(&Path::new(&dir).join(spec.name).join(f.name), f).unwrap();
        }
    }
}

#[test]
fn a_mirror_is_tried_first_laid_out_like_the_data_folder() {
    use tfs_data::fetch::{urls, TINY_SHAKESPEARE};
    let file = &TINY_SHAKESPEARE.files[0];
    let with = urls(&TINY_SHAKESPEARE, file, Some("http://127.0.0.1:8000/"));
    assert_eq!(with[0], "http://127.0.0.1:8000/tinyshakespeare/input.txt");
    assert_eq!(with.len(), 1 + TINY_SHAKESPEARE.mirrors.len());
    assert!(with[1].ends_with("/input.txt"));
    let without = urls(&TINY_SHAKESPEARE, file, None);
    assert_eq!(&with[1..], &without[..]);
    assert_eq!(urls(&TINY_SHAKESPEARE, file, Some("")), without);
}
