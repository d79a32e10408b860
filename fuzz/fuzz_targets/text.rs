//! Text corpora: the UTF-8 check, then every tokenizer trained on the text, saved, reloaded and
//! used; BPE must decode what it encodes and no id may leave the vocabulary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use tfs_data::text::text_from_bytes;
use tfs_tokenizers::char::CharTokenizer;
use tfs_tokenizers::word::{WordOptions, WordTokenizer};
use tfs_tokenizers::{from_text, BpeTokenizer, Split, Tokenizer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = text_from_bytes(data.to_vec(), Path::new("input.txt")) else {
        assert!(std::str::from_utf8(data).is_err());
        return;
    };
    let (bpe, _) = BpeTokenizer::train(&[&text], 300, Split::Gpt2, &["<|x|>"]).unwrap();
    let toks: [Box<dyn Tokenizer>; 3] = [
        Box::new(bpe),
        Box::new(CharTokenizer::train(&text)),
        Box::new(WordTokenizer::train(&text, WordOptions::default())),
    ];
    for t in toks {
        let back = from_text(&t.to_file_text(), Path::new("m.tok")).unwrap();
        let ids = back.encode(&text);
        assert_eq!(ids, t.encode(&text));
        assert!(ids.iter().all(|&i| (i as usize) < t.vocab_size()));
        let decoded = back.decode(&ids).unwrap();
        if t.kind() == "bpe" {
            assert_eq!(decoded, text);
        }
    }
});
