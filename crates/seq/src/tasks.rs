//! Synthetic sequence tasks, generated from a seed so that every phase trains and tests on the
//! same data.
//!
//! * **Reversal** (`p2-seq2seq-reverse`, and Phase 4's attention on the same split): the source is
//!   L random digits, the target the same digits reversed, then EOS. The vocabulary is the ten
//!   digits, BOS = 10 and EOS = 11.
//! * **Delayed recall** (`p2-long-range`): a key symbol (one of 8), then k distractor symbols drawn
//!   from the *same* 8, then a query marker; the answer is the first symbol. The model must store
//!   the first symbol and then refuse to overwrite it with the k look-alikes that follow: a
//!   memory that can hold, not just a memory that fades slowly. Chance is 1/8.

use tfs_math::Rng;

/// Reversal vocabulary: digits 0-9, BOS, EOS.
pub const DIGITS: usize = 10;
pub const BOS: usize = 10;
pub const EOS: usize = 11;
pub const REVERSE_VOCAB: usize = 12;

/// One source/target pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub src: Vec<usize>,
    /// Reversed source followed by EOS.
    pub tgt: Vec<usize>,
}

/// A reversal example of length `len`.
pub fn reverse_pair(len: usize, rng: &mut Rng) -> Pair {
    let src: Vec<usize> = (0..len).map(|_| rng.below(DIGITS)).collect();
    let mut tgt: Vec<usize> = src.iter().rev().copied().collect();
    tgt.push(EOS);
    Pair { src, tgt }
}

/// The fixed test split: `n` pairs per length, from its own seed (independent of training draws).
pub fn reverse_test_set(lengths: &[usize], n: usize, seed: u64) -> Vec<(usize, Vec<Pair>)> {
    let mut rng = Rng::new(seed ^ 0x7e57);
    lengths
        .iter()
        .map(|&l| (l, (0..n).map(|_| reverse_pair(l, &mut rng)).collect()))
        .collect()
}

/// Delayed-recall vocabulary: 8 symbols and 1 query marker.
pub const RECALL_KEYS: usize = 8;
pub const RECALL_VOCAB: usize = 9;
pub const RECALL_QUERY: usize = 8;

/// A delayed-recall example: the input sequence and the key to answer after the query.
pub fn recall_example(k: usize, rng: &mut Rng) -> (Vec<usize>, usize) {
    let key = rng.below(RECALL_KEYS);
    let mut seq = vec![key];
    seq.extend((0..k).map(|_| rng.below(RECALL_KEYS)));
    seq.push(RECALL_QUERY);
    (seq, key)
}
