//! The saved-tokenizer file format, version 2: plain text, one record per line.
//!
//! ```text
//!   tfs-tokenizer 2          header and format version
//!   kind bpe|char|word       which tokenizer
//!   KEY VALUE                options (per kind; unknown keys are errors)
//!   token ID HEX             every token, ids 0..n−1 in order, bytes as lowercase hex
//!   special ID HEX           special tokens (BPE), after the tokens
//!   end N M                  the counts of token and special lines: the last line
//! ```
//!
//! Hex keeps any byte string (spaces, newlines, invalid UTF-8 pieces of byte-level tokens) on one
//! line without escaping rules. Reading checks everything and reports the line of the first error.
//! The `end` line (new in version 2) makes a file cut at a line boundary an error instead of a
//! smaller vocabulary. Version 1 files (no `end` line) are still read, without that check;
//! saving always writes version 2.
//!
//! Each kind then validates its tokens ([`check_unique`] and its own rules), so no id in a loaded
//! file can point outside the vocabulary or be shadowed by a duplicate.

use crate::TokenizerError;
use std::path::{Path, PathBuf};

pub const HEADER: &str = "tfs-tokenizer";
pub const VERSION: u32 = 2;
/// The oldest version read.
pub const OLDEST: u32 = 1;

/// Lowercase hex of bytes ("" for none).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The closing line of a saved tokenizer of `tokens` tokens and `specials` special tokens.
pub fn end_line(tokens: usize, specials: usize) -> String {
    format!("end {tokens} {specials}\n")
}

/// A parsed file: kind, options in order, tokens in id order, specials; with the line of each.
pub struct Parsed {
    pub kind: String,
    pub options: Vec<(String, String, usize)>,
    pub tokens: Vec<Vec<u8>>,
    /// The line of each token.
    pub token_lines: Vec<usize>,
    /// (bytes, id, line)
    pub specials: Vec<(Vec<u8>, u32, usize)>,
}

impl Parsed {
    /// The line of token `id` (0 if it has none).
    pub fn line_of(&self, id: usize) -> usize {
        self.token_lines.get(id).copied().unwrap_or(0)
    }
}

/// Checks that no two tokens have the same bytes and none is empty; `line_of(id)` names lines.
pub fn check_unique(
    tokens: &[Vec<u8>],
    r: &Reader,
    line_of: &dyn Fn(usize) -> usize,
) -> Result<(), TokenizerError> {
    let mut seen: std::collections::HashMap<&[u8], usize> =
        std::collections::HashMap::with_capacity(tokens.len());
    for (id, t) in tokens.iter().enumerate() {
        if t.is_empty() {
            return Err(r.err(line_of(id), format!("token {id} is empty")));
        }
        if let Some(first) = seen.insert(t.as_slice(), id) {
            return Err(r.err(
                line_of(id),
                format!(
                    "token {id} has the same bytes ({}) as token {first}",
                    hex(t)
                ),
            ));
        }
    }
    Ok(())
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

    /// Hex digits to bytes, byte by byte (never slicing the text, which may hold any UTF-8).
    fn unhex(&self, line: usize, s: &str) -> Result<Vec<u8>, TokenizerError> {
        let digit = |c: u8| (c as char).to_digit(16).filter(|_| c.is_ascii());
        let b = s.as_bytes();
        if !b.len().is_multiple_of(2) {
            return Err(self.err(line, format!("hex '{s}' has an odd number of digits")));
        }
        b.chunks(2)
            .map(|p| match (digit(p[0]), digit(p[1])) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(self.err(line, format!("'{s}' is not hex"))),
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
        if !(OLDEST..=VERSION).contains(&version) {
            return Err(self.err(
                n,
                format!("format version {version} is not supported (this build reads {OLDEST} to {VERSION})"),
            ));
        }
        let mut kind: Option<String> = None;
        let mut p = Parsed {
            kind: String::new(),
            options: Vec::new(),
            tokens: Vec::new(),
            token_lines: Vec::new(),
            specials: Vec::new(),
        };
        let mut end = None;
        for (n, line) in lines {
            if line.is_empty() {
                continue;
            }
            if end.is_some() {
                return Err(self.err(n, "text after the 'end' line"));
            }
            let mut f = line.split(' ');
            let key = f.next().unwrap_or("");
            match key {
                "kind" => {
                    if kind.is_some() {
                        return Err(self.err(n, "a second 'kind' line"));
                    }
                    kind = f.next().map(str::to_string);
                }
                "token" | "special" => {
                    let id: u32 = f
                        .next()
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| self.err(n, format!("{key}: missing or bad id")))?;
                    let bytes = self.unhex(n, f.next().unwrap_or(""))?;
                    if f.next().is_some() {
                        return Err(self.err(n, format!("{key}: text after the hex bytes")));
                    }
                    if key == "token" {
                        if !p.specials.is_empty() {
                            return Err(self.err(n, "a token after the special tokens"));
                        }
                        if id as usize != p.tokens.len() {
                            return Err(self.err(
                                n,
                                format!("token id {id} out of order: expected {}", p.tokens.len()),
                            ));
                        }
                        p.tokens.push(bytes);
                        p.token_lines.push(n);
                    } else {
                        p.specials.push((bytes, id, n));
                    }
                }
                "end" => {
                    let counts: Vec<Option<usize>> = f.map(|v| v.parse().ok()).collect();
                    let (t, s) = match counts[..] {
                        [Some(t), Some(s)] => (t, s),
                        _ => return Err(self.err(n, "expected 'end TOKENS SPECIALS'")),
                    };
                    if (t, s) != (p.tokens.len(), p.specials.len()) {
                        return Err(self.err(
                            n,
                            format!(
                                "the file promises {t} tokens and {s} special tokens, it has {} and {}",
                                p.tokens.len(),
                                p.specials.len()
                            ),
                        ));
                    }
                    end = Some(n);
                }
                _ => p
                    .options
                    .push((key.to_string(), f.collect::<Vec<_>>().join(" "), n)),
            }
        }
        if version >= 2 && end.is_none() {
            return Err(self.err(
                0,
                "no 'end' line: the file is truncated (or not written by this program)",
            ));
        }
        p.kind = kind.ok_or_else(|| self.err(0, "no 'kind' line"))?;
        Ok(p)
    }
}

/// Reads a file to text, as a typed error naming the path.
pub fn read(path: &Path) -> Result<String, TokenizerError> {
    let bytes = std::fs::read(path).map_err(|source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text_of(bytes, path)
}

/// Bytes read from `path` as text; invalid UTF-8 is a format error naming the line and byte.
pub fn text_of(bytes: Vec<u8>, path: &Path) -> Result<String, TokenizerError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        TokenizerError::Format {
            path: path.to_path_buf(),
            line,
            message: format!("invalid UTF-8 at byte {at}"),
        }
    })
}

/// Writes text atomically, as a typed error naming the path: into a temporary file beside
/// `path`, flushed to disk, then renamed over `path`. A failure (a full disk) leaves the old
/// file untouched and no temporary file behind.
pub fn write(path: &Path, text: &str) -> Result<(), TokenizerError> {
    use std::io::Write;
    let name = path.file_name().ok_or_else(|| TokenizerError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable (best effort: not every platform opens folders).
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Ok(d) = std::fs::File::open(dir.unwrap_or(Path::new("."))) {
            d.sync_all().ok();
        }
        Ok(())
    })();
    if result.is_err() {
        std::fs::remove_file(&tmp).ok();
    }
    result.map_err(|source| TokenizerError::Io {
        path: path.to_path_buf(),
        source,
    })
}
