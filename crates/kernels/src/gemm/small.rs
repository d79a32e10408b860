//! The small-product path: no packing, no threads, loops ordered for unit stride.
//!
//! When m·n·k is small (or C is a single row or column) copying A and B into panels costs as
//! much as the arithmetic, so this path works on the operands in place:
//!
//! * `op(B)` rows contiguous (tb = N): C[i] = β·C[i], then C[i] += (α·op(A)[i][p]) · B[p] for
//!   each p: an axpy over a contiguous row that the compiler vectorises;
//! * `op(B)` columns contiguous (tb = T): each C[i][j] is a dot product of op(A)[i] with B's
//!   stored row j (contiguous in p; op(A)[i] is contiguous too when ta = N).
//!
//! It is safe code; the bounds were checked by `check_args`.

use super::Trans;

/// `C = β·C` over the (m, n) block (β = 0 writes zeros without reading C).
pub(crate) fn scale_c(m: usize, n: usize, beta: f32, c: &mut [f32], ldc: usize) {
    for i in 0..m {
        let row = &mut c[i * ldc..i * ldc + n];
        if beta == 0.0 {
            row.fill(0.0);
        } else if beta != 1.0 {
            row.iter_mut().for_each(|x| *x *= beta);
        }
    }
}

/// `C = α·op(A)·op(B) + β·C` without packing; same contract as `sgemm`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sgemm_small(
    ta: Trans,
    tb: Trans,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    let a_at = |i: usize, p: usize| match ta {
        Trans::N => a[i * lda + p],
        Trans::T => a[p * lda + i],
    };
    match tb {
        Trans::N => {
            scale_c(m, n, beta, c, ldc);
            for i in 0..m {
                let row = &mut c[i * ldc..i * ldc + n];
                for p in 0..k {
                    let s = alpha * a_at(i, p);
                    let brow = &b[p * ldb..p * ldb + n];
                    row.iter_mut().zip(brow).for_each(|(c, b)| *c += s * b);
                }
            }
        }
        Trans::T => {
            for i in 0..m {
                for j in 0..n {
                    let bcol = &b[j * ldb..j * ldb + k];
                    let sum: f32 = match ta {
                        Trans::N => a[i * lda..i * lda + k]
                            .iter()
                            .zip(bcol)
                            .map(|(x, y)| x * y)
                            .sum(),
                        Trans::T => bcol.iter().enumerate().map(|(p, y)| a_at(i, p) * y).sum(),
                    };
                    let cij = &mut c[i * ldc + j];
                    *cij = if beta == 0.0 {
                        alpha * sum
                    } else {
                        alpha * sum + beta * *cij
                    };
                }
            }
        }
    }
}
