//! Multi-head attention (Vaswani et al., 2017) as a module: self-, cross- and causal attention.
//!
//! ```text
//!   Q = x_q W_qᵀ + b_q    K = x_kv W_kᵀ + b_k    V = x_kv W_vᵀ + b_v        (B, T, D)
//!   split heads: (B, T, D) → (B, T, H, hs) → (B, H, T, hs)                  hs = D / H
//!   O = sdpa(Q, K, V, mask)          (fused: softmax(Q Kᵀ/√hs, masked) V)   (B, H, Tq, hs)
//!   merge heads → (B, Tq, D);   y = O W_oᵀ + b_o
//! ```
//!
//! Parameters `q`, `k`, `v`, `o` (each a [`Linear`] with `weight` and `bias`), matching Phase 5's
//! `w_q … b_o` one to one (transposed: Phase 5 computes `x W`, this `x Wᵀ`). Self-attention is
//! `forward(x, x, …)`; cross-attention reads keys and values from the encoder's memory.
//!
//! Left out: a fused QKV projection (one GEMM instead of three; GPT's attention uses it), dropout
//! on the attention weights.

use super::{join, Linear, Module};
use crate::ops::attention::{sdpa, AttnMask};
use crate::tensor::Tensor;
use tfs_math::Rng;

pub struct MultiHeadAttention {
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    pub heads: usize,
}

impl MultiHeadAttention {
    pub fn new(d: usize, heads: usize, rng: &mut Rng) -> MultiHeadAttention {
        assert!(
            heads > 0 && d.is_multiple_of(heads),
            "MultiHeadAttention: width {d} is not divisible by {heads} heads"
        );
        MultiHeadAttention {
            q: Linear::new(d, d, true, rng),
            k: Linear::new(d, d, true, rng),
            v: Linear::new(d, d, true, rng),
            o: Linear::new(d, d, true, rng),
            heads,
        }
    }

    /// `(B, T, D) → (B, H, T, hs)`.
    fn split(&self, x: &Tensor) -> Tensor {
        let (b, t, d) = (x.dim(0), x.dim(1), x.dim(2));
        x.reshape(&[b, t, self.heads, d / self.heads])
            .transpose(1, 2)
    }

    // ANCHOR: forward
    /// Attention of queries from `xq: (B, Tq, D)` over keys and values from `xkv: (B, Tk, D)`.
    pub fn forward(&self, xq: &Tensor, xkv: &Tensor, mask: &AttnMask) -> Tensor {
        let (b, tq, d) = (xq.dim(0), xq.dim(1), xq.dim(2));
        let q = self.split(&self.q.forward(xq));
        let k = self.split(&self.k.forward(xkv));
        let v = self.split(&self.v.forward(xkv));
        let o = sdpa(&q, &k, &v, mask).transpose(1, 2).reshape(&[b, tq, d]);
        self.o.forward(&o)
    }
    // ANCHOR_END: forward
}

impl Module for MultiHeadAttention {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.q.visit(&join(prefix, "q"), f);
        self.k.visit(&join(prefix, "k"), f);
        self.v.visit(&join(prefix, "v"), f);
        self.o.visit(&join(prefix, "o"), f);
    }
}
