//! The small-product path: no packing, loops ordered for unit stride. It also serves products
//! where C is one or two rows or columns in the layouts other than NT (a few rows against a
//! transposed matrix, a decoding step's linear layers, go to `gemv.rs`), which are memory-bound:
//! there, threads split C's rows (or, for a single row, its columns) so that both cores pull from
//! memory.
//!
//! * op(B) rows contiguous and C wide (tb = N, n ≥ 16): C[i] = β·C[i], then
//!   C[i] += (α·op(A)[i][p]) · B[p] for each p: an axpy over a contiguous row.
//! * Otherwise, A transposed (ta = T): the same axpy on the transposed problem,
//!   Cᵀ[j] += op(B)[p][j] · A_stored[p] over A's contiguous stored rows, into a buffer.
//! * Otherwise (ta = N) each C[i][j] is a dot product of the contiguous row op(A)[i] and the
//!   column op(B)[:, j] (contiguous when tb = T, gathered once otherwise), with 16 partial sums
//!   so that it vectorises.
//!
//! The bodies are compiled for AVX-512, AVX2+FMA and the baseline and picked at run time (the
//! `simd_fn!` of `fused`). Safe code: the bounds were checked by `check_args`.

use super::{Gemm, MatMut, MatRef, Trans};
use crate::pool;
use crate::simd::simd_fn;
use std::sync::Mutex;

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

/// `C = α·op(A)·op(B) + β·C` without packing on up to `threads` threads; same contract as
/// `sgemm`. The caller decides how many threads the work deserves.
pub(crate) fn sgemm_small(threads: usize, g: &Gemm, a: MatRef, b: MatRef, c: MatMut) {
    let Gemm { ta, tb, m, n, .. } = *g;
    let (lda, ldb, ldc) = (a.ld, b.ld, c.ld);
    let c = &mut c.data[..(m - 1) * ldc + n];
    let threads = threads.min(if m > 1 { m } else { n.div_ceil(64) }).max(1);
    if threads == 1 {
        return small(g, a, b, MatMut::new(c, ldc));
    }
    let (a, b) = (a.data, b.data);
    if m > 1 {
        // Rows r0..r1 of C are the disjoint slice c[r0·ldc..]; A's rows start at r0 (N) or its
        // columns do (T).
        let rows = m.div_ceil(threads);
        let parts: Vec<Mutex<&mut [f32]>> = c.chunks_mut(rows * ldc).map(Mutex::new).collect();
        pool::run(parts.len(), &|t| {
            let mut part = parts[t].lock().unwrap_or_else(|e| e.into_inner());
            let (r0, r1) = (t * rows, ((t + 1) * rows).min(m));
            let a = if ta == Trans::N {
                &a[r0 * lda..]
            } else {
                &a[r0..]
            };
            let gi = Gemm { m: r1 - r0, ..*g };
            small(
                &gi,
                MatRef::new(a, lda),
                MatRef::new(b, ldb),
                MatMut::new(&mut part, ldc),
            );
        });
    } else {
        // One row: columns j0..j1 of C are the disjoint slice c[j0..j1]; B's columns start at
        // j0 (N) or its rows do (T).
        let cols = n.div_ceil(threads).div_ceil(16) * 16;
        let parts: Vec<Mutex<&mut [f32]>> = c.chunks_mut(cols).map(Mutex::new).collect();
        pool::run(parts.len(), &|t| {
            let mut part = parts[t].lock().unwrap_or_else(|e| e.into_inner());
            let (j0, j1) = (t * cols, ((t + 1) * cols).min(n));
            let b = if tb == Trans::N {
                &b[j0..]
            } else {
                &b[j0 * ldb..]
            };
            let gi = Gemm {
                m: 1,
                n: j1 - j0,
                ..*g
            };
            small(
                &gi,
                MatRef::new(a, lda),
                MatRef::new(b, ldb),
                MatMut::new(&mut part, ldc),
            );
        });
    }
}

simd_fn!(fn small(g: &Gemm, a: MatRef, b: MatRef, c: MatMut) = small_body);

/// Σ_p x[p]·y[p] over the shorter length, with 16 partial sums (vectorises).
#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let (xs, ys) = (x.chunks_exact(16), y.chunks_exact(16));
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (xc, yc) in xs.zip(ys) {
        for i in 0..16 {
            acc[i] += xc[i] * yc[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn small_body(g: &Gemm, a: MatRef, b: MatRef, c: MatMut) {
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
    if tb == Trans::N && n >= 16 {
        scale_c(m, n, beta, c, ldc);
        for i in 0..m {
            let row = &mut c[i * ldc..i * ldc + n];
            for p in 0..k {
                let s = alpha
                    * if ta == Trans::N {
                        a[i * lda + p]
                    } else {
                        a[p * lda + i]
                    };
                let brow = &b[p * ldb..p * ldb + n];
                row.iter_mut().zip(brow).for_each(|(c, b)| *c += s * b);
            }
        }
        return;
    }
    if ta == Trans::T {
        // Cᵀ[j] = Σ_p op(B)[p][j] · A_stored[p]: an axpy over A's contiguous stored rows into
        // a buffer holding Cᵀ, then one pass into C.
        let mut ct = vec![0.0f32; n * m];
        for p in 0..k {
            let arow = &a[p * lda..p * lda + m];
            for (j, ctj) in ct.chunks_exact_mut(m).enumerate() {
                let s = if tb == Trans::N {
                    b[p * ldb + j]
                } else {
                    b[j * ldb + p]
                };
                ctj.iter_mut().zip(arow).for_each(|(c, a)| *c += s * a);
            }
        }
        for i in 0..m {
            for j in 0..n {
                let cij = &mut c[i * ldc + j];
                let sum = ct[j * m + i];
                *cij = if beta == 0.0 {
                    alpha * sum
                } else {
                    alpha * sum + beta * *cij
                };
            }
        }
        return;
    }
    // Dot-product form: op(A) rows are contiguous (ta = N); op(B) columns are when tb = T, and
    // are gathered once each otherwise.
    let mut gathered = vec![0.0f32; if tb == Trans::N { k } else { 0 }];
    for j in 0..n {
        let bcol: &[f32] = match tb {
            Trans::T => &b[j * ldb..j * ldb + k],
            Trans::N => {
                gathered
                    .iter_mut()
                    .enumerate()
                    .for_each(|(p, g)| *g = b[p * ldb + j]);
                &gathered
            }
        };
        for i in 0..m {
            let sum = dot(&a[i * lda..i * lda + k], bcol);
            let cij = &mut c[i * ldc + j];
            *cij = if beta == 0.0 {
                alpha * sum
            } else {
                alpha * sum + beta * *cij
            };
        }
    }
}
