//! GPT-2's vocabulary, from its original files or from tiktoken's format.
//!
//! * `encoder.json` maps token strings to ids, and `vocab.bpe` lists the 50 000 merges in order.
//!   GPT-2 writes byte strings as printable Unicode: each byte maps to one character, the
//!   printable ones (`!`-`~`, `¡`-`¬`, `®`-`ÿ`) to themselves and the other 68 to U+0100 onward,
//!   so a space is `Ġ` and a newline `Ċ`. We undo that mapping to get each token's bytes.
//! * `r50k_base.tiktoken` lists `base64(token bytes) rank` per line; the ranks are GPT-2's ids.
//!
//! Both give the same 50 256 mergeable tokens, plus `<|endoftext|>` = 50256. Encoding uses
//! [`crate::pretokenize::split_gpt2`] and lowest-rank-first merging.
//!
//! Both loaders check what they read: exactly 50 256 mergeable tokens, none empty, no two alike,
//! all 256 single bytes; `vocab.bpe` must hold exactly the 50 000 merges that build them. An empty,
//! truncated or doctored file is an error naming the file and line, never a smaller vocabulary.
//!
//! The files ship inside the `tiktoken-rs` crate (`assets/`); [`find_assets`] looks for them in
//! `$TFS_GPT2_DIR`, then in the local cargo registry.

use crate::bpe::Bpe;
use crate::bpe_tokenizer::{BpeTokenizer, Split};
use crate::format::Reader;
use crate::TokenizerError;
use std::path::{Path, PathBuf};

pub const ENDOFTEXT: &str = "<|endoftext|>";
pub const ENDOFTEXT_ID: u32 = 50256;

/// Checks the mergeable tokens of GPT-2's vocabulary (see the module comment).
fn check_gpt2(
    tokens: &[Vec<u8>],
    r: &Reader,
    line_of: &dyn Fn(usize) -> usize,
) -> Result<(), TokenizerError> {
    if tokens.len() != ENDOFTEXT_ID as usize {
        return Err(r.err(
            0,
            format!(
                "GPT-2's vocabulary has {ENDOFTEXT_ID} mergeable tokens, this file has {} (empty or truncated?)",
                tokens.len()
            ),
        ));
    }
    crate::bpe_tokenizer::check_byte_level(tokens, r, line_of)
}

/// GPT-2's byte → character table (see the module comment).
pub fn byte_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u32 {
        let printable =
            (0x21..=0x7e).contains(&b) || (0xa1..=0xac).contains(&b) || (0xae..=0xff).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).expect("valid")
        } else {
            n += 1;
            char::from_u32(255 + n).expect("valid")
        };
    }
    table
}

/// Loads `encoder.json` and checks it against `vocab.bpe`.
pub fn from_encoder_json(
    encoder_json: &Path,
    vocab_bpe: &Path,
) -> Result<BpeTokenizer, TokenizerError> {
    from_encoder_json_text(
        &crate::format::read(encoder_json)?,
        encoder_json,
        &crate::format::read(vocab_bpe)?,
        vocab_bpe,
    )
}

/// [`from_encoder_json`] on the files' texts; the paths only name the files in errors.
pub fn from_encoder_json_text(
    text: &str,
    encoder_json: &Path,
    merges: &str,
    vocab_bpe: &Path,
) -> Result<BpeTokenizer, TokenizerError> {
    let r = Reader {
        path: encoder_json.to_path_buf(),
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| r.err(e.line(), format!("not a JSON object of token → id: {e}")))?;
    let mut inverse = std::collections::HashMap::new();
    for (b, c) in byte_to_unicode().iter().enumerate() {
        inverse.insert(*c, b as u8);
    }
    let mut tokens = vec![None; map.len()];
    for (s, v) in &map {
        let id = v
            .as_u64()
            .filter(|&i| (i as usize) < map.len())
            .ok_or_else(|| r.err(0, format!("token {s:?}: id {v} is not in 0..{}", map.len())))?
            as usize;
        let bytes = if s == ENDOFTEXT {
            s.as_bytes().to_vec()
        } else {
            s.chars()
                .map(|c| {
                    inverse.get(&c).copied().ok_or_else(|| {
                        r.err(
                            0,
                            format!("token {s:?} has a character outside GPT-2's byte alphabet"),
                        )
                    })
                })
                .collect::<Result<Vec<u8>, _>>()?
        };
        if tokens[id].replace(bytes).is_some() {
            return Err(r.err(0, format!("id {id} appears twice")));
        }
    }
    let mut tokens: Vec<Vec<u8>> = tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| t.ok_or_else(|| r.err(0, format!("id {i} is missing"))))
        .collect::<Result<_, _>>()?;
    if tokens.len() == ENDOFTEXT_ID as usize + 1 {
        if tokens[ENDOFTEXT_ID as usize] != ENDOFTEXT.as_bytes() {
            return Err(r.err(0, format!("id {ENDOFTEXT_ID} must be {ENDOFTEXT}")));
        }
        tokens.pop();
    }
    check_gpt2(&tokens, &r, &|_| 0)?;
    // Check the merges: line k (after the header) must create token 256 + k.
    let rv = Reader {
        path: vocab_bpe.to_path_buf(),
    };
    let mut n_merges = 0;
    let ranks: std::collections::HashMap<&[u8], usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_slice(), i))
        .collect();
    for (k, (n, line)) in merges
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with("#version"))
        .map(|(n, l)| (n + 1, l))
        .enumerate()
    {
        let (a, b) = line
            .split_once(' ')
            .ok_or_else(|| rv.err(n, "a merge line is two tokens separated by a space"))?;
        let to_bytes = |s: &str| {
            s.chars()
                .map(|c| inverse.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
        };
        let (mut a, b) = (
            to_bytes(a).ok_or_else(|| rv.err(n, "unknown character"))?,
            to_bytes(b).ok_or_else(|| rv.err(n, "unknown character"))?,
        );
        a.extend(b);
        n_merges += 1;
        if ranks.get(a.as_slice()) != Some(&(256 + k)) {
            return Err(rv.err(
                n,
                format!(
                    "merge {k} does not produce token {} of encoder.json",
                    256 + k
                ),
            ));
        }
    }
    if n_merges != tokens.len() - 256 {
        return Err(rv.err(
            0,
            format!(
                "{n_merges} merges for {} tokens: expected {} (empty or truncated?)",
                tokens.len(),
                tokens.len() - 256
            ),
        ));
    }
    Ok(with_endoftext(tokens))
}

/// The tokenizer of checked mergeable tokens 0..50255, with `<|endoftext|>` as 50256.
fn with_endoftext(mut tokens: Vec<Vec<u8>>) -> BpeTokenizer {
    tokens.push(ENDOFTEXT.as_bytes().to_vec());
    BpeTokenizer {
        bpe: Bpe::from_tokens(tokens, vec![(ENDOFTEXT.to_string(), ENDOFTEXT_ID)]),
        split: Split::Gpt2,
    }
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None; // 6 bits cannot end a byte string
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Loads a `.tiktoken` file (`base64 rank` per line, ranks 0..n−1).
pub fn from_tiktoken(path: &Path) -> Result<BpeTokenizer, TokenizerError> {
    from_tiktoken_text(&crate::format::read(path)?, path)
}

/// [`from_tiktoken`] on the file's text; `path` only names the file in errors.
pub fn from_tiktoken_text(text: &str, path: &Path) -> Result<BpeTokenizer, TokenizerError> {
    let r = Reader {
        path: path.to_path_buf(),
    };
    let mut tokens = Vec::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l)) {
        if line.is_empty() {
            continue;
        }
        let (b64, rank) = line
            .split_once(' ')
            .ok_or_else(|| r.err(n, "expected 'BASE64 RANK'"))?;
        let rank: usize = rank
            .parse()
            .map_err(|_| r.err(n, format!("rank '{rank}' is not a number")))?;
        if rank != tokens.len() {
            return Err(r.err(
                n,
                format!("rank {rank} out of order: expected {}", tokens.len()),
            ));
        }
        tokens.push(base64_decode(b64).ok_or_else(|| r.err(n, "bad base64"))?);
        lines.push(n);
    }
    check_gpt2(&tokens, &r, &|id| lines.get(id).copied().unwrap_or(0))?;
    Ok(with_endoftext(tokens))
}

/// The folder holding GPT-2's files: `$TFS_GPT2_DIR`, else `tiktoken-rs`'s `assets/` in the
/// cargo registry (`$CARGO_HOME` or `~/.cargo`).
pub fn find_assets() -> Result<PathBuf, TokenizerError> {
    if let Some(d) = std::env::var_os("TFS_GPT2_DIR") {
        return Ok(PathBuf::from(d));
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let mut found = Vec::new();
    if let Some(src) = home.map(|h| h.join("registry").join("src")) {
        for reg in std::fs::read_dir(&src).into_iter().flatten().flatten() {
            for krate in std::fs::read_dir(reg.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = krate.file_name().to_string_lossy().to_string();
                if name.starts_with("tiktoken-rs-")
                    && krate.path().join("assets/r50k_base.tiktoken").exists()
                {
                    found.push(krate.path().join("assets"));
                }
            }
        }
    }
    found.sort();
    found.pop().ok_or_else(|| TokenizerError::Config("GPT-2's vocabulary was not found: set TFS_GPT2_DIR to a folder with r50k_base.tiktoken (the tiktoken-rs crate ships one in assets/; `cargo fetch` brings it into the cargo registry)".into()))
}

/// GPT-2's tokenizer from [`find_assets`] (the tiktoken file).
pub fn gpt2() -> Result<BpeTokenizer, TokenizerError> {
    from_tiktoken(&find_assets()?.join("r50k_base.tiktoken"))
}
