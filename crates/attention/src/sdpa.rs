//! Scaled dot-product attention (Vaswani et al., 2017), with masks, forward and backward.
//!
//! ```text
//!   S = Q Kᵀ / √d_k        (B, Tq, Tk)     Q: (B, Tq, d_k)  K: (B, Tk, d_k)  V: (B, Tk, d_v)
//!   S_ij = −∞ where the mask forbids query i to see key j
//!   P = softmax_j(S)       O = P V         (B, Tq, d_v)
//! ```
//!
//! Why divide by √d_k: if q and k have independent unit-variance entries, q·k has variance d_k, so
//! unscaled scores grow like √d_k and the softmax saturates into a near one-hot, whose gradient is
//! near zero (`p4-scaling` measures it). Dividing restores unit variance.
//!
//! Backward, given δO:
//!
//! ```text
//!   δV = Pᵀ δO        δP = δO Vᵀ        δS = P ⊙ (δP − rowsum(δP ⊙ P))
//!   δQ = δS K / √d_k   δK = δSᵀ Q / √d_k
//! ```
//!
//! A masked position has P = 0 exactly (e^−∞), so it gets exactly zero weight, and δS = P ⊙ (…) is
//! exactly zero there too: no gradient flows through a masked pair. A query whose every key is
//! masked gets an all-zero row of weights (and output) rather than NaN.
//!
//! [`attention_reference`] is the same computation with explicit loops over batch, query and key:
//! the readable oracle the batched [`attention`] is tested against.

use ndarray::{s, Array2, Array3, ArrayView3, NdFloat};
use tfs_kernels::nd::matmul;
use tfs_math::softmax_rows;

/// Which keys each query may attend to.
#[derive(Clone, Debug, PartialEq)]
pub enum Mask {
    None,
    /// Query i sees keys j ≤ i (a decoder must not read the future).
    Causal,
    /// Batch row b sees only its first `lengths[b]` keys (the rest is padding).
    Padding(Vec<usize>),
    /// Both.
    CausalPadding(Vec<usize>),
}

impl Mask {
    /// May query `i` of batch row `b` attend to key `j`?
    pub fn allows(&self, b: usize, i: usize, j: usize) -> bool {
        match self {
            Mask::None => true,
            Mask::Causal => j <= i,
            Mask::Padding(len) => j < len[b],
            Mask::CausalPadding(len) => j <= i && j < len[b],
        }
    }

    /// The mask as 0/1 for one batch row, `(Tq, Tk)` (for figures).
    pub fn matrix(&self, b: usize, tq: usize, tk: usize) -> Array2<f64> {
        Array2::from_shape_fn(
            (tq, tk),
            |(i, j)| if self.allows(b, i, j) { 1.0 } else { 0.0 },
        )
    }
}

fn check_shapes<F>(q: &ArrayView3<F>, k: &ArrayView3<F>, v: &ArrayView3<F>, mask: &Mask) {
    let (qd, kd, vd) = (q.dim(), k.dim(), v.dim());
    assert!(
        qd.0 == kd.0 && kd.0 == vd.0,
        "attention: batch sizes differ: Q is {qd:?}, K is {kd:?}, V is {vd:?} (expected (B, Tq, d_k), (B, Tk, d_k), (B, Tk, d_v))"
    );
    assert_eq!(
        qd.2, kd.2,
        "attention: Q is {qd:?} and K is {kd:?}; their last dimensions (d_k) must match"
    );
    assert_eq!(
        kd.1, vd.1,
        "attention: K is {kd:?} and V is {vd:?}; they must have the same number of keys (Tk)"
    );
    if let Mask::Padding(len) | Mask::CausalPadding(len) = mask {
        assert_eq!(
            len.len(),
            qd.0,
            "attention: padding mask has {} lengths for a batch of {}",
            len.len(),
            qd.0
        );
    }
}

/// What backward needs.
pub struct SdpaCache<F> {
    pub q: Array3<F>,
    pub k: Array3<F>,
    pub v: Array3<F>,
    /// P: (B, Tq, Tk)
    pub weights: Array3<F>,
}

/// The readable oracle: explicit loops. Returns `(O, P)`.
pub fn attention_reference<F: NdFloat>(
    q: ArrayView3<F>,
    k: ArrayView3<F>,
    v: ArrayView3<F>,
    mask: &Mask,
) -> (Array3<F>, Array3<F>) {
    check_shapes(&q, &k, &v, mask);
    let (b, tq, d) = q.dim();
    let (tk, dv) = (k.dim().1, v.dim().2);
    let scale = F::one() / F::from(d).expect("fits").sqrt();
    let mut out = Array3::zeros((b, tq, dv));
    let mut p = Array3::zeros((b, tq, tk));
    for bi in 0..b {
        for i in 0..tq {
            let mut scores = vec![F::neg_infinity(); tk];
            for (j, sc) in scores.iter_mut().enumerate() {
                if mask.allows(bi, i, j) {
                    let mut dot = F::zero();
                    for c in 0..d {
                        dot += q[[bi, i, c]] * k[[bi, j, c]];
                    }
                    *sc = dot * scale;
                }
            }
            let m = scores.iter().fold(F::neg_infinity(), |a, &x| a.max(x));
            if m == F::neg_infinity() {
                continue; // nothing visible: zero weights, zero output
            }
            let sum: F = scores
                .iter()
                .map(|&x| (x - m).exp())
                .fold(F::zero(), |a, x| a + x);
            for j in 0..tk {
                let w = (scores[j] - m).exp() / sum;
                p[[bi, i, j]] = w;
                for c in 0..dv {
                    out[[bi, i, c]] += w * v[[bi, j, c]];
                }
            }
        }
    }
    (out, p)
}

/// Batched attention: one matrix product per batch row. Returns `O: (B, Tq, d_v)` and the cache.
pub fn attention<F: NdFloat>(
    q: ArrayView3<F>,
    k: ArrayView3<F>,
    v: ArrayView3<F>,
    mask: &Mask,
) -> (Array3<F>, SdpaCache<F>) {
    check_shapes(&q, &k, &v, mask);
    let (b, tq, d) = q.dim();
    let (tk, dv) = (k.dim().1, v.dim().2);
    let scale = F::one() / F::from(d).expect("fits").sqrt();
    let mut out = Array3::zeros((b, tq, dv));
    let mut weights = Array3::zeros((b, tq, tk));
    for bi in 0..b {
        let mut sc = matmul(&q.slice(s![bi, .., ..]), &k.slice(s![bi, .., ..]).t()) * scale;
        if *mask != Mask::None {
            for ((i, j), x) in sc.indexed_iter_mut() {
                if !mask.allows(bi, i, j) {
                    *x = F::neg_infinity();
                }
            }
        }
        let p = softmax_rows(&sc);
        out.slice_mut(s![bi, .., ..])
            .assign(&matmul(&p, &v.slice(s![bi, .., ..])));
        weights.slice_mut(s![bi, .., ..]).assign(&p);
    }
    (
        out,
        SdpaCache {
            q: q.to_owned(),
            k: k.to_owned(),
            v: v.to_owned(),
            weights,
        },
    )
}

/// Backward of [`attention`]: `(δQ, δK, δV)`.
pub fn attention_backward<F: NdFloat>(
    dout: ArrayView3<F>,
    c: &SdpaCache<F>,
) -> (Array3<F>, Array3<F>, Array3<F>) {
    let (b, _, d) = c.q.dim();
    assert_eq!(
        dout.dim(),
        (b, c.q.dim().1, c.v.dim().2),
        "attention_backward: δO is {:?}, expected (B, Tq, d_v)",
        dout.dim()
    );
    let scale = F::one() / F::from(d).expect("fits").sqrt();
    let (mut dq, mut dk, mut dv) = (
        Array3::zeros(c.q.dim()),
        Array3::zeros(c.k.dim()),
        Array3::zeros(c.v.dim()),
    );
    for bi in 0..b {
        let p = c.weights.slice(s![bi, .., ..]);
        let d_o = dout.slice(s![bi, .., ..]);
        dv.slice_mut(s![bi, .., ..]).assign(&matmul(&p.t(), &d_o));
        let dp = matmul(&d_o, &c.v.slice(s![bi, .., ..]).t());
        let mut ds = &dp * &p;
        for (mut row, prow) in ds.rows_mut().into_iter().zip(p.rows()) {
            let dot: F = row.sum(); // Σ_j δP_ij P_ij
            for (x, &pij) in row.iter_mut().zip(prow) {
                *x -= pij * dot;
            }
        }
        dq.slice_mut(s![bi, .., ..])
            .assign(&(matmul(&ds, &c.k.slice(s![bi, .., ..])) * scale));
        dk.slice_mut(s![bi, .., ..])
            .assign(&(matmul(&ds.t(), &c.q.slice(s![bi, .., ..])) * scale));
    }
    (dq, dk, dv)
}
