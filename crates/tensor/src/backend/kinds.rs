//! The descriptors primitives take besides storages: which element-wise op, the sizes of a
//! product or an attention, which keys an attention query sees, which attention kernel, the
//! optimizer's hyper-parameters. They live at the bottom of the crate (the backend), so that
//! the graph (`op.rs`), the ops and the backend all read them without importing each other in a
//! circle.

use std::sync::Arc;

/// Elementwise binary ops, with broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// Elementwise unary ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Exp,
    Log,
    Tanh,
    Sqrt,
    Relu,
    /// GELU, tanh form (GPT-2's): ½x(1 + tanh(√(2/π)(x + 0.044715x³))).
    Gelu,
    /// GELU, exact: x·Φ(x).
    GeluErf,
    /// SiLU (swish): x·σ(x), the gate of SwiGLU.
    Silu,
}

/// Which keys each query sees.
#[derive(Clone, Debug, PartialEq)]
pub enum AttnMask {
    None,
    Causal,
    /// Batch b sees its first `len[b]` keys.
    Padding(Arc<[usize]>),
    CausalPadding(Arc<[usize]>),
    /// Causal, and each query sees only its last `w` keys (itself included).
    SlidingWindow(usize),
}

impl AttnMask {
    /// The keys query `i` (of `tq`) of batch `b` sees, out of `tk`: always one contiguous range.
    pub fn range(&self, b: usize, i: usize, tq: usize, tk: usize) -> std::ops::Range<usize> {
        let causal = (tk + i + 1).saturating_sub(tq).min(tk);
        match self {
            AttnMask::None => 0..tk,
            AttnMask::Causal => 0..causal,
            AttnMask::Padding(l) => 0..l[b].min(tk),
            AttnMask::CausalPadding(l) => 0..l[b].min(causal),
            AttnMask::SlidingWindow(w) => causal.saturating_sub(*w)..causal,
        }
    }
}

/// Sizes of an attention: batch, query heads, key/value heads, query and key lengths, head
/// size. For the packed layout, `tq = tk = T`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnDims {
    pub b: usize,
    pub h: usize,
    pub hkv: usize,
    pub tq: usize,
    pub tk: usize,
    pub hs: usize,
}

/// AdamW's hyper-parameters for one parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWHyper {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

/// The attention kernel of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttnKernel {
    /// Keeps the weights P (B, H, Tq, Tk) for the backward.
    Naive,
    /// Tiled with the online softmax: keeps one log-sum-exp per query row.
    Flash,
}

/// The sizes of a (batched) product: `batch` products of `(m, k) @ (k, n)`; `shared`: one 2-D
/// right operand for every batch.
#[derive(Clone, Copy, Debug)]
pub struct MatMulDims {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub shared: bool,
}
