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
    assert!(corrupt_message(&trailing).1.contains("file has 13"));

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
