//! word2vec: skip-gram with negative sampling (Mikolov et al., 2013).
//!
//! Every word w has an input vector v_w and an output vector u_w. For a centre word c and a word o
//! within a random window around it, the model should say "o appears near c" and, for k words n
//! drawn from a noise distribution, "n does not":
//!
//! ```text
//!   L = −ln σ(v_c·u_o) − Σ_{n=1..k} ln σ(−v_c·u_n)
//!   ∂L/∂v_c = (σ(v_c·u_o) − 1) u_o + Σ_n σ(v_c·u_n) u_n
//!   ∂L/∂u_o = (σ(v_c·u_o) − 1) v_c        ∂L/∂u_n = σ(v_c·u_n) v_c
//! ```
//!
//! The details that make it work, all from the paper and its code:
//! * noise words are drawn from the unigram distribution raised to the 3/4 power, which samples
//!   rare words more often than their frequency (a table of 1e6 slots, filled in proportion);
//! * frequent words are subsampled: each occurrence is kept with probability
//!   `(√(f/t) + 1)·t/f` (f its frequency, t = 1e-3), so "the" and "and" stop dominating;
//! * the window size is drawn uniformly in 1..=W for each centre, weighting near words more;
//! * the learning rate decays linearly to nearly 0 over training.
//!
//! [`sgns_loss`] is the loss and gradients of one example (gradient-checked); [`train`] applies the
//! same update in place, plain SGD, one example at a time.
//!
//! Left out: hierarchical softmax, CBOW, multi-threaded (Hogwild) updates: on Tiny Shakespeare's
//! ~200 k words one epoch takes about a second on one thread, so threads would not pay here.

use ndarray::{Array1, Array2, ArrayView1};
use tfs_math::sigmoid;
use tfs_math::Rng;

/// Training settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub dim: usize,
    pub window: usize,
    pub negatives: usize,
    pub epochs: usize,
    pub lr: f64,
    pub subsample: f64,
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dim: 100,
            window: 5,
            negatives: 5,
            epochs: 5,
            lr: 0.025,
            subsample: 1e-3,
            seed: 0,
        }
    }
}

/// Trained vectors: `input: (V, D)` (the embeddings people use) and `output: (V, D)`.
pub struct Word2Vec {
    pub input: Array2<f32>,
    pub output: Array2<f32>,
    /// Mean loss of each epoch.
    pub epoch_loss: Vec<f64>,
}

/// `input` (the embeddings people use), then `output`.
impl tfs_nn::Params<f32> for Word2Vec {
    fn visit(&self, f: &mut dyn FnMut(&str, ndarray::ArrayViewD<f32>)) {
        f("input", self.input.view().into_dyn());
        f("output", self.output.view().into_dyn());
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ndarray::ArrayViewMutD<f32>)) {
        f("input", self.input.view_mut().into_dyn());
        f("output", self.output.view_mut().into_dyn());
    }
}

/// Loss and gradients of one example: centre vector `v`, positive output vector `u_pos`,
/// negative output vectors `u_neg` (each a row). Returns `(L, ∂v, ∂u_pos, ∂u_neg)`.
pub fn sgns_loss(
    v: ArrayView1<f64>,
    u_pos: ArrayView1<f64>,
    u_neg: &[ArrayView1<f64>],
) -> (f64, Array1<f64>, Array1<f64>, Vec<Array1<f64>>) {
    let sp = sigmoid(v.dot(&u_pos));
    let mut loss = -sp.ln();
    let mut dv = u_pos.mapv(|x| (sp - 1.0) * x);
    let du_pos = v.mapv(|x| (sp - 1.0) * x);
    let mut du_neg = Vec::with_capacity(u_neg.len());
    for u in u_neg {
        let sn = sigmoid(v.dot(u));
        loss -= (1.0 - sn).ln();
        dv.scaled_add(sn, u);
        du_neg.push(v.mapv(|x| sn * x));
    }
    (loss, dv, du_pos, du_neg)
}

/// One SGD step on one (centre, context) example, in place: `v` is the centre's input vector,
/// `targets` the positive word (label 1) and the negatives (label 0) as rows of `output`.
/// Applies `v −= lr ∂L/∂v` and `u −= lr ∂L/∂u` for every target with the gradients of
/// [`sgns_loss`] (each target's update uses v before this step; `scratch` holds ∂L/∂v).
/// Returns the example's loss.
pub fn sgd_step(
    v: &mut [f32],
    output: &mut Array2<f32>,
    targets: &[(usize, f32)],
    lr: f32,
    scratch: &mut Vec<f32>,
) -> f64 {
    scratch.clear();
    scratch.resize(v.len(), 0.0);
    let mut loss = 0.0;
    for &(t, label) in targets {
        let mut u = output.row_mut(t);
        let dot: f32 = v.iter().zip(u.iter()).map(|(a, b)| a * b).sum();
        let s = sigmoid(dot);
        loss -= if label > 0.5 {
            (s as f64).max(1e-12).ln()
        } else {
            ((1.0 - s) as f64).max(1e-12).ln()
        };
        let g = (label - s) * lr; // −lr · ∂L/∂(v·u)
        for ((gv, u), &x) in scratch.iter_mut().zip(u.iter_mut()).zip(v.iter()) {
            *gv += g * *u;
            *u += g * x;
        }
    }
    for (x, g) in v.iter_mut().zip(scratch.iter()) {
        *x += g;
    }
    loss
}

/// The unigram^0.75 noise table: word ids in proportion to count^0.75.
pub fn noise_table(counts: &[u64], size: usize) -> Vec<u32> {
    let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(0.75)).collect();
    let total: f64 = weights.iter().sum();
    let mut table = Vec::with_capacity(size);
    let mut acc = 0.0;
    for (w, &wt) in weights.iter().enumerate() {
        acc += wt / total;
        while (table.len() as f64) < acc * size as f64 && table.len() < size {
            table.push(w as u32);
        }
    }
    while table.len() < size {
        table.push((counts.len() - 1) as u32);
    }
    table
}

/// Probability of keeping one occurrence of a word of frequency `f` (Mikolov's formula).
pub fn keep_probability(f: f64, t: f64) -> f64 {
    if t <= 0.0 {
        return 1.0;
    }
    ((f / t).sqrt() + 1.0) * t / f
}

/// Trains on a token stream (`tokens[i]` < `counts.len()`). `on_epoch(epoch, mean_loss)`.
pub fn train(
    tokens: &[usize],
    counts: &[u64],
    cfg: &Config,
    on_epoch: &mut dyn FnMut(usize, f64),
) -> Word2Vec {
    let (v, d) = (counts.len(), cfg.dim);
    let mut rng = Rng::new(cfg.seed);
    // Input vectors uniform in ±0.5/D, output vectors zero (as in the reference code).
    let mut input =
        Array2::from_shape_simple_fn((v, d), || ((rng.uniform() - 0.5) / d as f64) as f32);
    let mut output = Array2::<f32>::zeros((v, d));
    let table = noise_table(counts, 1_000_000);
    let total: f64 = counts.iter().sum::<u64>() as f64;
    let keep: Vec<f64> = counts
        .iter()
        .map(|&c| keep_probability(c as f64 / total, cfg.subsample))
        .collect();
    let steps_total = (cfg.epochs * tokens.len()).max(1) as f64;
    let mut grad_v = vec![0f32; d];
    let mut targets: Vec<(usize, f32)> = Vec::with_capacity(cfg.negatives + 1);
    let mut epoch_loss = Vec::new();
    let mut seen = 0usize;
    for epoch in 1..=cfg.epochs {
        let kept: Vec<usize> = tokens
            .iter()
            .copied()
            .filter(|&t| rng.uniform() < keep[t])
            .collect();
        let (mut loss_sum, mut n) = (0.0, 0usize);
        for (i, &c) in kept.iter().enumerate() {
            let lr = (cfg.lr * (1.0 - seen as f64 / steps_total)).max(cfg.lr * 1e-4) as f32;
            seen += tokens.len() / kept.len().max(1);
            let b = 1 + rng.below(cfg.window);
            let lo = i.saturating_sub(b);
            let hi = (i + b + 1).min(kept.len());
            for (j, &ctx_word) in kept.iter().enumerate().take(hi).skip(lo) {
                if j == i {
                    continue;
                }
                targets.clear();
                targets.push((ctx_word, 1.0f32));
                for _ in 0..cfg.negatives {
                    let neg = table[rng.below(table.len())] as usize;
                    if neg != ctx_word {
                        targets.push((neg, 0.0));
                    }
                }
                let v = input.row_mut(c).into_slice().expect("contiguous rows");
                loss_sum += sgd_step(v, &mut output, &targets, lr, &mut grad_v);
                n += 1;
            }
        }
        let mean = loss_sum / n.max(1) as f64;
        epoch_loss.push(mean);
        on_epoch(epoch, mean);
    }
    Word2Vec {
        input,
        output,
        epoch_loss,
    }
}

impl Word2Vec {
    /// Rows of `input` scaled to unit length.
    pub fn normalized(&self) -> Array2<f32> {
        let mut m = self.input.clone();
        for mut r in m.rows_mut() {
            let n = r.dot(&r).sqrt().max(1e-12);
            r.mapv_inplace(|x| x / n);
        }
        m
    }
}

/// The `k` words most cosine-similar to `query` (a vector), excluding ids in `exclude`.
pub fn nearest(
    normalized: &Array2<f32>,
    query: ArrayView1<f32>,
    k: usize,
    exclude: &[usize],
) -> Vec<(usize, f32)> {
    let qn = query.dot(&query).sqrt().max(1e-12);
    let sims = normalized.dot(&query).mapv(|s| s / qn);
    let mut idx: Vec<(usize, f32)> = sims
        .iter()
        .copied()
        .enumerate()
        .filter(|(i, _)| !exclude.contains(i))
        .collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1));
    idx.truncate(k);
    idx
}

/// The rank (1 = best) of `answer` among all words for the analogy a : b :: c : ?, i.e. by cosine
/// similarity to `b − a + c`, excluding a, b and c.
pub fn analogy_rank(
    normalized: &Array2<f32>,
    a: usize,
    b: usize,
    c: usize,
    answer: usize,
) -> usize {
    let q = &normalized.row(b) - &normalized.row(a) + normalized.row(c);
    let all = nearest(normalized, q.view(), normalized.nrows(), &[a, b, c]);
    all.iter()
        .position(|&(i, _)| i == answer)
        .map_or(usize::MAX, |p| p + 1)
}
