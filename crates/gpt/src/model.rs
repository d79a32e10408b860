//! GPT: a decoder-only transformer (Radford et al., 2018, 2019) on the Phase 6 framework.
//!
//! ```text
//!   x⁰ = wte[idx] + wpe[0..T]                         (B, T, C)     learned positions
//!   block:  x ← x + Drop(attn(LN₁(x)))                 pre-norm, causal self-attention
//!           x ← x + Drop(mlp(LN₂(x)))                  mlp = c_proj(GELU_tanh(c_fc(x))), 4C inside
//!   attn:   q, k, v = split(c_attn(x))  → heads → sdpa(causal) → merge → c_proj
//!   logits = LN_f(x) wteᵀ                              (B·T, V)      weight tying: the output
//!                                                                    layer is the embedding
//!   L = mean over positions of −log softmax(logits)[next token]
//! ```
//!
//! Names follow nanoGPT / Hugging Face GPT-2 (`transformer.h.3.attn.c_attn.weight`), so that
//! Phase 8 can load and save GPT-2 weights by name (HF's Conv1D stores `(in, out)`; ours is
//! `(out, in)` like `nn.Linear`, so import transposes). Initialisation is GPT-2's: N(0, 0.02) for
//! weights and embeddings, N(0, 0.02/√(2·n_layer)) for the two projections that write into the
//! residual stream (so the stream's variance does not grow with depth), zero biases, unit gains.
//!
//! Left out (Phase 9 adds them as switches): KV cache, RoPE, RMSNorm, SwiGLU, GQA.

use crate::config::GptConfig;
use std::cell::Cell;
use tfs_math::Rng;
use tfs_tensor::nn::{join, normal, Dropout, LayerNorm, Linear, Module};
use tfs_tensor::{sdpa, AttnMask, Tensor};

/// A linear layer with GPT-2's init: N(0, std²) weight, zero bias.
fn linear(n_in: usize, n_out: usize, bias: bool, std: f64, rng: &mut Rng) -> Linear {
    Linear {
        weight: Tensor::var(normal(n_in * n_out, std, rng), &[n_out, n_in]),
        bias: bias.then(|| Tensor::var(vec![0.0; n_out], &[n_out])),
    }
}

/// Layer norm, with or without its bias (`bias = false` keeps β at 0 and out of the parameters).
fn layer_norm(c: usize, bias: bool) -> (LayerNorm, bool) {
    (LayerNorm::new(c), bias)
}

pub struct Block {
    pub ln_1: (LayerNorm, bool),
    pub c_attn: Linear,
    pub attn_proj: Linear,
    pub ln_2: (LayerNorm, bool),
    pub c_fc: Linear,
    pub mlp_proj: Linear,
    pub n_head: usize,
    drop: Dropout,
}

fn visit_ln(ln: &(LayerNorm, bool), prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
    f(&join(prefix, "weight"), &ln.0.weight);
    if ln.1 {
        f(&join(prefix, "bias"), &ln.0.bias);
    }
}

impl Block {
    fn new(c: &GptConfig, rng: &mut Rng) -> Block {
        let (d, std) = (c.n_embd, 0.02);
        let resid_std = std / (2.0 * c.n_layer as f64).sqrt();
        Block {
            ln_1: layer_norm(d, c.bias),
            c_attn: linear(d, 3 * d, c.bias, std, rng),
            attn_proj: linear(d, d, c.bias, resid_std, rng),
            ln_2: layer_norm(d, c.bias),
            c_fc: linear(d, 4 * d, c.bias, std, rng),
            mlp_proj: linear(4 * d, d, c.bias, resid_std, rng),
            n_head: c.n_head,
            drop: Dropout::new(c.dropout, rng),
        }
    }

    // ANCHOR: block
    /// Causal self-attention of `x: (B, T, C)`.
    fn attn(&self, x: &Tensor) -> Tensor {
        let (b, t, c) = (x.dim(0), x.dim(1), x.dim(2));
        let (h, hs) = (self.n_head, c / self.n_head);
        let qkv = self.c_attn.forward(x).reshape(&[b, t, 3, h, hs]);
        // (B, T, 3, H, hs) → three (B, H, T, hs)
        let heads = |i: usize| qkv.narrow(2, i, 1).reshape(&[b, t, h, hs]).transpose(1, 2);
        let y = sdpa(&heads(0), &heads(1), &heads(2), &AttnMask::Causal);
        self.attn_proj
            .forward(&y.transpose(1, 2).reshape(&[b, t, c]))
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        let x = x.add(&self.drop.forward(&self.attn(&self.ln_1.0.forward(x))));
        let m = self
            .mlp_proj
            .forward(&self.c_fc.forward(&self.ln_2.0.forward(&x)).gelu());
        x.add(&self.drop.forward(&m))
    }
    // ANCHOR_END: block
}

impl Module for Block {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        visit_ln(&self.ln_1, &join(prefix, "ln_1"), f);
        self.c_attn.visit(&join(prefix, "attn.c_attn"), f);
        self.attn_proj.visit(&join(prefix, "attn.c_proj"), f);
        visit_ln(&self.ln_2, &join(prefix, "ln_2"), f);
        self.c_fc.visit(&join(prefix, "mlp.c_fc"), f);
        self.mlp_proj.visit(&join(prefix, "mlp.c_proj"), f);
    }
    fn set_training(&mut self, t: bool) {
        self.drop.set_training(t);
    }
}

/// The GPT model.
pub struct Gpt {
    pub cfg: GptConfig,
    pub wte: Tensor,
    pub wpe: Tensor,
    pub h: Vec<Block>,
    pub ln_f: (LayerNorm, bool),
    drop: Dropout,
    training: Cell<bool>,
}

impl Gpt {
    pub fn new(cfg: GptConfig, rng: &mut Rng) -> Gpt {
        assert!(
            cfg.is_gpt2() && cfg.attn == crate::AttnKernel::Naive,
            "Gpt::new: the Phase 9 switches are being wired in"
        );
        let (v, c, t) = (cfg.vocab_size, cfg.n_embd, cfg.block_size);
        Gpt {
            wte: Tensor::var(normal(v * c, 0.02, rng), &[v, c]),
            wpe: Tensor::var(normal(t * c, 0.02, rng), &[t, c]),
            h: (0..cfg.n_layer).map(|_| Block::new(&cfg, rng)).collect(),
            ln_f: layer_norm(c, cfg.bias),
            drop: Dropout::new(cfg.dropout, rng),
            training: Cell::new(true),
            cfg,
        }
    }

    /// Logits `(B·T, V)` of token ids `idx: (B, T)` (row-major), T ≤ block_size.
    pub fn forward(&self, idx: &[usize], b: usize, t: usize) -> Tensor {
        assert!(
            t >= 1 && t <= self.cfg.block_size && idx.len() == b * t,
            "Gpt::forward: {} ids for (B, T) = ({b}, {t}); T must be in 1..={}",
            idx.len(),
            self.cfg.block_size
        );
        let tok = self.wte.embedding(idx, &[b, t]);
        let mut x = self.drop.forward(&tok.add(&self.wpe.narrow(0, 0, t)));
        for blk in &self.h {
            x = blk.forward(&x);
        }
        let x = self.ln_f.0.forward(&x).reshape(&[b * t, self.cfg.n_embd]);
        x.linear(&self.wte, None)
    }

    /// Mean cross-entropy of predicting `targets: (B, T)` from `idx: (B, T)`.
    pub fn loss(&self, idx: &[usize], targets: &[usize], b: usize, t: usize) -> Tensor {
        self.forward(idx, b, t).cross_entropy(targets)
    }

    pub fn is_training(&self) -> bool {
        self.training.get()
    }

    /// The dropout generators' states, embedding dropout first then each block's (a checkpoint
    /// needs them to resume bit for bit).
    pub fn rng_states(&self) -> Vec<[u64; 4]> {
        std::iter::once(&self.drop)
            .chain(self.h.iter().map(|b| &b.drop))
            .map(Dropout::rng_state)
            .collect()
    }

    /// Restores [`Gpt::rng_states`]; errors when the count does not match the model.
    pub fn set_rng_states(&self, states: &[[u64; 4]]) -> Result<(), String> {
        if states.len() != self.h.len() + 1 {
            return Err(format!(
                "{} dropout generator states for a model with {}",
                states.len(),
                self.h.len() + 1
            ));
        }
        std::iter::once(&self.drop)
            .chain(self.h.iter().map(|b| &b.drop))
            .zip(states)
            .for_each(|(d, &s)| d.set_rng_state(s));
        Ok(())
    }
}

impl Module for Gpt {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join(prefix, "transformer.wte.weight"), &self.wte);
        f(&join(prefix, "transformer.wpe.weight"), &self.wpe);
        for (i, b) in self.h.iter().enumerate() {
            b.visit(&join(prefix, &format!("transformer.h.{i}")), f);
        }
        visit_ln(&self.ln_f, &join(prefix, "transformer.ln_f"), f);
    }
    fn set_training(&mut self, t: bool) {
        self.training.set(t);
        self.drop.set_training(t);
        self.h.iter_mut().for_each(|b| b.set_training(t));
    }
}
