//! The AdamW update (decoupled weight decay), as PyTorch's `torch.optim.AdamW` computes it.
//!
//! At step t ≥ 1, for each parameter p with gradient g and moments m, v:
//! p ← p − lr·λ·p; m ← β₁·m + (1 − β₁)·g; v ← β₂·v + (1 − β₂)·g²;
//! p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε).
//!
//! The fast version is the same formula in one vectorised pass over the four arrays (the
//! bias corrections are hoisted out of the loop). Left out: gradient clipping (a separate norm
//! pass), AMSGrad, mixed precision master weights.

use super::{simd_fn, use_reference};

/// Hyper-parameters of one AdamW step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

fn check(p: &[f32], g: &[f32], m: &[f32], v: &[f32], t: u32) {
    assert!(
        g.len() == p.len() && m.len() == p.len() && v.len() == p.len(),
        "adamw_step: lengths params {}, grads {}, m {}, v {} must be equal",
        p.len(),
        g.len(),
        m.len(),
        v.len()
    );
    assert!(t >= 1, "adamw_step: the step t counts from 1, got {t}");
}

/// Reference: one AdamW step at step `t` (1-based) over params, grads, m, v (one shape).
pub fn adamw_step_reference(
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    h: &AdamW,
    t: u32,
) {
    check(params, grads, m, v, t);
    for i in 0..params.len() {
        params[i] -= h.lr * h.weight_decay * params[i];
        m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * grads[i];
        v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * grads[i] * grads[i];
        let m_hat = m[i] / (1.0 - h.beta1.powi(t as i32));
        let v_hat = v[i] / (1.0 - h.beta2.powi(t as i32));
        params[i] -= h.lr * m_hat / (v_hat.sqrt() + h.eps);
    }
}

/// One AdamW step (fast path unless `TFS_KERNELS=reference`); same contract as the reference.
pub fn adamw_step(
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    h: &AdamW,
    t: u32,
) {
    check(params, grads, m, v, t);
    if use_reference() {
        return adamw_step_reference(params, grads, m, v, h, t);
    }
    step(params, grads, m, v, h, t);
}

simd_fn!(fn step(params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32], h: &AdamW, t: u32) = step_body);

#[inline(always)]
fn step_body(params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32], h: &AdamW, t: u32) {
    let c1 = 1.0 / (1.0 - h.beta1.powi(t as i32));
    let c2 = 1.0 / (1.0 - h.beta2.powi(t as i32));
    let decay = 1.0 - h.lr * h.weight_decay;
    for (((p, &g), m), v) in params
        .iter_mut()
        .zip(grads)
        .zip(m.iter_mut())
        .zip(v.iter_mut())
    {
        *m = h.beta1 * *m + (1.0 - h.beta1) * g;
        *v = h.beta2 * *v + (1.0 - h.beta2) * g * g;
        *p = *p * decay - h.lr * (*m * c1) / ((*v * c2).sqrt() + h.eps);
    }
}
