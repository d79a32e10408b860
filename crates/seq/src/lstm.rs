//! The LSTM cell (Hochreiter & Schmidhuber, 1997, with the forget gate of Gers et al., 2000).
//!
//! State `[h | c]`. With `z = x_t W_x + h_{t−1} W_h + b`, shape (B, 4H), split into four blocks:
//!
//! ```text
//!   i = σ(z_i)   input gate        f = σ(z_f)   forget gate
//!   g = tanh(z_g) candidate         o = σ(z_o)   output gate
//!   c_t = f ⊙ c_{t−1} + i ⊙ g
//!   h_t = o ⊙ tanh(c_t)
//! ```
//!
//! Backward, given δh = ∂L/∂h_t and δc = ∂L/∂c_t (from step t+1):
//!
//! ```text
//!   δc' = δc + δh ⊙ o ⊙ (1 − tanh²(c_t))       all paths into c_t
//!   δo = δh ⊙ tanh(c_t)      δi = δc' ⊙ g      δg = δc' ⊙ i      δf = δc' ⊙ c_{t−1}
//!   δz = [δi ⊙ i(1−i), δf ⊙ f(1−f), δg ⊙ (1−g²), δo ⊙ o(1−o)]
//!   ∂W_x += x_tᵀ δz    ∂W_h += h_{t−1}ᵀ δz    ∂b += Σ_rows δz
//!   ∂x_t = δz W_xᵀ     ∂h_{t−1} = δz W_hᵀ     ∂c_{t−1} = δc' ⊙ f
//! ```
//!
//! The cell path `∂c_{t−1} = δc' ⊙ f` is a product of forget gates, not of weight matrices: when
//! f ≈ 1 the gradient passes many steps almost unchanged. That is why the forget-gate bias starts
//! at 1 (Jozefowicz et al., 2015): remember by default.

use crate::cell::{check_step, gemm, gemm_acc, Cell, FusedSeq, StepCache};
use ndarray::{concatenate, s, Array2, ArrayView2, Axis, NdFloat, Zip};
use tfs_math::{sigmoid, Rng};
use tfs_nn::{Grads, Init};

/// Parameters: `w_x: (I, 4H)`, `w_h: (H, 4H)`, `b: (1, 4H)`; gate blocks in the order i, f, g, o.
#[derive(Clone, Debug)]
pub struct Lstm<F> {
    pub w_x: Array2<F>,
    pub w_h: Array2<F>,
    pub b: Array2<F>,
}

impl<F: NdFloat> Lstm<F> {
    /// Xavier-uniform weights; bias 0 except the forget gate's, 1.
    pub fn new(input: usize, hidden: usize, rng: &mut Rng) -> Self {
        let mut b = Array2::zeros((1, 4 * hidden));
        b.slice_mut(s![.., hidden..2 * hidden]).fill(F::one());
        Lstm {
            w_x: Init::XavierUniform.matrix(input, 4 * hidden, rng),
            w_h: Init::XavierUniform.matrix(hidden, 4 * hidden, rng),
            b,
        }
    }
}

tfs_nn::impl_params!(Lstm { w_x, w_h, b });

impl<F: NdFloat> Cell<F> for Lstm<F> {
    fn name(&self) -> &'static str {
        "LSTM"
    }
    fn input_size(&self) -> usize {
        self.w_x.nrows()
    }
    fn hidden_size(&self) -> usize {
        self.w_h.nrows()
    }
    fn state_size(&self) -> usize {
        2 * self.hidden_size()
    }
    fn fused(&self) -> Option<&dyn FusedSeq<F>> {
        Some(self)
    }

    fn forward(&self, x: ArrayView2<F>, s: ArrayView2<F>) -> (Array2<F>, StepCache<F>) {
        check_step(self, &x, &s);
        let h = self.hidden_size();
        let (h_prev, c_prev) = (s.slice(s![.., ..h]), s.slice(s![.., h..]));
        let mut z = gemm(&x, &self.w_x.view());
        gemm_acc(&h_prev, &self.w_h.view(), &mut z);
        z += &self.b;
        // Activate in place, row by row: gates [i f g o] = [σ σ tanh σ].
        for mut row in z.outer_iter_mut() {
            let row = row.as_slice_mut().expect("contiguous rows");
            for (k, v) in row.iter_mut().enumerate() {
                *v = if (2 * h..3 * h).contains(&k) {
                    v.tanh()
                } else {
                    sigmoid(*v)
                };
            }
        }
        let (i, f, g, o) = (
            z.slice(s![.., ..h]),
            z.slice(s![.., h..2 * h]),
            z.slice(s![.., 2 * h..3 * h]),
            z.slice(s![.., 3 * h..]),
        );
        let c = &f * &c_prev + &i * &g;
        let tc = c.mapv(|v| v.tanh());
        let h_new = &o * &tc;
        let state = concatenate![Axis(1), h_new, c];
        let cache = StepCache {
            x: x.to_owned(),
            s_prev: s.to_owned(),
            extra: vec![z, tc],
        };
        (state, cache)
    }

    fn backward(
        &self,
        ds: ArrayView2<F>,
        cache: &StepCache<F>,
        grads: &mut Grads<F>,
    ) -> (Array2<F>, Array2<F>) {
        let h = self.hidden_size();
        let one = F::one();
        let (gates, tc) = (&cache.extra[0], &cache.extra[1]);
        let (dh, dc_in) = (ds.slice(s![.., ..h]), ds.slice(s![.., h..]));
        let c_prev = cache.s_prev.slice(s![.., h..]);
        let (i, f, g, o) = (
            gates.slice(s![.., ..h]),
            gates.slice(s![.., h..2 * h]),
            gates.slice(s![.., 2 * h..3 * h]),
            gates.slice(s![.., 3 * h..]),
        );
        // δc' = δc + δh ⊙ o ⊙ (1 − tanh²c)
        let mut dc = dc_in.to_owned();
        Zip::from(&mut dc)
            .and(&dh)
            .and(&o)
            .and(tc)
            .for_each(|d, &dh, &o, &t| *d += dh * o * (one - t * t));
        let mut dz = Array2::zeros(gates.dim());
        Zip::from(dz.slice_mut(s![.., ..h]))
            .and(&dc)
            .and(&g)
            .and(&i)
            .for_each(|d, &dc, &g, &i| *d = dc * g * i * (one - i));
        Zip::from(dz.slice_mut(s![.., h..2 * h]))
            .and(&dc)
            .and(&c_prev)
            .and(&f)
            .for_each(|d, &dc, &cp, &f| *d = dc * cp * f * (one - f));
        Zip::from(dz.slice_mut(s![.., 2 * h..3 * h]))
            .and(&dc)
            .and(&i)
            .and(&g)
            .for_each(|d, &dc, &i, &g| *d = dc * i * (one - g * g));
        Zip::from(dz.slice_mut(s![.., 3 * h..]))
            .and(&dh)
            .and(tc)
            .and(&o)
            .for_each(|d, &dh, &t, &o| *d = dh * t * o * (one - o));
        let h_prev = cache.s_prev.slice(s![.., ..h]);
        gemm_acc(&cache.x.t(), &dz.view(), &mut grads.mat_mut("w_x"));
        gemm_acc(&h_prev.t(), &dz.view(), &mut grads.mat_mut("w_h"));
        let mut db = grads.mat_mut("b");
        db += &dz.sum_axis(Axis(0)).insert_axis(Axis(0));
        let dx = gemm(&dz.view(), &self.w_x.t());
        let dh_prev = gemm(&dz.view(), &self.w_h.t());
        let dc_prev = &dc * &f;
        (dx, concatenate![Axis(1), dh_prev, dc_prev])
    }
}
