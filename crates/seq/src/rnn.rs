//! The vanilla (Elman) RNN cell.
//!
//! ```text
//!   a_t = x_t W_xh + h_{t−1} W_hh + b          (B, H)
//!   h_t = tanh(a_t)
//! ```
//!
//! Backward, given δh = ∂L/∂h_t:
//!
//! ```text
//!   δa = δh ⊙ (1 − h_t²)
//!   ∂W_xh += x_tᵀ δa      ∂W_hh += h_{t−1}ᵀ δa      ∂b += Σ_rows δa
//!   ∂x_t = δa W_xhᵀ       ∂h_{t−1} = δa W_hhᵀ
//! ```
//!
//! Through T steps the gradient reaching h_{t−k} is multiplied by k Jacobians
//! `diag(1 − h²) W_hhᵀ`: when W_hh's spectral radius is below 1 it shrinks geometrically
//! (vanishing gradients), above 1 it can grow (exploding). `p2-vanishing-gradients` measures it.

use crate::cell::{check_step, gemm, gemm_acc, Cell, StepCache};
use ndarray::{Array2, ArrayView2, Axis, NdFloat, Zip};
use tfs_math::Rng;
use tfs_nn::Init;

/// Parameters: `w_xh: (I, H)`, `w_hh: (H, H)`, `b: (1, H)`.
#[derive(Clone, Debug)]
pub struct Rnn<F> {
    pub w_xh: Array2<F>,
    pub w_hh: Array2<F>,
    pub b: Array2<F>,
}

impl<F: NdFloat> Rnn<F> {
    /// Xavier-uniform weights, zero bias.
    pub fn new(input: usize, hidden: usize, rng: &mut Rng) -> Self {
        Rnn {
            w_xh: Init::XavierUniform.matrix(input, hidden, rng),
            w_hh: Init::XavierUniform.matrix(hidden, hidden, rng),
            b: Array2::zeros((1, hidden)),
        }
    }
}

tfs_nn::impl_params!(Rnn { w_xh, w_hh, b });

impl<F: NdFloat> Cell<F> for Rnn<F> {
    fn name(&self) -> &'static str {
        "RNN"
    }
    fn input_size(&self) -> usize {
        self.w_xh.nrows()
    }
    fn hidden_size(&self) -> usize {
        self.w_hh.nrows()
    }

    fn forward(&self, x: ArrayView2<F>, s: ArrayView2<F>) -> (Array2<F>, StepCache<F>) {
        check_step(self, &x, &s);
        let mut a = gemm(&x, &self.w_xh.view());
        gemm_acc(&s, &self.w_hh.view(), &mut a);
        a += &self.b;
        a.mapv_inplace(|v| v.tanh());
        let cache = StepCache {
            x: x.to_owned(),
            s_prev: s.to_owned(),
            extra: vec![a.clone()],
        };
        (a, cache)
    }

    fn backward(
        &self,
        ds: ArrayView2<F>,
        cache: &StepCache<F>,
        grads: &mut tfs_nn::Grads<F>,
    ) -> (Array2<F>, Array2<F>) {
        let h = &cache.extra[0];
        let mut da = ds.to_owned();
        Zip::from(&mut da)
            .and(h)
            .for_each(|d, &h| *d *= F::one() - h * h);
        gemm_acc(&cache.x.t(), &da.view(), &mut grads.mat_mut("w_xh"));
        gemm_acc(&cache.s_prev.t(), &da.view(), &mut grads.mat_mut("w_hh"));
        let mut db = grads.mat_mut("b");
        db += &da.sum_axis(Axis(0)).insert_axis(Axis(0));
        (
            gemm(&da.view(), &self.w_xh.t()),
            gemm(&da.view(), &self.w_hh.t()),
        )
    }
}
