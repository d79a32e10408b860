//! Multi-head attention with biases: self-attention and cross-attention, forward and backward.
//!
//! ```text
//!   Q = Xq W_Q + b_Q    (B·Tq, D)       Xq: the queries' stream (decoder in cross-attention)
//!   K = Xkv W_K + b_K   (B·Tk, D)       Xkv: the keys' stream (= Xq in self-attention,
//!   V = Xkv W_V + b_V   (B·Tk, D)            the encoder's output in cross-attention)
//!   head h, batch row b:  S = Q_bh K_bhᵀ / √d_k  (Tq, Tk),  masked → −∞,  P = softmax_rows(S)
//!                         O_bh = P V_bh  (Tq, d_k)          d_k = D / heads
//!   Y = concat_h(O) W_O + b_O           (B·Tq, D)
//! ```
//!
//! Backward, per (b, h), with δO from `δconcat = δY W_Oᵀ` (Phase 4's derivation, `sdpa.rs`):
//!
//! ```text
//!   δV = Pᵀ δO    δP = δO Vᵀ    δS = P ⊙ (δP − rowsum(δP ⊙ P))
//!   δQ = δS K / √d_k            δK = δSᵀ Q / √d_k
//! ```
//!
//! then the four affine backwards: `δXq = δQ W_Qᵀ`, `δXkv = δK W_Kᵀ + δV W_Vᵀ` (the caller adds
//! the two for self-attention). The masks are Phase 4's [`Mask`]: padding (keys beyond a row's
//! length), causal, both. A head of a batch row is a strided view of the `(B·T, D)` matrices, so
//! no head is copied; every product goes through [`crate::ops`]. `tfs_attention::sdpa`'s loop
//! reference is the oracle the tests compare with.
//!
//! Names: `w_q, b_q, w_k, b_k, w_v, b_v, w_o, b_o` (all W are `(D, D)`, all b are `(D)`).
//!
//! Left out: dropout on the weights, key/value caching (Phase 9), differing key/value widths.

use crate::ffn::{affine, affine_backward_named};
use crate::ops::matmul_into;
use ndarray::{s, Array1, Array2, Array4, ArrayView2, ArrayViewMut2, NdFloat};
use tfs_attention::sdpa::Mask;
use tfs_math::Rng;
use tfs_nn::{Grads, Init};

/// Multi-head attention with biases.
#[derive(Clone, Debug)]
pub struct Mha<F> {
    pub w_q: Array2<F>,
    pub b_q: Array1<F>,
    pub w_k: Array2<F>,
    pub b_k: Array1<F>,
    pub w_v: Array2<F>,
    pub b_v: Array1<F>,
    pub w_o: Array2<F>,
    pub b_o: Array1<F>,
    pub heads: usize,
}

tfs_nn::impl_params!(Mha {
    w_q,
    b_q,
    w_k,
    b_k,
    w_v,
    b_v,
    w_o,
    b_o
});

/// What backward needs; `p` are the attention weights `(B, H, Tq, Tk)` (figures read them).
#[derive(Clone, Debug)]
pub struct MhaCache<F> {
    xq: Array2<F>,
    xkv: Array2<F>,
    q: Array2<F>,
    k: Array2<F>,
    v: Array2<F>,
    concat: Array2<F>,
    pub p: Array4<F>,
    b: usize,
}

/// How many leading keys query `i` of batch row `b` may see. Every Phase 4 mask is a prefix:
/// padding allows `j < len[b]`, causal `j ≤ i`, both the smaller of the two (the tests hold
/// this equal to [`Mask::allows`]).
pub fn visible(mask: &Mask, b: usize, i: usize, tk: usize) -> usize {
    match mask {
        Mask::None => tk,
        Mask::Causal => (i + 1).min(tk),
        Mask::Padding(len) => len[b].min(tk),
        Mask::CausalPadding(len) => (i + 1).min(len[b]).min(tk),
    }
}

/// Softmax of each row of `s` in place over the keys `mask` lets it see (the rest become 0,
/// as e^−∞ would); a row with nothing visible becomes all zeros.
fn masked_softmax<F: NdFloat>(mut s: ArrayViewMut2<F>, mask: &Mask, b: usize) {
    let tk = s.ncols();
    for (i, mut row) in s.rows_mut().into_iter().enumerate() {
        let n = visible(mask, b, i, tk);
        row.slice_mut(s![n..]).fill(F::zero());
        if n == 0 {
            continue;
        }
        let mut seen = row.slice_mut(s![..n]);
        let m = seen.fold(F::neg_infinity(), |a, &x| a.max(x));
        let mut sum = F::zero();
        seen.mapv_inplace(|x| {
            let e = (x - m).exp();
            sum += e;
            e
        });
        let inv = F::one() / sum;
        seen.mapv_inplace(|x| x * inv);
    }
}

impl<F: NdFloat> Mha<F> {
    /// Xavier-uniform weights, zero biases.
    pub fn new(d: usize, heads: usize, rng: &mut Rng) -> Self {
        assert!(
            heads > 0 && d.is_multiple_of(heads),
            "Mha: model width {d} must be a multiple of the {heads} heads"
        );
        let mut w = || Init::XavierUniform.matrix(d, d, rng);
        let (w_q, w_k, w_v, w_o) = (w(), w(), w(), w());
        let z = || Array1::zeros(d);
        Mha {
            w_q,
            b_q: z(),
            w_k,
            b_k: z(),
            w_v,
            b_v: z(),
            w_o,
            b_o: z(),
            heads,
        }
    }

    /// `Y: (B·Tq, D)` for queries `xq: (B·Tq, D)` attending to `xkv: (B·Tk, D)` (`b` batch rows).
    pub fn forward(
        &self,
        xq: ArrayView2<F>,
        xkv: ArrayView2<F>,
        b: usize,
        mask: &Mask,
    ) -> (Array2<F>, MhaCache<F>) {
        let d = self.w_q.nrows();
        assert!(
            b > 0
                && xq.ncols() == d
                && xkv.ncols() == d
                && xq.nrows().is_multiple_of(b)
                && xkv.nrows().is_multiple_of(b),
            "Mha: queries are {:?}, keys/values {:?}, batch {b}; expected (B·Tq, D), (B·Tk, D) with D = {d}",
            xq.dim(),
            xkv.dim()
        );
        if let Mask::Padding(l) | Mask::CausalPadding(l) = mask {
            assert_eq!(
                l.len(),
                b,
                "Mha: padding mask has {} lengths for a batch of {b}",
                l.len()
            );
        }
        let (tq, tk, nh) = (xq.nrows() / b, xkv.nrows() / b, self.heads);
        let dk = d / nh;
        let q = affine(xq, self.w_q.view(), self.b_q.view());
        let k = affine(xkv, self.w_k.view(), self.b_k.view());
        let v = affine(xkv, self.w_v.view(), self.b_v.view());
        let scale = F::one() / F::from(dk).expect("fits").sqrt();
        let mut p = Array4::zeros((b, nh, tq, tk));
        let mut concat = Array2::zeros((b * tq, d));
        for bi in 0..b {
            let (rq, rk) = (bi * tq..(bi + 1) * tq, bi * tk..(bi + 1) * tk);
            for h in 0..nh {
                let cols = h * dk..(h + 1) * dk;
                let mut pm = p.slice_mut(s![bi, h, .., ..]);
                matmul_into(
                    q.slice(s![rq.clone(), cols.clone()]),
                    k.slice(s![rk.clone(), cols.clone()]),
                    pm.view_mut(),
                    false,
                    true,
                    scale,
                    F::zero(),
                );
                masked_softmax(pm.view_mut(), mask, bi);
                matmul_into(
                    pm.view(),
                    v.slice(s![rk.clone(), cols.clone()]),
                    concat.slice_mut(s![rq.clone(), cols]),
                    false,
                    false,
                    F::one(),
                    F::zero(),
                );
            }
        }
        let y = affine(concat.view(), self.w_o.view(), self.b_o.view());
        let cache = MhaCache {
            xq: xq.to_owned(),
            xkv: xkv.to_owned(),
            q,
            k,
            v,
            concat,
            p,
            b,
        };
        (y, cache)
    }

    /// `(δXq, δXkv)`, adding every weight's and bias's gradient into `grads`.
    pub fn backward(
        &self,
        dy: ArrayView2<F>,
        c: &MhaCache<F>,
        grads: &mut Grads<F>,
    ) -> (Array2<F>, Array2<F>) {
        assert_eq!(
            dy.dim(),
            c.xq.dim(),
            "Mha::backward: δY is {:?}, expected (B·Tq, D) = {:?}",
            dy.dim(),
            c.xq.dim()
        );
        let d = self.w_q.nrows();
        let (b, nh) = (c.b, self.heads);
        let (tq, tk, dk) = (c.xq.nrows() / b, c.xkv.nrows() / b, d / nh);
        let scale = F::one() / F::from(dk).expect("fits").sqrt();
        let dconcat =
            affine_backward_named(c.concat.view(), dy, self.w_o.view(), grads, "w_o", "b_o");
        let mut dq = Array2::zeros(c.q.dim());
        let mut dk_ = Array2::zeros(c.k.dim());
        let mut dv = Array2::zeros(c.v.dim());
        let mut ds = Array2::zeros((tq, tk));
        for bi in 0..b {
            let (rq, rk) = (bi * tq..(bi + 1) * tq, bi * tk..(bi + 1) * tk);
            for h in 0..nh {
                let cols = h * dk..(h + 1) * dk;
                let p = c.p.slice(s![bi, h, .., ..]);
                let d_o = dconcat.slice(s![rq.clone(), cols.clone()]);
                // ANCHOR: head_backward
                // δV = Pᵀ δO
                matmul_into(
                    p,
                    d_o,
                    dv.slice_mut(s![rk.clone(), cols.clone()]),
                    true,
                    false,
                    F::one(),
                    F::zero(),
                );
                // δP = δO Vᵀ, then δS = P ⊙ (δP − rowsum(δP ⊙ P))
                matmul_into(
                    d_o,
                    c.v.slice(s![rk.clone(), cols.clone()]),
                    ds.view_mut(),
                    false,
                    true,
                    F::one(),
                    F::zero(),
                );
                for (mut dr, pr) in ds.rows_mut().into_iter().zip(p.rows()) {
                    let dot = dr.iter().zip(pr).fold(F::zero(), |a, (&x, &y)| a + x * y);
                    dr.iter_mut()
                        .zip(pr)
                        .for_each(|(x, &pij)| *x = pij * (*x - dot));
                }
                // δQ = δS K / √d_k,  δK = δSᵀ Q / √d_k
                matmul_into(
                    ds.view(),
                    c.k.slice(s![rk.clone(), cols.clone()]),
                    dq.slice_mut(s![rq.clone(), cols.clone()]),
                    false,
                    false,
                    scale,
                    F::zero(),
                );
                matmul_into(
                    ds.view(),
                    c.q.slice(s![rq.clone(), cols.clone()]),
                    dk_.slice_mut(s![rk.clone(), cols]),
                    true,
                    false,
                    scale,
                    F::zero(),
                );
                // ANCHOR_END: head_backward
            }
        }
        let dxq =
            affine_backward_named(c.xq.view(), dq.view(), self.w_q.view(), grads, "w_q", "b_q");
        let mut dxkv = affine_backward_named(
            c.xkv.view(),
            dk_.view(),
            self.w_k.view(),
            grads,
            "w_k",
            "b_k",
        );
        dxkv += &affine_backward_named(
            c.xkv.view(),
            dv.view(),
            self.w_v.view(),
            grads,
            "w_v",
            "b_v",
        );
        (dxq, dxkv)
    }
}
