//! GPT-2's `.tiktoken` file: never a panic; a file that loads is GPT-2's size and round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_tokenizers::gpt2::from_tiktoken_text;
use tfs_tokenizers::Tokenizer;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = from_tiktoken_text(text, Path::new("r50k_base.tiktoken")) {
        assert_eq!(t.vocab_size(), 50257);
        let ids = t.encode("Hello 🙂 <|endoftext|>");
        assert_eq!(t.decode(&ids).unwrap(), "Hello 🙂 <|endoftext|>");
    }
});
