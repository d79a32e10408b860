//! Matrix-product bodies on tfs-kernels' GEMM (the math is in `ops/matmul.rs`). Every transpose
//! is a GEMM flag, not a copy; a shared 2-D right operand makes a batched product one tall GEMM.

use crate::storage::cache::{for_overwrite, zeros};
use tfs_kernels::{pool, sgemm, Trans};

/// `C (m, n) = op(A)·op(B) + β·C` over contiguous row-major operands.
#[allow(clippy::too_many_arguments)]
fn gemm(
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

/// `A @ B`.
pub fn matmul(a: &[f32], b: &[f32], d: MatMulDims) -> Vec<f32> {
    let MatMulDims {
        batch,
        m,
        k,
        n,
        shared,
    } = d;
    let mut out = for_overwrite(batch * m * n); // every product below has β = 0
    if shared {
        gemm(false, false, batch * m, n, k, a, b, 0.0, &mut out);
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
    out
}

/// Gradients of `C = A B` with respect to `A` and `B` (each only if asked).
pub fn matmul_backward(
    a: &[f32],
    b: &[f32],
    dc: &[f32],
    d: MatMulDims,
    need: (bool, bool),
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let MatMulDims {
        batch,
        m,
        k,
        n,
        shared,
    } = d;
    let da = need.0.then(|| {
        let mut da = for_overwrite(batch * m * k); // β = 0
        if shared {
            gemm(false, true, batch * m, k, n, dc, b, 0.0, &mut da);
        } else {
            for i in 0..batch {
                let (g, bi) = (
                    &dc[i * m * n..(i + 1) * m * n],
                    &b[i * k * n..(i + 1) * k * n],
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
            gemm(true, false, k, n, batch * m, a, dc, 0.0, &mut db);
            db
        } else {
            let mut db = for_overwrite(batch * k * n); // β = 0
            for i in 0..batch {
                let (ai, g) = (
                    &a[i * m * k..(i + 1) * m * k],
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

/// `Y (rows, out) = X Wᵀ + b`.
pub fn linear(
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    rows: usize,
    n_in: usize,
    n_out: usize,
) -> Vec<f32> {
    // β = 0, then the bias added by one vectorised pass, instead of a memcpy call per row
    // before a β = 1 product: about the same memory traffic, far fewer calls (the rows are
    // 128-512 floats in the baby GPT); 3% faster on its step (300 steps, best of 3).
    let mut out = for_overwrite(rows * n_out);
    gemm(false, true, rows, n_out, n_in, x, w, 0.0, &mut out);
    if let Some(b) = b {
        // Split over the kernel threads by rows when large (it was 1.3% of the baby GPT's
        // samples on the calling thread alone, while the other thread waited).
        let w = n_out.max(1);
        let (tasks, run) = super::runs(rows, w, 1);
        pool::per_task(tasks, tasks, vec![&mut out], &[run * w], &|_, p| {
            for row in p[0].chunks_exact_mut(w) {
                row.iter_mut().zip(b).for_each(|(o, &v)| *o += v);
            }
        });
    }
    out
}

/// Gradients of `Y = X Wᵀ + b`: (X̄, W̄, b̄), each only if asked.
#[allow(clippy::type_complexity)]
pub fn linear_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    (rows, n_in, n_out): (usize, usize, usize),
    need: (bool, bool, bool),
) -> (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>) {
    let dx = need.0.then(|| {
        let mut dx = for_overwrite(rows * n_in); // β = 0
        gemm(false, false, rows, n_in, n_out, dy, w, 0.0, &mut dx);
        dx
    });
    let dw = need.1.then(|| {
        let mut dw = for_overwrite(n_out * n_in); // β = 0
        gemm(true, false, n_out, n_in, rows, dy, x, 0.0, &mut dw);
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
