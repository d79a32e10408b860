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
use tfs_kernels::gemm::{sgemm_here, Gemm, MatMut, MatRef};
use tfs_kernels::pool;

/// One-thread GEMM (the heads are already spread over the threads) on contiguous operands.
#[allow(clippy::too_many_arguments)]
fn gemm1(ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (lda, ldb) = (if ta { m } else { k }, if tb { k } else { n });
    let g = Gemm::new(ta, tb, m, n, k);
    sgemm_here(
        &g,
        MatRef::new(a, lda),
        MatRef::new(b, ldb),
        MatMut::new(c, n),
    );
}

/// Naive attention over split heads: (O, P). One task per (batch, kv head) group computes S,
/// the softmax and O for each of its query heads while they are in cache (one fork-join per
/// call); a strided batched form (S for every group, then the softmax, then O, each its own
/// pass) was measured slower on this CPU: see the performance notes of `gpt/src/train/mod.rs`.
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
    let g = h / hkv;
    // Both written in full: the products have β = 0, and each row of probs is its softmax
    // between zeros outside the mask's range. Without keys (Tk = 0) no task runs, and every
    // query's output is 0.
    let out = if tk == 0 { zeros } else { for_overwrite };
    let (mut out, mut probs) = (out(b * h * tq * hs), for_overwrite(b * h * tq * tk));
    let (qs, ks, ps) = (tq * hs, tk * hs, tq * tk);
    // One task per (batch, kv head): its g query heads are adjacent.
    pool::per_task(
        pool::default_threads(),
        b * hkv,
        vec![&mut out, &mut probs],
        &[g * qs, g * ps],
        &|i, c| {
            let [o, p] = c else { unreachable!() };
            let (ki, vi) = (&k[i * ks..][..ks], &v[i * ks..][..ks]);
            for j in 0..g {
                let qi = &q[(i * g + j) * qs..][..qs];
                let (oj, pj) = (&mut o[j * qs..][..qs], &mut p[j * ps..][..ps]);
                gemm1(false, true, tq, tk, hs, qi, ki, pj);
                for (r, row) in pj.chunks_exact_mut(tk.max(1)).enumerate() {
                    let seen = mask.range(i / hkv, r, tq, tk);
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
                gemm1(false, false, tq, hs, tk, pj, vi, oj);
            }
        },
    );
    (out, probs)
}

/// Backward of [`naive`]: (q̄, k̄, v̄).
#[allow(clippy::too_many_arguments)]
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
    let g = h / hkv;
    let (qs, ks, ps) = (tq * hs, tk * hs, tq * tk);
    let (mut dq, mut dk, mut dv) = (zeros(b * h * qs), zeros(b * hkv * ks), zeros(b * hkv * ks));
    pool::per_task(
        pool::default_threads(),
        b * hkv,
        vec![&mut dq, &mut dk, &mut dv],
        &[g * qs, ks, ks],
        &|i, c| {
            let [dq_group, dki, dvi] = c else {
                unreachable!()
            };
            let (ki, vi) = (&k[i * ks..][..ks], &v[i * ks..][..ks]);
            let mut ds = zeros(ps);
            // k̄ and v̄ sum over the group's query heads: the first writes (β = 0), the rest add.
            let add = |acc: &mut [f32], first: bool, part: &dyn Fn(&mut [f32])| {
                if first {
                    part(acc);
                } else {
                    let mut t = zeros(acc.len());
                    part(&mut t);
                    acc.iter_mut().zip(&t).for_each(|(a, x)| *a += x);
                    give(t);
                }
            };
            for j in 0..g {
                let hq = i * g + j;
                let qi = &q[hq * qs..][..qs];
                let (p, gr) = (&probs[hq * ps..][..ps], &dout[hq * qs..][..qs]);
                add(dvi, j == 0, &|d| gemm1(true, false, tk, hs, tq, p, gr, d));
                gemm1(false, true, tq, tk, hs, gr, vi, &mut ds);
                for (dr, pr) in ds
                    .chunks_exact_mut(tk.max(1))
                    .zip(p.chunks_exact(tk.max(1)))
                {
                    let dot: f32 = dr.iter().zip(pr).map(|(a, b)| a * b).sum();
                    dr.iter_mut()
                        .zip(pr)
                        .for_each(|(d, &p)| *d = p * (*d - dot) * scale);
                }
                gemm1(
                    false,
                    false,
                    tq,
                    hs,
                    tk,
                    &ds,
                    ki,
                    &mut dq_group[j * qs..][..qs],
                );
                add(dki, j == 0, &|d| gemm1(true, false, tk, hs, tq, &ds, qi, d));
            }
            give(ds);
        },
    );
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
