//! Hostile tokenizer files, one case per defect of issue 17: each of these loaded (or panicked)
//! before the format checked counts, hex digits, duplicates and GPT-2's sizes.

use std::path::Path;
use tfs_tokenizers::char::CharTokenizer;
use tfs_tokenizers::gpt2::{find_assets, from_encoder_json_text, from_tiktoken_text};
use tfs_tokenizers::{from_text, BpeTokenizer, Split, Tokenizer, TokenizerError};

fn err(text: &str) -> (usize, String) {
    match from_text(text, Path::new("m.tok")) {
        Err(TokenizerError::Format { line, message, .. }) => (line, message),
        Err(e) => panic!("expected a format error, got {e}"),
        Ok(t) => panic!("loaded a {} tokenizer of {}", t.kind(), t.vocab_size()),
    }
}

fn small_bpe() -> BpeTokenizer {
    BpeTokenizer::train(&["ABBA abba AB BA"], 260, Split::Gpt2, &["<|x|>"])
        .unwrap()
        .0
}

#[test]
fn non_ascii_inside_a_hex_field_is_an_error_not_a_panic() {
    // "é" is two bytes: slicing "0é0" at byte 2 used to cut it in half (a panic).
    let (line, msg) = err("tfs-tokenizer 2\nkind char\ntoken 0 3c756e6b3e\ntoken 1 0é0\nend 2 0\n");
    assert_eq!(line, 4);
    assert!(msg.contains("not hex"), "{msg}");
    let (line, _) = err("tfs-tokenizer 2\nkind char\ntoken 0 3c756e6b3e\ntoken 1 +1\nend 2 0\n");
    assert_eq!(line, 4);
}

#[test]
fn a_duplicated_byte_token_is_refused() {
    // Token 66 ('B') is replaced by a second 'A': 'B' has no id any more.
    let text = small_bpe()
        .to_file_text()
        .replace("token 66 42\n", "token 66 41\n");
    let (line, msg) = err(&text);
    assert_eq!(line, 70, "{msg}"); // header, kind, split, then token k on line k + 4
    assert!(msg.contains("same bytes"), "{msg}");
}

#[test]
fn truncation_at_any_line_boundary_is_detected() {
    let full = small_bpe().to_file_text();
    let lines: Vec<&str> = full.lines().collect();
    assert!(from_text(&full, Path::new("m.tok")).is_ok());
    for k in 1..lines.len() {
        let cut = lines[..k].join("\n") + "\n";
        assert!(
            from_text(&cut, Path::new("m.tok")).is_err(),
            "a file cut after {k} of {} lines loaded",
            lines.len()
        );
    }
}

#[test]
fn errors_name_the_line_of_the_token() {
    let text = CharTokenizer::train("ab")
        .to_file_text()
        .replace("token 2 62", "token 2 ff");
    let (line, msg) = err(&text);
    assert_eq!(line, 5, "{msg}");
    assert!(msg.contains("not UTF-8"), "{msg}");
}

#[test]
fn version_1_files_still_load() {
    let text = CharTokenizer::train("ab")
        .to_file_text()
        .replace("tfs-tokenizer 2", "tfs-tokenizer 1")
        .replace("end 3 0\n", "");
    let t = from_text(&text, Path::new("m.tok")).unwrap();
    assert_eq!(t.encode("ba"), vec![2, 1]);
}

#[test]
fn absurd_vocabulary_sizes_are_errors() {
    for v in [0, 255, usize::MAX, 10_000_000_000] {
        let e = BpeTokenizer::train(&["abc"], v, Split::Gpt2, &[]).unwrap_err();
        assert!(matches!(e, TokenizerError::Config(_)), "{e}");
    }
}

#[test]
fn a_long_piece_is_encoded_in_bounded_chunks_and_round_trips() {
    let t = small_bpe();
    let text = "é".repeat(700_000) + &"AB".repeat(10); // 1.4 MB, one piece
    let ids = t.encode(&text);
    assert_eq!(t.decode(&ids).unwrap(), text);
}

#[test]
fn empty_or_truncated_gpt2_files_are_refused() {
    let p = Path::new("r50k_base.tiktoken");
    assert!(from_tiktoken_text("", p).is_err());
    let dir = find_assets().unwrap();
    let full = std::fs::read_to_string(dir.join("r50k_base.tiktoken")).unwrap();
    let lines: Vec<&str> = full.lines().collect();
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    let e = from_tiktoken_text(&cut, p).unwrap_err().to_string();
    assert!(e.contains("50256 mergeable tokens"), "{e}");
    // A duplicate: the last token replaced by the first one's bytes, rank kept.
    let (b64_first, _) = lines[0].split_once(' ').unwrap();
    let dup = lines[..lines.len() - 1].join("\n") + &format!("\n{b64_first} 50255\n");
    let e = from_tiktoken_text(&dup, p).unwrap_err().to_string();
    assert!(e.contains("same bytes"), "{e}");

    let enc = std::fs::read_to_string(dir.join("encoder.json")).unwrap();
    let bpe = std::fs::read_to_string(dir.join("vocab.bpe")).unwrap();
    let (pe, pb) = (Path::new("encoder.json"), Path::new("vocab.bpe"));
    assert!(from_encoder_json_text(&enc, pe, &bpe, pb).is_ok());
    assert!(from_encoder_json_text("{}", pe, &bpe, pb).is_err());
    assert!(from_encoder_json_text(&enc, pe, "", pb).is_err());
    let half = &bpe[..bpe.len() / 2];
    let half = &half[..half.rfind('\n').unwrap() + 1];
    let e = from_encoder_json_text(&enc, pe, half, pb)
        .unwrap_err()
        .to_string();
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn saving_replaces_the_file_whole_and_leaves_no_temporary() {
    let dir = std::env::temp_dir().join(format!("tfs-tok-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.tok");
    std::fs::write(&path, "old").unwrap();
    small_bpe().save(&path).unwrap();
    assert!(tfs_tokenizers::load(&path).is_ok());
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A folder that does not exist: an error naming the path, nothing created.
    let bad = dir.join("no/such/m.tok");
    let e = small_bpe().save(&bad).unwrap_err().to_string();
    assert!(e.starts_with(&bad.display().to_string()), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
