//! GELU in its tanh form (GPT-2's), forward and backward.
//!
//! y = ½·x·(1 + tanh(u)), u = √(2/π)·(x + 0.044715·x³).
//! dy/dx = ½·(1 + tanh(u)) + ½·x·(1 − tanh²(u))·√(2/π)·(1 + 3·0.044715·x²), and the backward
//! returns dx = dy ⊙ dy/dx (overwriting dx).
//!
//! The fast version rewrites both through s = 1/(e^(2u) + 1), so that each element costs one
//! [`super::exp_approx_with`] (which saturates cleanly) and one division, and the loop vectorises
//! with fused multiply-adds; the reference uses `f32::tanh`. With tanh(u) = 1 − 2s:
//!
//! ```text
//!   y     = x − x·s
//!   dy/dx = (1 − s)·(1 + 2·x·s·√(2/π)·(1 + 3·0.044715·x²))
//! ```
//!
//! Performance (one thread, 1024×3072, `tfs bench kernels`, against 36 GB/s copy): the first
//! version, tanh(u) = 1 − 2/(e^(2u) + 1) with separate multiplies and adds, ran at 1.64× (forward)
//! and 1.53× (backward) the copy time, bound by arithmetic, not memory; the form above with
//! fused multiply-adds is measured in the module notes of `fused`.
//! Left out: the exact erf form.

use super::{exp_approx_with, simd_fn, use_reference, MulAdd};

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

simd_fn!(fma fn forward(x: &[f32], y: &mut [f32]) = forward_body);
simd_fn!(fma fn backward(x: &[f32], dy: &[f32], dx: &mut [f32]) = backward_body);

/// s = 1/(e^(2u) + 1) = (1 − tanh u)/2 with u = √(2/π)·(x + 0.044715·x³).
#[inline(always)]
fn one_minus_tanh_half<M: MulAdd>(x: f32) -> f32 {
    let u = x * M::mul_add(S2PI * C, x * x, S2PI);
    1.0 / (exp_approx_with::<M>(2.0 * u) + 1.0)
}

#[inline(always)]
pub(crate) fn forward_body<M: MulAdd>(x: &[f32], y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = M::mul_add(-x, one_minus_tanh_half::<M>(x), x);
    }
}

#[inline(always)]
fn backward_body<M: MulAdd>(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, &x), &dy) in dx.iter_mut().zip(x).zip(dy) {
        let s = one_minus_tanh_half::<M>(x);
        let du = M::mul_add(3.0 * S2PI * C, x * x, S2PI);
        let local = (1.0 - s) * M::mul_add(2.0 * x * s, du, 1.0);
        *dx = dy * local;
    }
}
