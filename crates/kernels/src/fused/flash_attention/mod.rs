//! Flash-style attention (Dao et al. 2022, FlashAttention-2's loop order 2023), forward and
//! backward, tiled with the online softmax so that the (Tq, Tk) matrix of weights is never
//! stored: only the output O and one log-sum-exp per query row are kept for the backward pass.
//!
//! For each batch b and query head h (q: (Tq, hs); k, v: (Tk, hs) of kv head h / g), query i
//! sees the keys `lo_i..hi_i` (every mask of the project is one contiguous range; an empty range
//! gives O_i = 0), and s = 1/√hs:
//!
//! ```text
//!   forward, query tile Q_t against key tiles K_j, V_j in order, per row i:
//!     S     = s · Q_t K_jᵀ                       (only keys lo_i..hi_i count)
//!     m'    = max(m, max_j S_i·)                  running max, starts at −∞
//!     P̃     = e^(S_i· − m')                        0 outside the range
//!     l     = e^(m − m') · l + Σ P̃                running sum, starts at 0
//!     Õ_i   = e^(m − m') · Õ_i + P̃ V_j            unnormalised output
//!     m     = m'
//!   at the end:  O_i = Õ_i / l      L_i = m + ln l   (the log-sum-exp; −∞ for an empty range)
//!
//!   backward, with Ō the incoming gradient, D_i = Σ_c Ō_ic O_ic, for each key tile j and each
//!   query tile t that sees it:
//!     P   = e^(s · Q_t K_jᵀ − L)                  exactly the forward's weights, recomputed
//!     V̄_j += Pᵀ Ō_t          P̄ = Ō_t V_jᵀ          S̄ = P ⊙ (P̄ − D)
//!     Q̄_t += s · S̄ K_j       K̄_j += s · S̄ᵀ Q_t
//! ```
//!
//! The online softmax is exact, not an approximation: rescaling by e^(m − m') when the max
//! grows gives the same Σ e^(S − m_final) in the end. D_i = rowsum(Ō ⊙ O) equals
//! rowsum(P̄ ⊙ P) of the naive backward (O = P V, P̄ = Ō Vᵀ), which is why O is all we need.
//!
//! Grouped-query attention: H = g · Hkv, query head h reads kv head h / g; the heads of a group
//! are adjacent, so the work is spread over (batch, kv head) and each task owns its K̄, V̄ (summed
//! over the g query heads) and the g heads' Q̄ outright: no atomics, no reduction afterwards.
//! A (query tile, key tile) pair that no query of the tile sees is skipped: with a causal mask
//! that is half the pairs, with a sliding window of w all but about (w / tile + 1) per row of tiles.
//!
//! The readable reference beside it, [`attention_reference`] / [`attention_backward_reference`],
//! is the textbook: the whole P per head, softmax, and the naive backward.
//!
//! Performance notes (a scratch timing loop, one thread, B = 1, H = 4, hs = 64, causal, best of
//! 5, on the 2-core machine while other builds ran (load 4-5), 2026-11-27):
//! - Tiles: BQ = 64 query rows × BK = 128 keys. With hs = 64, Q_t and Õ are 16 KiB each, K_j
//!   and V_j 32 KiB each, the S tile 32 KiB: S and the per-row state fit L1 (48 KiB), the whole
//!   working set (≈ 130 KiB) L2 (1 MiB), and each product is a GEMM of at least 64 × 64 × 128
//!   through `sgemm_with` (packed: the GEMM's notes measure 32³ at ≈ 100 GFLOP/s packed against
//!   17 unpacked), on one thread because the heads are already spread over the threads.
//!   Forward / backward ms at T = 1024 and 2048: 64 × 64: 7.4 / 20.4 and 42 / 80; 64 × 128:
//!   6.5 / 16.2 and 32 / 61 (rerun: 4.2 / 12.0 and 29 / 63); 128 × 64: 5.4 / 16.4 and 32 / 65;
//!   32 × 64: 5.6 / 25 and 42 / 89. The noise is as large as most differences; 64 × 128 was
//!   never worse, so it stays. At T = 512 every choice gives ≈ 50-75 GFLOP/s, at 2048 ≈ 35-45
//!   (K and V of one head, 512 KiB each, no longer fit L2 beside the rest).
//! - Row work (max, e^x, sums) is compiled three times by `simd_fn!` with 16 running maxima and
//!   sums so that it vectorises, with `exp_approx` (libm's `exp` is a scalar call).
//! - Loop order: query tiles outside, key tiles inside, in the backward too (FlashAttention-2
//!   puts key tiles outside so that GPU blocks own dK, dV and add dQ atomically; here one task
//!   owns a whole (batch, kv head), dK and dV included, so the order is free and the query
//!   side's Q_t, Ō_t, Q̄_t stay hot). Key tiles start at the tile's first visible key, not at a
//!   multiple of BK, so a sliding window costs about w + BQ keys per row of tiles.
//! - Masking per element only where a row's range ends inside the tile (the diagonal tiles and a
//!   window's edges); elsewhere the fills are empty.
//! - What it gave against the naive fused attention of tfs-tensor (`p9-flash-attention`, 2
//!   threads, B = 1, H = 4, hs = 64, forward + backward): causal 1.1× faster at T = 128 to 2.0×
//!   at 2048-4096 (the skipped tiles); without a mask, where nothing is skipped, 0.88× at
//!   T = 256-512 (more, smaller GEMM calls, and P computed twice) to 1.6× at 4096 (the naive
//!   kernel's (T, T) buffers leave the caches).
//!
//! Left out: the backward's dQ written through atomics (FlashAttention-2 on GPUs parallelises
//! over key tiles; here a task owns a whole (batch, kv head)), so with one batch and one kv head
//! (MQA at batch 1) a single thread works; dropout inside the kernel; causal tiles split finer
//! than BQ × BK.

mod reference;

pub use reference::{attention_backward_reference, attention_reference};

use super::{exp_approx, exp_approx_with, max_lanes, simd_fn, use_reference, MulAdd};
use crate::pool;

/// Query rows per tile.
pub const BQ: usize = 64;
/// Keys per tile.
pub const BK: usize = 128;

/// The sizes of one attention call: q is (b, h, tq, hs), k and v (b, hkv, tk, hs), hkv divides h.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub b: usize,
    pub h: usize,
    pub hkv: usize,
    pub tq: usize,
    pub tk: usize,
    pub hs: usize,
}

impl Dims {
    /// Checks the buffers' lengths against the sizes: q (b,h,tq,hs), k and v (b,hkv,tk,hs),
    /// `ranges` one `(lo, hi)` per (b, query) with lo ≤ hi ≤ tk or lo ≥ hi (empty).
    pub(crate) fn check(&self, q: usize, k: usize, v: usize, ranges: &[(usize, usize)]) {
        let d = self;
        assert!(
            d.hkv >= 1 && d.h.is_multiple_of(d.hkv),
            "flash attention: hkv {} must divide h {}",
            d.hkv,
            d.h
        );
        let (nq, nk) = (d.b * d.h * d.tq * d.hs, d.b * d.hkv * d.tk * d.hs);
        assert!(
            q == nq && k == nk && v == nk,
            "flash attention: q {q}, k {k}, v {v} elements for {d:?}: expected {nq}, {nk}, {nk}"
        );
        assert_eq!(
            ranges.len(),
            d.b * d.tq,
            "flash attention: {} key ranges for b {} × tq {}",
            ranges.len(),
            d.b,
            d.tq
        );
        for &(lo, hi) in ranges {
            assert!(
                lo >= hi || hi <= d.tk,
                "flash attention: key range {lo}..{hi} beyond tk {}",
                d.tk
            );
        }
    }
}

/// The visible keys of a row, as a range (empty when lo ≥ hi).
pub(crate) fn seen((lo, hi): (usize, usize)) -> std::ops::Range<usize> {
    lo..hi.max(lo)
}

/// One-thread GEMM on row-major blocks: C (m, n) = α op(A) op(B) + β C.
fn gemm(
    layout: (bool, bool),
    dims: (usize, usize, usize),
    alpha: f32,
    a: (&[f32], usize),
    b: (&[f32], usize),
    beta: f32,
    c: (&mut [f32], usize),
) {
    use crate::gemm::{sgemm_here, Gemm, MatMut, MatRef};
    let g = Gemm::new(layout.0, layout.1, dims.0, dims.1, dims.2)
        .alpha(alpha)
        .beta(beta);
    sgemm_here(
        &g,
        MatRef::new(a.0, a.1),
        MatRef::new(b.0, b.1),
        MatMut::new(c.0, c.1),
    );
}

/// Per query tile of one batch: the union (lo, hi) of its rows' non-empty ranges ((0, 0) if none).
fn tile_spans(d: Dims, ranges: &[(usize, usize)], b: usize) -> Vec<(usize, usize)> {
    (0..d.tq)
        .step_by(BQ)
        .map(|i0| {
            let rows = &ranges[b * d.tq + i0..b * d.tq + (i0 + BQ).min(d.tq)];
            rows.iter()
                .map(|&r| seen(r))
                .filter(|r| !r.is_empty())
                .fold((0, 0), |(lo, hi), r| {
                    if hi == 0 {
                        (r.start, r.end)
                    } else {
                        (lo.min(r.start), hi.max(r.end))
                    }
                })
        })
        .collect()
}

simd_fn!(fn row_max(x: &[f32]) -> f32 = row_max_body);

#[inline(always)]
fn row_max_body(x: &[f32]) -> f32 {
    max_lanes(x)
}

simd_fn!(fma fn exp_sub_sum(x: &mut [f32], sub: f32) -> f32 = exp_sub_sum_body);

/// x ← e^(x − sub), returning Σ x.
#[inline(always)]
fn exp_sub_sum_body<M: MulAdd>(x: &mut [f32], sub: f32) -> f32 {
    let mut lanes = [0.0f32; 16];
    let mut chunks = x.chunks_exact_mut(16);
    for c in &mut chunks {
        for (s, v) in lanes.iter_mut().zip(c.iter_mut()) {
            *v = exp_approx_with::<M>(*v - sub);
            *s += *v;
        }
    }
    let mut sum: f32 = lanes.iter().sum();
    for v in chunks.into_remainder() {
        *v = exp_approx_with::<M>(*v - sub);
        sum += *v;
    }
    sum
}

/// The columns `k0..k0 + w` of a tile that row range `r` sees, relative to k0.
fn cols(r: (usize, usize), k0: usize, w: usize) -> (usize, usize) {
    let r = seen(r);
    let a = r.start.clamp(k0, k0 + w) - k0;
    let e = r.end.clamp(k0, k0 + w) - k0;
    (a, e.max(a))
}

/// Flash attention forward: `out` (b, h, tq, hs) ← softmax(q kᵀ/√hs over each query's key range)
/// v, and `lse` (b, h, tq) ← each row's log-sum-exp L (−∞ for a query that sees no key), the only
/// thing the backward pass needs besides `out`. `ranges[b·tq + i] = (lo, hi)`: the keys lo..hi
/// that query i of batch b sees. Runs on `threads` threads over (batch, kv head), or runs the
/// reference when `TFS_KERNELS=reference`.
#[allow(clippy::too_many_arguments)]
pub fn flash_attention_forward(
    d: Dims,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    ranges: &[(usize, usize)],
    threads: usize,
    out: &mut [f32],
    lse: &mut [f32],
) {
    d.check(q.len(), k.len(), v.len(), ranges);
    assert!(
        out.len() == q.len() && lse.len() == d.b * d.h * d.tq,
        "flash attention forward: out {} and lse {} elements for {d:?}",
        out.len(),
        lse.len()
    );
    if use_reference() {
        let (o, l) = attention_reference(d, q, k, v, ranges);
        out.copy_from_slice(&o);
        lse.copy_from_slice(&l);
        return;
    }
    let g = d.h / d.hkv;
    let (qs, ks) = (d.tq * d.hs, d.tk * d.hs);
    let spans: Vec<Vec<(usize, usize)>> = (0..d.b).map(|b| tile_spans(d, ranges, b)).collect();
    pool::per_task(
        threads,
        d.b * d.hkv,
        vec![out, lse],
        &[g * qs, g * d.tq],
        &|i, c| {
            let [o, l] = c else { unreachable!() };
            let b = i / d.hkv;
            let (kh, vh) = (&k[i * ks..][..ks], &v[i * ks..][..ks]);
            let rows = &ranges[b * d.tq..][..d.tq];
            let mut s = vec![0.0; BQ * BK];
            for j in 0..g {
                let hq = i * g + j;
                let (qh, oh) = (&q[hq * qs..][..qs], &mut o[j * qs..][..qs]);
                let lh = &mut l[j * d.tq..][..d.tq];
                for (t, &span) in spans[b].iter().enumerate() {
                    let i0 = t * BQ;
                    let n = BQ.min(d.tq - i0);
                    let (ot, lt) = (&mut oh[i0 * d.hs..][..n * d.hs], &mut lh[i0..][..n]);
                    let (qt, rt) = (&qh[i0 * d.hs..][..n * d.hs], &rows[i0..][..n]);
                    forward_tile(d.hs, qt, kh, vh, rt, span, &mut s, ot, lt);
                }
            }
        },
    );
}

/// One query tile (n ≤ BQ rows) against the key tiles of `span`: `ot` (n, hs) and `lt` (n).
#[allow(clippy::too_many_arguments)]
fn forward_tile(
    hs: usize,
    qt: &[f32],
    k: &[f32],
    v: &[f32],
    rows: &[(usize, usize)],
    (lo, hi): (usize, usize),
    s: &mut [f32],
    ot: &mut [f32],
    lt: &mut [f32],
) {
    let n = rows.len();
    let scale = 1.0 / (hs as f32).sqrt();
    // Running max m (in lt until the end) and running sum l, per row.
    let (m, mut l) = (lt, [0.0f32; BQ]);
    m.fill(f32::NEG_INFINITY);
    ot.fill(0.0);
    for k0 in (lo..hi).step_by(BK) {
        let w = BK.min(hi - k0);
        let s = &mut s[..n * w];
        let (kj, vj) = (&k[k0 * hs..][..w * hs], &v[k0 * hs..][..w * hs]);
        gemm(
            (false, true),
            (n, w, hs),
            scale,
            (qt, hs),
            (kj, hs),
            0.0,
            (s, w),
        );
        for (r, row) in s.chunks_exact_mut(w).enumerate() {
            let (a, e) = cols(rows[r], k0, w);
            if a == e {
                row.fill(0.0);
                continue;
            }
            let m_new = m[r].max(row_max(&row[a..e]));
            let corr = if m[r] == f32::NEG_INFINITY {
                0.0
            } else {
                exp_approx(m[r] - m_new)
            };
            let sum = exp_sub_sum(&mut row[a..e], m_new);
            row[..a].fill(0.0);
            row[e..].fill(0.0);
            l[r] = l[r] * corr + sum;
            if corr != 1.0 {
                ot[r * hs..][..hs].iter_mut().for_each(|x| *x *= corr);
            }
            m[r] = m_new;
        }
        gemm(
            (false, false),
            (n, hs, w),
            1.0,
            (s, w),
            (vj, hs),
            1.0,
            (ot, hs),
        );
    }
    for (r, o) in ot.chunks_exact_mut(hs).enumerate() {
        if l[r] > 0.0 {
            let inv = 1.0 / l[r];
            o.iter_mut().for_each(|x| *x *= inv);
            m[r] += l[r].ln();
        } else {
            o.fill(0.0);
            m[r] = f32::NEG_INFINITY;
        }
    }
}

/// Flash attention backward: (`dq`, `dk`, `dv`) ← the gradients of `out = attention(q, k, v)`
/// given `dout` = Ō, from q, k, v, the forward's `out` and `lse` alone (P is recomputed tile by
/// tile). Shapes as [`flash_attention_forward`]; the three outputs are overwritten.
#[allow(clippy::too_many_arguments)]
pub fn flash_attention_backward(
    d: Dims,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    ranges: &[(usize, usize)],
    threads: usize,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    d.check(q.len(), k.len(), v.len(), ranges);
    assert!(
        out.len() == q.len()
            && dout.len() == q.len()
            && lse.len() == d.b * d.h * d.tq
            && dq.len() == q.len()
            && dk.len() == k.len()
            && dv.len() == v.len(),
        "flash attention backward: buffer lengths do not match {d:?}"
    );
    if use_reference() {
        let (gq, gk, gv) = attention_backward_reference(d, q, k, v, lse, dout, ranges);
        dq.copy_from_slice(&gq);
        dk.copy_from_slice(&gk);
        dv.copy_from_slice(&gv);
        return;
    }
    let g = d.h / d.hkv;
    let (qs, ks) = (d.tq * d.hs, d.tk * d.hs);
    dk.fill(0.0);
    dv.fill(0.0);
    dq.fill(0.0);
    let spans: Vec<Vec<(usize, usize)>> = (0..d.b).map(|b| tile_spans(d, ranges, b)).collect();
    pool::per_task(
        threads,
        d.b * d.hkv,
        vec![dq, dk, dv],
        &[g * qs, ks, ks],
        &|i, c| {
            let [dqg, dki, dvi] = c else { unreachable!() };
            let b = i / d.hkv;
            let kv = (&k[i * ks..][..ks], &v[i * ks..][..ks]);
            let rows = &ranges[b * d.tq..][..d.tq];
            let mut scratch = (vec![0.0; BQ * BK], vec![0.0; BQ * BK]);
            for j in 0..g {
                let hq = i * g + j;
                let (qh, oh, doh) = (&q[hq * qs..][..qs], &out[hq * qs..], &dout[hq * qs..]);
                let (lh, dqh) = (&lse[hq * d.tq..][..d.tq], &mut dqg[j * qs..][..qs]);
                for (t, &span) in spans[b].iter().enumerate() {
                    let i0 = t * BQ;
                    let n = BQ.min(d.tq - i0);
                    let tile = |x| rows_of(x, i0, n, d.hs);
                    // D_i = Σ_c Ō_ic O_ic for the tile's rows.
                    let mut dd = [0.0f32; BQ];
                    for (r, x) in dd.iter_mut().take(n).enumerate() {
                        let (a, b) = (&oh[(i0 + r) * d.hs..][..d.hs], &doh[(i0 + r) * d.hs..]);
                        *x = a.iter().zip(b).map(|(a, b)| a * b).sum();
                    }
                    let qtile = (tile(qh), tile(doh), &lh[i0..][..n], &dd[..n]);
                    let dqt = &mut dqh[i0 * d.hs..][..n * d.hs];
                    backward_tile(
                        d.hs,
                        qtile,
                        kv,
                        &rows[i0..][..n],
                        span,
                        &mut scratch,
                        dqt,
                        (dki, dvi),
                    );
                }
            }
        },
    );
}

/// Rows i0..i0 + n of a (·, hs) matrix.
fn rows_of(x: &[f32], i0: usize, n: usize, hs: usize) -> &[f32] {
    &x[i0 * hs..][..n * hs]
}

/// One query tile (n ≤ BQ rows: q, ō, L, D) against the key tiles of `span`: adds to `dqt`
/// (n, hs) and to the rows of `dk`, `dv` (tk, hs) it touches.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn backward_tile(
    hs: usize,
    (qt, dot, lt, dd): (&[f32], &[f32], &[f32], &[f32]),
    (k, v): (&[f32], &[f32]),
    rows: &[(usize, usize)],
    (lo, hi): (usize, usize),
    (p, dp): &mut (Vec<f32>, Vec<f32>),
    dqt: &mut [f32],
    (dk, dv): (&mut [f32], &mut [f32]),
) {
    let n = rows.len();
    let scale = 1.0 / (hs as f32).sqrt();
    for k0 in (lo..hi).step_by(BK) {
        let w = BK.min(hi - k0);
        let (p, dp) = (&mut p[..n * w], &mut dp[..n * w]);
        let (kj, vj) = (&k[k0 * hs..][..w * hs], &v[k0 * hs..][..w * hs]);
        // P = e^(s·Q Kᵀ − L), exactly the forward's normalised weights; 0 outside the range.
        gemm(
            (false, true),
            (n, w, hs),
            scale,
            (qt, hs),
            (kj, hs),
            0.0,
            (p, w),
        );
        for (r, row) in p.chunks_exact_mut(w).enumerate() {
            let (a, e) = cols(rows[r], k0, w);
            exp_sub_sum(&mut row[a..e], lt[r]);
            row[..a].fill(0.0);
            row[e..].fill(0.0);
        }
        let dvj = &mut dv[k0 * hs..][..w * hs];
        gemm(
            (true, false),
            (w, hs, n),
            1.0,
            (p, w),
            (dot, hs),
            1.0,
            (dvj, hs),
        );
        gemm(
            (false, true),
            (n, w, hs),
            1.0,
            (dot, hs),
            (vj, hs),
            0.0,
            (dp, w),
        );
        // S̄ = P ⊙ (P̄ − D): 0 wherever P is.
        for ((dr, pr), &di) in dp.chunks_exact_mut(w).zip(p.chunks_exact(w)).zip(dd) {
            dr.iter_mut().zip(pr).for_each(|(x, &p)| *x = p * (*x - di));
        }
        gemm(
            (false, false),
            (n, hs, w),
            scale,
            (dp, w),
            (kj, hs),
            1.0,
            (dqt, hs),
        );
        let dkj = &mut dk[k0 * hs..][..w * hs];
        gemm(
            (true, false),
            (w, hs, n),
            scale,
            (dp, w),
            (qt, hs),
            1.0,
            (dkj, hs),
        );
    }
}
