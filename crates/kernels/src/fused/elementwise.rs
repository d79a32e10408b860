//! The element-wise glue of a transformer layer, fused so each element is read and written once:
//! bias + GELU after a linear layer, the residual add, and the sum of squares behind gradient
//! clipping's norm.
//!
//! ```text
//!   bias_gelu:     pre[r, c] = x[r, c] + b[c];   y = gelu(pre)        (R, C), b: (C,)
//!   residual_add:  y = x + r                                          any shape
//! ```
//!
//! `pre` is kept because GELU's backward needs its input (`gelu::gelu_backward(pre, dy, dx)`);
//! the bias gradient is the column sum of dx. Left out: other activations (ReLU is a max, left to
//! the compiler), dropout.

use super::{simd_fn, use_reference, MulAdd};

/// Reference of [`bias_gelu`].
pub fn bias_gelu_reference(x: &[f32], bias: &[f32], pre: &mut [f32], y: &mut [f32]) {
    check_bias(x, bias, pre, y);
    for (row, (p, yr)) in x.chunks_exact(bias.len()).zip(
        pre.chunks_exact_mut(bias.len())
            .zip(y.chunks_exact_mut(bias.len())),
    ) {
        for c in 0..bias.len() {
            p[c] = row[c] + bias[c];
        }
        super::gelu::gelu_forward_reference(p, yr);
    }
}

/// `pre = x + bias` (broadcast over rows of `bias.len()` columns), `y = gelu(pre)`.
pub fn bias_gelu(x: &[f32], bias: &[f32], pre: &mut [f32], y: &mut [f32]) {
    check_bias(x, bias, pre, y);
    if use_reference() {
        return bias_gelu_reference(x, bias, pre, y);
    }
    bias_gelu_rows(x, bias, pre, y);
}

simd_fn!(fma fn bias_gelu_rows(x: &[f32], bias: &[f32], pre: &mut [f32], y: &mut [f32]) = bias_gelu_body);

/// One pass: each row's `pre = x + b` is still in L1 when its GELU is taken.
#[inline(always)]
fn bias_gelu_body<M: MulAdd>(x: &[f32], bias: &[f32], pre: &mut [f32], y: &mut [f32]) {
    let c = bias.len();
    for ((row, p), yr) in x
        .chunks_exact(c)
        .zip(pre.chunks_exact_mut(c))
        .zip(y.chunks_exact_mut(c))
    {
        for ((p, &x), &b) in p.iter_mut().zip(row).zip(bias) {
            *p = x + b;
        }
        super::gelu::forward_body::<M>(p, yr);
    }
}

fn check_bias(x: &[f32], bias: &[f32], pre: &[f32], y: &[f32]) {
    assert!(
        !bias.is_empty()
            && x.len().is_multiple_of(bias.len())
            && pre.len() == x.len()
            && y.len() == x.len(),
        "bias_gelu: x {} must be rows × {} (the bias), pre {} and y {} like x",
        x.len(),
        bias.len(),
        pre.len(),
        y.len()
    );
}

/// Reference of [`residual_add`].
pub fn residual_add_reference(x: &[f32], r: &[f32], y: &mut [f32]) {
    check_same(x, r, y);
    for ((y, &x), &r) in y.iter_mut().zip(x).zip(r) {
        *y = x + r;
    }
}

/// `y = x + r`, element-wise.
pub fn residual_add(x: &[f32], r: &[f32], y: &mut [f32]) {
    check_same(x, r, y);
    if use_reference() {
        return residual_add_reference(x, r, y);
    }
    add(x, r, y);
}

fn check_same(x: &[f32], r: &[f32], y: &[f32]) {
    assert!(
        x.len() == r.len() && x.len() == y.len(),
        "residual_add: lengths x {}, r {}, y {}",
        x.len(),
        r.len(),
        y.len()
    );
}

simd_fn!(fn add(a: &[f32], b: &[f32], out: &mut [f32]) = add_body);

#[inline(always)]
fn add_body(a: &[f32], b: &[f32], out: &mut [f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a + b;
    }
}

/// Reference of [`sum_squares`]: Σ x², in f64, one term after the other.
pub fn sum_squares_reference(x: &[f32]) -> f64 {
    x.iter().map(|&v| v as f64 * v as f64).sum()
}

/// Σ x² accumulated in f64 (the global gradient norm of clipping). The reference's single
/// running sum is a chain of dependent additions (4 cycles each: ~1 ms over the 0.8M parameters
/// of the `baby` GPT, every step); sixteen running sums vectorise and overlap.
pub fn sum_squares(x: &[f32]) -> f64 {
    if use_reference() {
        return sum_squares_reference(x);
    }
    sum_sq(x)
}

simd_fn!(fn sum_sq(x: &[f32]) -> f64 = sum_sq_body);

#[inline(always)]
fn sum_sq_body(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v as f64 * v as f64;
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| v as f64 * v as f64)
        .sum();
    acc.iter().sum::<f64>() + tail
}
