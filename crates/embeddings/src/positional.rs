//! Sinusoidal positional encodings (Vaswani et al., 2017).
//!
//! ```text
//!   PE(i, 2j)   = sin(i / 10000^(2j/d))
//!   PE(i, 2j+1) = cos(i / 10000^(2j/d))
//! ```
//!
//! Each pair of dimensions is a clock at its own frequency ω_j = 10000^(−2j/d), from one turn per
//! 2π positions down to one per 2π·10000. Because sin and cos of a sum expand into products,
//! `PE(i)·PE(k) = Σ_j cos(ω_j (i − k))`: the dot product of two positions' encodings depends only
//! on their offset i − k, not on where they are. Attention scores are dot products, so this gives
//! a model a way to attend by relative position.
//!
//! Left out: learned position embeddings (GPT-2's, in Phase 7), RoPE (Phase 9).

use ndarray::Array2;

/// The `(positions, d)` matrix of sinusoidal encodings. For odd `d` the last column is a sine.
pub fn sinusoidal(positions: usize, d: usize) -> Array2<f64> {
    Array2::from_shape_fn((positions, d), |(i, k)| {
        let j = k / 2;
        let angle = i as f64 / 10000f64.powf(2.0 * j as f64 / d as f64);
        if k % 2 == 0 {
            angle.sin()
        } else {
            angle.cos()
        }
    })
}
