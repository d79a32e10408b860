//! The saved-tokenizer format: never a panic; a file that loads saves back to a file that loads
//! to the same text, and its ids stay inside its vocabulary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_tokenizers::from_bytes;

const PROBES: [&str; 3] = ["ABBA abba", "To be, or not: 🙂 ünï <|x|>", "\n\n  x"];

fuzz_target!(|data: &[u8]| {
    let Ok(t) = from_bytes(data, Path::new("fuzz.tok")) else {
        return;
    };
    let text = t.to_file_text();
    let back = from_bytes(text.as_bytes(), Path::new("resaved.tok")).unwrap();
    assert_eq!(back.to_file_text(), text);
    for p in PROBES {
        let ids = t.encode(p);
        assert!(ids.iter().all(|&i| (i as usize) < t.vocab_size()));
        let decoded = t.decode(&ids);
        if t.kind() == "bpe" {
            assert_eq!(decoded.unwrap(), p);
        }
    }
});
