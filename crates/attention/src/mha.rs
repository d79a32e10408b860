//! Multi-head self-attention.
//!
//! ```text
//!   Q = X W_Q,  K = X W_K,  V = X W_V            X: (B, T, D),  W: (D, D)
//!   head h uses columns h·d_k … (h+1)·d_k of Q, K, V   (d_k = D / heads)
//!   O_h = attention(Q_h, K_h, V_h, mask)          (crate::sdpa)
//!   Y = concat_h(O_h) W_O
//! ```
//!
//! Each head attends with its own projections of the same input, so different heads can learn
//! different patterns (the previous token, a delimiter, a fixed offset); `p4-self-attention` shows
//! them. Backward: `δW_O = concatᵀ δY`, `δconcat = δY W_Oᵀ`, each head's attention backward, then
//! `δW_Q = Xᵀ δQ` (likewise K, V) and `δX = δQ W_Qᵀ + δK W_Kᵀ + δV W_Vᵀ`.
//!
//! [`MultiHead::forward_reference`] loops over heads and positions without a matrix product: the
//! oracle the batched forward is tested against.
//!
//! Left out: biases (GPT-2 has them; Phase 7 adds them), dropout, key/value caches (Phase 9).

use crate::sdpa::{attention, attention_backward, attention_reference, Mask, SdpaCache};
use ndarray::{s, Array2, Array3, ArrayView3, NdFloat};
use tfs_kernels::nd::{gemm, matmul};
use tfs_math::Rng;
use tfs_nn::{Grads, Init};

pub struct MultiHead<F> {
    pub w_q: Array2<F>,
    pub w_k: Array2<F>,
    pub w_v: Array2<F>,
    pub w_o: Array2<F>,
    pub heads: usize,
}

pub struct MhaCache<F> {
    x: Array3<F>,
    concat: Array2<F>,
    pub heads: Vec<SdpaCache<F>>,
}

/// Columns `h·dk .. (h+1)·dk` of a `(B·T, D)` matrix as `(B, T, dk)`.
fn head<F: NdFloat>(m: &Array2<F>, b: usize, t: usize, h: usize, dk: usize) -> Array3<F> {
    m.slice(s![.., h * dk..(h + 1) * dk])
        .to_owned()
        .into_shape_with_order((b, t, dk))
        .expect("B·T rows")
}

tfs_nn::impl_params!(MultiHead { w_q, w_k, w_v, w_o });

impl<F: NdFloat> MultiHead<F> {
    pub fn new(d: usize, heads: usize, rng: &mut Rng) -> Self {
        assert!(
            heads > 0 && d.is_multiple_of(heads),
            "MultiHead: model width {d} must be a multiple of the {heads} heads"
        );
        let mut w = || Init::XavierUniform.matrix(d, d, rng);
        MultiHead {
            w_q: w(),
            w_k: w(),
            w_v: w(),
            w_o: w(),
            heads,
        }
    }

    fn check(&self, x: &ArrayView3<F>) -> (usize, usize, usize) {
        let (b, t, d) = x.dim();
        assert_eq!(
            d,
            self.w_q.nrows(),
            "MultiHead: input is {:?}, expected (B, T, D) with D = {}",
            x.dim(),
            self.w_q.nrows()
        );
        (b, t, d)
    }

    /// `Y: (B, T, D)` and the cache.
    pub fn forward(&self, x: ArrayView3<F>, mask: &Mask) -> (Array3<F>, MhaCache<F>) {
        let (b, t, d) = self.check(&x);
        let dk = d / self.heads;
        let x2 = x
            .to_owned()
            .into_shape_with_order((b * t, d))
            .expect("contiguous");
        let (q, k, v) = (
            matmul(&x2, &self.w_q),
            matmul(&x2, &self.w_k),
            matmul(&x2, &self.w_v),
        );
        let mut concat = Array2::zeros((b * t, d));
        let mut caches = Vec::with_capacity(self.heads);
        for h in 0..self.heads {
            let (o, c) = attention(
                head(&q, b, t, h, dk).view(),
                head(&k, b, t, h, dk).view(),
                head(&v, b, t, h, dk).view(),
                mask,
            );
            concat
                .slice_mut(s![.., h * dk..(h + 1) * dk])
                .assign(&o.into_shape_with_order((b * t, dk)).expect("shape"));
            caches.push(c);
        }
        let y = matmul(&concat, &self.w_o)
            .into_shape_with_order((b, t, d))
            .expect("shape");
        (
            y,
            MhaCache {
                x: x.to_owned(),
                concat,
                heads: caches,
            },
        )
    }

    /// `δX`, adding `δW_Q, δW_K, δW_V, δW_O` into `grads` (named `w_q`, `w_k`, `w_v`, `w_o`).
    pub fn backward(&self, dy: ArrayView3<F>, c: &MhaCache<F>, grads: &mut Grads<F>) -> Array3<F> {
        let (b, t, d) = c.x.dim();
        let dk = d / self.heads;
        let dy2 = dy
            .to_owned()
            .into_shape_with_order((b * t, d))
            .expect("contiguous");
        gemm(
            F::one(),
            &c.concat.t(),
            &dy2,
            F::one(),
            &mut grads.mat_mut("w_o"),
        );
        let dconcat = matmul(&dy2, &self.w_o.t());
        let (mut dq, mut dk_all, mut dv) = (
            Array2::zeros((b * t, d)),
            Array2::zeros((b * t, d)),
            Array2::zeros((b * t, d)),
        );
        for h in 0..self.heads {
            let dout = dconcat
                .slice(s![.., h * dk..(h + 1) * dk])
                .to_owned()
                .into_shape_with_order((b, t, dk))
                .expect("shape");
            let (gq, gk, gv) = attention_backward(dout.view(), &c.heads[h]);
            let flat = |a: Array3<F>| a.into_shape_with_order((b * t, dk)).expect("shape");
            dq.slice_mut(s![.., h * dk..(h + 1) * dk]).assign(&flat(gq));
            dk_all
                .slice_mut(s![.., h * dk..(h + 1) * dk])
                .assign(&flat(gk));
            dv.slice_mut(s![.., h * dk..(h + 1) * dk]).assign(&flat(gv));
        }
        let x2 =
            c.x.view()
                .into_shape_with_order((b * t, d))
                .expect("contiguous");
        for (name, dp) in [("w_q", &dq), ("w_k", &dk_all), ("w_v", &dv)] {
            gemm(F::one(), &x2.t(), dp, F::one(), &mut grads.mat_mut(name));
        }
        let mut dx = matmul(&dq, &self.w_q.t());
        gemm(F::one(), &dk_all, &self.w_k.t(), F::one(), &mut dx);
        gemm(F::one(), &dv, &self.w_v.t(), F::one(), &mut dx);
        dx.into_shape_with_order((b, t, d)).expect("shape")
    }

    /// The oracle: per head, per position, with the loop reference of attention. Returns `Y` and
    /// each head's weights.
    pub fn forward_reference(&self, x: ArrayView3<F>, mask: &Mask) -> (Array3<F>, Vec<Array3<F>>) {
        let (b, t, d) = self.check(&x);
        let dk = d / self.heads;
        let proj = |w: &Array2<F>, h: usize| {
            Array3::from_shape_fn((b, t, dk), |(bi, ti, c)| {
                let mut acc = F::zero();
                for e in 0..d {
                    acc += x[[bi, ti, e]] * w[[e, h * dk + c]];
                }
                acc
            })
        };
        let mut concat = Array3::zeros((b, t, d));
        let mut all_w = Vec::new();
        for h in 0..self.heads {
            let (o, w) = attention_reference(
                proj(&self.w_q, h).view(),
                proj(&self.w_k, h).view(),
                proj(&self.w_v, h).view(),
                mask,
            );
            concat
                .slice_mut(s![.., .., h * dk..(h + 1) * dk])
                .assign(&o);
            all_w.push(w);
        }
        let y = Array3::from_shape_fn((b, t, d), |(bi, ti, c)| {
            let mut acc = F::zero();
            for e in 0..d {
                acc += concat[[bi, ti, e]] * self.w_o[[e, c]];
            }
            acc
        });
        (y, all_w)
    }
}
