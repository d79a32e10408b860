use crate::{random_strings, varied_corpus};
use tfs_tokenizers::gpt2::{find_assets, from_encoder_json, from_tiktoken, gpt2};
use tfs_tokenizers::pretokenize::split_gpt2;
use tfs_tokenizers::Tokenizer;

const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

fn shakespeare() -> Option<String> {
    let dir = std::env::var_os("TFS_DATA_DIR")?;
    std::fs::read_to_string(std::path::Path::new(&dir).join("tinyshakespeare/input.txt")).ok()
}

#[test]
fn the_scanner_splits_exactly_like_the_regex() {
    let re = fancy_regex::Regex::new(GPT2_PATTERN).unwrap();
    let mut texts = varied_corpus();
    texts.extend(random_strings(3000, 7));
    if let Some(s) = shakespeare() {
        texts.push(s[..200_000].to_string());
    }
    for t in &texts {
        let want: Vec<&str> = re.find_iter(t).map(|m| m.unwrap().as_str()).collect();
        let got: Vec<&str> = split_gpt2(t).collect();
        assert_eq!(got, want, "{t:?}");
    }
}

#[test]
fn encodes_exactly_like_tiktoken() {
    let ours = gpt2().unwrap();
    let theirs = tiktoken_rs::r50k_base().unwrap();
    let mut texts = varied_corpus();
    texts.extend(random_strings(2000, 8));
    if let Some(s) = shakespeare() {
        texts.extend(s.split("\n\n").take(3000).map(str::to_string));
    }
    for t in &texts {
        let want: Vec<u32> = theirs.encode_with_special_tokens(t);
        assert_eq!(ours.encode(t), want, "{t:?}");
        assert_eq!(&ours.decode(&want).unwrap(), t);
    }
}

#[test]
fn both_file_formats_give_the_same_vocabulary() {
    let dir = find_assets().unwrap();
    let a = from_tiktoken(&dir.join("r50k_base.tiktoken")).unwrap();
    let b = from_encoder_json(&dir.join("encoder.json"), &dir.join("vocab.bpe")).unwrap();
    assert_eq!(a.vocab_size(), 50257);
    assert_eq!(a.bpe.tokens, b.bpe.tokens);
    assert_eq!(a.encode("<|endoftext|>"), vec![50256]);
    assert_eq!(a.encode(" Hello world"), vec![18435, 995]);
}

/// Ids written by Python's tiktoken (fixtures/gen/gpt2_fixtures.py), committed.
#[test]
fn matches_the_committed_python_tiktoken_fixtures() {
    let text = include_str!("../../../../fixtures/gpt2/tiktoken_r50k.json");
    let cases: serde_json::Value = serde_json::from_str(text).unwrap();
    let ours = gpt2().unwrap();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for c in cases {
        let t = c["text"].as_str().unwrap();
        let want: Vec<u32> = c["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(ours.encode(t), want, "{t:?}");
    }
}

#[test]
fn a_100_kb_piece_without_spaces_encodes_and_round_trips() {
    // One pre-tokenized piece of 100 KB: the heap merge keeps this O(n log n).
    let mut s = String::new();
    let mut x = 12345u64;
    while s.len() < 100_000 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        s.push((b'a' + ((x >> 33) % 26) as u8) as char);
    }
    let ours = gpt2().unwrap();
    let ids = ours.encode(&s);
    assert_eq!(split_gpt2(&s).count(), 1);
    assert_eq!(ours.decode(&ids).unwrap(), s);
    let head = &s.as_bytes()[..3000];
    let r = &ours.bpe.ranks;
    assert_eq!(
        tfs_tokenizers::bpe::merge_simple(r, head),
        tfs_tokenizers::bpe::merge_heap(r, head)
    );
}
