//! The byte-level BPE tokenizer: special tokens, GPT-2 pre-tokenization, then BPE per piece.
//!
//! `encode`: split the text at every occurrence of a special token (those become their ids), split
//! the rest into pieces with the GPT-2 pattern (or not at all, `Split::None`), encode each piece's
//! UTF-8 bytes with [`crate::bpe::Bpe`]. `decode`: concatenate the tokens' bytes and check UTF-8.
//! Because every byte is a token, any text encodes and decodes back exactly.

use crate::bpe::{train as train_merges, Bpe};
use crate::format::{hex, Parsed, Reader};
use crate::pretokenize::split_gpt2;
use crate::{Tokenizer, TokenizerError};
use std::collections::HashMap;

/// How text is split into pieces before BPE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// GPT-2's pattern (`crate::pretokenize`).
    Gpt2,
    /// The whole text (between special tokens) is one piece.
    None,
}

/// A byte-level BPE tokenizer.
#[derive(Clone, Debug)]
pub struct BpeTokenizer {
    pub bpe: Bpe,
    pub split: Split,
}

impl BpeTokenizer {
    /// Trains a vocabulary of `vocab_size` tokens (256 bytes + merges + `specials`) on `texts`.
    /// Returns the tokenizer and its merges in order.
    pub fn train(
        texts: &[&str],
        vocab_size: usize,
        split: Split,
        specials: &[&str],
    ) -> Result<(Self, Vec<crate::bpe::Merge>), TokenizerError> {
        check_vocab_size(vocab_size, specials.len())?;
        let base = 256 + specials.len();
        let mut pieces: HashMap<Vec<u8>, u64> = HashMap::new();
        for text in texts {
            for segment in split_specials(text, specials) {
                if let Segment::Text(t) = segment {
                    match split {
                        Split::Gpt2 => split_gpt2(t)
                            .for_each(|p| *pieces.entry(p.as_bytes().to_vec()).or_default() += 1),
                        Split::None => *pieces.entry(t.as_bytes().to_vec()).or_default() += 1,
                    }
                }
            }
        }
        let (merges, mut tokens) = train_merges(&pieces, vocab_size - base);
        let mut sp = Vec::new();
        for s in specials {
            sp.push((s.to_string(), tokens.len() as u32));
            tokens.push(s.as_bytes().to_vec());
        }
        Ok((
            BpeTokenizer {
                bpe: Bpe::from_tokens(tokens, sp),
                split,
            },
            merges,
        ))
    }

    /// The bytes of `ids` (which need not end on a character boundary); errors on an unknown id.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>, TokenizerError> {
        self.bpe.decode_bytes(ids)
    }

    /// Encodes treating special-token text as ordinary text.
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3);
        self.encode_text(text, &mut out);
        out
    }

    fn encode_text(&self, text: &str, out: &mut Vec<u32>) {
        match self.split {
            Split::Gpt2 => split_gpt2(text).for_each(|p| self.bpe.encode_piece(p.as_bytes(), out)),
            Split::None if text.is_empty() => {}
            Split::None => self.bpe.encode_piece(text.as_bytes(), out),
        }
    }

    pub(crate) fn from_parsed(p: Parsed, r: &Reader) -> Result<Self, TokenizerError> {
        let mut split = Split::Gpt2;
        for (k, v, line) in &p.options {
            match (k.as_str(), v.as_str()) {
                ("split", "gpt2") => split = Split::Gpt2,
                ("split", "none") => split = Split::None,
                _ => {
                    return Err(r.err(
                        *line,
                        format!("unknown option '{k} {v}' for a bpe tokenizer"),
                    ))
                }
            }
        }
        check_byte_level(&p.tokens, r, &|id| p.line_of(id))?;
        let mut tokens = p.tokens;
        let mut specials: Vec<(String, u32)> = Vec::new();
        for (bytes, id, line) in p.specials {
            if id as usize != tokens.len() {
                return Err(r.err(
                    line,
                    format!(
                        "special token id {id} does not follow the {} tokens",
                        tokens.len()
                    ),
                ));
            }
            let text = String::from_utf8(bytes.clone())
                .map_err(|_| r.err(line, format!("special token {id} is not UTF-8")))?;
            if text.is_empty() || specials.iter().any(|s| s.0 == text) {
                return Err(r.err(line, format!("special token {id} is empty or a duplicate")));
            }
            specials.push((text, id));
            tokens.push(bytes);
        }
        Ok(BpeTokenizer {
            bpe: Bpe::from_tokens(tokens, specials),
            split,
        })
    }
}

/// The largest vocabulary [`BpeTokenizer::train`] accepts: 2²⁰ tokens (GPT-4o has about 200 000).
pub const MAX_VOCAB_SIZE: usize = 1 << 20;

/// Checks a requested vocabulary size: at least the 256 bytes and `n_specials` special tokens,
/// at most [`MAX_VOCAB_SIZE`].
pub fn check_vocab_size(vocab_size: usize, n_specials: usize) -> Result<(), TokenizerError> {
    let base = 256 + n_specials;
    if vocab_size < base {
        return Err(TokenizerError::Config(format!("vocabulary size {vocab_size} is below the {base} base tokens (256 bytes + {n_specials} specials)")));
    }
    if vocab_size > MAX_VOCAB_SIZE {
        return Err(TokenizerError::Config(format!(
            "vocabulary size {vocab_size} is above the {MAX_VOCAB_SIZE} this trainer accepts"
        )));
    }
    Ok(())
}

/// Checks the mergeable tokens of a byte-level vocabulary: none empty, no two alike, and every
/// one of the 256 single bytes present (so every piece of text can be encoded). `line_of(id)`
/// names the line of a token in errors.
pub fn check_byte_level(
    tokens: &[Vec<u8>],
    r: &Reader,
    line_of: &dyn Fn(usize) -> usize,
) -> Result<(), TokenizerError> {
    crate::format::check_unique(tokens, r, line_of)?;
    let singles = tokens.iter().filter(|t| t.len() == 1).count();
    if singles < 256 {
        let mut have = [false; 256];
        tokens
            .iter()
            .filter(|t| t.len() == 1)
            .for_each(|t| have[t[0] as usize] = true);
        let first = have.iter().position(|h| !h).unwrap_or(0);
        return Err(r.err(
            0,
            format!("a byte-level vocabulary needs all 256 single bytes, found {singles} (byte {first:#04x} is missing)"),
        ));
    }
    Ok(())
}

enum Segment<'a> {
    Text(&'a str),
    Special(usize),
}

/// Splits at the leftmost occurrence of any special token (longest first when several start at
/// the same place).
fn split_specials<'a>(text: &'a str, specials: &[&str]) -> Vec<Segment<'a>> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let hit = specials
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .filter_map(|(k, s)| rest.find(s).map(|i| (i, std::cmp::Reverse(s.len()), k)))
            .min();
        match hit {
            Some((i, std::cmp::Reverse(len), k)) => {
                if i > 0 {
                    out.push(Segment::Text(&rest[..i]));
                }
                out.push(Segment::Special(k));
                rest = &rest[i + len..];
            }
            None => {
                if !rest.is_empty() {
                    out.push(Segment::Text(rest));
                }
                return out;
            }
        }
    }
}

impl Tokenizer for BpeTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        if self.bpe.specials.is_empty() {
            return self.encode_ordinary(text);
        }
        let names: Vec<&str> = self.bpe.specials.iter().map(|s| s.0.as_str()).collect();
        let mut out = Vec::with_capacity(text.len() / 3);
        for seg in split_specials(text, &names) {
            match seg {
                Segment::Text(t) => self.encode_text(t, &mut out),
                Segment::Special(k) => out.push(self.bpe.specials[k].1),
            }
        }
        out
    }

    fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let bytes = self.bpe.decode_bytes(ids)?;
        String::from_utf8(bytes).map_err(|e| TokenizerError::InvalidUtf8 {
            valid_up_to: e.utf8_error().valid_up_to(),
        })
    }

    fn vocab_size(&self) -> usize {
        self.bpe.tokens.len()
    }

    fn kind(&self) -> &'static str {
        "bpe"
    }

    fn to_file_text(&self) -> String {
        let mut s = format!(
            "{} {}\nkind bpe\nsplit {}\n",
            crate::format::HEADER,
            crate::format::VERSION,
            if self.split == Split::Gpt2 {
                "gpt2"
            } else {
                "none"
            }
        );
        let special_ids: Vec<u32> = self.bpe.specials.iter().map(|x| x.1).collect();
        for (id, t) in self.bpe.tokens.iter().enumerate() {
            if !special_ids.contains(&(id as u32)) {
                s.push_str(&format!("token {id} {}\n", hex(t)));
            }
        }
        for (text, id) in &self.bpe.specials {
            s.push_str(&format!("special {id} {}\n", hex(text.as_bytes())));
        }
        s.push_str(&crate::format::end_line(
            self.bpe.tokens.len() - self.bpe.specials.len(),
            self.bpe.specials.len(),
        ));
        s
    }
}
