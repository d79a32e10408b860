//! Generation: one token at a time, each from the model's distribution over the next token,
//! shaped four ways.
//!
//! ```text
//!   greedy:       argmax_i z_i
//!   temperature:  p ∝ exp(z / τ)            τ < 1 sharpens, τ > 1 flattens
//!   top-k:        keep the k largest z, renormalise
//!   top-p:        keep the smallest set of most likely tokens whose probability reaches p
//!                 (nucleus sampling, Holtzman et al., 2020), renormalise
//! ```
//!
//! Temperature, top-k and top-p combine (in that order). [`generate`] re-runs the model on the
//! last `block_size` tokens for every new one; [`generate_cached`] runs the prompt once and then
//! one token at a time through a [`KvCache`] (Phase 9), with the same result while the sequence
//! fits the context. Both run under `no_grad`. The draws come from the caller's seeded
//! generator, so a seed reproduces a sample.

use crate::model::{Gpt, KvCache};
use tfs_math::Rng;
use tfs_tensor::no_grad;

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    pub greedy: bool,
    pub temperature: f32,
    pub top_k: Option<usize>,
    pub top_p: Option<f32>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            greedy: false,
            temperature: 1.0,
            top_k: None,
            top_p: None,
        }
    }
}

// ANCHOR: choose
/// The next token from logits `z` under `s`.
pub fn choose(z: &[f32], s: &Sampling, rng: &mut Rng) -> usize {
    if s.greedy || s.temperature <= 0.0 {
        return tfs_math::argmax(z.iter().copied());
    }
    let mut order: Vec<usize> = (0..z.len()).collect();
    order.sort_by(|&a, &b| z[b].total_cmp(&z[a]));
    if let Some(k) = s.top_k {
        order.truncate(k.max(1));
    }
    let m = z[order[0]];
    let mut p: Vec<f64> = order
        .iter()
        .map(|&i| (((z[i] - m) / s.temperature) as f64).exp())
        .collect();
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    if let Some(top_p) = s.top_p {
        let mut acc = 0.0;
        let keep = p.iter().position(|&x| {
            acc += x;
            acc >= top_p as f64
        });
        let n = keep.map_or(p.len(), |i| i + 1);
        p.truncate(n);
        order.truncate(n);
    }
    let total: f64 = p.iter().sum();
    let mut u = rng.uniform() * total;
    for (i, &pi) in p.iter().enumerate() {
        if u < pi {
            return order[i];
        }
        u -= pi;
    }
    order[p.len() - 1]
}

// ANCHOR_END: choose

fn check_prompt(prompt: &[usize]) {
    assert!(
        !prompt.is_empty(),
        "generate: the prompt needs at least one token"
    );
}

/// `prompt` followed by `n` generated ids.
pub fn generate(
    model: &Gpt,
    prompt: &[usize],
    n: usize,
    s: &Sampling,
    rng: &mut Rng,
) -> Vec<usize> {
    check_prompt(prompt);
    let mut ids = prompt.to_vec();
    let (v, bs) = (model.cfg.vocab_size, model.cfg.block_size);
    no_grad(|| {
        for _ in 0..n {
            let ctx = &ids[ids.len().saturating_sub(bs)..];
            let logits = model.forward(ctx, 1, ctx.len());
            let last = logits.data()[(ctx.len() - 1) * v..ctx.len() * v].to_vec();
            ids.push(choose(&last, s, rng));
        }
    });
    ids
}

/// [`generate`] with a KV cache: the prompt is run once (prefill), then each new token alone.
/// Equal to [`generate`] while prompt + output fit in `block_size`. When the cache is full, it is
/// rebuilt from the last `block_size / 2` tokens (so each later token still costs one row, with
/// at least half a context behind it), where [`generate`] would use a full window every step.
pub fn generate_cached(
    model: &Gpt,
    prompt: &[usize],
    n: usize,
    s: &Sampling,
    rng: &mut Rng,
) -> Vec<usize> {
    check_prompt(prompt);
    let bs = model.cfg.block_size;
    let mut ids = prompt.to_vec();
    let mut cache = KvCache::new(&model.cfg);
    no_grad(|| {
        let mut next: Vec<usize> = ids[ids.len().saturating_sub(bs)..].to_vec();
        for _ in 0..n {
            if cache.len() + next.len() > bs {
                cache.clear();
                next = ids[ids.len() - (bs / 2).max(1)..].to_vec();
            }
            let logits = model.forward_cached(&next, &mut cache);
            let last = logits.data()[(next.len() - 1) * model.cfg.vocab_size..].to_vec();
            let id = choose(&last, s, rng);
            ids.push(id);
            next = vec![id];
        }
    });
    ids
}
