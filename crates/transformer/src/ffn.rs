//! Affine maps and the position-wise feed-forward network.
//!
//! ```text
//!   affine:  y = x W + b                     x: (N, in)  W: (in, out)  b: (out)  y: (N, out)
//!            δW += xᵀ δy    δb += Σ_rows δy    δx = δy Wᵀ
//!   FFN:     h = x W1 + b1   a = act(h)   y = a W2 + b2      W1: (D, F)  W2: (F, D)
//!            δa = δy W2ᵀ     δh = δa ⊙ act'(h)   then the affine backward twice
//! ```
//!
//! "Position-wise": the same two-layer MLP is applied to every token's D features on its own
//! (rows of the `(B·T, D)` matrix never mix), so the whole batch is two matrix products. The inner
//! width F is a parameter (4·D in the paper); `p5-ablations` varies it. Our weights are stored
//! `(in, out)` and multiply from the right (`x W`); PyTorch's `nn.Linear.weight` is `(out, in)`,
//! its transpose (the fixture script transposes).
//!
//! Left out: dropout, gated variants (SwiGLU, Phase 9).

use crate::ops::matmul_into;
use ndarray::{
    Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, NdFloat,
};
use tfs_math::Rng;
use tfs_nn::{Activation, Grads, Init};

/// `y = x W + b`: `x: (N, in)`, `w: (in, out)`, `b: (out)` → `(N, out)`.
pub fn affine<F: NdFloat>(x: ArrayView2<F>, w: ArrayView2<F>, b: ArrayView1<F>) -> Array2<F> {
    assert_eq!(
        b.len(),
        w.ncols(),
        "affine: bias has {} entries, W is {:?} (expected (in, out) and (out))",
        b.len(),
        w.dim()
    );
    let mut y = Array2::zeros((x.nrows(), w.ncols()));
    y.rows_mut().into_iter().for_each(|mut r| r.assign(&b));
    matmul_into(x, w, y.view_mut(), false, false, F::one(), F::one());
    y
}

/// Backward of [`affine`]: adds `xᵀ δy` into `dw`, `Σ_rows δy` into `db`; returns `δx = δy Wᵀ`
/// when `need_dx`.
pub fn affine_backward<F: NdFloat>(
    x: ArrayView2<F>,
    dy: ArrayView2<F>,
    w: ArrayView2<F>,
    dw: ArrayViewMut2<F>,
    mut db: ArrayViewMut1<F>,
    need_dx: bool,
) -> Option<Array2<F>> {
    assert!(
        x.nrows() == dy.nrows() && x.ncols() == w.nrows() && dy.ncols() == w.ncols(),
        "affine_backward: x is {:?}, δy is {:?}, W is {:?}; expected (N, in), (N, out), (in, out)",
        x.dim(),
        dy.dim(),
        w.dim()
    );
    matmul_into(x, dy, dw, true, false, F::one(), F::one());
    db += &dy.sum_axis(Axis(0));
    need_dx.then(|| {
        let mut dx = Array2::zeros(x.dim());
        matmul_into(dy, w, dx.view_mut(), false, true, F::one(), F::zero());
        dx
    })
}

/// Adds the affine map's gradients into `grads` under `w_name`, `b_name`; returns δx.
pub fn affine_backward_named<F: NdFloat>(
    x: ArrayView2<F>,
    dy: ArrayView2<F>,
    w: ArrayView2<F>,
    grads: &mut Grads<F>,
    w_name: &str,
    b_name: &str,
) -> Array2<F> {
    matmul_into(
        x,
        dy,
        grads.mat_mut(w_name),
        true,
        false,
        F::one(),
        F::one(),
    );
    {
        let mut db = grads.vec_mut(b_name);
        db += &dy.sum_axis(Axis(0));
    }
    let mut dx = Array2::zeros(x.dim());
    matmul_into(dy, w, dx.view_mut(), false, true, F::one(), F::zero());
    dx
}

/// The position-wise FFN: `w1: (D, F)`, `b1: (F)`, `w2: (F, D)`, `b2: (D)`.
#[derive(Clone, Debug)]
pub struct Ffn<F> {
    pub w1: Array2<F>,
    pub b1: Array1<F>,
    pub w2: Array2<F>,
    pub b2: Array1<F>,
    pub act: Activation,
}

tfs_nn::impl_params!(Ffn { w1, b1, w2, b2 });

/// What backward needs: the input `(N, D)`, pre-activation and activation `(N, F)`.
#[derive(Clone, Debug)]
pub struct FfnCache<F> {
    x: Array2<F>,
    /// The pre-activation `(N, F)`.
    pub h: Array2<F>,
    a: Array2<F>,
}

impl<F: NdFloat> Ffn<F> {
    /// Xavier-uniform weights, zero biases.
    pub fn new(d: usize, inner: usize, act: Activation, rng: &mut Rng) -> Self {
        Ffn {
            w1: Init::XavierUniform.matrix(d, inner, rng),
            b1: Array1::zeros(inner),
            w2: Init::XavierUniform.matrix(inner, d, rng),
            b2: Array1::zeros(d),
            act,
        }
    }

    /// `y: (N, D)` for `x: (N, D)`.
    pub fn forward(&self, x: ArrayView2<F>) -> (Array2<F>, FfnCache<F>) {
        assert_eq!(
            x.ncols(),
            self.w1.nrows(),
            "Ffn: input is {:?}, expected (N, D) with D = {}",
            x.dim(),
            self.w1.nrows()
        );
        // ANCHOR: forward
        let h = affine(x, self.w1.view(), self.b1.view());
        let act = self.act;
        let a = h.mapv(|v| act.f(v));
        let y = affine(a.view(), self.w2.view(), self.b2.view());
        // ANCHOR_END: forward
        (
            y,
            FfnCache {
                x: x.to_owned(),
                h,
                a,
            },
        )
    }

    /// `δx: (N, D)`, adding `δW1, δb1, δW2, δb2` into `grads`.
    pub fn backward(&self, dy: ArrayView2<F>, c: &FfnCache<F>, grads: &mut Grads<F>) -> Array2<F> {
        let mut dh = affine_backward_named(c.a.view(), dy, self.w2.view(), grads, "w2", "b2");
        let act = self.act;
        ndarray::Zip::from(&mut dh)
            .and(&c.h)
            .for_each(|g, &h| *g *= act.df(h));
        affine_backward_named(c.x.view(), dh.view(), self.w1.view(), grads, "w1", "b1")
    }
}
