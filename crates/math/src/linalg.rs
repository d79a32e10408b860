//! Vectors and matrices in pure Rust, on slices: the operations every network is made of.
//!
//! A matrix here is a row-major slice: element (i, j) of an `(m, n)` matrix `a` is `a[i * n + j]`.
//! This is how ndarray, NumPy and PyTorch lay out a contiguous 2-D array too.
//!
//! * dot product: `x · y = Σ_i x_i y_i`
//! * matrix–vector: `(A x)_i = Σ_j A_ij x_j`
//! * matrix–matrix: `C_ij = Σ_p A_ip B_pj`, `2·m·k·n` floating-point operations (one multiply and
//!   one add per term), the count every GFLOP/s figure in this project uses.
//! * transpose: `(Aᵀ)_ij = A_ji`
//! * norms: `‖x‖₁ = Σ|x_i|`, `‖x‖₂ = √(Σ x_i²)`, `‖x‖∞ = max |x_i|`
//!
//! Two matrix products are given on purpose. [`matmul_naive`] is the textbook i-j-k loop: its inner
//! loop walks down a column of `B`, striding `n` floats between reads, so for large `n` nearly every
//! read misses the cache. [`matmul_ikj`] swaps the two inner loops: the inner loop now walks along a
//! row of `B` and a row of `C`, contiguous memory the compiler can vectorise. Same arithmetic, same
//! result up to rounding, several times faster (experiment `p0-matmul-speed`). Real BLAS kernels go
//! further (blocking for L1/L2, packing, register tiles, SIMD): that is what ndarray's backend does.
//!
//! Broadcasting (ndarray and NumPy): when two arrays of different shapes meet in an elementwise op,
//! shapes are aligned from the right, and an axis of length 1 is stretched (without copying) to match
//! the other. `(3, 1) + (1, 4) → (3, 4)`; adding a bias `(n,)` to a batch `(b, n)` adds it to every
//! row. [`broadcast_add_bias`] shows it with ndarray next to the explicit loop it replaces.
//!
//! Left out: SIMD, blocking and threads (later phases lean on ndarray's backend and, in Phase 6, on
//! our own kernels), and f64 variants (the networks of this project train in f32).

use ndarray::{Array1, Array2};

/// `x · y`. Panics when the lengths differ.
pub fn dot(x: &[f32], y: &[f32]) -> f32 {
    assert_eq!(
        x.len(),
        y.len(),
        "dot: x has {} elements, y has {}; they must match",
        x.len(),
        y.len()
    );
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// `A x` for `a: (m, n)`, `x: (n,)` → `(m,)`.
pub fn matvec(a: &[f32], m: usize, n: usize, x: &[f32]) -> Vec<f32> {
    assert_eq!(
        a.len(),
        m * n,
        "matvec: a has {} elements, expected (m, n) = ({m}, {n})",
        a.len()
    );
    assert_eq!(
        x.len(),
        n,
        "matvec: x has {} elements, expected n = {n}",
        x.len()
    );
    if n == 0 {
        return vec![0.0; m];
    }
    a.chunks_exact(n).map(|row| dot(row, x)).collect()
}

fn check_matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, op: &str) {
    assert_eq!(
        a.len(),
        m * k,
        "{op}: a has {} elements, expected (m, k) = ({m}, {k})",
        a.len()
    );
    assert_eq!(
        b.len(),
        k * n,
        "{op}: b has {} elements, expected (k, n) = ({k}, {n})",
        b.len()
    );
}

/// `C = A B` with the textbook i-j-k loop order. `a: (m, k)`, `b: (k, n)` → `(m, n)`.
pub fn matmul_naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    check_matmul(a, b, m, k, n, "matmul_naive");
    let mut c = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..k {
                acc += a[i * k + p] * b[p * n + j];
            }
            c[i * n + j] = acc;
        }
    }
    c
}

/// `C = A B` with the cache-friendly i-k-j loop order: the inner loop is the contiguous axpy
/// `C[i, :] += A[i, p] · B[p, :]`. `a: (m, k)`, `b: (k, n)` → `(m, n)`.
pub fn matmul_ikj(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    check_matmul(a, b, m, k, n, "matmul_ikj");
    let mut c = vec![0.0f32; m * n];
    if n == 0 {
        return c;
    }
    for (i, c_row) in c.chunks_exact_mut(n).enumerate() {
        for p in 0..k {
            let a_ip = a[i * k + p];
            let b_row = &b[p * n..(p + 1) * n];
            for (c_ij, b_pj) in c_row.iter_mut().zip(b_row) {
                *c_ij += a_ip * b_pj;
            }
        }
    }
    c
}

/// `Aᵀ` for `a: (m, n)` → `(n, m)`.
pub fn transpose(a: &[f32], m: usize, n: usize) -> Vec<f32> {
    assert_eq!(
        a.len(),
        m * n,
        "transpose: a has {} elements, expected (m, n) = ({m}, {n})",
        a.len()
    );
    let mut t = vec![0.0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            t[j * m + i] = a[i * n + j];
        }
    }
    t
}

/// `‖x‖₁ = Σ |x_i|`.
pub fn norm_l1(x: &[f32]) -> f32 {
    x.iter().map(|v| v.abs()).sum()
}

/// `‖x‖₂ = √(Σ x_i²)`.
pub fn norm_l2(x: &[f32]) -> f32 {
    x.iter().map(|v| v * v).sum::<f32>().sqrt()
}

/// `‖x‖∞ = max |x_i|` (0 for the empty vector).
pub fn norm_inf(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

/// Broadcasting shown: adds a bias `(n,)` to every row of `x: (b, n)`.
///
/// With ndarray this is one expression, `x + bias`: the bias has shape `(n,)`, which aligns with
/// the last axis of `(b, n)` and is repeated along the first without being copied. The explicit
/// loop it replaces is in the tests, which check the two agree.
pub fn broadcast_add_bias(x: &Array2<f32>, bias: &Array1<f32>) -> Array2<f32> {
    assert_eq!(
        x.ncols(),
        bias.len(),
        "broadcast_add_bias: x is {:?}, bias is ({},); bias length must equal x's columns",
        x.dim(),
        bias.len()
    );
    x + bias
}
