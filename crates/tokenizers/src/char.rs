//! The character-level tokenizer: one token per Unicode scalar value seen in the training corpus.
//!
//! Id 0 is `<unk>`; the corpus's characters follow in sorted order. A character never seen in
//! training encodes to `<unk>` (explicitly, never silently dropped), and `<unk>` decodes to
//! U+FFFD, the replacement character. Small vocabulary (65 for Tiny Shakespeare), long sequences.

use crate::format::{hex, Parsed, Reader};
use crate::{Tokenizer, TokenizerError};
use std::collections::{BTreeSet, HashMap};

pub const UNK: u32 = 0;

#[derive(Clone, Debug)]
pub struct CharTokenizer {
    pub chars: Vec<char>,
    index: HashMap<char, u32>,
}

impl CharTokenizer {
    /// The vocabulary of every character in `corpus`.
    pub fn train(corpus: &str) -> Self {
        Self::from_chars(
            corpus
                .chars()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        )
    }

    fn from_chars(chars: Vec<char>) -> Self {
        let index = chars
            .iter()
            .enumerate()
            .map(|(i, &c)| (c, i as u32 + 1))
            .collect();
        CharTokenizer { chars, index }
    }

    pub(crate) fn from_parsed(p: Parsed, r: &Reader) -> Result<Self, TokenizerError> {
        if let Some((k, _, line)) = p.options.first() {
            return Err(r.err(*line, format!("unknown option '{k}' for a char tokenizer")));
        }
        if p.tokens.first().map(|t| t.as_slice()) != Some(b"<unk>".as_slice()) {
            return Err(r.err(p.line_of(0), "token 0 of a char tokenizer must be <unk>"));
        }
        if let Some((_, _, line)) = p.specials.first() {
            return Err(r.err(*line, "a char tokenizer has no special tokens"));
        }
        crate::format::check_unique(&p.tokens, r, &|id| p.line_of(id))?;
        let mut chars = Vec::new();
        for (id, t) in p.tokens.iter().enumerate().skip(1) {
            let line = p.line_of(id);
            let s = std::str::from_utf8(t)
                .map_err(|_| r.err(line, format!("token {id} is not UTF-8")))?;
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => chars.push(c),
                _ => return Err(r.err(line, format!("token {id} is not a single character"))),
            }
        }
        Ok(Self::from_chars(chars))
    }
}

impl Tokenizer for CharTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        text.chars()
            .map(|c| self.index.get(&c).copied().unwrap_or(UNK))
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        ids.iter()
            .map(|&id| match id {
                UNK => Ok('\u{FFFD}'),
                _ => self
                    .chars
                    .get(id as usize - 1)
                    .copied()
                    .ok_or(TokenizerError::UnknownId {
                        id,
                        vocab_size: self.vocab_size(),
                    }),
            })
            .collect()
    }

    fn vocab_size(&self) -> usize {
        self.chars.len() + 1
    }

    fn kind(&self) -> &'static str {
        "char"
    }

    fn to_file_text(&self) -> String {
        let mut s = format!(
            "{} {}\nkind char\ntoken 0 {}\n",
            crate::format::HEADER,
            crate::format::VERSION,
            hex(b"<unk>")
        );
        for (i, c) in self.chars.iter().enumerate() {
            s.push_str(&format!(
                "token {} {}\n",
                i + 1,
                hex(c.to_string().as_bytes())
            ));
        }
        s.push_str(&crate::format::end_line(self.vocab_size(), 0));
        s
    }
}
