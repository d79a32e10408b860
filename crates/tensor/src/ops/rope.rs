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
//! inside a full window. The rotation itself is the backend's (`backend::cpu::nn::rope`).

use crate::backend;
use crate::op::Op;
use crate::tensor::Tensor;

impl Tensor {
    /// RoPE over the last two axes `(…, T, d)` (d even), positions from `start`, base `theta`.
    pub fn rope(&self, start: usize, theta: f32) -> Tensor {
        assert!(
            self.dims() >= 2 && self.dim(-1).is_multiple_of(2),
            "rope: {:?} must be (…, T, d) with d even",
            self.shape()
        );
        let (t, d) = (self.dim(-2), self.dim(-1));
        let y = backend::rope(self.view().src(), (t, d), start, theta, 1.0);
        Tensor::from_op_if(y, self.shape(), self.requires_grad(), || Op::Rope {
            x: self.clone(),
            start,
            theta,
        })
    }
}
