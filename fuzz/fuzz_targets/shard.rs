//! Token shards (tfs-gpt `shards`): never a panic; a shard that passes the checks holds exactly
//! the tokens its header counts, every one below its vocabulary size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_gpt::shards::{check_shard, HEADER_BYTES};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = check_shard(data, Path::new("fuzz.bin")) {
        assert_eq!(data.len() as u64, HEADER_BYTES as u64 + 2 * h.count);
        assert!(data[HEADER_BYTES..]
            .chunks_exact(2)
            .all(|c| (u16::from_le_bytes([c[0], c[1]]) as u32) < h.vocab_size));
    }
});
