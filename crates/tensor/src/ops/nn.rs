//! The neural-network ops, fused where a fused kernel exists: softmax and log-softmax over the
//! last axis, cross-entropy with its gradient, layer norm, embedding lookup (row gather),
//! dropout and masked fill.
//!
//! ```text
//!   softmax:      y = e^(x−m)/s                x̄ = y ⊙ (ȳ − ⟨ȳ, y⟩)            per row
//!   log_softmax:  y = x − m − ln s             x̄ = ȳ − e^y · Σ ȳ               per row
//!   cross-entropy L = −(1/n) Σ log softmax(z)[t]   z̄ = L̄ · (softmax(z) − onehot(t)) / n
//!   layer norm    y = γ (x − μ)/σ + β          x̄ = (1/σ)(g − mean(g) − x̂·mean(g ⊙ x̂)), g = ȳ ⊙ γ
//!   RMS norm      y = γ x/r, r = √(mean(x²)+ε) x̄ = (1/r)(g − x̂·mean(g ⊙ x̂)),  x̂ = x/r, g = ȳ ⊙ γ
//!                                              γ̄ = Σ_rows ȳ ⊙ x̂   (LLaMA: no centring, no β)
//!   scatter-add   y[ids[i]] += x[i]            x̄[i] = ȳ[ids[i]]  (gather)
//!   gather        y[i] = x[ids[i]]             x̄[r] = Σ_{i: ids[i] = r} ȳ[i]  (scatter-add)
//!   dropout       y = x ⊙ m, m ∈ {0, 1/(1−p)}  x̄ = ȳ ⊙ m
//!   masked fill   y = mask ? c : x             x̄ = mask ? 0 : ȳ
//! ```
//!
//! Cross-entropy leaves out targets equal to [`IGNORE`] (padding) from the mean, as PyTorch's
//! `ignore_index`; with no target left the loss is 0 (PyTorch: NaN).

use crate::backend;
use crate::op::Op;
use crate::storage::Storage;
use crate::tensor::{same_device, Tensor};
use tfs_math::Rng;

/// A target id that cross-entropy skips.
pub const IGNORE: usize = usize::MAX;

/// (rows, cols) of a tensor read as rows of its last axis.
fn rows_cols(x: &Tensor) -> (usize, usize) {
    let c = if x.dims() == 0 { 1 } else { x.dim(-1) };
    (x.numel() / c.max(1), c)
}

impl Tensor {
    /// Softmax over the last axis.
    pub fn softmax(&self) -> Tensor {
        let (r, c) = rows_cols(self);
        let y = backend::softmax(self.view().src(), r, c);
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || {
            Op::Softmax(self.clone())
        })
    }

    /// Log-softmax over the last axis.
    pub fn log_softmax(&self) -> Tensor {
        let (_, c) = rows_cols(self);
        let y = backend::log_softmax(self.view().src(), c);
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || {
            Op::LogSoftmax(self.clone())
        })
    }

    /// Mean cross-entropy of `self: (n, V)` logits against `targets: (n)` (ids < V, or
    /// [`IGNORE`]), fused with its gradient.
    pub fn cross_entropy(&self, targets: &[usize]) -> Tensor {
        let (n, v) = rows_cols(self);
        assert!(
            self.dims() == 2 && targets.len() == n,
            "cross_entropy: logits {:?} must be (n, V) with n = {} targets",
            self.shape(),
            targets.len()
        );
        let ts: Vec<Option<usize>> = targets
            .iter()
            .map(|&t| (t != IGNORE).then_some(t))
            .collect();
        let (loss, dz) = backend::cross_entropy(self.view().src(), &ts, v);
        Tensor::from_op_if(loss, &[], self.requires_grad(), || Op::CrossEntropy {
            logits: self.clone(),
            dlogits: dz,
        })
    }

    /// Layer norm over the last axis with weight `w` and bias `b` (both `(C)`).
    pub fn layer_norm(&self, w: &Tensor, b: &Tensor, eps: f32) -> Tensor {
        let (r, c) = rows_cols(self);
        assert!(
            w.shape() == [c] && b.shape() == [c],
            "layer_norm: x {:?} needs weight and bias ({c}), got {:?} and {:?}",
            self.shape(),
            w.shape(),
            b.shape()
        );
        same_device("layer_norm", &[self, w, b]);
        let (y, mean, rstd) = backend::layer_norm(
            self.view().src(),
            w.view().src(),
            b.view().src(),
            eps,
            (r, c),
        );
        let rg = self.requires_grad() || w.requires_grad() || b.requires_grad();
        Tensor::from_op_if(y, self.shape(), rg, || Op::LayerNorm {
            x: self.clone(),
            w: w.clone(),
            b: b.clone(),
            mean,
            rstd,
        })
    }

    /// RMS norm over the last axis with gain `w` `(C)`: `w ⊙ x / √(mean(x²) + eps)`.
    pub fn rms_norm(&self, w: &Tensor, eps: f32) -> Tensor {
        let (r, c) = rows_cols(self);
        assert!(
            w.shape() == [c],
            "rms_norm: x {:?} needs a weight of ({c}), got {:?}",
            self.shape(),
            w.shape()
        );
        same_device("rms_norm", &[self, w]);
        let (y, rstd) = backend::rms_norm(self.view().src(), w.view().src(), eps, (r, c));
        let rg = self.requires_grad() || w.requires_grad();
        Tensor::from_op_if(y, self.shape(), rg, || Op::RmsNorm {
            x: self.clone(),
            w: w.clone(),
            rstd,
        })
    }

    /// `rows` rows of zeros with row `ids[i]` increased by row `i` of `self` (scatter-add): the
    /// inverse of [`Tensor::index_select`]. Shape `(rows, rest…)`.
    pub fn index_add(&self, ids: &[usize], rows: usize) -> Tensor {
        assert_eq!(
            self.dim(0),
            ids.len(),
            "index_add: {} rows for {} ids",
            self.dim(0),
            ids.len()
        );
        let w = self.numel() / self.dim(0).max(1);
        for &i in ids {
            assert!(
                i < rows,
                "index_add: index {i} out of range for {rows} rows"
            );
        }
        let ids = ids_storage("index_add", ids);
        let out = backend::index_add(self.view().src(), (&ids).into(), w, rows);
        let mut shape = self.shape().to_vec();
        shape[0] = rows;
        Tensor::from_op_if(out, &shape, self.requires_grad(), || Op::IndexAdd {
            x: self.clone(),
            ids,
        })
    }

    /// Rows of `self` (along axis 0) at `ids`: shape `(ids.len(), rest…)`.
    pub fn index_select(&self, ids: &[usize]) -> Tensor {
        let rows = self.dim(0);
        let w = self.numel() / rows.max(1);
        for &i in ids {
            assert!(
                i < rows,
                "index_select: index {i} out of range for {rows} rows"
            );
        }
        let n = ids.len();
        let ids = ids_storage("index_select", ids);
        let out = backend::index_select(self.view().src(), (&ids).into(), w);
        let mut shape = self.shape().to_vec();
        shape[0] = n;
        Tensor::from_op_if(out, &shape, self.requires_grad(), || Op::IndexSelect {
            x: self.clone(),
            ids,
        })
    }

    /// Embedding lookup: `self: (V, C)` rows at `ids` laid out as `shape` → `(shape…, C)`.
    pub fn embedding(&self, ids: &[usize], shape: &[usize]) -> Tensor {
        let mut s = shape.to_vec();
        s.push(self.dim(-1));
        self.index_select(ids).reshape(&s)
    }

    /// Dropout with probability `p` (inverted: kept elements scaled by 1/(1 − p)); the mask
    /// comes from `rng`. `p = 0` returns `self`.
    pub fn dropout(&self, p: f32, rng: &mut Rng) -> Tensor {
        assert!(
            (0.0..1.0).contains(&p),
            "dropout: p = {p} must be in [0, 1)"
        );
        if p == 0.0 {
            return self.clone();
        }
        let (y, mask) = backend::dropout(self.view().src(), p, rng);
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || Op::Dropout {
            x: self.clone(),
            mask,
        })
    }

    /// `value` where `mask` is true, `self` elsewhere; `mask` covers the trailing axes of
    /// `self` (its length divides the element count) and repeats over the leading ones.
    pub fn masked_fill(&self, mask: &[bool], value: f32) -> Tensor {
        let n = self.numel();
        assert!(
            !mask.is_empty() && n.is_multiple_of(mask.len()),
            "masked_fill: mask of {} elements does not tile shape {:?}",
            mask.len(),
            self.shape()
        );
        let mask = Storage::cpu_i32(mask.iter().map(|&m| m as i32).collect());
        let y = backend::masked_fill(self.view().src(), (&mask).into(), value);
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || Op::MaskedFill {
            x: self.clone(),
            mask,
        })
    }
}

/// Ids as an i32 storage on the host (ids come from the host: a batch, a routing).
fn ids_storage(op: &str, ids: &[usize]) -> Storage {
    Storage::cpu_i32(
        ids.iter()
            .map(|&i| i32::try_from(i).unwrap_or_else(|_| panic!("{op}: id {i} exceeds i32")))
            .collect(),
    )
}
