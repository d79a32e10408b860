//! Attention bodies (the math is in `ops/attention.rs`): the naive kernel that keeps the weights
//! P, over split heads `(B, H, T, hs)` or read straight from the packed q|k|v projection, and
//! the tiled (flash) kernel of tfs-kernels that keeps one log-sum-exp per query row.
//!
//! The heads are spread over the kernel threads (one GEMM thread each): a head's products
//! (64×64×32 in the baby GPT) are far below the size at which `sgemm` wakes a second thread.

use crate::backend::AttnDims;
use crate::backend::AttnMask;
use crate::storage::cache::{for_overwrite, give, zeros};
use tfs_kernels::fused::flash_attention::{
    flash_attention_backward, flash_attention_forward, Dims,
};
use tfs_kernels::fused::softmax;
use tfs_kernels::gemm::{sgemm_batched, sgemm_here, Batch, Gemm, GemmConfig, MatMut, MatRef};
use tfs_kernels::pool;

/// One strided batched product over the (batch, kv head) groups: product i reads A at `i·sa`
/// with leading dimension `lda`, B at `i·sb` with `ldb`, and writes C at `i·sc` with `ldc`.
#[allow(clippy::too_many_arguments)]
fn batched(
    g: Gemm,
    count: usize,
    (a, lda, sa): (&[f32], usize, usize),
    (b, ldb, sb): (&[f32], usize, usize),
    (c, ldc, sc): (&mut [f32], usize, usize),
) {
    let strides = Batch {
        count,
        a: sa,
        b: sb,
        c: sc,
    };
    let cfg = GemmConfig::from_env();
    sgemm_batched(
        &cfg,
        &g,
        strides,
        MatRef::new(a, lda),
        MatRef::new(b, ldb),
        MatMut::new(c, ldc),
    );
}

/// Naive attention over split heads: (O, P).
///
/// The products are strided batched calls over the B·Hkv (batch, kv head) groups, each product
/// on one thread (a head's products, 64×64×32 in the baby GPT, are far below the size at which
/// a second thread pays). The g = H/Hkv query heads of a group are adjacent in memory, so they
/// are one (g·Tq, hs) matrix against their shared keys: S = Q Kᵀ is (g·Tq, Tk), O = P V is
/// (g·Tq, hs), and in the backward v̄ = Pᵀ Ō and k̄ = S̄ᵀ Q sum over the group's heads inside
/// the product (its inner dimension is g·Tq).
pub fn naive(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d: AttnDims,
    mask: &AttnMask,
) -> (Vec<f32>, Vec<f32>) {
    let AttnDims {
        b,
        h,
        hkv,
        tq,
        tk,
        hs,
    } = d;
    let scale = 1.0 / (hs as f32).sqrt();
    let (g, groups) = (h / hkv, b * hkv);
    // Both written in full: the products have β = 0, and each row of probs is its softmax
    // between zeros outside the mask's range. Without keys (Tk = 0) nothing is computed, and
    // every query's output is 0.
    let out = if tk == 0 { zeros } else { for_overwrite };
    let (mut out, mut probs) = (out(b * h * tq * hs), for_overwrite(b * h * tq * tk));
    if tk == 0 || tq == 0 || groups == 0 {
        return (out, probs);
    }
    let (qs, ks, ps) = (g * tq * hs, tk * hs, g * tq * tk);
    // S = Q Kᵀ per group: (g·Tq, hs)·(Tk, hs)ᵀ.
    let s = Gemm::new(false, true, g * tq, tk, hs);
    batched(s, groups, (q, hs, qs), (k, hs, ks), (&mut probs, tk, ps));
    // Each row: 1/√hs on the visible keys, their softmax, zeros elsewhere.
    pool::per_task(
        pool::default_threads(),
        groups,
        vec![&mut probs],
        &[ps],
        &|i, c| {
            for (r, row) in c[0].chunks_exact_mut(tk).enumerate() {
                let seen = mask.range(i / hkv, r % tq, tq, tk);
                let (lo, hi) = (seen.start, seen.end.max(seen.start));
                row[..lo].fill(0.0);
                row[hi..].fill(0.0);
                let vis = &mut row[lo..hi];
                vis.iter_mut().for_each(|x| *x *= scale);
                if !vis.is_empty() {
                    let n = vis.len();
                    softmax::softmax_rows(vis, 1, n, softmax::Mask::None);
                }
            }
        },
    );
    // O = P V per group: (g·Tq, Tk)·(Tk, hs).
    let o = Gemm::new(false, false, g * tq, hs, tk);
    batched(o, groups, (&probs, tk, ps), (v, hs, ks), (&mut out, hs, qs));
    (out, probs)
}

/// Backward of [`naive`]: (q̄, k̄, v̄), five strided batched products over the groups.
pub fn naive_backward(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    probs: &[f32],
    dout: &[f32],
    d: AttnDims,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let AttnDims {
        b,
        h,
        hkv,
        tq,
        tk,
        hs,
    } = d;
    let scale = 1.0 / (hs as f32).sqrt();
    let (g, groups) = (h / hkv, b * hkv);
    let (mut dq, mut dk, mut dv) = (
        zeros(b * h * tq * hs),
        zeros(b * hkv * tk * hs),
        zeros(b * hkv * tk * hs),
    );
    if tk == 0 || tq == 0 || groups == 0 {
        return (dq, dk, dv);
    }
    let (qs, ks, ps, gq) = (g * tq * hs, tk * hs, g * tq * tk, g * tq);
    // v̄ = Pᵀ Ō: (Tk, g·Tq)·(g·Tq, hs).
    batched(
        Gemm::new(true, false, tk, hs, gq),
        groups,
        (probs, tk, ps),
        (dout, hs, qs),
        (&mut dv, hs, ks),
    );
    // P̄ = Ō Vᵀ: (g·Tq, hs)·(Tk, hs)ᵀ, then S̄ = P ⊙ (P̄ − rowsum(P̄ ⊙ P)) / √hs row by row.
    let mut ds = for_overwrite(groups * ps);
    batched(
        Gemm::new(false, true, gq, tk, hs),
        groups,
        (dout, hs, qs),
        (v, hs, ks),
        (&mut ds, tk, ps),
    );
    pool::per_task(
        pool::default_threads(),
        groups,
        vec![&mut ds],
        &[ps],
        &|i, c| {
            let p = &probs[i * ps..][..ps];
            for (dr, pr) in c[0].chunks_exact_mut(tk).zip(p.chunks_exact(tk)) {
                let dot: f32 = dr.iter().zip(pr).map(|(a, b)| a * b).sum();
                dr.iter_mut()
                    .zip(pr)
                    .for_each(|(d, &p)| *d = p * (*d - dot) * scale);
            }
        },
    );
    // q̄ = S̄ K: (g·Tq, Tk)·(Tk, hs); k̄ = S̄ᵀ Q: (Tk, g·Tq)·(g·Tq, hs).
    batched(
        Gemm::new(false, false, gq, hs, tk),
        groups,
        (&ds, tk, ps),
        (k, hs, ks),
        (&mut dq, hs, qs),
    );
    batched(
        Gemm::new(true, false, tk, hs, gq),
        groups,
        (&ds, tk, ps),
        (q, hs, qs),
        (&mut dk, hs, ks),
    );
    give(ds);
    (dq, dk, dv)
}

/// Query rows per block of [`packed`]: each block multiplies only the keys some row of it
/// sees, so a causal mask costs about (1 + 1/n_blocks)/2 of the full products. Measured (2
/// cores): `baby` (T = 64) 300 steps, best of 3, unblocked 4.51 s, blocks of 16 rows 4.79 s
/// (four times the calls, each packing its operands), of 32 rows 4.49 s; `shakespeare-char`
/// (T = 256) 12 steps, unblocked 98.4-100.3 s, blocks of 32 rows 96.0-97.0 s.
const ROW_BLOCK: usize = 32;

/// Row blocks `r0..r1` of T queries, each with the keys `lo..hi` that any row of it sees.
fn row_blocks(mask: &AttnMask, bi: usize, t: usize) -> Vec<(usize, usize, usize, usize)> {
    (0..t)
        .step_by(ROW_BLOCK)
        .map(|r0| {
            let r1 = (r0 + ROW_BLOCK).min(t);
            let (lo, hi) = (r0..r1)
                .map(|r| mask.range(bi, r, t, t))
                .filter(|k| !k.is_empty())
                .fold((t, 0), |(lo, hi), k| (lo.min(k.start), hi.max(k.end)));
            (r0, r1, lo.min(hi), hi)
        })
        .collect()
}

/// Naive self-attention read from the packed projection `x: (B, T, W)`, W = (H + 2·Hkv)·hs:
/// (O `(B, T, H·hs)`, P `(B, H, T, T)`). One task per batch row; the queries in blocks of 32
/// rows whose products take only the keys some row of the block sees.
pub fn packed(x: &[f32], d: AttnDims, mask: &AttnMask) -> (Vec<f32>, Vec<f32>) {
    let AttnDims {
        b,
        h,
        hkv,
        tq: t,
        hs,
        ..
    } = d;
    let w = (h + 2 * hkv) * hs;
    let (g, c, scale) = (h / hkv, h * hs, 1.0 / (hs as f32).sqrt());
    let (tt, bw) = (t * t, t * w);
    let (mut out, mut probs) = (for_overwrite(b * t * c), for_overwrite(b * h * tt));
    pool::per_task(
        pool::default_threads(),
        b,
        vec![&mut out, &mut probs],
        &[t * c, h * tt],
        &|bi, parts| {
            let [o, p] = parts else { unreachable!() };
            let xb = &x[bi * bw..][..bw];
            let blocks = row_blocks(mask, bi, t);
            for hq in 0..h {
                let kv = hq / g;
                let (qo, ko, vo) = (hq * hs, (h + kv) * hs, (h + hkv + kv) * hs);
                let ph = &mut p[hq * tt..][..tt];
                for &(r0, r1, lo, hi) in &blocks {
                    let rows = &mut ph[r0 * t..r1 * t];
                    if lo < hi {
                        // S = q kᵀ/√hs on the block's key range (α = 1/√hs).
                        sgemm_here(
                            &Gemm::new(false, true, r1 - r0, hi - lo, hs).alpha(scale),
                            MatRef::new(&xb[r0 * w + qo..], w),
                            MatRef::new(&xb[lo * w + ko..], w),
                            MatMut::new(&mut rows[lo..], t),
                        );
                    }
                    for (r, row) in (r0..r1).zip(rows.chunks_exact_mut(t)) {
                        let seen = mask.range(bi, r, t, t);
                        let (a, e) = (seen.start, seen.end.max(seen.start));
                        row[..a].fill(0.0);
                        row[e..].fill(0.0);
                        if a < e {
                            softmax::softmax_rows(&mut row[a..e], 1, e - a, softmax::Mask::None);
                        }
                    }
                    // O = P v over the same keys (the rest of P is 0).
                    sgemm_here(
                        &Gemm::new(false, false, r1 - r0, hs, hi - lo),
                        MatRef::new(&rows[lo..], t),
                        MatRef::new(&xb[lo * w + vo..], w),
                        MatMut::new(&mut o[r0 * c + qo..], c),
                    );
                }
            }
        },
    );
    (out, probs)
}

/// Backward of [`packed`]: q̄|k̄|v̄ as one `(B, T, W)` gradient.
pub fn packed_backward(
    x: &[f32],
    probs: &[f32],
    dout: &[f32],
    d: AttnDims,
    mask: &AttnMask,
) -> Vec<f32> {
    let AttnDims {
        b,
        h,
        hkv,
        tq: t,
        hs,
        ..
    } = d;
    let w = (h + 2 * hkv) * hs;
    let (g, c, scale) = (h / hkv, h * hs, 1.0 / (hs as f32).sqrt());
    let (tt, bw) = (t * t, t * w);
    let mut dx = zeros(b * bw); // k̄ and v̄ accumulate; q̄ is written block by block
    pool::per_task(
        pool::default_threads(),
        b,
        vec![&mut dx],
        &[bw],
        &|bi, parts| {
            let [d] = parts else { unreachable!() };
            let xb = &x[bi * bw..][..bw];
            let gb = &dout[bi * t * c..][..t * c];
            let blocks = row_blocks(mask, bi, t);
            let mut ds = for_overwrite(ROW_BLOCK * t);
            for hq in 0..h {
                let kv = hq / g;
                let (qo, ko, vo) = (hq * hs, (h + kv) * hs, (h + hkv + kv) * hs);
                let ph = &probs[(bi * h + hq) * tt..][..tt];
                for &(r0, r1, lo, hi) in &blocks {
                    let (m, n) = (r1 - r0, hi - lo);
                    if n == 0 {
                        continue; // no key seen: the output rows were 0, q̄ stays 0
                    }
                    let p = &ph[r0 * t + lo..];
                    let go = &gb[r0 * c + qo..];
                    // v̄ += Pᵀ Ō
                    sgemm_here(
                        &Gemm::new(true, false, n, hs, m).beta(1.0),
                        MatRef::new(p, t),
                        MatRef::new(go, c),
                        MatMut::new(&mut d[lo * w + vo..], w),
                    );
                    // P̄ = Ō vᵀ, then S̄ = P ⊙ (P̄ − rowsum(P̄ ⊙ P)) / √hs
                    let dsb = &mut ds[..m * n];
                    sgemm_here(
                        &Gemm::new(false, true, m, n, hs),
                        MatRef::new(go, c),
                        MatRef::new(&xb[lo * w + vo..], w),
                        MatMut::new(dsb, n),
                    );
                    for (i, dr) in dsb.chunks_exact_mut(n).enumerate() {
                        softmax::softmax_backward_row(&p[i * t..][..n], dr, scale);
                    }
                    // q̄ = S̄ k
                    sgemm_here(
                        &Gemm::new(false, false, m, hs, n),
                        MatRef::new(dsb, n),
                        MatRef::new(&xb[lo * w + ko..], w),
                        MatMut::new(&mut d[r0 * w + qo..], w),
                    );
                    // k̄ += S̄ᵀ q
                    sgemm_here(
                        &Gemm::new(true, false, n, hs, m).beta(1.0),
                        MatRef::new(dsb, n),
                        MatRef::new(&xb[r0 * w + qo..], w),
                        MatMut::new(&mut d[lo * w + ko..], w),
                    );
                }
            }
            give(ds);
        },
    );
    dx
}

/// The mask as one key range `(lo, hi)` per (batch, query), the tiled kernel's form.
fn key_ranges(mask: &AttnMask, d: AttnDims) -> Vec<(usize, usize)> {
    (0..d.b * d.tq)
        .map(|i| {
            let r = mask.range(i / d.tq.max(1), i % d.tq.max(1), d.tq, d.tk);
            (r.start, r.end)
        })
        .collect()
}

fn kernel_dims(d: AttnDims) -> Dims {
    let AttnDims {
        b,
        h,
        hkv,
        tq,
        tk,
        hs,
    } = d;
    Dims {
        b,
        h,
        hkv,
        tq,
        tk,
        hs,
    }
}

/// Tiled (flash) attention over split heads: (O, log-sum-exp per query row).
pub fn flash(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d: AttnDims,
    mask: &AttnMask,
) -> (Vec<f32>, Vec<f32>) {
    let (mut out, mut lse) = (zeros(q.len()), zeros(d.b * d.h * d.tq));
    if d.hs > 0 {
        let ranges = key_ranges(mask, d);
        let threads = pool::default_threads();
        flash_attention_forward(
            kernel_dims(d),
            q,
            k,
            v,
            &ranges,
            threads,
            &mut out,
            &mut lse,
        );
    }
    (out, lse)
}

/// Backward of [`flash`] from its output `o` and saved `lse`: (q̄, k̄, v̄).
#[allow(clippy::too_many_arguments)]
pub fn flash_backward(
    (q, k, v): (&[f32], &[f32], &[f32]),
    o: &[f32],
    lse: &[f32],
    dout: &[f32],
    d: AttnDims,
    mask: &AttnMask,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mut dq, mut dk, mut dv) = (zeros(q.len()), zeros(k.len()), zeros(v.len()));
    if d.hs > 0 {
        let ranges = key_ranges(mask, d);
        let threads = pool::default_threads();
        flash_attention_backward(
            kernel_dims(d),
            q,
            k,
            v,
            o,
            lse,
            dout,
            &ranges,
            threads,
            &mut dq,
            &mut dk,
            &mut dv,
        );
    }
    (dq, dk, dv)
}
