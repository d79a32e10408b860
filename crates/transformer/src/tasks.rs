//! Toy translation tasks, generated from a seed: digits to words, reversal, copy.
//!
//! ```text
//!   words:    "4 0 7"  →  "four zero seven"   (source: digit tokens; target: characters)
//!   reverse:  "4 0 7"  →  "7 0 4"
//!   copy:     "4 0 7"  →  "4 0 7"
//! ```
//!
//! Every source is L digits (tokens 0-9). Every target ends with EOS; the decoder starts from BOS.
//! For reversal and copy the target vocabulary is the digits, BOS = 10, EOS = 11 (Phase 2's
//! convention). For words it is the characters of the ten number words and the space, then BOS
//! and EOS: the output is longer than the input and its length depends on which digits it
//! translates, so source and target positions do not line up: a real (tiny) translation.
//!
//! Left out: real language pairs, subword vocabularies.

use tfs_math::Rng;

/// One source/target pair (target ending in EOS).
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub src: Vec<usize>,
    pub tgt: Vec<usize>,
}

/// The ten number words.
pub const WORDS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// Which toy task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    Words,
    Reverse,
    Copy,
}

/// The source vocabulary of every task: the ten digits.
pub const SRC_VOCAB: usize = 10;

impl Task {
    pub fn name(&self) -> &'static str {
        match self {
            Task::Words => "digits → words",
            Task::Reverse => "reverse",
            Task::Copy => "copy",
        }
    }

    /// The target characters of the words task, sorted: ' ' and the letters of the number words.
    pub fn chars() -> Vec<char> {
        let mut c: Vec<char> = WORDS.iter().flat_map(|w| w.chars()).collect();
        c.push(' ');
        c.sort_unstable();
        c.dedup();
        c
    }

    fn symbols(&self) -> usize {
        match self {
            Task::Words => Self::chars().len(),
            _ => 10,
        }
    }

    pub fn bos(&self) -> usize {
        self.symbols()
    }

    pub fn eos(&self) -> usize {
        self.symbols() + 1
    }

    pub fn tgt_vocab(&self) -> usize {
        self.symbols() + 2
    }

    /// The target of a source (with EOS).
    pub fn target(&self, src: &[usize]) -> Vec<usize> {
        let mut t: Vec<usize> = match self {
            Task::Copy => src.to_vec(),
            Task::Reverse => src.iter().rev().copied().collect(),
            Task::Words => {
                let chars = Self::chars();
                let text = src.iter().map(|&d| WORDS[d]).collect::<Vec<_>>().join(" ");
                text.chars()
                    .map(|ch| chars.iter().position(|&c| c == ch).expect("known char"))
                    .collect()
            }
        };
        t.push(self.eos());
        t
    }

    /// A random example with `len` source digits.
    pub fn example(&self, len: usize, rng: &mut Rng) -> Example {
        let src: Vec<usize> = (0..len).map(|_| rng.below(10)).collect();
        Example {
            tgt: self.target(&src),
            src,
        }
    }

    /// Target tokens as text (EOS and anything after it dropped).
    pub fn render(&self, tgt: &[usize]) -> String {
        let chars = Self::chars();
        let toks = tgt.iter().take_while(|&&t| t != self.eos());
        match self {
            Task::Words => toks
                .map(|&t| chars.get(t).copied().unwrap_or('?'))
                .collect(),
            _ => toks
                .map(|&t| if t < 10 { t.to_string() } else { "?".into() })
                .collect::<Vec<_>>()
                .join(" "),
        }
    }

    /// A fixed test split: `n` examples per length, from its own seed.
    pub fn test_set(&self, lengths: &[usize], n: usize, seed: u64) -> Vec<(usize, Vec<Example>)> {
        let mut rng = Rng::new(seed ^ 0x07e5_75e7);
        lengths
            .iter()
            .map(|&l| (l, (0..n).map(|_| self.example(l, &mut rng)).collect()))
            .collect()
    }
}

/// Digits as text: `[4, 0, 7]` → `"4 0 7"`.
pub fn digits(src: &[usize]) -> String {
    src.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
