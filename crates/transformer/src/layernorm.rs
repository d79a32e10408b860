//! Layer normalisation (Ba, Kiros & Hinton, 2016) over the feature dimension, with a learned
//! scale γ and shift β, forward and backward.
//!
//! For one row x ∈ R^D (a token's features):
//!
//! ```text
//!   μ = (1/D) Σ_i x_i          σ² = (1/D) Σ_i (x_i − μ)²      (biased, as PyTorch)
//!   r = 1 / √(σ² + ε)          x̂_i = (x_i − μ) · r
//!   y_i = γ_i x̂_i + β_i
//! ```
//!
//! Backward, given δy (rows independent; γ, β summed over rows):
//!
//! ```text
//!   δβ = Σ_rows δy              δγ = Σ_rows δy ⊙ x̂
//!   g = δy ⊙ γ                  (the gradient reaching x̂)
//!   δx = r · (g − mean(g) − x̂ · mean(g ⊙ x̂))
//! ```
//!
//! Derivation: x̂ depends on x through x − μ and through r. ∂x̂_i/∂x_j = r(δ_ij − 1/D) −
//! (x_i − μ) r³ (x_j − μ)/D = r(δ_ij − 1/D − x̂_i x̂_j / D). Contracting with g gives
//! δx_j = r(g_j − Σ_i g_i/D − x̂_j Σ_i g_i x̂_i / D). The two subtracted means are why layer
//! norm's input gradient is orthogonal to the all-ones vector and to x̂ itself: a layer norm
//! cannot be pushed along the directions it removes (a shift, a rescaling of the row).
//!
//! Inputs are `(N, D)` matrices: a batch of sequences enters as `(B·T, D)`.
//!
//! Left out: RMSNorm (Phase 9), layer norm without affine parameters, fused kernels (tfs-kernels).

use ndarray::{Array1, Array2, ArrayView2, Axis, NdFloat, Zip};
use tfs_nn::Grads;

/// `gamma: (D)`, `beta: (D)`, and ε (1e-5, PyTorch's default).
#[derive(Clone, Debug)]
pub struct LayerNorm<F> {
    pub gamma: Array1<F>,
    pub beta: Array1<F>,
    pub eps: f64,
}

tfs_nn::impl_params!(LayerNorm { gamma, beta });

/// What backward needs: `x̂: (N, D)`, `r: (N)`.
#[derive(Clone, Debug)]
pub struct LnCache<F> {
    pub xhat: Array2<F>,
    pub rstd: Array1<F>,
}

impl<F: NdFloat> LayerNorm<F> {
    /// γ = 1, β = 0.
    pub fn new(d: usize) -> Self {
        LayerNorm {
            gamma: Array1::ones(d),
            beta: Array1::zeros(d),
            eps: 1e-5,
        }
    }

    /// `y: (N, D)` and the cache, for `x: (N, D)`.
    pub fn forward(&self, x: ArrayView2<F>) -> (Array2<F>, LnCache<F>) {
        let (n, d) = x.dim();
        assert_eq!(
            d,
            self.gamma.len(),
            "LayerNorm: input is {:?}, expected (N, D) with D = {}",
            x.dim(),
            self.gamma.len()
        );
        let inv_d = F::one() / F::from(d).expect("fits");
        let eps = F::from(self.eps).expect("fits");
        let mut xhat = Array2::zeros((n, d));
        let mut rstd = Array1::zeros(n);
        let mut y = Array2::zeros((n, d));
        for (((xr, mut hr), r), mut yr) in x
            .rows()
            .into_iter()
            .zip(xhat.rows_mut())
            .zip(rstd.iter_mut())
            .zip(y.rows_mut())
        {
            // ANCHOR: forward
            let mu = xr.sum() * inv_d;
            let var = xr.fold(F::zero(), |a, &v| a + (v - mu) * (v - mu)) * inv_d;
            *r = F::one() / (var + eps).sqrt();
            let rr = *r;
            Zip::from(&mut hr)
                .and(&mut yr)
                .and(&xr)
                .and(&self.gamma)
                .and(&self.beta)
                .for_each(|h, y, &x, &g, &b| {
                    *h = (x - mu) * rr;
                    *y = g * *h + b;
                });
            // ANCHOR_END: forward
        }
        (y, LnCache { xhat, rstd })
    }

    /// `δx: (N, D)`, adding `δγ`, `δβ` into `grads` (named `gamma`, `beta`).
    pub fn backward(&self, dy: ArrayView2<F>, c: &LnCache<F>, grads: &mut Grads<F>) -> Array2<F> {
        let (n, d) = c.xhat.dim();
        assert_eq!(
            dy.dim(),
            (n, d),
            "LayerNorm::backward: δy is {:?}, expected (N, D) = ({n}, {d})",
            dy.dim()
        );
        {
            let mut db = grads.vec_mut("beta");
            db += &dy.sum_axis(Axis(0));
        }
        {
            let mut dg = grads.vec_mut("gamma");
            dg += &(&dy * &c.xhat).sum_axis(Axis(0));
        }
        let inv_d = F::one() / F::from(d).expect("fits");
        let mut dx = Array2::zeros((n, d));
        for (((dyr, hr), &r), mut dxr) in dy
            .rows()
            .into_iter()
            .zip(c.xhat.rows())
            .zip(c.rstd.iter())
            .zip(dx.rows_mut())
        {
            // ANCHOR: backward
            let (mut mg, mut mgh) = (F::zero(), F::zero());
            for ((&dyv, &h), &g) in dyr.iter().zip(hr).zip(&self.gamma) {
                mg += dyv * g;
                mgh += dyv * g * h;
            }
            mg *= inv_d;
            mgh *= inv_d;
            Zip::from(&mut dxr)
                .and(&dyr)
                .and(&hr)
                .and(&self.gamma)
                .for_each(|o, &dyv, &h, &g| *o = r * (dyv * g - mg - h * mgh));
            // ANCHOR_END: backward
        }
        dx
    }

    /// The oracle: one row at a time from the definition, in f64 (for tests).
    pub fn forward_reference(&self, x: ArrayView2<F>) -> Array2<F> {
        let d = x.ncols();
        let mut y = Array2::zeros(x.dim());
        for (i, row) in x.rows().into_iter().enumerate() {
            let v: Vec<f64> = row.iter().map(|a| a.to_f64().expect("finite")).collect();
            let mu = v.iter().sum::<f64>() / d as f64;
            let var = v.iter().map(|a| (a - mu).powi(2)).sum::<f64>() / d as f64;
            for j in 0..d {
                let h = (v[j] - mu) / (var + self.eps).sqrt();
                let g = self.gamma[j].to_f64().expect("finite");
                let b = self.beta[j].to_f64().expect("finite");
                y[[i, j]] = F::from(g * h + b).expect("fits");
            }
        }
        y
    }
}
