//! GELU in its tanh form (GPT-2's), forward and backward.
//!
//! y = ½·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
//! dy/dx = ½·(1 + tanh(u)) + ½·x·(1 − tanh²(u))·√(2/π)·(1 + 3·0.044715·x²), and the backward
//! returns dx = dy ⊙ dy/dx (overwriting dx).
//!
//! The fast version computes tanh(u) = 1 − 2/(e^(2u) + 1) with [`super::exp_approx`] (which
//! saturates cleanly to ±1) so that the loop vectorises; the reference uses `f32::tanh`.
//! Left out: the exact erf form.

use super::{exp_approx, simd_fn, use_reference};

const S2PI: f32 = 0.797_884_6; // √(2/π)
const C: f32 = 0.044715;

/// Reference: y = gelu(x) element-wise; x, y have one shape.
pub fn gelu_forward_reference(x: &[f32], y: &mut [f32]) {
    assert_eq!(
        x.len(),
        y.len(),
        "gelu_forward: x has {} elements, y {}",
        x.len(),
        y.len()
    );
    for (y, &x) in y.iter_mut().zip(x) {
        *y = 0.5 * x * (1.0 + (S2PI * (x + C * x * x * x)).tanh());
    }
}

/// Reference: dx = dy ⊙ gelu'(x); x, dy, dx have one shape.
pub fn gelu_backward_reference(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert!(
        x.len() == dy.len() && x.len() == dx.len(),
        "gelu_backward: lengths x {}, dy {}, dx {}",
        x.len(),
        dy.len(),
        dx.len()
    );
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        let t = (S2PI * (x + C * x * x * x)).tanh();
        let local = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * S2PI * (1.0 + 3.0 * C * x * x);
        *dx = dy * local;
    }
}

#[inline(always)]
fn tanh_approx(u: f32) -> f32 {
    1.0 - 2.0 / (exp_approx(2.0 * u) + 1.0)
}

/// y = gelu(x) element-wise (fast path unless `TFS_KERNELS=reference`).
pub fn gelu_forward(x: &[f32], y: &mut [f32]) {
    assert_eq!(
        x.len(),
        y.len(),
        "gelu_forward: x has {} elements, y {}",
        x.len(),
        y.len()
    );
    if use_reference() {
        return gelu_forward_reference(x, y);
    }
    forward(x, y);
}

/// dx = dy ⊙ gelu'(x) (fast path unless `TFS_KERNELS=reference`).
pub fn gelu_backward(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert!(
        x.len() == dy.len() && x.len() == dx.len(),
        "gelu_backward: lengths x {}, dy {}, dx {}",
        x.len(),
        dy.len(),
        dx.len()
    );
    if use_reference() {
        return gelu_backward_reference(x, dy, dx);
    }
    backward(x, dy, dx);
}

simd_fn!(fn forward(x: &[f32], y: &mut [f32]) = forward_body);
simd_fn!(fn backward(x: &[f32], dy: &[f32], dx: &mut [f32]) = backward_body);

#[inline(always)]
fn forward_body(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = 0.5 * x * (1.0 + tanh_approx(S2PI * (x + C * x * x * x)));
    }
}

#[inline(always)]
fn backward_body(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        let t = tanh_approx(S2PI * (x + C * x * x * x));
        let local = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * S2PI * (1.0 + 3.0 * C * x * x);
        *dx = dy * local;
    }
}
