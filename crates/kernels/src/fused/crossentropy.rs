//! Softmax cross-entropy fused with its gradient: the loss head of every classifier and language
//! model, in one pass over the logits instead of three (softmax, log, gradient).
//!
//! For rows of logits z: (R, V) and targets y: (R,), with p = softmax(z) row by row:
//!
//! ```text
//!   m = max_j z_j,   s = Σ_j e^(z_j − m),   log p_y = z_y − m − ln s
//!   L = −(1/R) Σ_rows log p_y
//!   ∂L/∂z_j = (p_j − [j = y]) / R       p_j = e^(z_j − m) / s
//! ```
//!
//! The fast version reads each row twice (max, then exp-and-sum, writing e^(z−m) into dz) and
//! writes dz once more scaled (a row of GPT-2's 50257 logits is 201 KB, so the second and third
//! passes read it from L2); the reference computes softmax, the loss and the gradient as three
//! separate passes in f64 sums. The loss is accumulated in f64 either way.
//!
//! Left out: label smoothing, ignored targets (padding), class weights.

use super::{exp_approx_with, max_lanes, simd_fn, use_reference, MulAdd};

fn check(logits: &[f32], targets: &[usize], dlogits: &[f32], vocab: usize) {
    assert!(
        vocab > 0 && logits.len() == targets.len() * vocab && dlogits.len() == logits.len(),
        "cross_entropy: logits {} and dlogits {} must be rows × vocab = {} × {vocab}",
        logits.len(),
        dlogits.len(),
        targets.len()
    );
    if let Some(bad) = targets.iter().find(|&&t| t >= vocab) {
        panic!("cross_entropy: target {bad} out of range for vocabulary {vocab}");
    }
}

/// Reference: mean cross-entropy of `logits: (R, V)` against `targets: (R,)`; writes
/// `dlogits = ∂L/∂logits: (R, V)`. Returns the loss (nats).
pub fn cross_entropy_reference(
    logits: &[f32],
    targets: &[usize],
    dlogits: &mut [f32],
    vocab: usize,
) -> f64 {
    check(logits, targets, dlogits, vocab);
    let rows = targets.len();
    let mut loss = 0.0f64;
    for (r, &y) in targets.iter().enumerate() {
        let z = &logits[r * vocab..(r + 1) * vocab];
        let m = z.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
        let s: f64 = z.iter().map(|&v| (v as f64 - m).exp()).sum();
        loss -= z[y] as f64 - m - s.ln();
        let dz = &mut dlogits[r * vocab..(r + 1) * vocab];
        for (j, (d, &v)) in dz.iter_mut().zip(z).enumerate() {
            let p = (v as f64 - m).exp() / s;
            *d = ((p - if j == y { 1.0 } else { 0.0 }) / rows as f64) as f32;
        }
    }
    loss / rows.max(1) as f64
}

/// Mean cross-entropy and its gradient, as [`cross_entropy_reference`] (fast path unless
/// `TFS_KERNELS=reference`).
pub fn cross_entropy(logits: &[f32], targets: &[usize], dlogits: &mut [f32], vocab: usize) -> f64 {
    check(logits, targets, dlogits, vocab);
    if use_reference() {
        return cross_entropy_reference(logits, targets, dlogits, vocab);
    }
    let rows = targets.len();
    let scale = 1.0 / rows.max(1) as f32;
    let mut loss = 0.0f64;
    for (r, &y) in targets.iter().enumerate() {
        let z = &logits[r * vocab..(r + 1) * vocab];
        let dz = &mut dlogits[r * vocab..(r + 1) * vocab];
        let (m, s) = exp_row(z, dz);
        loss -= (z[y] - m) as f64 - (s as f64).ln();
        scale_row(dz, scale / s);
        dz[y] -= scale;
    }
    loss / rows.max(1) as f64
}

simd_fn!(fma fn exp_row(z: &[f32], e: &mut [f32]) -> (f32, f32) = exp_row_body);
simd_fn!(fn scale_row(x: &mut [f32], a: f32) = scale_row_body);

/// Writes e^(z − max z) into `e`; returns (max z, Σ e). Sixteen running maxima and sums, so that
/// both loops vectorise (one accumulator would serialise them).
#[inline(always)]
fn exp_row_body<M: MulAdd>(z: &[f32], e: &mut [f32]) -> (f32, f32) {
    let m = max_lanes(z);
    let mut acc = [0.0f32; 16];
    let (zc, mut ec) = (z.chunks_exact(16), e.chunks_exact_mut(16));
    let zr = zc.remainder();
    for (zs, es) in zc.zip(&mut ec) {
        for i in 0..16 {
            es[i] = exp_approx_with::<M>(zs[i] - m);
            acc[i] += es[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (d, &v) in ec.into_remainder().iter_mut().zip(zr) {
        *d = exp_approx_with::<M>(v - m);
        sum += *d;
    }
    (m, sum)
}

#[inline(always)]
fn scale_row_body(x: &mut [f32], a: f32) {
    for v in x {
        *v *= a;
    }
}
