//! Matrix products on tfs-kernels' GEMM: batched `matmul` and `linear` (`x Wᵀ + b`, the layout
//! of `torch.nn.Linear`, so that no weight is ever transposed in memory).
//!
//! ```text
//!   C = A B              Ā = C̄ Bᵀ            B̄ = Aᵀ C̄          (per batch; summed over the
//!                                                                   batch when B is shared)
//!   Y = X Wᵀ + b         X̄ = Ȳ W             W̄ = Ȳᵀ X           b̄ = Σ_rows Ȳ
//! ```
//!
//! A shared 2-D right operand turns a batched product into one tall GEMM over all rows, which
//! is both faster and the same arithmetic. Every transpose above is a GEMM flag, not a copy.

use crate::op::Op;
use crate::tensor::cache::{for_overwrite, zeros};
use crate::tensor::Tensor;
use tfs_kernels::{pool, sgemm, Trans};

/// `C (m, n) = α·op(A)·op(B) + β·C` over contiguous row-major operands.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm(
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
) {
    let t = |x: bool| if x { Trans::T } else { Trans::N };
    let lda = if ta { m } else { k };
    let ldb = if tb { k } else { n };
    sgemm(t(ta), t(tb), m, n, k, 1.0, a, lda, b, ldb, beta, c, n);
}

/// (batch, m, k, n, b shared) of a product, or a panic naming the shapes.
fn dims(a: &[usize], b: &[usize]) -> (usize, usize, usize, usize, bool) {
    assert!(
        a.len() >= 2 && b.len() >= 2,
        "matmul: operands need at least 2 axes, got {a:?} and {b:?}"
    );
    let (m, k) = (a[a.len() - 2], a[a.len() - 1]);
    let (k2, n) = (b[b.len() - 2], b[b.len() - 1]);
    assert_eq!(
        k, k2,
        "matmul: {a:?} @ {b:?}: inner sizes {k} and {k2} differ"
    );
    let batch: usize = a[..a.len() - 2].iter().product();
    let shared = b.len() == 2;
    assert!(
        shared || a[..a.len() - 2] == b[..b.len() - 2],
        "matmul: {a:?} @ {b:?}: batch axes differ (the right operand may be 2-D and shared)"
    );
    (batch, m, k, n, shared)
}

impl Tensor {
    /// `self @ o`: `(…, m, k) @ (…, k, n)` or `(…, m, k) @ (k, n)`.
    pub fn matmul(&self, o: &Tensor) -> Tensor {
        let (batch, m, k, n, shared) = dims(self.shape(), o.shape());
        let mut out = for_overwrite(batch * m * n); // every product below has β = 0
        {
            let (a, b) = (self.data(), o.data());
            if shared {
                gemm(false, false, batch * m, n, k, &a, &b, 0.0, &mut out);
            } else {
                for i in 0..batch {
                    let (ai, bi) = (
                        &a[i * m * k..(i + 1) * m * k],
                        &b[i * k * n..(i + 1) * k * n],
                    );
                    gemm(
                        false,
                        false,
                        m,
                        n,
                        k,
                        ai,
                        bi,
                        0.0,
                        &mut out[i * m * n..(i + 1) * m * n],
                    );
                }
            }
        }
        let mut shape = self.shape()[..self.dims() - 1].to_vec();
        shape.push(n);
        let rg = self.requires_grad() || o.requires_grad();
        Tensor::from_op_if(out, &shape, rg, || Op::MatMul(self.clone(), o.clone()))
    }

    /// `self Wᵀ + b`: `x: (…, in)`, `w: (out, in)`, `b: (out)`.
    pub fn linear(&self, w: &Tensor, b: Option<&Tensor>) -> Tensor {
        let (n_in, n_out) = (self.dim(-1), w.dim(0));
        assert!(
            w.dims() == 2 && w.dim(1) == n_in && b.is_none_or(|b| b.shape() == [n_out]),
            "linear: x {:?}, weight {:?} (out, in), bias {:?}: expected weight (_, {n_in}) and bias (out)",
            self.shape(),
            w.shape(),
            b.map(|b| b.shape().to_vec())
        );
        let rows = self.numel() / n_in.max(1);
        // β = 0, then the bias added by one vectorised pass, instead of a memcpy call per row
        // before a β = 1 product: about the same memory traffic, far fewer calls (the rows are
        // 128-512 floats in the baby GPT); 3% faster on its step (300 steps, best of 3).
        let mut out = for_overwrite(rows * n_out);
        gemm(
            false,
            true,
            rows,
            n_out,
            n_in,
            &self.data(),
            &w.data(),
            0.0,
            &mut out,
        );
        if let Some(b) = b {
            // Split over the kernel threads by rows when large (it was 1.3% of the baby GPT's
            // samples on the calling thread alone, while the other thread waited).
            let (b, w) = (&*b.data(), n_out.max(1));
            let (tasks, run) = super::runs(rows, w, 1);
            pool::per_task(tasks, tasks, vec![&mut out], &[run * w], &|_, p| {
                for row in p[0].chunks_exact_mut(w) {
                    row.iter_mut().zip(b).for_each(|(o, &v)| *o += v);
                }
            });
        }
        let mut shape = self.shape().to_vec();
        *shape.last_mut().expect("x has axes") = n_out;
        let rg = self.requires_grad() || w.requires_grad() || b.is_some_and(|b| b.requires_grad());
        Tensor::from_op_if(out, &shape, rg, || Op::Linear {
            x: self.clone(),
            w: w.clone(),
            b: b.cloned(),
        })
    }
}

/// Gradients of `C = A B` with respect to `A` and `B` (each only if asked).
pub(crate) fn matmul_backward(
    a: &Tensor,
    b: &Tensor,
    dc: &[f32],
    need: (bool, bool),
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let (batch, m, k, n, shared) = dims(a.shape(), b.shape());
    let (ad, bd) = (a.data(), b.data());
    let da = need.0.then(|| {
        let mut da = for_overwrite(batch * m * k); // β = 0
        if shared {
            gemm(false, true, batch * m, k, n, dc, &bd, 0.0, &mut da);
        } else {
            for i in 0..batch {
                let (g, bi) = (
                    &dc[i * m * n..(i + 1) * m * n],
                    &bd[i * k * n..(i + 1) * k * n],
                );
                gemm(
                    false,
                    true,
                    m,
                    k,
                    n,
                    g,
                    bi,
                    0.0,
                    &mut da[i * m * k..(i + 1) * m * k],
                );
            }
        }
        da
    });
    let db = need.1.then(|| {
        if shared {
            let mut db = for_overwrite(k * n); // β = 0
            gemm(true, false, k, n, batch * m, &ad, dc, 0.0, &mut db);
            db
        } else {
            let mut db = for_overwrite(batch * k * n); // β = 0
            for i in 0..batch {
                let (ai, g) = (
                    &ad[i * m * k..(i + 1) * m * k],
                    &dc[i * m * n..(i + 1) * m * n],
                );
                gemm(
                    true,
                    false,
                    k,
                    n,
                    m,
                    ai,
                    g,
                    0.0,
                    &mut db[i * k * n..(i + 1) * k * n],
                );
            }
            db
        }
    });
    (da, db)
}

/// Gradients of `Y = X Wᵀ + b`: (X̄, W̄, b̄), each only if asked.
#[allow(clippy::type_complexity)]
pub(crate) fn linear_backward(
    x: &Tensor,
    w: &Tensor,
    dy: &[f32],
    need: (bool, bool, bool),
) -> (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>) {
    let (n_out, n_in) = (w.dim(0), w.dim(1));
    let rows = x.numel() / n_in.max(1);
    let dx = need.0.then(|| {
        let mut dx = for_overwrite(rows * n_in); // β = 0
        gemm(false, false, rows, n_in, n_out, dy, &w.data(), 0.0, &mut dx);
        dx
    });
    let dw = need.1.then(|| {
        let mut dw = for_overwrite(n_out * n_in); // β = 0
        gemm(true, false, n_out, n_in, rows, dy, &x.data(), 0.0, &mut dw);
        dw
    });
    let db = need.2.then(|| {
        // Row ranges summed on the kernel threads when large (each into its own partial sum),
        // then the partial sums added.
        let w = n_out.max(1);
        let (tasks, run) = super::runs(rows, w, 1);
        let mut partial = zeros(tasks * n_out);
        pool::per_task(tasks, tasks, vec![&mut partial], &[n_out], &|i, p| {
            let d = &mut *p[0];
            for row in dy[i * run * w..].chunks_exact(w).take(run) {
                d.iter_mut().zip(row).for_each(|(d, &g)| *d += g);
            }
        });
        let mut db = zeros(n_out);
        for part in partial.chunks_exact(w) {
            db.iter_mut().zip(part).for_each(|(d, &p)| *d += p);
        }
        db
    });
    (dx, dw, db)
}
