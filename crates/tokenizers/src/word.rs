//! The word-level tokenizer: one token per word of the training corpus seen at least `min_freq`
//! times, with the special tokens `<pad>` = 0, `<unk>` = 1, `<bos>` = 2, `<eos>` = 3.
//!
//! Words are maximal runs of non-space characters; with `split_punctuation`, every punctuation
//! character (Unicode general category P*, plus ASCII symbols) is its own word, so "end." is "end"
//! and "."; with `lowercase`, text is lowercased first. Out-of-vocabulary words become `<unk>`:
//! the weakness BPE removes. Decoding joins words with single spaces, so it is lossy by design
//! (spacing and case are not kept).

use crate::format::{hex, Parsed, Reader};
use crate::{Tokenizer, TokenizerError};
use std::collections::HashMap;

pub const PAD: u32 = 0;
pub const UNK: u32 = 1;
pub const BOS: u32 = 2;
pub const EOS: u32 = 3;
const SPECIALS: [&str; 4] = ["<pad>", "<unk>", "<bos>", "<eos>"];

/// Options of the word tokenizer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WordOptions {
    pub lowercase: bool,
    pub split_punctuation: bool,
    pub min_freq: usize,
}

impl Default for WordOptions {
    fn default() -> Self {
        WordOptions {
            lowercase: true,
            split_punctuation: true,
            min_freq: 1,
        }
    }
}

#[derive(Clone, Debug)]
pub struct WordTokenizer {
    pub options: WordOptions,
    pub words: Vec<String>,
    index: HashMap<String, u32>,
}

fn is_punct(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_alphanumeric() && !c.is_whitespace())
}

impl WordTokenizer {
    /// Splits text into words according to `options`.
    pub fn words_of(text: &str, options: &WordOptions) -> Vec<String> {
        let text = if options.lowercase {
            text.to_lowercase()
        } else {
            text.to_string()
        };
        let mut out = Vec::new();
        for w in text.split_whitespace() {
            if !options.split_punctuation {
                out.push(w.to_string());
                continue;
            }
            let mut cur = String::new();
            for c in w.chars() {
                if is_punct(c) {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    out.push(c.to_string());
                } else {
                    cur.push(c);
                }
            }
            if !cur.is_empty() {
                out.push(cur);
            }
        }
        out
    }

    /// Vocabulary of the words of `corpus` with at least `min_freq` occurrences, most frequent first
    /// (ties alphabetical).
    pub fn train(corpus: &str, options: WordOptions) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for w in Self::words_of(corpus, &options) {
            *counts.entry(w).or_default() += 1;
        }
        let mut kept: Vec<(String, usize)> = counts
            .into_iter()
            .filter(|(_, c)| *c >= options.min_freq.max(1))
            // A word spelled like a special token would be a second token with its bytes.
            .filter(|(w, _)| !SPECIALS.contains(&w.as_str()))
            .collect();
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Self::from_words(options, kept.into_iter().map(|(w, _)| w).collect())
    }

    fn from_words(options: WordOptions, words: Vec<String>) -> Self {
        let index = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), (i + SPECIALS.len()) as u32))
            .collect();
        WordTokenizer {
            options,
            words,
            index,
        }
    }

    /// Fraction of the words of `text` that are out of vocabulary.
    pub fn oov_rate(&self, text: &str) -> f64 {
        let words = Self::words_of(text, &self.options);
        words
            .iter()
            .filter(|w| !self.index.contains_key(*w))
            .count() as f64
            / words.len().max(1) as f64
    }

    pub(crate) fn from_parsed(p: Parsed, r: &Reader) -> Result<Self, TokenizerError> {
        let mut o = WordOptions::default();
        for (k, v, line) in &p.options {
            let flag = || match v.as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(r.err(*line, format!("{k}: expected true or false, found '{v}'"))),
            };
            match k.as_str() {
                "lowercase" => o.lowercase = flag()?,
                "split_punctuation" => o.split_punctuation = flag()?,
                "min_freq" => {
                    o.min_freq = v
                        .parse()
                        .map_err(|_| r.err(*line, format!("min_freq: '{v}' is not a number")))?
                }
                _ => return Err(r.err(*line, format!("unknown option '{k}' for a word tokenizer"))),
            }
        }
        for (i, s) in SPECIALS.iter().enumerate() {
            if p.tokens.get(i).map(|t| t.as_slice()) != Some(s.as_bytes()) {
                return Err(r.err(p.line_of(i), format!("token {i} must be {s}")));
            }
        }
        if let Some((_, _, line)) = p.specials.first() {
            return Err(r.err(*line, "a word tokenizer has no 'special' lines"));
        }
        crate::format::check_unique(&p.tokens, r, &|id| p.line_of(id))?;
        let words = p.tokens[SPECIALS.len()..]
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let id = i + SPECIALS.len();
                String::from_utf8(t.clone())
                    .map_err(|_| r.err(p.line_of(id), format!("token {id} is not UTF-8")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self::from_words(o, words))
    }
}

impl Tokenizer for WordTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        Self::words_of(text, &self.options)
            .iter()
            .map(|w| self.index.get(w).copied().unwrap_or(UNK))
            .collect()
    }

    fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let words: Vec<&str> = ids
            .iter()
            .map(|&id| match id as usize {
                i if i < SPECIALS.len() => Ok(SPECIALS[i]),
                i => self
                    .words
                    .get(i - SPECIALS.len())
                    .map(String::as_str)
                    .ok_or(TokenizerError::UnknownId {
                        id,
                        vocab_size: self.vocab_size(),
                    }),
            })
            .collect::<Result<_, _>>()?;
        Ok(words.join(" "))
    }

    fn vocab_size(&self) -> usize {
        self.words.len() + SPECIALS.len()
    }

    fn kind(&self) -> &'static str {
        "word"
    }

    fn to_file_text(&self) -> String {
        let o = &self.options;
        let mut s = format!(
            "{} {}\nkind word\nlowercase {}\nsplit_punctuation {}\nmin_freq {}\n",
            crate::format::HEADER,
            crate::format::VERSION,
            o.lowercase,
            o.split_punctuation,
            o.min_freq
        );
        for (i, w) in SPECIALS
            .iter()
            .map(|s| s.to_string())
            .chain(self.words.iter().cloned())
            .enumerate()
        {
            s.push_str(&format!("token {i} {}\n", hex(w.as_bytes())));
        }
        s.push_str(&crate::format::end_line(self.vocab_size(), 0));
        s
    }
}
