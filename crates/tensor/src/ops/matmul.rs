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

use crate::backend::{self, MatMulDims};
use crate::op::Op;
use crate::tensor::{same_device, Tensor};

/// The sizes of `a @ b`, or a panic naming the shapes.
pub(crate) fn dims(a: &[usize], b: &[usize]) -> MatMulDims {
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
    MatMulDims {
        batch,
        m,
        k,
        n,
        shared,
    }
}

impl Tensor {
    /// `self @ o`: `(…, m, k) @ (…, k, n)` or `(…, m, k) @ (k, n)`.
    pub fn matmul(&self, o: &Tensor) -> Tensor {
        same_device("matmul", &[self, o]);
        let d = dims(self.shape(), o.shape());
        let out = backend::matmul(self.view().src(), o.view().src(), d);
        let mut shape = self.shape()[..self.dims() - 1].to_vec();
        shape.push(d.n);
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
        let mut on: Vec<&Tensor> = vec![self, w];
        on.extend(b);
        same_device("linear", &on);
        let rows = self.numel() / n_in.max(1);
        let out = backend::linear(
            self.view().src(),
            w.view().src(),
            b.map(|b| b.view()).as_ref().map(|v| v.src()),
            (rows, n_in, n_out),
        );
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
