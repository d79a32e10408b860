//! The readable reference GEMM: `C = α·op(A)·op(B) + β·C` as the textbook triple loop.
//!
//! Every element is one dot product, `C[i][j] = α · Σ_p op(A)[i][p] · op(B)[p][j] + β · C[i][j]`,
//! summed in f32 in the order p = 0, 1, …, k − 1. It is the oracle the fast path is tested
//! against, the path `TFS_KERNELS=reference` selects, and the code the blog shows. It is slow on
//! purpose (no blocking, no SIMD, no threads) and stays beside the fast one forever.
//!
//! As in BLAS, β = 0 means "C is output only": its old contents are never read, so NaN or
//! garbage there does not leak into the result.

use super::{check_args, Gemm, MatMut, MatRef, Trans};

/// `op(X)[r][c]` for a row-major `X` with leading dimension `ld`.
#[inline]
fn at(x: &[f32], ld: usize, trans: Trans, r: usize, c: usize) -> f32 {
    match trans {
        Trans::N => x[r * ld + c],
        Trans::T => x[c * ld + r],
    }
}

/// Reference `C = α·op(A)·op(B) + β·C`; same contract as [`super::sgemm`].
///
/// Shapes: `op(A)` is (m, k), `op(B)` is (k, n), `C` is (m, n), all row-major with their leading
/// dimensions; `A` is stored (m, k) for `Trans::N` and (k, m) for `Trans::T`.
pub fn sgemm_reference(g: &Gemm, a: MatRef, b: MatRef, c: MatMut) {
    check_args(g, &a, &b, &c);
    let Gemm {
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        beta,
    } = *g;
    let (a, lda, b, ldb, c, ldc) = (a.data, a.ld, b.data, b.ld, c.data, c.ld);
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0f32;
            for p in 0..k {
                sum += at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
            }
            let cij = &mut c[i * ldc + j];
            *cij = if beta == 0.0 {
                alpha * sum
            } else {
                alpha * sum + beta * *cij
            };
        }
    }
}
