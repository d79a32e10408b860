//! The GRU cell, in the form of Cho et al. (2014): the reset gate multiplies h_{t−1} *before* the
//! recurrent matrix. (PyTorch's `nn.GRU` instead applies r after it, `r ⊙ (h W_hn + b_hn)`; the two
//! are different functions with the same parameter count.)
//!
//! ```text
//!   r = σ(x W_xr + h_{t−1} W_hr + b_r)                   reset gate
//!   u = σ(x W_xu + h_{t−1} W_hu + b_u)                   update gate
//!   ĥ = tanh(x W_xn + (r ⊙ h_{t−1}) W_hn + b_n)          candidate
//!   h_t = u ⊙ h_{t−1} + (1 − u) ⊙ ĥ
//! ```
//!
//! Backward, given δh = ∂L/∂h_t:
//!
//! ```text
//!   δu = δh ⊙ (h_{t−1} − ĥ)        δĥ = δh ⊙ (1 − u)         δh_{t−1} ∋ δh ⊙ u
//!   δa_n = δĥ ⊙ (1 − ĥ²)           ∂W_hn += (r ⊙ h_{t−1})ᵀ δa_n
//!   δ(r⊙h) = δa_n W_hnᵀ            δr = δ(r⊙h) ⊙ h_{t−1}     δh_{t−1} ∋ δ(r⊙h) ⊙ r
//!   δa_r = δr ⊙ r(1−r)             δa_u = δu ⊙ u(1−u)
//!   ∂W_x += x_tᵀ [δa_r, δa_u, δa_n]   ∂W_h,ru += h_{t−1}ᵀ [δa_r, δa_u]   δh_{t−1} ∋ [δa_r, δa_u] W_h,ruᵀ
//! ```
//!
//! Like the LSTM's cell, `h_t = u ⊙ h_{t−1} + …` gives the gradient an additive path scaled by u.

use crate::cell::{check_step, gemm, gemm_acc, Cell, StepCache};
use ndarray::{concatenate, s, Array2, ArrayView2, Axis, NdFloat, Zip};
use tfs_math::{sigmoid, Rng};
use tfs_nn::Init;

/// Parameters: `w_x: (I, 3H)` (blocks r, u, n), `w_hru: (H, 2H)`, `w_hn: (H, H)`, `b: (1, 3H)`.
#[derive(Clone, Debug)]
pub struct Gru<F> {
    pub w_x: Array2<F>,
    pub w_hru: Array2<F>,
    pub w_hn: Array2<F>,
    pub b: Array2<F>,
}

impl<F: NdFloat> Gru<F> {
    /// Xavier-uniform weights, zero biases.
    pub fn new(input: usize, hidden: usize, rng: &mut Rng) -> Self {
        Gru {
            w_x: Init::XavierUniform.matrix(input, 3 * hidden, rng),
            w_hru: Init::XavierUniform.matrix(hidden, 2 * hidden, rng),
            w_hn: Init::XavierUniform.matrix(hidden, hidden, rng),
            b: Array2::zeros((1, 3 * hidden)),
        }
    }
}

tfs_nn::impl_params!(Gru {
    w_x,
    w_hru,
    w_hn,
    b
});

impl<F: NdFloat> Cell<F> for Gru<F> {
    fn name(&self) -> &'static str {
        "GRU"
    }
    fn input_size(&self) -> usize {
        self.w_x.nrows()
    }
    fn hidden_size(&self) -> usize {
        self.w_hn.nrows()
    }

    fn forward(&self, x: ArrayView2<F>, hp: ArrayView2<F>) -> (Array2<F>, StepCache<F>) {
        check_step(self, &x, &hp);
        let h = self.hidden_size();
        let mut ax = gemm(&x, &self.w_x.view());
        ax += &self.b;
        let mut ru = ax.slice(s![.., ..2 * h]).to_owned();
        gemm_acc(&hp, &self.w_hru.view(), &mut ru);
        ru.mapv_inplace(sigmoid);
        let (r, u) = (ru.slice(s![.., ..h]), ru.slice(s![.., h..]));
        let rh = &r * &hp;
        let mut n = ax.slice(s![.., 2 * h..]).to_owned();
        gemm_acc(&rh.view(), &self.w_hn.view(), &mut n);
        n.mapv_inplace(|v| v.tanh());
        let mut h_new = Array2::zeros(n.dim());
        Zip::from(&mut h_new)
            .and(&u)
            .and(&hp)
            .and(&n)
            .for_each(|o, &u, &hp, &n| *o = u * hp + (F::one() - u) * n);
        let cache = StepCache {
            x: x.to_owned(),
            s_prev: hp.to_owned(),
            extra: vec![ru, rh, n],
        };
        (h_new, cache)
    }

    fn backward(
        &self,
        dh: ArrayView2<F>,
        cache: &StepCache<F>,
        grads: &mut tfs_nn::Grads<F>,
    ) -> (Array2<F>, Array2<F>) {
        let h = self.hidden_size();
        let one = F::one();
        let (ru, rh, n) = (&cache.extra[0], &cache.extra[1], &cache.extra[2]);
        let (r, u) = (ru.slice(s![.., ..h]), ru.slice(s![.., h..]));
        let hp = &cache.s_prev;
        let mut dru = Array2::zeros(ru.dim());
        let mut dan = Array2::zeros(n.dim());
        let mut dh_prev = Array2::zeros(hp.dim());
        // δu, δĥ → pre-activation gradients of u and n; direct path δh ⊙ u.
        Zip::from(dru.slice_mut(s![.., h..]))
            .and(&dh)
            .and(hp)
            .and(n)
            .and(&u)
            .for_each(|d, &dh, &hp, &n, &u| *d = dh * (hp - n) * u * (one - u));
        Zip::from(&mut dan)
            .and(&dh)
            .and(&u)
            .and(n)
            .for_each(|d, &dh, &u, &n| *d = dh * (one - u) * (one - n * n));
        Zip::from(&mut dh_prev)
            .and(&dh)
            .and(&u)
            .for_each(|d, &dh, &u| *d = dh * u);
        gemm_acc(&rh.t(), &dan.view(), &mut grads.mat_mut("w_hn"));
        let drh = gemm(&dan.view(), &self.w_hn.t());
        Zip::from(dru.slice_mut(s![.., ..h]))
            .and(&drh)
            .and(hp)
            .and(&r)
            .for_each(|d, &g, &hp, &r| *d = g * hp * r * (one - r));
        Zip::from(&mut dh_prev)
            .and(&drh)
            .and(&r)
            .for_each(|d, &g, &r| *d += g * r);
        gemm_acc(&dru.view(), &self.w_hru.t(), &mut dh_prev);
        gemm_acc(&hp.t(), &dru.view(), &mut grads.mat_mut("w_hru"));
        let da = concatenate![Axis(1), dru, dan];
        gemm_acc(&cache.x.t(), &da.view(), &mut grads.mat_mut("w_x"));
        let mut db = grads.mat_mut("b");
        db += &da.sum_axis(Axis(0)).insert_axis(Axis(0));
        (gemm(&da.view(), &self.w_x.t()), dh_prev)
    }
}
