//! Matrix-product bodies on tfs-kernels' GEMM (the math is in `ops/matmul.rs`). Every transpose
//! is a GEMM flag, not a copy; a shared 2-D right operand makes a batched product one tall GEMM.

use crate::backend::MatMulDims;
use crate::storage::cache::{for_overwrite, zeros};
use tfs_kernels::{pool, sgemm, sgemm_batched, Batch, Gemm, GemmConfig, MatMut, MatRef, Trans};

/// Leading dimensions of contiguous row-major operands of `g`: (lda, ldb, ldc).
fn lds(g: &Gemm) -> (usize, usize, usize) {
    (
        if g.ta == Trans::T { g.m } else { g.k },
        if g.tb == Trans::T { g.k } else { g.n },
        g.n,
    )
}

/// `C = op(A)·op(B)` (β = 0) over contiguous row-major operands, on every kernel thread.
fn gemm(g: Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (lda, ldb, ldc) = lds(&g);
    sgemm(
        &g,
        MatRef::new(a, lda),
        MatRef::new(b, ldb),
        MatMut::new(c, ldc),
    );
}

/// `batch` contiguous products of `g` (each operand's matrices stored one after the other), as
/// one strided batched call: each product on one thread, the products spread over the threads.
fn gemm_batched(g: Gemm, batch: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (lda, ldb, ldc) = lds(&g);
    let strides = Batch {
        count: batch,
        a: g.m * g.k,
        b: g.k * g.n,
        c: g.m * g.n,
    };
    let (a, b) = (MatRef::new(a, lda), MatRef::new(b, ldb));
    sgemm_batched(
        &GemmConfig::from_env(),
        &g,
        strides,
        a,
        b,
        MatMut::new(c, ldc),
    );
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
        gemm(Gemm::new(false, false, batch * m, n, k), a, b, &mut out);
    } else {
        gemm_batched(Gemm::new(false, false, m, n, k), batch, a, b, &mut out);
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
            gemm(Gemm::new(false, true, batch * m, k, n), dc, b, &mut da);
        } else {
            gemm_batched(Gemm::new(false, true, m, k, n), batch, dc, b, &mut da);
        }
        da
    });
    let db = need.1.then(|| {
        if shared {
            let mut db = for_overwrite(k * n); // β = 0
            gemm(Gemm::new(true, false, k, n, batch * m), a, dc, &mut db);
            db
        } else {
            let mut db = for_overwrite(batch * k * n); // β = 0
            gemm_batched(Gemm::new(true, false, k, n, m), batch, a, dc, &mut db);
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
    gemm(Gemm::new(false, true, rows, n_out, n_in), x, w, &mut out);
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
        gemm(Gemm::new(false, false, rows, n_in, n_out), dy, w, &mut dx);
        dx
    });
    let dw = need.1.then(|| {
        let mut dw = for_overwrite(n_out * n_in); // β = 0
        gemm(Gemm::new(true, false, n_out, n_in, rows), dy, x, &mut dw);
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
