//! Attention over a sequence of encoder states, for one decoder step: Bahdanau's additive score
//! and Luong's dot, general and concat scores, with their backward passes.
//!
//! For a query q (the decoder state, (B, H)) and keys h_1 … h_L (the encoder's outputs, (B, L, H)):
//!
//! ```text
//!   dot        e_i = q · h_i
//!   general    e_i = q W h_i              = (q W) · h_i
//!   additive   e_i = vᵀ tanh(q W_q + h_i W_k + b)      Bahdanau (2015); Luong's "concat" is this
//!   α = softmax_i(e),   context = Σ_i α_i h_i
//! ```
//!
//! Backward, given δc = ∂L/∂context:
//!
//! ```text
//!   δα_i = δc · h_i          ∂h_i += α_i δc
//!   δe_i = α_i (δα_i − Σ_j α_j δα_j)                       (the softmax Jacobian)
//!   dot:      ∂q += Σ_i δe_i h_i            ∂h_i += δe_i q
//!   general:  u = qW; δu = Σ_i δe_i h_i;  ∂h_i += δe_i u;  ∂q += δu Wᵀ;  ∂W += qᵀ δu
//!   additive: a_i = tanh(…); ∂v += Σ δe_i a_i;  δa_i = δe_i v ⊙ (1 − a_i²);
//!             ∂q += (Σ_i δa_i) W_qᵀ;  ∂W_q += qᵀ Σ_i δa_i;  ∂b += Σ δa_i;
//!             ∂h_i += δa_i W_kᵀ;  ∂W_k += Σ_i h_iᵀ δa_i
//! ```
//!
//! The keys' projection `h_i W_k` does not depend on the decoder step, so it is computed once per
//! sequence ([`Keys`]) and its gradient is accumulated over all steps, then pushed through W_k once.
//!
//! Left out: local (windowed) attention, location-based scores, coverage.

use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayViewD, ArrayViewMutD, Axis, NdFloat};
use tfs_math::{softmax_rows, Rng};
use tfs_nn::{Grads, Init, Params};

/// How a decoder state is scored against each encoder state.
#[derive(Clone, Debug)]
pub enum Score<F> {
    Dot,
    /// `w: (H, H)`.
    General {
        w: Array2<F>,
    },
    /// `w_q: (H, A)`, `w_k: (H, A)`, `b: (1, A)`, `v: (A, 1)`.
    Additive {
        w_q: Array2<F>,
        w_k: Array2<F>,
        b: Array2<F>,
        v: Array2<F>,
    },
}

/// Names the score kinds for figures and tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScoreKind {
    Dot,
    General,
    Additive,
}

impl<F: NdFloat> Score<F> {
    pub fn new(kind: ScoreKind, hidden: usize, attn: usize, rng: &mut Rng) -> Self {
        match kind {
            ScoreKind::Dot => Score::Dot,
            ScoreKind::General => Score::General {
                w: Init::XavierUniform.matrix(hidden, hidden, rng),
            },
            ScoreKind::Additive => Score::Additive {
                w_q: Init::XavierUniform.matrix(hidden, attn, rng),
                w_k: Init::XavierUniform.matrix(hidden, attn, rng),
                b: Array2::zeros((1, attn)),
                v: Init::XavierUniform.matrix(attn, 1, rng),
            },
        }
    }
}

/// Dot: none; general: `w`; additive: `w_q`, `w_k`, `b`, `v`.
impl<F: NdFloat> Params<F> for Score<F> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>)) {
        match self {
            Score::Dot => {}
            Score::General { w } => f("w", w.view().into_dyn()),
            Score::Additive { w_q, w_k, b, v } => {
                f("w_q", w_q.view().into_dyn());
                f("w_k", w_k.view().into_dyn());
                f("b", b.view().into_dyn());
                f("v", v.view().into_dyn());
            }
        }
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>)) {
        match self {
            Score::Dot => {}
            Score::General { w } => f("w", w.view_mut().into_dyn()),
            Score::Additive { w_q, w_k, b, v } => {
                f("w_q", w_q.view_mut().into_dyn());
                f("w_k", w_k.view_mut().into_dyn());
                f("b", b.view_mut().into_dyn());
                f("v", v.view_mut().into_dyn());
            }
        }
    }
}

/// The encoder states of a batch and, for the additive score, their projection `h W_k`, plus the
/// gradient accumulated into both across decoder steps.
pub struct Keys<F> {
    /// (B, L, H)
    pub h: Array3<F>,
    /// (B, L, A) for the additive score.
    pub proj: Option<Array3<F>>,
    /// ∂L/∂h accumulated over steps: (B, L, H).
    pub dh: Array3<F>,
    /// ∂L/∂proj accumulated over steps: (B, L, A).
    pub dproj: Option<Array3<F>>,
}

/// What one attention step keeps for backward.
pub struct StepCache<F> {
    q: Array2<F>,
    /// α: (B, L)
    pub weights: Array2<F>,
    /// additive: tanh activations (B, L, A); general: u = qW (B, H)
    a: Option<Array3<F>>,
    u: Option<Array2<F>>,
}

impl<F: NdFloat> Score<F> {
    /// Prepares the keys of encoder states `h: (B, L, H)`.
    pub fn keys(&self, h: Array3<F>) -> Keys<F> {
        let (b, l, hd) = h.dim();
        let (proj, dproj) = match self {
            Score::Additive { w_k, .. } => {
                let flat = h
                    .view()
                    .into_shape_with_order((b * l, hd))
                    .expect("contiguous")
                    .dot(w_k);
                let a = w_k.ncols();
                (
                    Some(flat.into_shape_with_order((b, l, a)).expect("shape")),
                    Some(Array3::zeros((b, l, a))),
                )
            }
            _ => (None, None),
        };
        Keys {
            dh: Array3::zeros(h.dim()),
            h,
            proj,
            dproj,
        }
    }

    /// Context `(B, H)` for query `q: (B, H)`, and the cache (with the weights α).
    pub fn forward(&self, q: ArrayView2<F>, keys: &Keys<F>) -> (Array2<F>, StepCache<F>) {
        let (b, l, hd) = keys.h.dim();
        assert_eq!(
            q.dim(),
            (b, hd),
            "attention: query is {:?}, expected (B, H) = ({b}, {hd})",
            q.dim()
        );
        let mut e = Array2::zeros((b, l));
        let (mut a_cache, mut u_cache) = (None, None);
        match self {
            Score::Dot => {
                for bi in 0..b {
                    e.row_mut(bi)
                        .assign(&keys.h.index_axis(Axis(0), bi).dot(&q.row(bi)));
                }
            }
            Score::General { w } => {
                let u = q.dot(w);
                for bi in 0..b {
                    e.row_mut(bi)
                        .assign(&keys.h.index_axis(Axis(0), bi).dot(&u.row(bi)));
                }
                u_cache = Some(u);
            }
            Score::Additive {
                w_q, b: bias, v, ..
            } => {
                let qp = q.dot(w_q) + bias; // (B, A)
                let mut a = keys
                    .proj
                    .as_ref()
                    .expect("additive keys are projected")
                    .clone();
                for bi in 0..b {
                    let mut ab = a.index_axis_mut(Axis(0), bi);
                    ab += &qp.row(bi);
                    ab.mapv_inplace(|x| x.tanh());
                    e.row_mut(bi).assign(&ab.dot(&v.column(0)));
                }
                a_cache = Some(a);
            }
        }
        let weights = softmax_rows(&e);
        let mut context = Array2::zeros((b, hd));
        for bi in 0..b {
            context
                .row_mut(bi)
                .assign(&keys.h.index_axis(Axis(0), bi).t().dot(&weights.row(bi)));
        }
        (
            context,
            StepCache {
                q: q.to_owned(),
                weights,
                a: a_cache,
                u: u_cache,
            },
        )
    }

    /// Backward of one step: returns ∂L/∂q; adds into `keys.dh`/`keys.dproj` and `grads` (named
    /// like the score's parameters).
    pub fn backward(
        &self,
        dcontext: ArrayView2<F>,
        cache: &StepCache<F>,
        keys: &mut Keys<F>,
        grads: &mut Grads<F>,
    ) -> Array2<F> {
        let (b, l, _) = keys.h.dim();
        let alpha = &cache.weights;
        // δα and ∂h from the weighted sum.
        let mut dalpha = Array2::zeros((b, l));
        for bi in 0..b {
            let hb = keys.h.index_axis(Axis(0), bi);
            dalpha.row_mut(bi).assign(&hb.dot(&dcontext.row(bi)));
            let mut dhb = keys.dh.index_axis_mut(Axis(0), bi);
            for i in 0..l {
                dhb.row_mut(i).scaled_add(alpha[[bi, i]], &dcontext.row(bi));
            }
        }
        // δe through the softmax.
        let mut de = Array2::zeros((b, l));
        for bi in 0..b {
            let dot: F = alpha.row(bi).dot(&dalpha.row(bi));
            for i in 0..l {
                de[[bi, i]] = alpha[[bi, i]] * (dalpha[[bi, i]] - dot);
            }
        }
        let mut dq = Array2::zeros(cache.q.dim());
        match self {
            Score::Dot => {
                for bi in 0..b {
                    dq.row_mut(bi)
                        .assign(&keys.h.index_axis(Axis(0), bi).t().dot(&de.row(bi)));
                    let mut dhb = keys.dh.index_axis_mut(Axis(0), bi);
                    for i in 0..l {
                        dhb.row_mut(i).scaled_add(de[[bi, i]], &cache.q.row(bi));
                    }
                }
            }
            Score::General { w } => {
                let u = cache.u.as_ref().expect("general caches u");
                let mut du = Array2::zeros(u.dim());
                for bi in 0..b {
                    du.row_mut(bi)
                        .assign(&keys.h.index_axis(Axis(0), bi).t().dot(&de.row(bi)));
                    let mut dhb = keys.dh.index_axis_mut(Axis(0), bi);
                    for i in 0..l {
                        dhb.row_mut(i).scaled_add(de[[bi, i]], &u.row(bi));
                    }
                }
                dq = du.dot(&w.t());
                let mut dw = grads.mat_mut("w");
                dw += &cache.q.t().dot(&du);
            }
            Score::Additive { w_q, v, .. } => {
                let a = cache.a.as_ref().expect("additive caches a");
                let one = F::one();
                let a_dim = v.nrows();
                let mut da_sum = Array2::zeros((b, a_dim)); // Σ_i δa_i per batch row
                let dproj = keys.dproj.as_mut().expect("additive keys");
                for bi in 0..b {
                    for i in 0..l {
                        let ai = a.slice(s![bi, i, ..]);
                        // ∂v += δe_i a_i
                        grads
                            .mat_mut("v")
                            .column_mut(0)
                            .scaled_add(de[[bi, i]], &ai);
                        let dai: Array1<F> = ai
                            .iter()
                            .zip(v.column(0).iter())
                            .map(|(&x, &vv)| de[[bi, i]] * vv * (one - x * x))
                            .collect();
                        da_sum.row_mut(bi).scaled_add(one, &dai);
                        dproj.slice_mut(s![bi, i, ..]).scaled_add(one, &dai);
                    }
                }
                dq = da_sum.dot(&w_q.t());
                let mut dw_q = grads.mat_mut("w_q");
                dw_q += &cache.q.t().dot(&da_sum);
                let mut db = grads.mat_mut("b");
                db += &da_sum.sum_axis(Axis(0)).insert_axis(Axis(0));
            }
        }
        dq
    }

    /// After all steps: pushes the accumulated ∂proj through W_k (∂W_k, and more ∂h).
    pub fn finish_keys(&self, keys: &mut Keys<F>, grads: &mut Grads<F>) {
        if let (Score::Additive { w_k, .. }, Some(dproj)) = (self, keys.dproj.as_ref()) {
            let (b, l, hd) = keys.h.dim();
            let a = w_k.ncols();
            let h2 = keys
                .h
                .view()
                .into_shape_with_order((b * l, hd))
                .expect("contiguous");
            let dp2 = dproj
                .view()
                .into_shape_with_order((b * l, a))
                .expect("contiguous");
            let mut dw_k = grads.mat_mut("w_k");
            dw_k += &h2.t().dot(&dp2);
            let dh2 = dp2
                .dot(&w_k.t())
                .into_shape_with_order((b, l, hd))
                .expect("shape");
            keys.dh += &dh2;
        }
    }
}
