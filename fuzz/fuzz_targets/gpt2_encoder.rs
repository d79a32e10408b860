//! GPT-2's `encoder.json` + `vocab.bpe`, given as one input split at the first NUL byte: never a
//! panic; a pair that loads is GPT-2's size and round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_tokenizers::gpt2::from_encoder_json_text;
use tfs_tokenizers::Tokenizer;

fuzz_target!(|data: &[u8]| {
    let Some(nul) = data.iter().position(|&b| b == 0) else {
        return;
    };
    let (Ok(enc), Ok(merges)) = (
        std::str::from_utf8(&data[..nul]),
        std::str::from_utf8(&data[nul + 1..]),
    ) else {
        return;
    };
    let (pe, pb) = (Path::new("encoder.json"), Path::new("vocab.bpe"));
    if let Ok(t) = from_encoder_json_text(enc, pe, merges, pb) {
        assert_eq!(t.vocab_size(), 50257);
        let ids = t.encode("Hello 🙂");
        assert_eq!(t.decode(&ids).unwrap(), "Hello 🙂");
    }
});
