//! The bounded fuzz run of the tokenizer loaders (issue 17): the saved-tokenizer format and
//! GPT-2's files (tiktoken, encoder.json + vocab.bpe), mutated by `fuzz/mutate.rs` from fixed
//! seeds. Every load must return, never panic; a file that loads must be a consistent tokenizer:
//! it saves back to a file that loads to the same text, every id it produces is in its vocabulary,
//! and BPE decodes what it encodes. A few seconds each in release; `cargo fuzz` runs the long ones.

use crate::mutate::{for_each_systematic, mutate, Kind, Rng};
use std::path::Path;
use std::time::Instant;
use tfs_tokenizers::char::CharTokenizer;
use tfs_tokenizers::gpt2::{find_assets, from_encoder_json_text, from_tiktoken_text};
use tfs_tokenizers::word::{WordOptions, WordTokenizer};
use tfs_tokenizers::{from_bytes, BpeTokenizer, Split, Tokenizer};

const PROBES: [&str; 4] = ["ABBA abba", "To be, or not: 🙂 ünï <|x|>", "", "\n\n  x"];

/// Loads `bytes` as a saved tokenizer; panics (with the input) if a loaded one is inconsistent.
fn check_model(bytes: &[u8]) {
    let Ok(t) = from_bytes(bytes, Path::new("fuzz.tok")) else {
        return;
    };
    let text = t.to_file_text();
    let back = from_bytes(text.as_bytes(), Path::new("resaved.tok"))
        .unwrap_or_else(|e| panic!("a loaded tokenizer saves to a file that fails: {e}"));
    assert_eq!(back.to_file_text(), text);
    check_tokenizer(t.as_ref());
}

fn check_tokenizer(t: &dyn Tokenizer) {
    for p in PROBES {
        let ids = t.encode(p);
        assert!(
            ids.iter().all(|&i| (i as usize) < t.vocab_size()),
            "{} tokenizer of {} gave {ids:?} for {p:?}",
            t.kind(),
            t.vocab_size()
        );
        let decoded = t.decode(&ids);
        if t.kind() == "bpe" {
            assert_eq!(decoded.unwrap(), p);
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let corpus = "ABBA abba AB BA to be or not to be 🙂 ünï";
    let (bpe, _) = BpeTokenizer::train(&[corpus], 270, Split::Gpt2, &["<|x|>"]).unwrap();
    let word = WordTokenizer::train(corpus, WordOptions::default());
    vec![
        bpe.to_file_text().into_bytes(),
        CharTokenizer::train(corpus).to_file_text().into_bytes(),
        word.to_file_text().into_bytes(),
    ]
}

#[test]
fn the_model_format_survives_mutation() {
    let t0 = Instant::now();
    let mut n = 0;
    for (k, seed) in seeds().iter().enumerate() {
        for_each_systematic(seed, Kind::Lines, 1, &mut |v| {
            check_model(v);
            n += 1;
        });
        let mut rng = Rng::new(17 + k as u64);
        for _ in 0..40_000 {
            check_model(&mutate(seed, Kind::Lines, &mut rng));
            n += 1;
        }
    }
    eprintln!(
        "model format: {n} inputs in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
}

/// Loads tiktoken text; a loaded vocabulary must be GPT-2's size and consistent.
fn check_tiktoken(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(t) = from_tiktoken_text(text, Path::new("fuzz.tiktoken")) {
        assert_eq!(t.vocab_size(), 50257);
        check_tokenizer(&t);
    }
}

#[test]
fn gpt2_files_survive_mutation() {
    let dir = find_assets().unwrap();
    let t0 = Instant::now();
    let tiktoken = std::fs::read(dir.join("r50k_base.tiktoken")).unwrap();
    let mut n = 0;
    // Systematic edits at every 997th of the 50 256 lines (a prime stride: all kinds of lines).
    for_each_systematic(&tiktoken, Kind::Lines, 997, &mut |v| {
        check_tiktoken(v);
        n += 1;
    });
    let mut rng = Rng::new(50256);
    for _ in 0..60 {
        check_tiktoken(&mutate(&tiktoken, Kind::Lines, &mut rng));
        n += 1;
    }
    // Small files: the parser's paths without the 50 256-line cost.
    let head: Vec<u8> = tiktoken
        .split_inclusive(|&b| b == b'\n')
        .take(300)
        .flatten()
        .copied()
        .collect();
    for _ in 0..3_000 {
        check_tiktoken(&mutate(&head, Kind::Lines, &mut rng));
        n += 1;
    }
    let enc = std::fs::read_to_string(dir.join("encoder.json")).unwrap();
    let merges = std::fs::read(dir.join("vocab.bpe")).unwrap();
    let (pe, pb) = (Path::new("encoder.json"), Path::new("vocab.bpe"));
    for _ in 0..40 {
        let m = mutate(&merges, Kind::Lines, &mut rng);
        if let Ok(m) = std::str::from_utf8(&m) {
            if let Ok(t) = from_encoder_json_text(&enc, pe, m, pb) {
                check_tokenizer(&t);
            }
        }
        n += 1;
    }
    eprintln!(
        "GPT-2 files: {n} inputs in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn training_on_mutated_corpora_gives_consistent_tokenizers() {
    let base =
        "First Citizen:\nBefore we proceed any further, hear me speak.\nAll: Speak, speak. 🙂\n";
    let mut rng = Rng::new(3);
    for _ in 0..400 {
        let v = mutate(base.as_bytes(), Kind::Lines, &mut rng);
        let text = String::from_utf8_lossy(&v);
        let (bpe, _) = BpeTokenizer::train(&[&text], 300, Split::Gpt2, &[]).unwrap();
        let ids = bpe.encode(&text);
        assert_eq!(bpe.decode(&ids).unwrap(), text);
        check_model(bpe.to_file_text().as_bytes());
        check_model(CharTokenizer::train(&text).to_file_text().as_bytes());
        check_model(
            WordTokenizer::train(&text, WordOptions::default())
                .to_file_text()
                .as_bytes(),
        );
    }
}
