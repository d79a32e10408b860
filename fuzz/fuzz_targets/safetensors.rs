//! safetensors files (GPT checkpoints): never a panic; every tensor that parses holds exactly the
//! elements its shape declares.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_gpt::checkpoint::parse_safetensors;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = parse_safetensors(data, Path::new("fuzz.safetensors")) {
        for (shape, values) in t.values() {
            assert_eq!(shape.iter().product::<usize>(), values.len());
        }
    }
});
