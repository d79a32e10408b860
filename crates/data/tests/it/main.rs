//! Integration tests of tfs-data.

mod fetch;
mod fuzz;
mod hf_datasets;
mod idx;
mod mnist;
#[path = "../../../../fuzz/mutate.rs"]
mod mutate;
mod server;

use std::path::PathBuf;

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tfs-data-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// gzip-compresses bytes.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}
