//! The saved-tokenizer file format, version 1: plain text, one record per line.
//!
//! ```text
//!   tfs-tokenizer 1          header and format version
//!   kind bpe|char|word       which tokenizer
//!   KEY VALUE                options (per kind; unknown keys are errors)
//!   token ID HEX             every token, ids 0..n−1 in order, bytes as lowercase hex
//!   special ID HEX           special tokens (BPE), after the tokens
//! ```
//!
//! Hex keeps any byte string (spaces, newlines, invalid UTF-8 pieces of byte-level tokens) on one
//! line without escaping rules. Reading checks everything and reports the line of the first error.

use crate::TokenizerError;
use std::path::{Path, PathBuf};

pub const HEADER: &str = "tfs-tokenizer";
pub const VERSION: u32 = 1;

/// Lowercase hex of bytes ("" for none).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A parsed file: kind, options in order, tokens in id order, specials.
pub struct Parsed {
    pub kind: String,
    pub options: Vec<(String, String, usize)>,
    pub tokens: Vec<Vec<u8>>,
    pub specials: Vec<(Vec<u8>, u32)>,
}

pub struct Reader {
    pub path: PathBuf,
}

impl Reader {
    pub fn err(&self, line: usize, message: impl Into<String>) -> TokenizerError {
        TokenizerError::Format {
            path: self.path.clone(),
            line,
            message: message.into(),
        }
    }

    fn unhex(&self, line: usize, s: &str) -> Result<Vec<u8>, TokenizerError> {
        if !s.len().is_multiple_of(2) {
            return Err(self.err(line, format!("hex '{s}' has an odd number of digits")));
        }
        (0..s.len() / 2)
            .map(|i| {
                u8::from_str_radix(&s[2 * i..2 * i + 2], 16)
                    .map_err(|_| self.err(line, format!("'{s}' is not hex")))
            })
            .collect()
    }

    /// Parses the text of a saved tokenizer.
    pub fn parse(&self, text: &str) -> Result<Parsed, TokenizerError> {
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let (n, first) = lines.next().ok_or_else(|| self.err(0, "empty file"))?;
        let mut head = first.split_whitespace();
        if head.next() != Some(HEADER) {
            return Err(self.err(
                n,
                format!("not a tokenizer file: expected '{HEADER} {VERSION}'"),
            ));
        }
        let version: u32 = head
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| self.err(n, "missing format version"))?;
        if version != VERSION {
            return Err(self.err(
                n,
                format!("format version {version} is not supported (this build reads {VERSION})"),
            ));
        }
        let mut kind = None;
        let mut p = Parsed {
            kind: String::new(),
            options: Vec::new(),
            tokens: Vec::new(),
            specials: Vec::new(),
        };
        for (n, line) in lines {
            let mut f = line.split(' ');
            let key = f.next().unwrap_or("");
            match key {
                "" => continue,
                "kind" => kind = f.next().map(str::to_string),
                "token" | "special" => {
                    let id: u32 = f
                        .next()
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| self.err(n, format!("{key}: missing or bad id")))?;
                    let bytes = self.unhex(n, f.next().unwrap_or(""))?;
                    if key == "token" {
                        if id as usize != p.tokens.len() {
                            return Err(self.err(
                                n,
                                format!("token id {id} out of order: expected {}", p.tokens.len()),
                            ));
                        }
                        p.tokens.push(bytes);
                    } else {
                        p.specials.push((bytes, id));
                    }
                }
                _ => p
                    .options
                    .push((key.to_string(), f.collect::<Vec<_>>().join(" "), n)),
            }
        }
        p.kind = kind.ok_or_else(|| self.err(0, "no 'kind' line"))?;
        Ok(p)
    }
}

/// Reads a file to text, as a typed error naming the path.
pub fn read(path: &Path) -> Result<String, TokenizerError> {
    std::fs::read_to_string(path).map_err(|source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes text, as a typed error naming the path.
pub fn write(path: &Path, text: &str) -> Result<(), TokenizerError> {
    std::fs::write(path, text).map_err(|source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    })
}
