//! What a model's token ids mean: a character vocabulary (Phase 7) or GPT-2's byte-level BPE
//! (Phase 8). A checkpoint's `config.json` records which, so `tfs gpt sample` and `score` encode
//! and decode text the way the model was trained.
//!
//! In `config.json`: `"tokenizer": "char"` with `"vocab": "<the characters, sorted>"`, or
//! `"tokenizer": "gpt2"` (50257 ids, `<|endoftext|>` = 50256). A file without `"tokenizer"` is a
//! character checkpoint (the format before Phase 8).

use crate::data::CharVocab;
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use tfs_tokenizers::{BpeTokenizer, Tokenizer};

/// GPT-2's end-of-text token, written between documents.
pub const GPT2_EOT: u32 = 50256;
/// GPT-2's vocabulary size.
pub const GPT2_VOCAB: usize = 50257;

/// Text ↔ ids for one model.
#[derive(Clone, Debug)]
pub enum Vocab {
    Char(CharVocab),
    Gpt2(Arc<BpeTokenizer>),
}

/// GPT-2's tokenizer, loaded once per process (from tiktoken-rs's assets or `$TFS_GPT2_DIR`).
pub fn gpt2() -> Result<Arc<BpeTokenizer>, String> {
    static CELL: OnceLock<Result<Arc<BpeTokenizer>, String>> = OnceLock::new();
    CELL.get_or_init(|| {
        tfs_tokenizers::gpt2::gpt2()
            .map(Arc::new)
            .map_err(|e| e.to_string())
    })
    .clone()
}

impl Vocab {
    /// Number of ids.
    pub fn len(&self) -> usize {
        match self {
            Vocab::Char(v) => v.len(),
            Vocab::Gpt2(_) => GPT2_VOCAB,
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// "char" or "gpt2".
    pub fn name(&self) -> &'static str {
        match self {
            Vocab::Char(_) => "char",
            Vocab::Gpt2(_) => "gpt2",
        }
    }
    /// Ids of `s`; a character vocabulary errors on the first character it lacks.
    pub fn encode(&self, s: &str) -> Result<Vec<usize>, String> {
        match self {
            Vocab::Char(v) => v.encode(s).map_err(|c| {
                format!(
                    "{c:?} is not in the model's vocabulary of {} characters",
                    v.len()
                )
            }),
            Vocab::Gpt2(t) => Ok(t.encode(s).into_iter().map(|i| i as usize).collect()),
        }
    }
    /// Text of `ids` (invalid UTF-8 from a partial BPE sequence becomes U+FFFD).
    pub fn decode(&self, ids: &[usize]) -> String {
        match self {
            Vocab::Char(v) => v.decode(ids),
            Vocab::Gpt2(t) => {
                let ids: Vec<u32> = ids
                    .iter()
                    .filter(|&&i| i < GPT2_VOCAB)
                    .map(|&i| i as u32)
                    .collect();
                String::from_utf8_lossy(&t.decode_bytes(&ids).unwrap_or_default()).into_owned()
            }
        }
    }
    /// The `config.json` fields that describe this vocabulary.
    pub fn to_json(&self) -> Value {
        match self {
            Vocab::Char(v) => {
                json!({"tokenizer": "char", "vocab": v.chars.iter().collect::<String>()})
            }
            Vocab::Gpt2(_) => json!({"tokenizer": "gpt2"}),
        }
    }
    /// Reads [`Vocab::to_json`]'s fields from a `config.json` object.
    pub fn from_json(v: &Value) -> Result<Vocab, String> {
        match v["tokenizer"].as_str().unwrap_or("char") {
            "char" => Ok(Vocab::Char(CharVocab {
                chars: v["vocab"]
                    .as_str()
                    .ok_or("no 'vocab' (the characters of a char tokenizer)")?
                    .chars()
                    .collect(),
            })),
            "gpt2" => Ok(Vocab::Gpt2(gpt2()?)),
            other => Err(format!("unknown tokenizer '{other}' (char or gpt2)")),
        }
    }
}
