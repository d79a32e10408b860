//! IDX files, raw or gzip: never a panic; an array that loads from raw bytes is exactly them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_data::idx::{encode_idx, parse_idx_file};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = parse_idx_file(data, Path::new("fuzz.idx")) {
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
        if !data.starts_with(&[0x1f, 0x8b]) {
            assert_eq!(encode_idx(&a), data);
        }
    }
});
