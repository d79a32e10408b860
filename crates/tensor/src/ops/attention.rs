//! Scaled dot-product attention, fused: one op for scores, mask, softmax and the weighted sum,
//! forward and backward, with the heads spread over the kernel threads.
//!
//! For each batch b and head h (q: (Tq, hs), k, v: (Tk, hs)):
//!
//! ```text
//!   S = q kᵀ / √hs        P = softmax over the visible keys of each row (0 elsewhere)     O = P v
//!   v̄ = Pᵀ Ō              P̄ = Ō vᵀ        S̄ = P ⊙ (P̄ − rowsum(P̄ ⊙ P)) / √hs
//!   q̄ = S̄ k               k̄ = S̄ᵀ q
//! ```
//!
//! Every mask of the project shows each query one contiguous range of the keys: causal (query i
//! of Tq sees keys 0..=Tk − Tq + i, so the last query sees all of them: training and KV-cache
//! decoding alike), padding (batch b sees its first `len[b]` keys), both (the shorter prefix), or
//! a sliding window (Mistral: causal, and only the last `w` of those keys). So the softmax runs
//! over that range and the rest is exactly 0; a query that sees no key gets 0.
//!
//! Grouped-query attention (GQA, Ainslie et al. 2023; MQA when there is one group): k and v may
//! have fewer heads than q, `H = g · Hkv`, and query head `h` reads key/value head `h / g`. The
//! heads of a group are adjacent in memory, so the work is spread over (batch, kv head) and each
//! task owns its k̄, v̄ outright.
//!
//! P (B, H, Tq, Tk) is saved for backward: memory quadratic in T ([`super::flash_attention`]
//! computes the same function keeping one float per query row instead).
//!
//! [`sdpa_packed`] is the same self-attention for the GPT's training step, read straight from
//! the packed q|k|v projection `(B, T, (H + 2·Hkv)·hs)` and written as `(B, T, H·hs)`, with
//! no split or merge of heads, and with the queries in blocks of 32 rows that multiply only the
//! keys they see.

use crate::op::Op;
use crate::tensor::cache::{for_overwrite, zeros};
use crate::tensor::Tensor;
use std::sync::Arc;
use tfs_kernels::fused::softmax;
use tfs_kernels::gemm::sgemm_here;
use tfs_kernels::pool;

/// Which keys each query sees.
#[derive(Clone, Debug, PartialEq)]
pub enum AttnMask {
    None,
    Causal,
    /// Batch b sees its first `len[b]` keys.
    Padding(Arc<[usize]>),
    CausalPadding(Arc<[usize]>),
    /// Causal, and each query sees only its last `w` keys (itself included).
    SlidingWindow(usize),
}

impl AttnMask {
    /// The keys query `i` (of `tq`) of batch `b` sees, out of `tk`: always one contiguous range.
    pub fn range(&self, b: usize, i: usize, tq: usize, tk: usize) -> std::ops::Range<usize> {
        let causal = (tk + i + 1).saturating_sub(tq).min(tk);
        match self {
            AttnMask::None => 0..tk,
            AttnMask::Causal => 0..causal,
            AttnMask::Padding(l) => 0..l[b].min(tk),
            AttnMask::CausalPadding(l) => 0..l[b].min(causal),
            AttnMask::SlidingWindow(w) => causal.saturating_sub(*w)..causal,
        }
    }
}

/// One-thread GEMM (the heads are already spread over the threads) on contiguous operands.
#[allow(clippy::too_many_arguments)]
fn gemm1(ta: bool, tb: bool, m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (lda, ldb) = (if ta { m } else { k }, if tb { k } else { n });
    sgemm_here((ta, tb), (m, n, k), (a, lda), (b, ldb), (1.0, 0.0), (c, n));
}

/// Checks shapes and returns (B, H, Tq, Tk, hs).
pub(crate) fn dims(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &AttnMask,
) -> (usize, usize, usize, usize, usize) {
    let ok = q.dims() == 4 && k.dims() == 4 && v.shape() == k.shape();
    let (b, h, tq, hs) = if ok {
        (q.dim(0), q.dim(1), q.dim(2), q.dim(3))
    } else {
        (0, 0, 0, 0)
    };
    assert!(
        ok && k.dim(0) == b && k.dim(1) >= 1 && h.is_multiple_of(k.dim(1)) && k.dim(3) == hs,
        "sdpa: q {:?}, k {:?}, v {:?} must be (B, H, Tq, hs), (B, Hkv, Tk, hs), (B, Hkv, Tk, hs) \
         with Hkv dividing H",
        q.shape(),
        k.shape(),
        v.shape()
    );
    if let AttnMask::Padding(l) | AttnMask::CausalPadding(l) = mask {
        assert_eq!(l.len(), b, "sdpa: {} key lengths for batch {b}", l.len());
    }
    (b, h, tq, k.dim(2), hs)
}

/// Fused attention `softmax(q kᵀ/√hs, masked) v` over `(B, H, T, hs)` tensors (k and v may have
/// fewer heads: grouped-query attention).
pub fn sdpa(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> Tensor {
    let (b, h, tq, tk, hs) = dims(q, k, v, mask);
    let (hkv, scale) = (k.dim(1), 1.0 / (hs as f32).sqrt());
    let g = h / hkv;
    // Both written in full: the products have β = 0, and each row of probs is its softmax
    // between zeros outside the mask's range. Without keys (Tk = 0) no task runs, and every
    // query's output is 0.
    let out = if tk == 0 { zeros } else { for_overwrite };
    let (mut out, mut probs) = (out(b * h * tq * hs), for_overwrite(b * h * tq * tk));
    {
        let (qd, kd, vd) = (q.data(), k.data(), v.data());
        let (qs, ks, ps) = (tq * hs, tk * hs, tq * tk);
        let (qd, kd, vd) = (&*qd, &*kd, &*vd);
        // One task per (batch, kv head): its g query heads are adjacent.
        pool::per_task(
            pool::default_threads(),
            b * hkv,
            vec![&mut out, &mut probs],
            &[g * qs, g * ps],
            &|i, c| {
                let [o, p] = c else { unreachable!() };
                let (ki, vi) = (&kd[i * ks..][..ks], &vd[i * ks..][..ks]);
                for j in 0..g {
                    let qi = &qd[(i * g + j) * qs..][..qs];
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
    }
    let rg = q.requires_grad() || k.requires_grad() || v.requires_grad();
    Tensor::from_op_if(out, q.shape(), rg, || Op::Sdpa {
        q: q.clone(),
        k: k.clone(),
        v: v.clone(),
        mask: mask.clone(),
        probs,
    })
}

/// Backward of [`sdpa`]: (q̄, k̄, v̄).
pub(crate) fn sdpa_backward(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    probs: &[f32],
    dout: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (b, h, tq, tk, hs) = (q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3));
    let (hkv, scale) = (k.dim(1), 1.0 / (hs as f32).sqrt());
    let g = h / hkv;
    let (qs, ks, ps) = (tq * hs, tk * hs, tq * tk);
    let (mut dq, mut dk, mut dv) = (zeros(b * h * qs), zeros(b * hkv * ks), zeros(b * hkv * ks));
    let (qd, kd, vd) = (q.data(), k.data(), v.data());
    let (qd, kd, vd) = (&*qd, &*kd, &*vd);
    pool::per_task(
        pool::default_threads(),
        b * hkv,
        vec![&mut dq, &mut dk, &mut dv],
        &[g * qs, ks, ks],
        &|i, c| {
            let [dq_group, dki, dvi] = c else {
                unreachable!()
            };
            let (ki, vi) = (&kd[i * ks..][..ks], &vd[i * ks..][..ks]);
            let mut ds = zeros(ps);
            // k̄ and v̄ sum over the group's query heads: the first writes (β = 0), the rest add.
            let add = |acc: &mut [f32], first: bool, part: &dyn Fn(&mut [f32])| {
                if first {
                    part(acc);
                } else {
                    let mut t = zeros(acc.len());
                    part(&mut t);
                    acc.iter_mut().zip(&t).for_each(|(a, x)| *a += x);
                    crate::tensor::cache::give(t);
                }
            };
            for j in 0..g {
                let hq = i * g + j;
                let qi = &qd[hq * qs..][..qs];
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
            crate::tensor::cache::give(ds);
        },
    );
    (dq, dk, dv)
}

/// The unfused reference: the same attention from framework ops (matmul, masked fill, softmax),
/// whose backward comes from the graph. The fused op is tested equal to it.
pub fn sdpa_reference(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask) -> Tensor {
    let (b, h, tq, tk, hs) = dims(q, k, v, mask);
    // GQA: each kv head repeated for the g query heads of its group.
    let (k, v) = (k.repeat_heads(h / k.dim(1)), v.repeat_heads(h / v.dim(1)));
    let s = q
        .matmul(&k.transpose(-1, -2))
        .scale(1.0 / (hs as f32).sqrt());
    let seen = |idx: usize| {
        let (bb, r, c) = (idx / (h * tq * tk), (idx / tk) % tq, idx % tk);
        let range = mask.range(bb, r, tq, tk);
        (range.contains(&c), range.is_empty())
    };
    let hidden: Vec<bool> = (0..b * h * tq * tk).map(|i| !seen(i).0).collect();
    // −10⁹ rather than −∞: a row that sees nothing stays finite (uniform), then is zeroed below.
    let p = s.masked_fill(&hidden, -1e9).softmax();
    // A query that sees nothing gets 0, like the fused op.
    let empty: Vec<bool> = (0..b * h * tq * tk).map(|i| seen(i).1).collect();
    let p = if empty.iter().any(|&e| e) {
        p.masked_fill(&empty, 0.0)
    } else {
        p
    };
    p.matmul(&v)
}

/// Checks the packed projection and returns (B, T, W, hs) with W = (H + 2·Hkv)·hs.
fn packed_dims(
    qkv: &Tensor,
    h: usize,
    hkv: usize,
    mask: &AttnMask,
) -> (usize, usize, usize, usize) {
    let ok = qkv.dims() == 3 && h > 0 && hkv > 0 && h.is_multiple_of(hkv);
    let w = if ok { qkv.dim(2) } else { 0 };
    assert!(
        ok && w.is_multiple_of(h + 2 * hkv),
        "sdpa_packed: qkv {:?} must be (B, T, (H + 2·Hkv)·hs) with H = {h} query heads and \
         Hkv = {hkv} kv heads dividing H",
        qkv.shape()
    );
    let b = qkv.dim(0);
    if let AttnMask::Padding(l) | AttnMask::CausalPadding(l) = mask {
        assert_eq!(
            l.len(),
            b,
            "sdpa_packed: {} key lengths for batch {b}",
            l.len()
        );
    }
    (b, qkv.dim(1), w, w / (h + 2 * hkv))
}

/// Query rows per block of [`sdpa_packed`]: each block multiplies only the keys some row of it
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

/// Self-attention read straight from the packed projection: `qkv: (B, T, (H + 2·Hkv)·hs)` holds
/// each position's H query heads, then its Hkv key heads, then its Hkv value heads (what one
/// `c_attn` linear layer produces), and the output `(B, T, H·hs)` has the heads side by side
/// again (what `c_proj` reads). The same function as
///
/// ```text
///   split qkv into q, k, v → (B, T, n, hs) → transpose to (B, n, T, hs) → sdpa → transpose back
/// ```
///
/// without the six copies of that route and the nine of its backward (three zero-padded
/// gradients of `narrow`, summed): every product reads a head as a (T, hs) view with leading
/// dimension W, and q̄, k̄, v̄ are written into their columns of one (B, T, W) gradient. One task
/// per batch row spreads the work over the threads (each task owns its rows of the output and
/// of the gradient). The queries go in blocks of 32 rows, and each block's products take only
/// the keys some row of it sees (a causal mask skips most of the upper triangle); k̄ and v̄
/// accumulate over the blocks and the query heads of a group (β = 1, from zero).
pub fn sdpa_packed(qkv: &Tensor, h: usize, hkv: usize, mask: &AttnMask) -> Tensor {
    let (b, t, w, hs) = packed_dims(qkv, h, hkv, mask);
    let (g, c, scale) = (h / hkv, h * hs, 1.0 / (hs as f32).sqrt());
    let (tt, bw) = (t * t, t * w);
    let (mut out, mut probs) = (for_overwrite(b * t * c), for_overwrite(b * h * tt));
    {
        let x = qkv.data();
        let x = &*x;
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
                                (false, true),
                                (r1 - r0, hi - lo, hs),
                                (&xb[r0 * w + qo..], w),
                                (&xb[lo * w + ko..], w),
                                (scale, 0.0),
                                (&mut rows[lo..], t),
                            );
                        }
                        for (r, row) in (r0..r1).zip(rows.chunks_exact_mut(t)) {
                            let seen = mask.range(bi, r, t, t);
                            let (a, e) = (seen.start, seen.end.max(seen.start));
                            row[..a].fill(0.0);
                            row[e..].fill(0.0);
                            if a < e {
                                softmax::softmax_rows(
                                    &mut row[a..e],
                                    1,
                                    e - a,
                                    softmax::Mask::None,
                                );
                            }
                        }
                        // O = P v over the same keys (the rest of P is 0).
                        sgemm_here(
                            (false, false),
                            (r1 - r0, hs, hi - lo),
                            (&rows[lo..], t),
                            (&xb[lo * w + vo..], w),
                            (1.0, 0.0),
                            (&mut o[r0 * c + qo..], c),
                        );
                    }
                }
            },
        );
    }
    Tensor::from_op_if(out, &[b, t, c], qkv.requires_grad(), || Op::SdpaPacked {
        qkv: qkv.clone(),
        heads: (h, hkv),
        mask: mask.clone(),
        probs,
    })
}

/// Backward of [`sdpa_packed`]: q̄|k̄|v̄ as one `(B, T, W)` gradient.
pub(crate) fn sdpa_packed_backward(
    qkv: &Tensor,
    (h, hkv): (usize, usize),
    mask: &AttnMask,
    probs: &[f32],
    dout: &[f32],
) -> Vec<f32> {
    let (b, t, w) = (qkv.dim(0), qkv.dim(1), qkv.dim(2));
    let hs = w / (h + 2 * hkv);
    let (g, c, scale) = (h / hkv, h * hs, 1.0 / (hs as f32).sqrt());
    let (tt, bw) = (t * t, t * w);
    let mut dx = zeros(b * bw); // k̄ and v̄ accumulate; q̄ is written block by block
    let x = qkv.data();
    let x = &*x;
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
                        (true, false),
                        (n, hs, m),
                        (p, t),
                        (go, c),
                        (1.0, 1.0),
                        (&mut d[lo * w + vo..], w),
                    );
                    // P̄ = Ō vᵀ, then S̄ = P ⊙ (P̄ − rowsum(P̄ ⊙ P)) / √hs
                    let dsb = &mut ds[..m * n];
                    sgemm_here(
                        (false, true),
                        (m, n, hs),
                        (go, c),
                        (&xb[lo * w + vo..], w),
                        (1.0, 0.0),
                        (dsb, n),
                    );
                    for (i, dr) in dsb.chunks_exact_mut(n).enumerate() {
                        softmax::softmax_backward_row(&p[i * t..][..n], dr, scale);
                    }
                    // q̄ = S̄ k
                    sgemm_here(
                        (false, false),
                        (m, hs, n),
                        (dsb, n),
                        (&xb[lo * w + ko..], w),
                        (1.0, 0.0),
                        (&mut d[r0 * w + qo..], w),
                    );
                    // k̄ += S̄ᵀ q
                    sgemm_here(
                        (true, false),
                        (n, hs, m),
                        (dsb, n),
                        (&xb[r0 * w + qo..], w),
                        (1.0, 1.0),
                        (&mut d[lo * w + ko..], w),
                    );
                }
            }
            crate::tensor::cache::give(ds);
        },
    );
    dx
}
