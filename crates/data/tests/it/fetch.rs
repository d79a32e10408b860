use crate::{gz, temp_dir};
use std::cell::Cell;
use std::path::Path;
use tfs_data::fetch::*;
use tfs_data::DataError;

const CONTENT: &[u8] = b"\x00\x00\x08\x01\x00\x00\x00\x03abc";

fn spec() -> DatasetSpec {
    let sha: &'static str = Box::leak(sha256_hex(CONTENT).into_boxed_str());
    let files: &'static [FileSpec] = Box::leak(
        vec![FileSpec {
            name: "f.gz",
            sha256: sha,
            len: CONTENT.len(),
        }]
        .into_boxed_slice(),
    );
    DatasetSpec {
        name: "toy",
        mirrors: &["https://bad.invalid", "https://good.invalid"],
        files,
    }
}

#[test]
fn downloads_verifies_caches_and_falls_back_to_the_next_mirror() {
    let data = temp_dir("fetch-ok");
    let calls = Cell::new(0);
    let download = |url: &str, dest: &Path| -> Result<(), DataError> {
        calls.set(calls.get() + 1);
        if url.starts_with("https://bad") {
            std::fs::write(dest, gz(b"something else")).unwrap();
        } else {
            std::fs::write(dest, gz(CONTENT)).unwrap();
        }
        Ok(())
    };
    let got = fetch(&spec(), &data, &download).unwrap();
    assert!(matches!(got[0], Fetched::Downloaded(_)));
    assert_eq!(calls.get(), 2);
    assert!(!data.join("toy/f.gz.partial").exists());
    // Second run: cached, no download.
    let got = fetch(&spec(), &data, &download).unwrap();
    assert!(matches!(got[0], Fetched::Cached(_)));
    assert_eq!(calls.get(), 2);
    // A damaged cache file is replaced.
    std::fs::write(data.join("toy/f.gz"), b"junk").unwrap();
    let got = fetch(&spec(), &data, &download).unwrap();
    assert!(matches!(got[0], Fetched::Downloaded(_)));
    verify(&data.join("toy/f.gz"), &spec().files[0]).unwrap();
}

#[test]
fn a_bad_download_leaves_nothing_behind() {
    let data = temp_dir("fetch-bad");
    let download = |_: &str, dest: &Path| -> Result<(), DataError> {
        std::fs::write(dest, gz(b"wrong")).unwrap();
        Ok(())
    };
    let err = fetch(&spec(), &data, &download).unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err:?}");
    assert!(!data.join("toy/f.gz").exists());
    assert!(!data.join("toy/f.gz.partial").exists());
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
