//! Training and evaluation: teacher forcing on padded variable-length batches, AdamW with linear
//! warmup and cosine decay, gradient clipping, greedy decoding for exact-match accuracy.
//!
//! ```text
//!   η(t) = η₀ (t + 1) / W  for t < W,  then cosine to η_min     (tfs_nn::schedule)
//!   AdamW: Adam's step plus decoupled decay θ ← θ − η λ θ        (tfs_nn::optim)
//! ```
//!
//! Each batch draws every example's source length independently from the recipe's range, so a
//! batch mixes lengths and the padding masks do real work. Why warmup: early in training Adam's
//! second-moment estimate is built from a handful of gradients, and a post-norm transformer's
//! gradients near the output are large (Xiong et al., 2020), so full-size first steps can throw
//! it into a bad region; `p5-ablations` shows post-norm with and without warmup.
//!
//! Left out: label smoothing, checkpointing, bucketing by length (beam search: `decode.rs`).

use crate::model::{Batch, Transformer};
use crate::tasks::{Example, Task};
use ndarray::NdFloat;
use tfs_math::Rng;
use tfs_nn::optim::{clip_and_step, Optimizer};
use tfs_nn::schedule::cosine_with_warmup;
use tfs_nn::{Adam, Grads};

/// Training sizes and the optimizer's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub steps: usize,
    pub batch: usize,
    /// Source lengths drawn uniformly from `lengths.0 ..= lengths.1`.
    pub lengths: (usize, usize),
    pub lr: f64,
    /// Linear warmup steps (0: none).
    pub warmup: usize,
    pub min_lr: f64,
    pub weight_decay: f64,
    pub clip: Option<f64>,
}

impl Recipe {
    /// AdamW 1e-3, warmup 100, cosine to 1e-5, weight decay 0.01, clip 1.
    pub fn new(steps: usize, batch: usize, lengths: (usize, usize)) -> Self {
        Recipe {
            steps,
            batch,
            lengths,
            lr: 1e-3,
            warmup: 100,
            min_lr: 1e-5,
            weight_decay: 0.01,
            clip: Some(1.0),
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug, Default)]
pub struct TrainLog {
    pub losses: Vec<f64>,
    /// The global gradient norm before clipping, per step.
    pub grad_norms: Vec<f64>,
    pub seconds: f64,
    /// The first step whose loss was not finite (training stops there).
    pub diverged_at: Option<usize>,
}

/// A batch of `n` examples of `task`, each of a random length in `lengths`.
pub fn sample_batch(task: Task, n: usize, lengths: (usize, usize), rng: &mut Rng) -> Vec<Example> {
    let (lo, hi) = lengths;
    (0..n)
        .map(|_| task.example(lo + rng.below(hi - lo + 1), rng))
        .collect()
}

/// Trains `m` on `task`. `on_step(step, loss, grads)` sees every step's gradients before clipping.
pub fn train<F: NdFloat>(
    m: &mut Transformer<F>,
    task: Task,
    r: &Recipe,
    rng: &mut Rng,
    on_step: &mut dyn FnMut(usize, f64, &Grads<F>),
) -> TrainLog {
    let mut opt = Adam::adamw(r.lr, r.weight_decay);
    let mut log = TrainLog::default();
    let t0 = std::time::Instant::now();
    for step in 0..r.steps {
        let ex = sample_batch(task, r.batch, r.lengths, rng);
        let batch = Batch::new(&ex, task.bos());
        opt.set_lr(cosine_with_warmup(r.lr, r.min_lr, r.warmup, r.steps, step));
        let (loss, mut g) = m.loss_and_grads(&batch);
        on_step(step, loss, &g);
        if !loss.is_finite() {
            log.diverged_at = Some(step);
            break;
        }
        let norm = clip_and_step(&mut opt, m, &mut g, r.clip);
        log.losses.push(loss);
        log.grad_norms.push(norm);
    }
    log.seconds = t0.elapsed().as_secs_f64();
    log
}

/// (exact-match rate, per-token accuracy) of greedy outputs against the targets (EOS excluded).
pub fn score(preds: &[Vec<usize>], examples: &[Example]) -> (f64, f64) {
    tfs_nn::train::sequence_accuracy(preds, examples.iter().map(|x| &x.tgt[..x.tgt.len() - 1]))
}

/// Greedy decoding of a set of examples (in chunks of 100).
pub fn decode_all<F: NdFloat>(m: &Transformer<F>, task: Task, ex: &[Example]) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(ex.len());
    for chunk in ex.chunks(100) {
        let srcs: Vec<&[usize]> = chunk.iter().map(|e| e.src.as_slice()).collect();
        let max = chunk.iter().map(|e| e.tgt.len()).max().unwrap_or(1) + 5;
        out.extend(m.greedy(&srcs, task.bos(), task.eos(), max));
    }
    out
}

/// Exact-match and per-token accuracy per test length: `[(length, exact, token)]`.
pub fn evaluate<F: NdFloat>(
    m: &Transformer<F>,
    task: Task,
    test: &[(usize, Vec<Example>)],
) -> Vec<(usize, f64, f64)> {
    test.iter()
        .map(|(len, ex)| {
            let (e, t) = score(&decode_all(m, task, ex), ex);
            (*len, e, t)
        })
        .collect()
}
