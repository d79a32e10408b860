//! The record an op leaves in the graph: which op, its inputs, and what its backward needs.
//!
//! One variant per differentiable op. The forward passes live in `ops/`; every backward lives in
//! one `match` in [`crate::autograd`], so that the whole calculus of the framework reads in one
//! file. An input that does not need a gradient is still held (the backward of the other input
//! may read it, as in `∂(a·b)/∂a = b`). What a backward needs beyond its inputs and output
//! (∂L/∂logits, row statistics, attention weights, masks, ids) is kept as [`Storage`], on the
//! device of the op.

pub use crate::backend::kinds::{AttnMask, BinaryOp, UnaryOp};
use crate::backend::{AttnDims, AttnKernel};
use crate::storage::Storage;
use crate::tensor::Tensor;

/// Where attention reads its heads from.
pub enum AttnInputs {
    /// `q: (B, H, Tq, hs)`, `k, v: (B, Hkv, Tk, hs)`.
    Split { q: Tensor, k: Tensor, v: Tensor },
    /// The packed q|k|v projection `(B, T, (H + 2·Hkv)·hs)` of self-attention; the output is
    /// `(B, T, H·hs)`.
    Packed(Tensor),
}

pub enum Op {
    /// `a ∘ b` broadcast to a common shape.
    Binary(BinaryOp, Tensor, Tensor),
    /// `y = x·mul + add` (add needs no gradient: it is a constant).
    Affine {
        x: Tensor,
        mul: f32,
    },
    Unary(UnaryOp, Tensor),
    /// Sum along `axis` times `scale` (1 for sum, 1/n for mean); `None`: over every element.
    Sum {
        x: Tensor,
        axis: Option<usize>,
        scale: f32,
    },
    /// Max along `axis`; `argmax` holds the winning index of each output element.
    Max {
        x: Tensor,
        axis: usize,
        argmax: Storage,
    },
    /// `(…, M, K) @ (…, K, N)`, or `(…, M, K) @ (K, N)`.
    MatMul(Tensor, Tensor),
    /// `x Wᵀ + b` with `W: (out, in)`, as `torch.nn.Linear`.
    Linear {
        x: Tensor,
        w: Tensor,
        b: Option<Tensor>,
    },
    /// Softmax over the last axis (backward reads the output).
    Softmax(Tensor),
    /// Log-softmax over the last axis (backward reads the output).
    LogSoftmax(Tensor),
    /// Mean cross-entropy; the fused kernel computed `∂L/∂logits` in the forward pass.
    CrossEntropy {
        logits: Tensor,
        dlogits: Storage,
    },
    /// Layer norm over the last axis, saving each row's mean and 1/σ.
    LayerNorm {
        x: Tensor,
        w: Tensor,
        b: Tensor,
        mean: Storage,
        rstd: Storage,
    },
    /// RMS norm over the last axis, saving each row's 1/rms.
    RmsNorm {
        x: Tensor,
        w: Tensor,
        rstd: Storage,
    },
    /// Rotary position embedding over the last two axes, positions from `start`.
    Rope {
        x: Tensor,
        start: usize,
        theta: f32,
    },
    /// Rows of `x` added into rows `ids` of a zero tensor (scatter-add; a mixture of experts
    /// puts each expert's outputs back among the tokens).
    IndexAdd {
        x: Tensor,
        /// i32 ids.
        ids: Storage,
    },
    /// Rows of `x` (along axis 0) picked by `ids`: embedding lookup and gather.
    IndexSelect {
        x: Tensor,
        /// i32 ids.
        ids: Storage,
    },
    /// `x ⊙ mask`, the mask already scaled by 1/(1 − p).
    Dropout {
        x: Tensor,
        mask: Storage,
    },
    /// Elements where `mask` (broadcast over leading axes) is true replaced by a constant.
    MaskedFill {
        x: Tensor,
        /// i32, 1 where filled; repeats over the leading axes.
        mask: Storage,
    },
    /// Another shape over the same elements.
    Reshape(Tensor),
    /// Axes `a` and `b` swapped.
    Transpose {
        x: Tensor,
        a: usize,
        b: usize,
    },
    /// Concatenation along `axis`.
    Cat {
        xs: Vec<Tensor>,
        axis: usize,
    },
    /// `len` entries of `axis` from `start`.
    Narrow {
        x: Tensor,
        axis: usize,
        start: usize,
    },
    /// Scaled dot-product attention, one op for every layout and kernel: the backend chose the
    /// kernel ([`AttnKernel`]) and `saved` is what it keeps, the weights `P: (B, H, Tq, Tk)`
    /// (naive) or one log-sum-exp per query row (flash, whose backward also reads the output).
    Attention {
        inputs: AttnInputs,
        dims: AttnDims,
        mask: AttnMask,
        kernel: AttnKernel,
        saved: Storage,
    },
}

impl Op {
    /// Bytes of the op's own buffers kept for its backward (beside its inputs and output, which
    /// are tensors). They are storages, so [`crate::memory`] counts them too.
    pub fn saved_bytes(&self) -> usize {
        match self {
            Op::CrossEntropy { dlogits: s, .. }
            | Op::Dropout { mask: s, .. }
            | Op::Attention { saved: s, .. }
            | Op::RmsNorm { rstd: s, .. }
            | Op::Max { argmax: s, .. } => s.bytes(),
            Op::LayerNorm { mean, rstd, .. } => mean.bytes() + rstd.bytes(),
            _ => 0,
        }
    }

    /// The op's inputs, in the order its backward returns their gradients.
    pub fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Binary(_, a, b) | Op::MatMul(a, b) => vec![a, b],
            Op::Affine { x, .. }
            | Op::Unary(_, x)
            | Op::Sum { x, .. }
            | Op::Max { x, .. }
            | Op::Softmax(x)
            | Op::LogSoftmax(x)
            | Op::CrossEntropy { logits: x, .. }
            | Op::IndexSelect { x, .. }
            | Op::Rope { x, .. }
            | Op::IndexAdd { x, .. }
            | Op::Dropout { x, .. }
            | Op::MaskedFill { x, .. }
            | Op::Reshape(x)
            | Op::Transpose { x, .. }
            | Op::Narrow { x, .. }
            | Op::Attention {
                inputs: AttnInputs::Packed(x),
                ..
            } => vec![x],
            Op::Linear { x, w, b } => {
                let mut v = vec![x, w];
                v.extend(b.as_ref());
                v
            }
            Op::LayerNorm { x, w, b, .. } => vec![x, w, b],
            Op::RmsNorm { x, w, .. } => vec![x, w],
            Op::Cat { xs, .. } => xs.iter().collect(),
            Op::Attention {
                inputs: AttnInputs::Split { q, k, v },
                ..
            } => vec![q, k, v],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Binary(BinaryOp::Add, ..) => "add",
            Op::Binary(BinaryOp::Sub, ..) => "sub",
            Op::Binary(BinaryOp::Mul, ..) => "mul",
            Op::Binary(BinaryOp::Div, ..) => "div",
            Op::Affine { .. } => "affine",
            Op::Unary(u, _) => match u {
                UnaryOp::Exp => "exp",
                UnaryOp::Log => "log",
                UnaryOp::Tanh => "tanh",
                UnaryOp::Sqrt => "sqrt",
                UnaryOp::Relu => "relu",
                UnaryOp::Gelu => "gelu",
                UnaryOp::GeluErf => "gelu_erf",
                UnaryOp::Silu => "silu",
            },
            Op::Sum { scale, .. } if *scale != 1.0 => "mean",
            Op::Sum { .. } => "sum",
            Op::Max { .. } => "max",
            Op::MatMul(..) => "matmul",
            Op::Linear { .. } => "linear",
            Op::Softmax(_) => "softmax",
            Op::LogSoftmax(_) => "log_softmax",
            Op::CrossEntropy { .. } => "cross_entropy",
            Op::LayerNorm { .. } => "layer_norm",
            Op::IndexSelect { .. } => "index_select",
            Op::RmsNorm { .. } => "rms_norm",
            Op::Rope { .. } => "rope",
            Op::IndexAdd { .. } => "index_add",
            Op::Dropout { .. } => "dropout",
            Op::MaskedFill { .. } => "masked_fill",
            Op::Reshape(_) => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Cat { .. } => "cat",
            Op::Narrow { .. } => "narrow",
            Op::Attention {
                kernel: AttnKernel::Flash,
                ..
            } => "flash_sdpa",
            Op::Attention {
                inputs: AttnInputs::Packed(_),
                ..
            } => "sdpa_packed",
            Op::Attention { .. } => "sdpa",
        }
    }
}
