//! The readable reference of flash attention, its test oracle: for each (batch, head) and query
//! row, the scores over the row's key range, their softmax, O = P v, and the textbook backward
//! from P (rebuilt from the log-sum-exp). Plain loops, one row at a time, no tiles, no threads.
//! Left out: speed.

use super::{seen, Dims};

/// The readable reference: for each (b, h) and query i, S = q_i kᵀ/√hs over the keys of its
/// range, P = softmax(S), O_i = P v. Returns (O (b,h,tq,hs), L (b,h,tq)) with L_i = ln Σ e^S over
/// the range (−∞ if it is empty).
pub fn attention_reference(
    d: Dims,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    ranges: &[(usize, usize)],
) -> (Vec<f32>, Vec<f32>) {
    d.check(q.len(), k.len(), v.len(), ranges);
    let (g, s) = (d.h / d.hkv, 1.0 / (d.hs as f32).sqrt());
    let (mut out, mut lse) = (
        vec![0.0; q.len()],
        vec![f32::NEG_INFINITY; d.b * d.h * d.tq],
    );
    for (bh, o) in out.chunks_exact_mut((d.tq * d.hs).max(1)).enumerate() {
        let (b, kvh) = (bh / d.h, bh / g);
        let qh = &q[bh * d.tq * d.hs..];
        let (kh, vh) = (&k[kvh * d.tk * d.hs..], &v[kvh * d.tk * d.hs..]);
        for i in 0..d.tq {
            let keys = seen(ranges[b * d.tq + i]);
            let qi = &qh[i * d.hs..][..d.hs];
            let scores: Vec<f32> = keys
                .clone()
                .map(|j| {
                    s * qi
                        .iter()
                        .zip(&kh[j * d.hs..][..d.hs])
                        .map(|(a, b)| a * b)
                        .sum::<f32>()
                })
                .collect();
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &x| m.max(x));
            let sum: f32 = scores.iter().map(|x| (x - max).exp()).sum();
            if !keys.is_empty() {
                lse[bh * d.tq + i] = max + sum.ln();
            }
            for (j, sc) in keys.zip(&scores) {
                let p = (sc - max).exp() / sum;
                for (oc, vc) in o[i * d.hs..][..d.hs]
                    .iter_mut()
                    .zip(&vh[j * d.hs..][..d.hs])
                {
                    *oc += p * vc;
                }
            }
        }
    }
    (out, lse)
}

/// The readable reference backward: each row of P rebuilt from (q, k, L), then
/// v̄ = Pᵀ ō, p̄ = ō vᵀ, s̄ = P ⊙ (p̄ − rowsum(p̄ ⊙ P)), q̄ = s·s̄ k, k̄ = s·s̄ᵀ q. Returns (q̄, k̄, v̄).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_reference(
    d: Dims,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    lse: &[f32],
    dout: &[f32],
    ranges: &[(usize, usize)],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    d.check(q.len(), k.len(), v.len(), ranges);
    let (g, s, hs) = (d.h / d.hkv, 1.0 / (d.hs as f32).sqrt(), d.hs);
    let (mut dq, mut dk, mut dv) = (vec![0.0; q.len()], vec![0.0; k.len()], vec![0.0; v.len()]);
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    for bh in 0..d.b * d.h {
        let (b, kvh) = (bh / d.h, bh / g);
        let (qo, ko) = (bh * d.tq * hs, kvh * d.tk * hs);
        for i in 0..d.tq {
            let keys = seen(ranges[b * d.tq + i]);
            let (qi, doi) = (&q[qo + i * hs..][..hs], &dout[qo + i * hs..][..hs]);
            let p: Vec<f32> = keys
                .clone()
                .map(|j| (s * dot(qi, &k[ko + j * hs..][..hs]) - lse[bh * d.tq + i]).exp())
                .collect();
            let dp: Vec<f32> = keys
                .clone()
                .map(|j| dot(doi, &v[ko + j * hs..][..hs]))
                .collect();
            let row = dot(&p, &dp);
            for ((j, &pj), &dpj) in keys.zip(&p).zip(&dp) {
                let ds = pj * (dpj - row) * s;
                for c in 0..hs {
                    dv[ko + j * hs + c] += pj * doi[c];
                    dq[qo + i * hs + c] += ds * k[ko + j * hs + c];
                    dk[ko + j * hs + c] += ds * qi[c];
                }
            }
        }
    }
    (dq, dk, dv)
}
