//! Flash-style attention as a framework op: the same function as [`super::attention::sdpa`]
//! (same shapes, masks, grouped-query heads), computed by `tfs_kernels`' tiled kernel with the
//! online softmax, so that the (B, H, Tq, Tk) weights are never stored.
//!
//! ```text
//!   forward:   O = softmax(q kᵀ / √hs, masked) v     saved: L = log Σ_visible e^(q kᵀ/√hs)
//!                                                           (B, H, Tq), one float per query row
//!   backward:  P = e^(q kᵀ/√hs − L) recomputed tile by tile from q, k and L, then
//!              D = rowsum(Ō ⊙ O), v̄ = Pᵀ Ō, S̄ = P ⊙ (Ō vᵀ − D), q̄ = S̄ k/√hs, k̄ = S̄ᵀ q/√hs
//! ```
//!
//! The backward reads the op's own output O (as softmax's backward does), so the op saves
//! B·H·Tq floats where `sdpa` saves B·H·Tq·Tk: memory linear in T instead of quadratic. The
//! kernel's notes (`tfs_kernels::fused::flash_attention`) give the tiles and their timings.
//!
//! Left out: dropout on the weights (the GPT here trains attention without it).

use super::attention::{dims, AttnMask};
use crate::op::Op;
use crate::tensor::cache::zeros;
use crate::tensor::Tensor;
use tfs_kernels::fused::flash_attention::{
    flash_attention_backward, flash_attention_forward, Dims,
};
use tfs_kernels::pool;

/// The mask as one key range `(lo, hi)` per (batch, query), the kernel's form.
fn key_ranges(mask: &AttnMask, d: Dims) -> Vec<(usize, usize)> {
    (0..d.b * d.tq)
        .map(|i| {
            let r = mask.range(i / d.tq.max(1), i % d.tq.max(1), d.tq, d.tk);
            (r.start, r.end)
        })
        .collect()
}

fn kernel_dims(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> Dims {
    let (b, h, tq, tk, hs) = dims(q, k, v, mask);
    Dims {
        b,
        h,
        hkv: k.dim(1),
        tq,
        tk,
        hs,
    }
}

/// Flash attention `softmax(q kᵀ/√hs, masked) v` over `(B, H, T, hs)` tensors (k and v may have
/// fewer heads: grouped-query attention); equal to [`super::attention::sdpa`] up to rounding.
pub fn flash_sdpa(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> Tensor {
    let d = kernel_dims(q, k, v, mask);
    let (mut out, mut lse) = (zeros(q.numel()), zeros(d.b * d.h * d.tq));
    if d.hs > 0 {
        let ranges = key_ranges(mask, d);
        let (qd, kd, vd) = (q.data(), k.data(), v.data());
        let threads = pool::default_threads();
        flash_attention_forward(d, &qd, &kd, &vd, &ranges, threads, &mut out, &mut lse);
    }
    let rg = q.requires_grad() || k.requires_grad() || v.requires_grad();
    Tensor::from_op_if(out, q.shape(), rg, || Op::FlashSdpa {
        q: q.clone(),
        k: k.clone(),
        v: v.clone(),
        mask: mask.clone(),
        lse,
    })
}

/// Backward of [`flash_sdpa`] given its output `out` and saved `lse`: (q̄, k̄, v̄).
pub(crate) fn flash_sdpa_backward(
    (q, k, v): (&Tensor, &Tensor, &Tensor),
    mask: &AttnMask,
    out: &Tensor,
    lse: &[f32],
    dout: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = kernel_dims(q, k, v, mask);
    let (mut dq, mut dk, mut dv) = (zeros(q.numel()), zeros(k.numel()), zeros(v.numel()));
    if d.hs > 0 {
        let ranges = key_ranges(mask, d);
        let (qd, kd, vd, od) = (q.data(), k.data(), v.data(), out.data());
        let threads = pool::default_threads();
        flash_attention_backward(
            d, &qd, &kd, &vd, &od, lse, dout, &ranges, threads, &mut dq, &mut dk, &mut dv,
        );
    }
    (dq, dk, dv)
}
