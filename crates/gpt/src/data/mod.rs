//! Character-level data: the vocabulary of a text, its ids, a train/validation split, and random
//! windows as batches.
//!
//! A batch is `B` windows of `T + 1` consecutive ids starting at uniformly random offsets:
//! inputs are the first T, targets the last T (each position predicts the next character).
//! Validation batches come from a fixed seed, so every evaluation of a run — and of two runs —
//! sees the same windows.
//!
//! The training loop reads any [`TokenSource`] (ids in memory, or Phase 8's memory-mapped shards)
//! through a [`Cursor`], whose whole state (an offset and a generator) goes into a checkpoint so a
//! resumed run reads exactly the batches the uninterrupted one would have:
//!
//! ```text
//!   random:      each row starts at a uniform offset s ∈ [0, N − T)       (nanoGPT)
//!   sequential:  rows are consecutive T-token windows from pos; pos += T;
//!                back to 0 when fewer than T + 1 tokens are left         (one epoch = N / T rows)
//! ```

pub mod inputs;
pub mod prepare;
pub mod shards;

use tfs_math::Rng;

/// The characters of a text, sorted; id = position.
#[derive(Clone, Debug, PartialEq)]
pub struct CharVocab {
    pub chars: Vec<char>,
}

impl CharVocab {
    pub fn from_text(text: &str) -> CharVocab {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        CharVocab { chars }
    }
    pub fn len(&self) -> usize {
        self.chars.len()
    }
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }
    /// Ids of `s`, or the first character the vocabulary does not have.
    pub fn encode(&self, s: &str) -> Result<Vec<usize>, char> {
        s.chars()
            .map(|c| self.chars.binary_search(&c).map_err(|_| c))
            .collect()
    }
    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter()
            .map(|&i| self.chars.get(i).copied().unwrap_or('\u{fffd}'))
            .collect()
    }
}

/// Ids split into training (the first 90%) and validation (the rest).
#[derive(Debug)]
pub struct Split {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl Split {
    /// Errors when either part is shorter than one window of `block_size + 1` ids.
    pub fn new(ids: Vec<usize>, block_size: usize) -> Result<Split, String> {
        let n = ids.len() * 9 / 10;
        let (train, val) = (ids[..n].to_vec(), ids[n..].to_vec());
        if val.len() <= block_size || train.len() <= block_size {
            return Err(format!(
                "the text has {} tokens: too short for a context of {block_size} (each of the 90/10 \
                 train/validation parts needs more than {block_size})",
                ids.len()
            ));
        }
        Ok(Split { train, val })
    }
}

/// `(inputs, targets)`, each `(B, T)` row-major, from random windows of `ids`.
pub fn batch(ids: &[usize], b: usize, t: usize, rng: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    assert!(
        ids.len() > t,
        "batch: {} ids cannot fill a window of {}",
        ids.len(),
        t + 1
    );
    let (mut x, mut y) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t));
    for _ in 0..b {
        let s = rng.below(ids.len() - t);
        x.extend_from_slice(&ids[s..s + t]);
        y.extend_from_slice(&ids[s + 1..s + t + 1]);
    }
    (x, y)
}

/// Token ids the training loop reads windows from.
pub trait TokenSource: Sync {
    /// Number of ids.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends ids `pos..pos + n` to `out`.
    fn copy(&self, pos: usize, n: usize, out: &mut Vec<usize>);
}

impl TokenSource for Vec<usize> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn copy(&self, pos: usize, n: usize, out: &mut Vec<usize>) {
        out.extend_from_slice(&self[pos..pos + n]);
    }
}

/// How the loop walks the training tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Random,
    Sequential,
}

impl Order {
    pub fn name(self) -> &'static str {
        match self {
            Order::Random => "random",
            Order::Sequential => "sequential",
        }
    }
    pub fn parse(s: &str) -> Option<Order> {
        match s {
            "random" => Some(Order::Random),
            "sequential" => Some(Order::Sequential),
            _ => None,
        }
    }
}

/// Where the loop is in its data: the next sequential offset and the generator of random
/// offsets. Its state is saved in checkpoints.
#[derive(Clone, Debug)]
pub struct Cursor {
    pub order: Order,
    pub pos: usize,
    pub rng: Rng,
}

impl Cursor {
    /// `(inputs, targets)`, each `(B, T)` row-major. Random order draws exactly what
    /// [`batch`] draws from the same generator.
    pub fn next_batch(
        &mut self,
        src: &dyn TokenSource,
        b: usize,
        t: usize,
    ) -> (Vec<usize>, Vec<usize>) {
        let n = src.len();
        assert!(n > t, "batch: {n} ids cannot fill a window of {}", t + 1);
        let (mut x, mut y) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t));
        let mut w = Vec::with_capacity(t + 1);
        for _ in 0..b {
            let s = match self.order {
                Order::Random => self.rng.below(n - t),
                Order::Sequential => {
                    if self.pos + t + 1 > n {
                        self.pos = 0;
                    }
                    self.pos += t;
                    self.pos - t
                }
            };
            w.clear();
            src.copy(s, t + 1, &mut w);
            x.extend_from_slice(&w[..t]);
            y.extend_from_slice(&w[1..]);
        }
        (x, y)
    }
}
