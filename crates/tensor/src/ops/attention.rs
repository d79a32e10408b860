//! Scaled dot-product attention, fused: one op for scores, mask, softmax and the weighted sum,
//! forward and backward, with the heads spread over the kernel threads.
//!
//! For each batch b and head h (q: (Tq, hs), k, v: (Tk, hs)):
//!
//! ```text
//!   S = q kᵀ / √hs        P = softmax over the visible keys of each row (0 elsewhere)     O = P v
//!   v̄ = Pᵀ Ō              P̄ = Ō vᵀ        S̄ = P ⊙ (P̄ − rowsum(P̄ ⊙ P)) / √hs
//!   q̄ = S̄ k               k̄ = S̄ᵀ q
//! ```
//!
//! Every mask of the project shows each query one contiguous range of the keys: causal (query i
//! of Tq sees keys 0..=Tk − Tq + i, so the last query sees all of them: training and KV-cache
//! decoding alike), padding (batch b sees its first `len[b]` keys), both (the shorter prefix), or
//! a sliding window (Mistral: causal, and only the last `w` of those keys). So the softmax runs
//! over that range and the rest is exactly 0; a query that sees no key gets 0.
//!
//! Grouped-query attention (GQA, Ainslie et al. 2023; MQA when there is one group): k and v may
//! have fewer heads than q, `H = g · Hkv`, and query head `h` reads key/value head `h / g`. The
//! heads of a group are adjacent in memory, so the work is spread over (batch, kv head) and each
//! task owns its k̄, v̄ outright.
//!
//! One op, [`crate::op::Op::Attention`], whatever the layout and kernel. The backend computes it
//! with one of two kernels ([`AttnKernel`]); [`attention`] lets it choose by the size of what
//! the naive kernel would keep ([`crate::backend::choose_kernel`]), and `sdpa` / `flash_sdpa`
//! force one (the lab's comparison, the tests):
//!
//! - **naive**: P (B, H, Tq, Tk) is saved for backward, memory quadratic in T;
//! - **flash** (tiled, with the online softmax; Dao et al. 2022): saves one float per query row,
//!
//! ```text
//!   forward:   O = softmax(q kᵀ / √hs, masked) v     saved: L = log Σ_visible e^(q kᵀ/√hs)
//!   backward:  P = e^(q kᵀ/√hs − L) recomputed tile by tile from q, k and L, then
//!              D = rowsum(Ō ⊙ O), v̄ = Pᵀ Ō, S̄ = P ⊙ (Ō vᵀ − D), q̄ = S̄ k/√hs, k̄ = S̄ᵀ q/√hs
//! ```
//!
//!   and its backward reads the op's output O (as softmax's backward does). The kernel's notes
//!   (tfs-kernels' `fused::flash_attention`) give the tiles and their timings. Left out: dropout
//!   on the weights (the GPT here trains attention without it).
//!
//! [`sdpa_packed`] is the same self-attention for the GPT's training step, read straight from
//! the packed q|k|v projection `(B, T, (H + 2·Hkv)·hs)` and written as `(B, T, H·hs)`, with
//! no split or merge of heads, and with the queries in blocks of 32 rows that multiply only the
//! keys they see (naive kernel only: the tiled kernel reads split heads).

pub use crate::backend::kinds::AttnMask;
pub use crate::backend::AttnKernel;
use crate::backend::{self, AttnDims};
use crate::op::{AttnInputs, Op};
use crate::tensor::{same_device, Tensor};

/// Checks shapes and returns the sizes.
pub(crate) fn dims(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> AttnDims {
    let ok = q.dims() == 4 && k.dims() == 4 && v.shape() == k.shape();
    let (b, h, tq, hs) = if ok {
        (q.dim(0), q.dim(1), q.dim(2), q.dim(3))
    } else {
        (0, 0, 0, 0)
    };
    assert!(
        ok && k.dim(0) == b && k.dim(1) >= 1 && h.is_multiple_of(k.dim(1)) && k.dim(3) == hs,
        "sdpa: q {:?}, k {:?}, v {:?} must be (B, H, Tq, hs), (B, Hkv, Tk, hs), (B, Hkv, Tk, hs) \
         with Hkv dividing H",
        q.shape(),
        k.shape(),
        v.shape()
    );
    if let AttnMask::Padding(l) | AttnMask::CausalPadding(l) = mask {
        assert_eq!(l.len(), b, "sdpa: {} key lengths for batch {b}", l.len());
    }
    AttnDims {
        b,
        h,
        hkv: k.dim(1),
        tq,
        tk: k.dim(2),
        hs,
    }
}

/// Attention `softmax(q kᵀ/√hs, masked) v` over `(B, H, T, hs)` tensors (k and v may have fewer
/// heads: grouped-query attention), with the kernel `kernel` or, for `None`, the one the backend
/// chooses for these sizes.
pub fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &AttnMask,
    kernel: Option<AttnKernel>,
) -> Tensor {
    let d = dims(q, k, v, mask);
    same_device("sdpa", &[q, k, v]);
    let kernel = kernel.unwrap_or_else(|| backend::choose_kernel(d));
    let (out, saved) = backend::attention(
        q.view().src(),
        k.view().src(),
        v.view().src(),
        d,
        mask,
        kernel,
    );
    let rg = q.requires_grad() || k.requires_grad() || v.requires_grad();
    Tensor::from_op_if(out, q.shape(), rg, || Op::Attention {
        inputs: AttnInputs::Split {
            q: q.clone(),
            k: k.clone(),
            v: v.clone(),
        },
        dims: d,
        mask: mask.clone(),
        kernel,
        saved,
    })
}

/// Attention with the naive kernel (keeps the weights).
pub fn sdpa(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> Tensor {
    attention(q, k, v, mask, Some(AttnKernel::Naive))
}

/// Attention with the tiled kernel (keeps one log-sum-exp per query row); equal to [`sdpa`] up
/// to rounding.
pub fn flash_sdpa(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> Tensor {
    attention(q, k, v, mask, Some(AttnKernel::Flash))
}

/// The unfused reference: the same attention from framework ops (matmul, masked fill, softmax),
/// whose backward comes from the graph. The fused op is tested equal to it.
pub fn sdpa_reference(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> Tensor {
    let AttnDims {
        b, h, tq, tk, hs, ..
    } = dims(q, k, v, mask);
    // GQA: each kv head repeated for the g query heads of its group.
    let (k, v) = (k.repeat_heads(h / k.dim(1)), v.repeat_heads(h / v.dim(1)));
    let s = q
        .matmul(&k.transpose(-1, -2))
        .scale(1.0 / (hs as f32).sqrt());
    let seen = |idx: usize| {
        let (bb, r, c) = (idx / (h * tq * tk), (idx / tk) % tq, idx % tk);
        let range = mask.range(bb, r, tq, tk);
        (range.contains(&c), range.is_empty())
    };
    let hidden: Vec<bool> = (0..b * h * tq * tk).map(|i| !seen(i).0).collect();
    // −10⁹ rather than −∞: a row that sees nothing stays finite (uniform), then is zeroed below.
    let p = s.masked_fill(&hidden, -1e9).softmax();
    // A query that sees nothing gets 0, like the fused op.
    let empty: Vec<bool> = (0..b * h * tq * tk).map(|i| seen(i).1).collect();
    let p = if empty.iter().any(|&e| e) {
        p.masked_fill(&empty, 0.0)
    } else {
        p
    };
    p.matmul(&v)
}

/// Checks the packed projection `(B, T, W)`, W = (H + 2·Hkv)·hs, and returns the sizes.
fn packed_dims(qkv: &Tensor, h: usize, hkv: usize, mask: &AttnMask) -> AttnDims {
    let ok = qkv.dims() == 3 && h > 0 && hkv > 0 && h.is_multiple_of(hkv);
    let w = if ok { qkv.dim(2) } else { 0 };
    assert!(
        ok && w.is_multiple_of(h + 2 * hkv),
        "sdpa_packed: qkv {:?} must be (B, T, (H + 2·Hkv)·hs) with H = {h} query heads and \
         Hkv = {hkv} kv heads dividing H",
        qkv.shape()
    );
    let b = qkv.dim(0);
    if let AttnMask::Padding(l) | AttnMask::CausalPadding(l) = mask {
        assert_eq!(
            l.len(),
            b,
            "sdpa_packed: {} key lengths for batch {b}",
            l.len()
        );
    }
    let t = qkv.dim(1);
    AttnDims {
        b,
        h,
        hkv,
        tq: t,
        tk: t,
        hs: w / (h + 2 * hkv),
    }
}

/// Self-attention read straight from the packed projection: `qkv: (B, T, (H + 2·Hkv)·hs)` holds
/// each position's H query heads, then its Hkv key heads, then its Hkv value heads (what one
/// `c_attn` linear layer produces), and the output `(B, T, H·hs)` has the heads side by side
/// again (what `c_proj` reads). The same function as
///
/// ```text
///   split qkv into q, k, v → (B, T, n, hs) → transpose to (B, n, T, hs) → sdpa → transpose back
/// ```
///
/// without the six copies of that route and the nine of its backward (three zero-padded
/// gradients of `narrow`, summed): every product reads a head as a (T, hs) view with leading
/// dimension W, and q̄, k̄, v̄ are written into their columns of one (B, T, W) gradient.
pub fn sdpa_packed(qkv: &Tensor, h: usize, hkv: usize, mask: &AttnMask) -> Tensor {
    let d = packed_dims(qkv, h, hkv, mask);
    let (out, probs) = backend::attention_packed(qkv.view().src(), d, mask);
    Tensor::from_op_if(out, &[d.b, d.tq, h * d.hs], qkv.requires_grad(), || {
        Op::Attention {
            inputs: AttnInputs::Packed(qkv.clone()),
            dims: d,
            mask: mask.clone(),
            kernel: AttnKernel::Naive,
            saved: probs,
        }
    })
}
