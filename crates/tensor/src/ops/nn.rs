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

use crate::op::Op;
use crate::tensor::cache::{copy, for_overwrite, take, zeros, CollectBuf};
use crate::tensor::Tensor;
use std::rc::Rc;
use tfs_kernels::fused::{crossentropy, layernorm, softmax};
use tfs_kernels::pool;
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
        let mut y = copy(&self.data());
        softmax::softmax_rows(&mut y, r, c, softmax::Mask::None);
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || {
            Op::Softmax(self.clone())
        })
    }

    /// Log-softmax over the last axis.
    pub fn log_softmax(&self) -> Tensor {
        let (_, c) = rows_cols(self);
        let mut y = copy(&self.data());
        for row in y.chunks_exact_mut(c.max(1)) {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
            let ls = m + s.ln();
            row.iter_mut().for_each(|v| *v -= ls);
        }
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
        let keep: Vec<usize> = (0..n).filter(|&i| targets[i] != IGNORE).collect();
        let z = self.data();
        // Every row is written when every target counts; otherwise ignored rows stay zero.
        let mut dz = if keep.len() == n {
            for_overwrite(n * v)
        } else {
            zeros(n * v)
        };
        let loss = if keep.is_empty() {
            0.0
        } else if keep.len() == n {
            crossentropy::cross_entropy(&z, targets, &mut dz, v)
        } else {
            let mut zk = take(keep.len() * v);
            keep.iter()
                .for_each(|&i| zk.extend_from_slice(&z[i * v..(i + 1) * v]));
            let tk: Vec<usize> = keep.iter().map(|&i| targets[i]).collect();
            let mut dk = for_overwrite(zk.len());
            let l = crossentropy::cross_entropy(&zk, &tk, &mut dk, v);
            for (j, &i) in keep.iter().enumerate() {
                dz[i * v..(i + 1) * v].copy_from_slice(&dk[j * v..(j + 1) * v]);
            }
            l
        };
        drop(z);
        Tensor::from_op_if(vec![loss as f32], &[], self.requires_grad(), || {
            Op::CrossEntropy {
                logits: self.clone(),
                dlogits: dz,
            }
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
        let (mut y, mut mean, mut rstd) =
            (for_overwrite(r * c), for_overwrite(r), for_overwrite(r));
        {
            let (x, w, b) = (self.data(), w.data(), b.data());
            let (x, w, b) = (&*x, &*w, &*b);
            let (tasks, run) = super::runs(r, c, 1);
            pool::per_task(
                tasks,
                tasks,
                vec![&mut y, &mut mean, &mut rstd],
                &[run * c, run, run],
                &|i, p| {
                    let [y, mean, rstd] = p else { unreachable!() };
                    let rows = mean.len();
                    let x = &x[i * run * c..][..rows * c];
                    layernorm::layernorm_forward(x, w, b, eps, y, mean, rstd, rows, c);
                },
            );
        }
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
        let (mut y, mut rstd) = (zeros(r * c), zeros(r));
        {
            let (x, w) = (self.data(), w.data());
            for ((xr, yr), rs) in x
                .chunks_exact(c.max(1))
                .zip(y.chunks_exact_mut(c.max(1)))
                .zip(rstd.iter_mut())
            {
                let ms = xr.iter().map(|v| (v * v) as f64).sum::<f64>() / c as f64;
                *rs = (1.0 / (ms + eps as f64).sqrt()) as f32;
                yr.iter_mut()
                    .zip(xr.iter().zip(w.iter()))
                    .for_each(|(y, (x, w))| *y = x * *rs * w);
            }
        }
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
        let mut out = zeros(rows * w);
        {
            let d = self.data();
            for (j, &i) in ids.iter().enumerate() {
                assert!(
                    i < rows,
                    "index_add: index {i} out of range for {rows} rows"
                );
                out[i * w..(i + 1) * w]
                    .iter_mut()
                    .zip(&d[j * w..(j + 1) * w])
                    .for_each(|(o, &x)| *o += x);
            }
        }
        let mut shape = self.shape().to_vec();
        shape[0] = rows;
        Tensor::from_op_if(out, &shape, self.requires_grad(), || Op::IndexAdd {
            x: self.clone(),
            ids: ids.into(),
        })
    }

    /// Rows of `self` (along axis 0) at `ids`: shape `(ids.len(), rest…)`.
    pub fn index_select(&self, ids: &[usize]) -> Tensor {
        let rows = self.dim(0);
        let w = self.numel() / rows.max(1);
        let d = self.data();
        let mut out = take(ids.len() * w);
        for &i in ids {
            assert!(
                i < rows,
                "index_select: index {i} out of range for {rows} rows"
            );
            out.extend_from_slice(&d[i * w..(i + 1) * w]);
        }
        drop(d);
        let mut shape = self.shape().to_vec();
        shape[0] = ids.len();
        Tensor::from_op_if(out, &shape, self.requires_grad(), || Op::IndexSelect {
            x: self.clone(),
            ids: ids.into(),
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
        let keep = 1.0 / (1.0 - p);
        let mask: Vec<f32> = (0..self.numel())
            .map(|_| if rng.uniform() < p as f64 { 0.0 } else { keep })
            .collect_buf();
        let y = self
            .data()
            .iter()
            .zip(&mask)
            .map(|(&x, &m)| x * m)
            .collect_buf();
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
        let y = self
            .data()
            .iter()
            .zip(mask.iter().cycle())
            .map(|(&x, &m)| if m { value } else { x })
            .collect_buf();
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || Op::MaskedFill {
            x: self.clone(),
            mask: Rc::from(mask),
        })
    }
}

/// Backward of softmax over rows of length `c`.
pub(crate) fn softmax_backward(y: &[f32], dy: &[f32], c: usize) -> Vec<f32> {
    let mut dx = zeros(y.len());
    for ((dxr, yr), gr) in dx
        .chunks_exact_mut(c.max(1))
        .zip(y.chunks_exact(c.max(1)))
        .zip(dy.chunks_exact(c.max(1)))
    {
        let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((d, &y), &g) in dxr.iter_mut().zip(yr).zip(gr) {
            *d = y * (g - dot);
        }
    }
    dx
}

/// Backward of log-softmax over rows of length `c`.
pub(crate) fn log_softmax_backward(y: &[f32], dy: &[f32], c: usize) -> Vec<f32> {
    let mut dx = zeros(y.len());
    for ((dxr, yr), gr) in dx
        .chunks_exact_mut(c.max(1))
        .zip(y.chunks_exact(c.max(1)))
        .zip(dy.chunks_exact(c.max(1)))
    {
        let s: f32 = gr.iter().sum();
        for ((d, &y), &g) in dxr.iter_mut().zip(yr).zip(gr) {
            *d = g - y.exp() * s;
        }
    }
    dx
}

/// Backward of layer norm: (x̄, w̄, b̄).
pub(crate) fn layer_norm_backward(
    x: &Tensor,
    w: &Tensor,
    mean: &[f32],
    rstd: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (r, c) = rows_cols(x);
    // Rows split over the threads; each task sums its own rows' w̄ and b̄, added up after.
    let (tasks, run) = super::runs(r, c, 1);
    let (mut dx, mut dwp, mut dbp) = (for_overwrite(r * c), zeros(tasks * c), zeros(tasks * c));
    {
        let (x, w) = (x.data(), w.data());
        let (x, w) = (&*x, &*w);
        pool::per_task(
            tasks,
            tasks,
            vec![&mut dx, &mut dwp, &mut dbp],
            &[run * c, c, c],
            &|i, p| {
                let [dx, dw, db] = p else { unreachable!() };
                let rows = dx.len() / c.max(1);
                let (lo, span) = (i * run, rows * c);
                layernorm::layernorm_backward(
                    &dy[lo * c..][..span],
                    &x[lo * c..][..span],
                    w,
                    &mean[lo..][..rows],
                    &rstd[lo..][..rows],
                    dx,
                    dw,
                    db,
                    rows,
                    c,
                );
            },
        );
    }
    let sum_parts = |parts: Vec<f32>| {
        let mut total = zeros(c);
        for part in parts.chunks_exact(c.max(1)) {
            total.iter_mut().zip(part).for_each(|(t, &v)| *t += v);
        }
        crate::tensor::cache::give(parts);
        total
    };
    (dx, sum_parts(dwp), sum_parts(dbp))
}

/// Backward of RMS norm: (x̄, w̄).
pub(crate) fn rms_norm_backward(
    x: &Tensor,
    w: &Tensor,
    rstd: &[f32],
    dy: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let (r, c) = rows_cols(x);
    let (mut dx, mut dw) = (zeros(r * c), zeros(c));
    let (xd, wd) = (x.data(), w.data());
    for row in 0..r {
        let (xr, gr, rs) = (&xd[row * c..][..c], &dy[row * c..][..c], rstd[row]);
        // mean(g ⊙ x̂) with g = ȳ ⊙ γ, x̂ = x/r
        let m = xr
            .iter()
            .zip(gr.iter().zip(wd.iter()))
            .map(|(x, (g, w))| (g * w * x * rs) as f64)
            .sum::<f64>() as f32
            / c as f32;
        for i in 0..c {
            let xh = xr[i] * rs;
            dx[row * c + i] = rs * (gr[i] * wd[i] - xh * m);
            dw[i] += gr[i] * xh;
        }
    }
    (dx, dw)
}

/// Backward of a scatter-add: the rows of ȳ at `ids` (a gather).
pub(crate) fn index_add_backward(ids: &[usize], w: usize, dy: &[f32]) -> Vec<f32> {
    let mut dx = take(ids.len() * w);
    for &i in ids {
        dx.extend_from_slice(&dy[i * w..(i + 1) * w]);
    }
    dx
}

/// Backward of a row gather: scatter-add of ȳ's rows into a zero tensor of `x`'s shape.
pub(crate) fn index_select_backward(shape: &[usize], ids: &[usize], dy: &[f32]) -> Vec<f32> {
    let w: usize = shape[1..].iter().product();
    let mut dx = zeros(shape.iter().product());
    for (j, &i) in ids.iter().enumerate() {
        dx[i * w..(i + 1) * w]
            .iter_mut()
            .zip(&dy[j * w..(j + 1) * w])
            .for_each(|(d, &g)| *d += g);
    }
    dx
}
