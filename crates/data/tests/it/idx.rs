use crate::{gz, temp_dir};
use std::path::Path;
use tfs_data::idx::*;
use tfs_data::DataError;

fn sample() -> IdxArray {
    IdxArray {
        dims: vec![2, 3, 2],
        data: (0..12).collect(),
    }
}

#[test]
fn round_trips_raw_and_gz() {
    let dir = temp_dir("idx-rt");
    let bytes = encode_idx(&sample());
    std::fs::write(dir.join("a"), &bytes).unwrap();
    std::fs::write(dir.join("a.gz"), gz(&bytes)).unwrap();
    assert_eq!(read_idx(&dir.join("a")).unwrap(), sample());
    assert_eq!(read_idx(&dir.join("a.gz")).unwrap(), sample());
}

fn corrupt_message(bytes: &[u8]) -> (u64, String) {
    match parse_idx(bytes, Path::new("x.idx")) {
        Err(DataError::Corrupt {
            offset, message, ..
        }) => (offset, message),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn bad_files_are_typed_errors_with_offsets() {
    let good = encode_idx(&sample());
    let (off, msg) = corrupt_message(&good[..2]);
    assert_eq!(off, 0);
    assert!(msg.contains("too short"), "{msg}");

    let mut bad_magic = good.clone();
    bad_magic[0] = 0x1f;
    assert!(corrupt_message(&bad_magic).1.contains("bad magic"));

    let mut bad_type = good.clone();
    bad_type[2] = 0x0d;
    let (off, msg) = corrupt_message(&bad_type);
    assert_eq!(off, 2);
    assert!(msg.contains("0x0d"), "{msg}");

    let (off, msg) = corrupt_message(&good[..good.len() - 1]);
    assert_eq!(off, 16);
    assert!(msg.contains("need 12 data bytes, file has 11"), "{msg}");

    let mut trailing = good.clone();
    trailing.push(0);
    assert!(corrupt_message(&trailing).1.contains("trailing data"));

    assert!(corrupt_message(&good[..10]).1.contains("header of rank 3"));
}

#[test]
fn truncated_gzip_is_an_error_naming_the_file() {
    let dir = temp_dir("idx-gz");
    let z = gz(&encode_idx(&sample()));
    let p = dir.join("t.gz");
    std::fs::write(&p, &z[..z.len() / 2]).unwrap();
    let err = read_idx(&p).unwrap_err();
    assert!(matches!(err, DataError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("t.gz"), "{err}");
}

/// Peak resident memory of this process (VmHWM) in bytes, after resetting it when `reset`.
#[cfg(target_os = "linux")]
fn peak_rss(reset: bool) -> usize {
    if reset {
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[cfg(target_os = "linux")]
#[test]
fn a_gzip_bomb_is_not_inflated_past_what_the_header_promises() {
    // A 4×4 array followed by 1 GiB of zeros in one gzip member (≈ 1 MB on disk).
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&encode_idx(&IdxArray {
        dims: vec![1, 4, 4],
        data: vec![0; 16],
    }))
    .unwrap();
    let mib = vec![0; 1 << 20];
    for _ in 0..1024 {
        e.write_all(&mib).unwrap();
    }
    let z = e.finish().unwrap();
    let dir = temp_dir("idx-bomb");
    let p = dir.join("bomb.gz");
    std::fs::write(&p, &z).unwrap();
    drop(z);
    let before = peak_rss(true);
    let err = read_idx(&p).unwrap_err().to_string();
    let grew = peak_rss(false).saturating_sub(before);
    assert!(err.contains("trailing data"), "{err}");
    // Other tests run in parallel (the real MNIST is ≈ 55 MB); inflating would take 1 GiB.
    assert!(
        grew < 400 << 20,
        "reading the bomb grew the peak by {grew} bytes"
    );
}

#[test]
fn a_header_promising_more_than_the_limit_is_refused_before_reading() {
    let mut bytes = vec![0, 0, 8, 3];
    for d in [60_000u32, 2_000, 2_000] {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.resize(1 << 20, 0);
    let (off, msg) = corrupt_message(&bytes);
    assert_eq!(off, 4);
    assert!(msg.contains("more than the"), "{msg}");
    let dir = temp_dir("idx-huge");
    std::fs::write(dir.join("h.gz"), gz(&bytes)).unwrap();
    let e = read_idx(&dir.join("h.gz")).unwrap_err().to_string();
    assert!(e.contains("more than the"), "{e}");
}

#[test]
fn multi_member_gzip_is_read_whole() {
    // `cat a.gz b.gz` is a valid gzip file; it used to be cut after the first member.
    let bytes = encode_idx(&sample());
    let (a, b) = bytes.split_at(7);
    let mut z = gz(a);
    z.extend(gz(b));
    let dir = temp_dir("idx-multi");
    std::fs::write(dir.join("m.gz"), &z).unwrap();
    assert_eq!(read_idx(&dir.join("m.gz")).unwrap(), sample());
}
