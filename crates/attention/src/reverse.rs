//! The digit-reversal task shared by Phase 2 (`p2-seq2seq-reverse`) and Phase 4 (attention):
//! one training loop, one evaluation, the same fixed test split, so the curves are comparable.
//! It lives here, the lowest crate that has both models (tfs-attention builds on tfs-seq).
//!
//! Left out: progress display and reporting (the caller passes `on_step` and records the numbers).

use crate::seq2seq_attn::AttnSeq2Seq;
use tfs_math::Rng;
use tfs_nn::optim::clip_and_step;
use tfs_nn::schedule::cosine_with_warmup;
use tfs_nn::{optim::Optimizer, Adam};
use tfs_nn::{Grads, Params};
use tfs_seq::seq2seq::Seq2Seq;
use tfs_seq::tasks::{reverse_pair, reverse_test_set, Pair};

/// The test lengths and split seed of every reversal experiment.
pub const TEST_LENGTHS: [usize; 8] = [4, 8, 12, 16, 20, 24, 28, 32];
pub const TEST_SEED: u64 = 2024;

/// A model that learns the reversal task.
pub trait Reverser: Params<f32> {
    fn loss_and_grads(&self, batch: &[Pair]) -> (f64, Grads<f32>);
    fn greedy(&self, srcs: &[&[usize]], max_len: usize) -> Vec<Vec<usize>>;
}

impl Reverser for Seq2Seq<f32> {
    fn loss_and_grads(&self, batch: &[Pair]) -> (f64, Grads<f32>) {
        Seq2Seq::loss_and_grads(self, batch)
    }
    fn greedy(&self, srcs: &[&[usize]], max_len: usize) -> Vec<Vec<usize>> {
        Seq2Seq::greedy(self, srcs, max_len)
    }
}

impl Reverser for AttnSeq2Seq<f32> {
    fn loss_and_grads(&self, batch: &[Pair]) -> (f64, Grads<f32>) {
        AttnSeq2Seq::loss_and_grads(self, batch)
    }
    fn greedy(&self, srcs: &[&[usize]], max_len: usize) -> Vec<Vec<usize>> {
        AttnSeq2Seq::greedy(self, srcs, max_len).0
    }
}

/// Training sizes.
#[derive(Clone, Debug)]
pub struct Recipe {
    pub steps: usize,
    pub batch: usize,
    pub lengths: (usize, usize),
    pub lr: f64,
    pub clip: f64,
}

/// Trains with Adam, 100 warmup steps then cosine decay to 1e-4, each batch one random length in
/// `lengths`. `on_step` is called after every step with its index. Returns the loss of every step
/// and the training seconds.
pub fn train(
    m: &mut dyn Reverser,
    r: &Recipe,
    rng: &mut Rng,
    on_step: &mut dyn FnMut(usize),
) -> (Vec<f64>, f64) {
    let mut opt = Adam::new(r.lr);
    let (lo, hi) = r.lengths;
    let mut losses = Vec::with_capacity(r.steps);
    let t0 = std::time::Instant::now();
    for step in 0..r.steps {
        let len = lo + rng.below(hi - lo + 1);
        let batch: Vec<Pair> = (0..r.batch).map(|_| reverse_pair(len, rng)).collect();
        opt.set_lr(cosine_with_warmup(r.lr, 1e-4, 100, r.steps, step));
        let (loss, mut g) = m.loss_and_grads(&batch);
        clip_and_step(&mut opt, m, &mut g, Some(r.clip));
        losses.push(loss);
        on_step(step);
    }
    (losses, t0.elapsed().as_secs_f64())
}

/// (exact-match rate, per-token accuracy) of predictions against targets (EOS excluded).
pub fn score(preds: &[Vec<usize>], pairs: &[Pair]) -> (f64, f64) {
    tfs_nn::train::sequence_accuracy(preds, pairs.iter().map(|x| &x.tgt[..x.tgt.len() - 1]))
}

/// Greedy exact-match and per-token accuracy per test length: `[(length, exact, token)]`.
pub fn evaluate(m: &dyn Reverser, lengths: &[usize], per_length: usize) -> Vec<(usize, f64, f64)> {
    reverse_test_set(lengths, per_length, TEST_SEED)
        .iter()
        .map(|(len, pairs)| {
            let srcs: Vec<&[usize]> = pairs.iter().map(|p| p.src.as_slice()).collect();
            let (e, t) = score(&m.greedy(&srcs, len + 5), pairs);
            (*len, e, t)
        })
        .collect()
}
