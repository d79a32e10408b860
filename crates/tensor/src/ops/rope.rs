//! Rotary position embeddings (RoPE; Su et al., 2021, "RoFormer"), as LLaMA uses them: each
//! head's features are taken in pairs, and pair `i` of the vector at position `p` is rotated by
//! the angle `p·ωᵢ`:
//!
//! ```text
//!   ωᵢ = θ^(−2i/d)            i = 0 … d/2 − 1, θ = 10 000
//!   [y₂ᵢ  ]   [cos pωᵢ  −sin pωᵢ] [x₂ᵢ  ]
//!   [y₂ᵢ₊₁] = [sin pωᵢ   cos pωᵢ] [x₂ᵢ₊₁]
//!
//!   ⟨R(p)q, R(s)k⟩ = ⟨q, R(s − p)k⟩     the score depends on the positions only through s − p
//!   x̄ = R(p)ᵀ ȳ = R(−p) ȳ              the backward rotates the other way
//! ```
//!
//! Applied to q and k after they are split into heads, never to v. Positions start at `start`
//! (a KV cache's length when decoding), so one token at position 37 is rotated exactly as it was
//! inside a full window.

use crate::op::Op;
use crate::tensor::cache::zeros;
use crate::tensor::Tensor;

/// `cos pωᵢ` and `sin pωᵢ` for positions `start..start + t`: two `(t, d/2)` tables.
fn tables(start: usize, t: usize, d: usize, theta: f32) -> (Vec<f32>, Vec<f32>) {
    let half = d / 2;
    let (mut cos, mut sin) = (Vec::with_capacity(t * half), Vec::with_capacity(t * half));
    for p in start..start + t {
        for i in 0..half {
            // In f64: positions in the thousands times ω must keep their low bits.
            let w = (theta as f64).powf(-2.0 * i as f64 / d as f64);
            let a = p as f64 * w;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    (cos, sin)
}

// ANCHOR: rotate
/// Rotates every `(T, d)` slab of `x` (shape `(…, T, d)`) by positions `start..start + T`;
/// `sign = −1` rotates back (the backward).
pub(crate) fn rotate(
    x: &[f32],
    t: usize,
    d: usize,
    start: usize,
    theta: f32,
    sign: f32,
) -> Vec<f32> {
    let (cos, sin) = tables(start, t, d, theta);
    let mut y = zeros(x.len());
    let half = d / 2;
    for (xs, ys) in x.chunks_exact(t * d).zip(y.chunks_exact_mut(t * d)) {
        for p in 0..t {
            let (c, s) = (&cos[p * half..][..half], &sin[p * half..][..half]);
            let (xr, yr) = (&xs[p * d..][..d], &mut ys[p * d..][..d]);
            for i in 0..half {
                let (a, b, si) = (xr[2 * i], xr[2 * i + 1], sign * s[i]);
                yr[2 * i] = a * c[i] - b * si;
                yr[2 * i + 1] = a * si + b * c[i];
            }
        }
    }
    y
}
// ANCHOR_END: rotate

impl Tensor {
    /// RoPE over the last two axes `(…, T, d)` (d even), positions from `start`, base `theta`.
    pub fn rope(&self, start: usize, theta: f32) -> Tensor {
        assert!(
            self.dims() >= 2 && self.dim(-1).is_multiple_of(2),
            "rope: {:?} must be (…, T, d) with d even",
            self.shape()
        );
        let (t, d) = (self.dim(-2), self.dim(-1));
        let y = rotate(&self.data(), t, d, start, theta, 1.0);
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || Op::Rope {
            x: self.clone(),
            start,
            theta,
        })
    }
}
