//! Fetching from a stand-in for the Hugging Face hub on 127.0.0.1 (`Reply::Hub` in server.rs):
//! the SHA-256 read from HEAD, a download broken off midway and resumed with `Range`, a wrong
//! checksum, a server that ignores ranges, offline. No other address is contacted.

use crate::server::{Reply, Server};
use crate::temp_dir;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use tfs_data::fetch::{sha256_hex, Fetched};
use tfs_data::hf_datasets::{fetch_hub, partial_path, HubDataset, HubFile};
use tfs_data::DataError;

fn body() -> Vec<u8> {
    (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn file() -> HubFile {
    HubFile {
        repo: "o/d",
        path: "sample/10BT/000_00000.parquet".into(),
    }
}

const ROUTE: &str = "/datasets/o/d/resolve/main/sample/10BT/000_00000.parquet";

#[test]
fn a_broken_download_resumes_and_is_checked_against_the_hubs_sha256() {
    let data = temp_dir("hub-resume");
    let b = body();
    let reply = Reply::Hub {
        body: b.clone(),
        sha256: sha256_hex(&b),
        cut_at: 100_000,
        cut_gets: Arc::new(AtomicUsize::new(1)),
    };
    let server = Server::start(vec![(ROUTE, reply)], 10);
    let err = fetch_hub("fw", &[file()], &data, &server.base, false).unwrap_err();
    assert!(matches!(err, DataError::Download { .. }), "{err}");
    let dest = data.join("fw/000_00000.parquet");
    let partial = partial_path(&dest);
    assert_eq!(
        std::fs::metadata(&partial).unwrap().len(),
        100_000,
        "kept for resuming"
    );
    assert!(!dest.exists());
    let got = fetch_hub("fw", &[file()], &data, &server.base, false).unwrap();
    assert_eq!(got[0].fetched, Fetched::Downloaded(dest.clone()));
    assert_eq!(got[0].verified, "sha256");
    assert_eq!(std::fs::read(&dest).unwrap(), b);
    assert!(!partial.exists());
    // HEAD, the redirect, the cut body; HEAD, the redirect, the rest.
    let cdn = format!("/cdn{ROUTE}");
    assert_eq!(
        server.requests(),
        [ROUTE, ROUTE, &cdn, ROUTE, ROUTE, &cdn].map(String::from)
    );
    // Again: verified in place, only the HEAD request.
    let got = fetch_hub("fw", &[file()], &data, &server.base, false).unwrap();
    assert_eq!(got[0].fetched, Fetched::Cached(dest.clone()));
    assert_eq!(server.requests().len(), 7);
    // A damaged copy is replaced.
    std::fs::write(&dest, b"junk").unwrap();
    let got = fetch_hub("fw", &[file()], &data, &server.base, false).unwrap();
    assert!(
        matches!(got[0].fetched, Fetched::Replaced { .. }),
        "{got:?}"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b);
}

#[test]
fn a_wrong_sha256_leaves_nothing() {
    let data = temp_dir("hub-bad-sha");
    let reply = Reply::Hub {
        body: body(),
        sha256: sha256_hex(b"something else"),
        cut_at: 0,
        cut_gets: Arc::new(AtomicUsize::new(0)),
    };
    let server = Server::start(vec![(ROUTE, reply)], 3);
    let err = fetch_hub("fw", &[file()], &data, &server.base, false).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
    let dest = data.join("fw/000_00000.parquet");
    assert!(!dest.exists() && !partial_path(&dest).exists());
}

#[test]
fn a_server_ignoring_ranges_starts_over_and_size_is_checked() {
    let data = temp_dir("hub-norange");
    let b = body();
    let server = Server::start(vec![(ROUTE, Reply::Body(b.clone()))], 2);
    let dest = data.join("fw/000_00000.parquet");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(partial_path(&dest), b"stale bytes").unwrap();
    let got = fetch_hub("fw", &[file()], &data, &server.base, false).unwrap();
    assert_eq!(
        got[0].verified,
        "size only (the hub publishes no SHA-256 for it)"
    );
    assert_eq!(std::fs::read(&dest).unwrap(), b);
}

#[test]
fn offline_needs_the_files_present() {
    let data = temp_dir("hub-offline");
    let e = fetch_hub(
        "tinystories",
        &HubDataset::TinyStories.files(0),
        &data,
        "http://127.0.0.1:9",
        true,
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("TinyStoriesV2-GPT4-train.txt") && e.contains("tfs data fetch tinystories"),
        "{e}"
    );
    for f in HubDataset::TinyStories.files(0) {
        std::fs::write(data.join("tinystories").join(f.name()), "x").unwrap();
    }
    let got = fetch_hub(
        "tinystories",
        &HubDataset::TinyStories.files(0),
        &data,
        "http://127.0.0.1:9",
        true,
    )
    .unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|g| g.verified.contains("offline")));
}

#[test]
fn the_public_urls() {
    let f = HubDataset::FinewebEdu.files(3);
    assert_eq!(
        f[2].url("https://huggingface.co"),
        "https://huggingface.co/datasets/HuggingFaceFW/fineweb-edu/resolve/main/sample/10BT/002_00000.parquet"
    );
    assert_eq!(f[0].name(), "000_00000.parquet");
    let t = HubDataset::TinyStories.files(0);
    assert_eq!(
        t[1].url("https://huggingface.co"),
        "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStoriesV2-GPT4-valid.txt"
    );
    assert_eq!(
        HubDataset::from_name("fineweb-edu"),
        Some(HubDataset::FinewebEdu)
    );
}
