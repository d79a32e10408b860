//! Few-row products against a transposed matrix, without packing: `C = α·A·Bᵀ + β·C` with A
//! (m, k) for m ≤ [`MAX_ROWS`] and B stored (n, k) row-major. This is a linear layer `y = x·Wᵀ`
//! (W (out, in), as `torch.nn.Linear` stores it) on the one new token of a decoding step with a
//! KV cache, or on a few tokens.
//!
//! ```text
//!   C[i][j] = α · Σ_p A[i][p] · B[j][p] + β · C[i][j]     a dot product of two contiguous rows
//! ```
//!
//! Such a product is memory-bound: each weight is used m times (2m flops per 4 bytes read), so
//! its floor is the time to stream B from memory once. The packed path would copy all of B into
//! panels first (B read, written and read again), and the dot-product loop of `small.rs` reads it
//! once but one row of B at a time, on one thread unless the product is large. Here R rows of B
//! are read side by side, each vector of them multiplied into the m rows of A (m·k floats, which
//! stay in L1), with m·R accumulators in registers; the rows of B are cut into chunks that the
//! pool's threads claim in turn, so that both cores pull from memory.
//!
//! Kernels: AVX-512 (16 lanes, R = 4, masked loads for the remainder of k), AVX2+FMA (8 lanes,
//! R = 4 for m ≤ 2 and 2 above, so that the accumulators fit in 16 registers; scalar remainder)
//! and a portable one that the compiler vectorises (NEON on Apple silicon). Which one runs is the
//! caller's [`Kernel`], so the tests drive each.
//!
//! With m ≥ 2 the AVX-512 kernel also asks for the same columns of the next R rows while it
//! reads these (a prefetch hint: it never faults, wherever the address falls).
//!
//! Left out: m > 4 (from there the packed path, which reuses each packed panel of B over m rows,
//! is the better trade), other layouts (one row times B not transposed is `small.rs`' axpy form,
//! which also reads B once), and prefetch in the AVX2 and portable kernels (not measured here).
//!
//! # Performance notes
//!
//! Measured with `tfs bench kernels` (GB/s of B streamed from memory beside the read bandwidth
//! of the same threads, quiet machine, 2026-11-27); the full table and the before/after are in
//! `mod.rs` ("Decoding products"). m = 1: 34-39 GB/s on one thread, 51-58 on two, which is the
//! machine's read rate (37.7 and 52.3); m = 4: 27-35 and 44-47 (the packed path it replaces:
//! 13-15 and 15-26). End to end, GPT-2 124M decodes 80.3 tokens/s with the KV cache (2 threads),
//! 2.16× transformers' `generate` in the same run (`docs/blog/src/bench/generate.md`).

use super::blocked::MatPtr;
use super::{Gemm, Kernel, MatMut, MatRef};
use crate::pool;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most rows of A (and C) this path takes.
pub const MAX_ROWS: usize = 4;

/// Rows of B a thread claims at a time are a multiple of this (the widest step of the kernels).
const STEP: usize = 4;

/// The dot products of the M rows `x` with the R rows `w`, all of one length k.
type Dots<const M: usize, const R: usize> =
    unsafe fn(&[&[f32]; M], &[&[f32]; R], isize) -> [[f32; R]; M];

/// `C = α·A·Bᵀ + β·C` over rows `0..m ≤ MAX_ROWS` of C on up to `threads` threads; A (m, k)
/// with leading dimension `lda`, B stored (n, k) with `ldb`, C (m, n) with `ldc`. The arguments
/// were checked by `check_args`; m, n, k ≥ 1; `kernel` is available and not the reference.
pub(crate) fn sgemm_nt_rows(
    kernel: Kernel,
    threads: usize,
    g: &Gemm,
    a: MatRef,
    b: MatRef,
    c: MatMut,
) {
    let Gemm {
        m,
        n,
        k,
        alpha,
        beta,
        ..
    } = *g;
    let (a, lda, b, ldb, c, ldc) = (a.data, a.ld, b.data, b.ld, c.data, c.ld);
    assert!(
        (1..=MAX_ROWS).contains(&m) && n > 0 && k > 0 && kernel != Kernel::Reference,
        "sgemm_nt_rows: m={m}, n={n}, k={k}, {kernel:?}"
    );
    let cp = MatPtr::new(c, ldc);
    // Up to 4 chunks per thread, claimed in turn, so that a thread woken late takes fewer.
    let threads = threads.clamp(1, n.div_ceil(STEP));
    let per = if threads == 1 {
        n
    } else {
        n.div_ceil(4 * threads).next_multiple_of(STEP)
    };
    let chunks = n.div_ceil(per);
    let next = AtomicUsize::new(0);
    let work = |_| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= chunks {
            return;
        }
        let (j0, j1) = (i * per, ((i + 1) * per).min(n));
        match m {
            1 => chunk::<1>(kernel, j0, j1, k, alpha, a, lda, b, ldb, beta, cp),
            2 => chunk::<2>(kernel, j0, j1, k, alpha, a, lda, b, ldb, beta, cp),
            3 => chunk::<3>(kernel, j0, j1, k, alpha, a, lda, b, ldb, beta, cp),
            _ => chunk::<4>(kernel, j0, j1, k, alpha, a, lda, b, ldb, beta, cp),
        }
    };
    if threads == 1 {
        work(0);
    } else {
        pool::run(threads, &work);
    }
}

/// Columns `j0..j1` of the M rows of C with the kernel's dot products.
#[allow(clippy::too_many_arguments)]
fn chunk<const M: usize>(
    kernel: Kernel,
    j0: usize,
    j1: usize,
    k: usize,
    alpha: f32,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    beta: f32,
    c: MatPtr,
) {
    let x: [&[f32]; M] = std::array::from_fn(|i| &a[i * lda..i * lda + k]);
    let put = |j: usize, sums: [f32; M]| {
        for (i, s) in sums.into_iter().enumerate() {
            // SAFETY: i < m and j < n, so (i, j) is inside the C that `check_args` validated;
            // threads hold disjoint column ranges j0..j1, and C stays mutably borrowed by
            // `sgemm_nt_rows` until they have all returned.
            unsafe {
                let cij = c.ptr.add(i * c.ld + j);
                *cij = if beta == 0.0 {
                    alpha * s
                } else {
                    alpha * s + beta * *cij
                };
            }
        }
    };
    let rows = |j: usize| &b[j * ldb..j * ldb + k];
    let run = |wide: Dots<M, 4>, narrow: Dots<M, 2>, one: Dots<M, 1>, r: usize| {
        let mut j = j0;
        while j + r <= j1 {
            // SAFETY (all three calls): the kernel was checked available by `sgemm_with` (the
            // function pointers below are picked by it), and every row has length k.
            // With m ≥ 2, ask for the same columns of the next r rows while these are read
            // (see the notes: +40-60% at m = 4, -5% at m = 1 on one thread, so not there).
            let ahead = if M >= 2 { (r * ldb) as isize } else { 0 };
            let s = if r == 4 {
                unsafe { wide(&x, &[rows(j), rows(j + 1), rows(j + 2), rows(j + 3)], ahead) }
            } else {
                let s = unsafe { narrow(&x, &[rows(j), rows(j + 1)], ahead) };
                std::array::from_fn(|i| [s[i][0], s[i][1], 0.0, 0.0])
            };
            (0..r).for_each(|q| put(j + q, std::array::from_fn(|i| s[i][q])));
            j += r;
        }
        for j in j..j1 {
            // SAFETY: as above.
            let s = unsafe { one(&x, &[rows(j)], 0) };
            put(j, std::array::from_fn(|i| s[i][0]));
        }
    };
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => run(
            dots_avx512::<M, 4>,
            dots_avx512::<M, 2>,
            dots_avx512::<M, 1>,
            4,
        ),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => run(
            dots_avx2::<M, 4>,
            dots_avx2::<M, 2>,
            dots_avx2::<M, 1>,
            if M <= 2 { 4 } else { 2 },
        ),
        _ => run(
            dots_portable::<M, 4>,
            dots_portable::<M, 2>,
            dots_portable::<M, 1>,
            4,
        ),
    }
}

/// Portable dot products: 8 partial sums per pair, which the compiler keeps in vector registers.
#[allow(clippy::needless_range_loop)]
fn dots_portable<const M: usize, const R: usize>(
    x: &[&[f32]; M],
    w: &[&[f32]; R],
    _ahead: isize,
) -> [[f32; R]; M] {
    const L: usize = 8;
    let k = x[0].len();
    let full = k - k % L;
    let mut acc = [[[0.0f32; L]; R]; M];
    for p in (0..full).step_by(L) {
        let wv: [&[f32; L]; R] = std::array::from_fn(|r| w[r][p..p + L].try_into().unwrap());
        for i in 0..M {
            let xv: &[f32; L] = x[i][p..p + L].try_into().unwrap();
            for r in 0..R {
                for l in 0..L {
                    acc[i][r][l] += xv[l] * wv[r][l];
                }
            }
        }
    }
    std::array::from_fn(|i| {
        std::array::from_fn(|r| {
            let tail: f32 = (full..k).map(|p| x[i][p] * w[r][p]).sum();
            acc[i][r].iter().sum::<f32>() + tail
        })
    })
}

/// AVX-512 dot products: one 16-wide accumulator per pair, fused multiply-adds, the remainder
/// of k through masked loads.
///
/// # Safety
/// The CPU must have AVX-512F; every slice has the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn dots_avx512<const M: usize, const R: usize>(
    x: &[&[f32]; M],
    w: &[&[f32]; R],
    ahead: isize,
) -> [[f32; R]; M] {
    use std::arch::x86_64::*;
    let k = x[0].len();
    let mut acc = [[_mm512_setzero_ps(); R]; M];
    let mut p = 0;
    while p + 16 <= k {
        let mut wv = [_mm512_setzero_ps(); R];
        for r in 0..R {
            if ahead != 0 {
                // A hint only: it never faults, wherever the address falls.
                let next = w[r].as_ptr().wrapping_offset(ahead + p as isize);
                _mm_prefetch::<_MM_HINT_T0>(next as *const i8);
            }
            // SAFETY: p + 16 ≤ k = the length of every row.
            wv[r] = unsafe { _mm512_loadu_ps(w[r].as_ptr().add(p)) };
        }
        for i in 0..M {
            // SAFETY: as above.
            let xv = unsafe { _mm512_loadu_ps(x[i].as_ptr().add(p)) };
            for r in 0..R {
                acc[i][r] = _mm512_fmadd_ps(xv, wv[r], acc[i][r]);
            }
        }
        p += 16;
    }
    if p < k {
        let mask: __mmask16 = (1u16 << (k - p)) - 1;
        let mut wv = [_mm512_setzero_ps(); R];
        for r in 0..R {
            // SAFETY: the k - p < 16 lanes enabled by the mask are inside the row; masked-off
            // lanes are not read (AVX-512 suppresses their faults).
            wv[r] = unsafe { _mm512_maskz_loadu_ps(mask, w[r].as_ptr().add(p)) };
        }
        for i in 0..M {
            // SAFETY: as above.
            let xv = unsafe { _mm512_maskz_loadu_ps(mask, x[i].as_ptr().add(p)) };
            for r in 0..R {
                acc[i][r] = _mm512_fmadd_ps(xv, wv[r], acc[i][r]);
            }
        }
    }
    let mut out = [[0.0f32; R]; M];
    for i in 0..M {
        for r in 0..R {
            out[i][r] = _mm512_reduce_add_ps(acc[i][r]);
        }
    }
    out
}

/// AVX2 dot products: one 8-wide accumulator per pair, fused multiply-adds, a scalar remainder.
///
/// # Safety
/// The CPU must have AVX2 and FMA; every slice has the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)]
unsafe fn dots_avx2<const M: usize, const R: usize>(
    x: &[&[f32]; M],
    w: &[&[f32]; R],
    _ahead: isize,
) -> [[f32; R]; M] {
    use std::arch::x86_64::*;
    let k = x[0].len();
    let full = k - k % 8;
    let mut acc = [[_mm256_setzero_ps(); R]; M];
    for p in (0..full).step_by(8) {
        let mut wv = [_mm256_setzero_ps(); R];
        for r in 0..R {
            // SAFETY: p + 8 ≤ full ≤ k = the length of every row.
            wv[r] = unsafe { _mm256_loadu_ps(w[r].as_ptr().add(p)) };
        }
        for i in 0..M {
            // SAFETY: as above.
            let xv = unsafe { _mm256_loadu_ps(x[i].as_ptr().add(p)) };
            for r in 0..R {
                acc[i][r] = _mm256_fmadd_ps(xv, wv[r], acc[i][r]);
            }
        }
    }
    let mut out = [[0.0f32; R]; M];
    for i in 0..M {
        for r in 0..R {
            let v = acc[i][r];
            let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
            let q = _mm_add_ss(q, _mm_shuffle_ps::<1>(q, q));
            let tail: f32 = (full..k).map(|p| x[i][p] * w[r][p]).sum();
            out[i][r] = _mm_cvtss_f32(q) + tail;
        }
    }
    out
}
