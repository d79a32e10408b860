//! Every matrix product of the transformer goes through this one module.
//!
//! ```text
//!   C ← α · op(A) · op(B) + β · C        op(X) = X or Xᵀ
//!   A: (m, k) after op,  B: (k, n) after op,  C: (m, n)
//! ```
//!
//! The layers call [`matmul_into`] on ndarray views (strided views are fine: a head's columns of
//! `Q`, one batch row's block of `K`), never `.dot` and never `general_mat_mul` directly, so the
//! whole model moves to another GEMM by changing the body of one function. The body is the
//! project's own (`tfs_kernels::nd::gemm`: the packed AVX-512 sgemm for f32, reading transposed
//! views without copies; ndarray's `general_mat_mul` for f64, as in the gradient checks).
//! Accumulating with β = 1 is how weight gradients are summed into `Grads` without a temporary.
//!
//! [`matmul_reference`] is the triple loop the fast path is tested against.
//!
//! Left out: batched (strided-batch) GEMM; the attention loops over (batch, head) itself.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, NdFloat};

/// `C ← α · op(A) · op(B) + β · C`, with `op` a transpose when `trans_a` / `trans_b`.
pub fn matmul_into<F: NdFloat>(
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    mut c: ArrayViewMut2<F>,
    trans_a: bool,
    trans_b: bool,
    alpha: F,
    beta: F,
) {
    let a = if trans_a { a.reversed_axes() } else { a };
    let b = if trans_b { b.reversed_axes() } else { b };
    assert!(
        a.ncols() == b.nrows() && c.nrows() == a.nrows() && c.ncols() == b.ncols(),
        "matmul_into: op(A) is {:?}, op(B) is {:?}, C is {:?}; expected (m, k)·(k, n) → (m, n)",
        a.dim(),
        b.dim(),
        c.dim()
    );
    tfs_kernels::nd::gemm(alpha, &a, &b, beta, &mut c);
}

/// `op(A) · op(B)` into a new `(m, n)` matrix.
pub fn matmul<F: NdFloat>(
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    trans_a: bool,
    trans_b: bool,
) -> Array2<F> {
    let m = if trans_a { a.ncols() } else { a.nrows() };
    let n = if trans_b { b.nrows() } else { b.ncols() };
    let mut c = Array2::zeros((m, n));
    matmul_into(a, b, c.view_mut(), trans_a, trans_b, F::one(), F::zero());
    c
}

/// The oracle: `op(A) · op(B)` by three loops.
pub fn matmul_reference<F: NdFloat>(
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    trans_a: bool,
    trans_b: bool,
) -> Array2<F> {
    let a = if trans_a { a.t() } else { a };
    let b = if trans_b { b.t() } else { b };
    assert_eq!(
        a.ncols(),
        b.nrows(),
        "matmul_reference: op(A) is {:?}, op(B) is {:?}",
        a.dim(),
        b.dim()
    );
    Array2::from_shape_fn((a.nrows(), b.ncols()), |(i, j)| {
        let mut acc = F::zero();
        for p in 0..a.ncols() {
            acc += a[[i, p]] * b[[p, j]];
        }
        acc
    })
}
