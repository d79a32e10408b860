//! Text corpora: the UTF-8 check, then every tokenizer trained on the text and used; BPE must
//! decode what it encodes and no id may leave the vocabulary. (Saving and reloading models is the
//! `tokenizer_model` target's job; leaving it out here keeps this target fast enough for 1M runs.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_data::text::text_from_bytes;
use tfs_tokenizers::char::CharTokenizer;
use tfs_tokenizers::word::{WordOptions, WordTokenizer};
use tfs_tokenizers::{BpeTokenizer, Split, Tokenizer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = text_from_bytes(data.to_vec(), Path::new("input.txt")) else {
        assert!(std::str::from_utf8(data).is_err());
        return;
    };
    let (bpe, _) = BpeTokenizer::train(&[&text], 264, Split::Gpt2, &["<|x|>"]).unwrap();
    let toks: [&dyn Tokenizer; 3] = [
        &bpe,
        &CharTokenizer::train(&text),
        &WordTokenizer::train(&text, WordOptions::default()),
    ];
    for t in toks {
        let ids = t.encode(&text);
        assert!(ids.iter().all(|&i| (i as usize) < t.vocab_size()));
        let decoded = t.decode(&ids).unwrap();
        if t.kind() == "bpe" {
            assert_eq!(decoded, text);
        }
    }
});
