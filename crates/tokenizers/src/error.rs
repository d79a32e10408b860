//! Typed errors of the tokenizers: what was wrong and where (path, line).

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum TokenizerError {
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A saved tokenizer or vocabulary file is malformed at `line` (1-based; 0 = the whole file).
    Format {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// Decoding met an id outside the vocabulary.
    UnknownId { id: u32, vocab_size: usize },
    /// The decoded bytes are not valid UTF-8 (e.g. a multi-byte character cut between tokens).
    InvalidUtf8 { valid_up_to: usize },
    /// Bad arguments (e.g. a vocabulary size smaller than the base alphabet).
    Config(String),
}

impl fmt::Display for TokenizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenizerError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            TokenizerError::Format {
                path,
                line,
                message,
            } => write!(f, "{}:{line}: {message}", path.display()),
            TokenizerError::UnknownId { id, vocab_size } => write!(
                f,
                "token id {id} is not in the vocabulary (size {vocab_size})"
            ),
            TokenizerError::InvalidUtf8 { valid_up_to } => write!(
                f,
                "decoded bytes are not valid UTF-8 after byte {valid_up_to}"
            ),
            TokenizerError::Config(m) => write!(f, "{m}"),
        }
    }
}

/// No `source()`: `Io`'s message already ends with its cause, and `{:#}` would print it twice.
impl std::error::Error for TokenizerError {}
