//! # tfs-tokenizers — Phase 3: how text becomes tokens
//!
//! One [`Tokenizer`] trait and three tokenizers: [`char::CharTokenizer`],
//! [`word::WordTokenizer`] and the byte-level BPE [`bpe_tokenizer::BpeTokenizer`], which also loads
//! GPT-2's vocabulary ([`gpt2`]) and encodes it identically to tiktoken. Tokenizers save to and
//! load from one versioned text format ([`format`]); a malformed file is a typed error naming the
//! line. No ndarray: the GPT pipeline uses this crate on its own.

#![forbid(unsafe_code)]

pub mod bpe;
pub mod bpe_tokenizer;
pub mod char;
mod error;
pub mod format;
pub mod gpt2;
pub mod pretokenize;
pub mod word;

pub use bpe_tokenizer::{BpeTokenizer, Split};
pub use error::TokenizerError;

use std::path::Path;

/// Text ↔ token ids.
pub trait Tokenizer: Send + Sync {
    fn encode(&self, text: &str) -> Vec<u32>;
    fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError>;
    fn vocab_size(&self) -> usize;
    /// "char", "word" or "bpe".
    fn kind(&self) -> &'static str;
    /// The saved form ([`format`]).
    fn to_file_text(&self) -> String;

    fn save(&self, path: &Path) -> Result<(), TokenizerError> {
        format::write(path, &self.to_file_text())
    }
}

/// Loads any saved tokenizer.
pub fn load(path: &Path) -> Result<Box<dyn Tokenizer>, TokenizerError> {
    from_text(&format::read(path)?, path)
}

/// Loads the bytes of a saved tokenizer; `path` only names the file in errors.
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Box<dyn Tokenizer>, TokenizerError> {
    from_text(&format::text_of(bytes.to_vec(), path)?, path)
}

/// Loads the text of a saved tokenizer; `path` only names the file in errors.
pub fn from_text(text: &str, path: &Path) -> Result<Box<dyn Tokenizer>, TokenizerError> {
    let r = format::Reader {
        path: path.to_path_buf(),
    };
    let p = r.parse(text)?;
    Ok(match p.kind.as_str() {
        "bpe" => Box::new(BpeTokenizer::from_parsed(p, &r)?),
        "char" => Box::new(char::CharTokenizer::from_parsed(p, &r)?),
        "word" => Box::new(word::WordTokenizer::from_parsed(p, &r)?),
        k => {
            return Err(r.err(
                0,
                format!("unknown tokenizer kind '{k}' (expected bpe, char or word)"),
            ))
        }
    })
}
