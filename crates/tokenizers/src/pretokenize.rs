//! GPT-2's pre-tokenizer: split text into pieces before BPE, so that merges never cross a word,
//! number or punctuation boundary. GPT-2 defines it as a regular expression,
//!
//! ```text
//!   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```
//!
//! contractions; an optional space then letters, or digits, or other symbols; whitespace not
//! followed by a non-space (so that the *last* space before a word stays with the word, " world");
//! any other whitespace. The lookahead `(?!\S)` needs a backtracking regex engine; this module is a
//! hand-written scanner instead, which tries the alternatives in the regex's order at each position
//! and is tested against a regex engine on varied text. It allocates nothing: it yields byte ranges.
//!
//! Letters are Unicode general category L*, digits N*, whitespace the White_Space property —
//! the same classes as `\p{L}`, `\p{N}` and `\s`.
//!
//! Left out: the cl100k/o200k patterns of later OpenAI tokenizers.

use unicode_general_category::{get_general_category, GeneralCategory as G};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
}

fn class(c: char) -> Class {
    if c.is_whitespace() {
        return Class::Space;
    }
    if c.is_ascii() {
        return if c.is_ascii_alphabetic() {
            Class::Letter
        } else if c.is_ascii_digit() {
            Class::Number
        } else {
            Class::Other
        };
    }
    match get_general_category(c) {
        G::UppercaseLetter
        | G::LowercaseLetter
        | G::TitlecaseLetter
        | G::ModifierLetter
        | G::OtherLetter => Class::Letter,
        G::DecimalNumber | G::LetterNumber | G::OtherNumber => Class::Number,
        _ => Class::Other,
    }
}

/// The end of the run of characters of class `k` starting at byte `i`.
fn run_end(text: &str, i: usize, k: Class) -> usize {
    text[i..]
        .char_indices()
        .find(|&(_, c)| class(c) != k)
        .map_or(text.len(), |(j, _)| i + j)
}

/// The length in bytes of a contraction ('s 't 're 've 'm 'll 'd) at `i`, if there is one.
fn contraction(rest: &str) -> Option<usize> {
    let r = rest.as_bytes();
    if r.first() != Some(&b'\'') {
        return None;
    }
    match r.get(1) {
        Some(b's' | b't' | b'm' | b'd') => Some(2),
        Some(b'r') if r.get(2) == Some(&b'e') => Some(3),
        Some(b'v') if r.get(2) == Some(&b'e') => Some(3),
        Some(b'l') if r.get(2) == Some(&b'l') => Some(3),
        _ => None,
    }
}

/// The end of the piece that starts at byte `i` (which must be < text.len()).
fn piece_end(text: &str, i: usize) -> usize {
    let rest = &text[i..];
    if let Some(n) = contraction(rest) {
        return i + n;
    }
    let mut chars = rest.chars();
    let c = chars.next().expect("i < len");
    // ` ?X+` for X in letters, numbers, other: an optional single space, then a run.
    let (start, first) = if c == ' ' {
        match chars.next() {
            Some(n) if class(n) != Class::Space => (i + 1, n),
            _ => (i, c),
        }
    } else {
        (i, c)
    };
    let k = class(first);
    if k != Class::Space {
        return run_end(text, start, k);
    }
    // Whitespace: `\s+(?!\S)` then `\s+`.
    let end = run_end(text, i, Class::Space);
    if end == text.len() {
        return end;
    }
    // Followed by a non-space: leave the last whitespace character for the next piece,
    // unless the run is a single character.
    let last = text[..end].char_indices().next_back().map_or(i, |(j, _)| j);
    if last > i {
        last
    } else {
        end
    }
}

/// Iterates over the pieces of `text` as `&str` slices, in order; they concatenate to `text`.
pub fn split_gpt2(text: &str) -> impl Iterator<Item = &str> {
    let mut i = 0;
    std::iter::from_fn(move || {
        if i >= text.len() {
            return None;
        }
        let e = piece_end(text, i);
        let piece = &text[i..e];
        i = e;
        Some(piece)
    })
}
