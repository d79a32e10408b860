//! Backpropagation through time: a cell unrolled over a sequence, and its backward pass.
//!
//! Forward keeps every step's cache. Backward walks from the last step to the first: the gradient
//! into state s_t is what the output at t contributed (`∂L/∂h_t` from the head) plus what step
//! t+1 sent back (`∂L/∂s_t` through the recurrence):
//!
//! ```text
//!   δs_T = δout_T (+ any gradient into the final state)
//!   (δx_t, δs_{t−1}) = cell.backward(δs_t, cache_t)         δs_{t−1} += δout_{t−1}
//! ```
//!
//! Truncated BPTT over k steps is this applied to chunks of k steps, carrying the final state of
//! one chunk into the next as a constant (no gradient crosses the chunk boundary); the training
//! loops do it by calling these functions chunk by chunk.
//!
//! The norm of `∂L/∂h_t` at every step is returned too: it is what `p2-vanishing-gradients` plots.

use crate::cell::{Cell, StepCache};
use ndarray::{s, Array2, ArrayView2, NdFloat};

/// A forward pass over T steps.
pub struct Unrolled<F> {
    /// s_1 … s_T, each (B, S).
    pub states: Vec<Array2<F>>,
    pub caches: Vec<StepCache<F>>,
}

/// Runs `cell` over `xs` (T inputs of (B, I)) from state `s0: (B, S)`.
pub fn unroll<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    xs: &[Array2<F>],
    s0: ArrayView2<F>,
) -> Unrolled<F> {
    let mut states: Vec<Array2<F>> = Vec::with_capacity(xs.len());
    let mut caches = Vec::with_capacity(xs.len());
    for x in xs {
        let prev = states.last().map_or(s0, |s| s.view());
        let (s, c) = cell.forward(x.view(), prev);
        states.push(s);
        caches.push(c);
    }
    Unrolled { states, caches }
}

/// What a backward pass through time returns.
pub struct Backprop<F> {
    /// ∂L/∂x_t for every step.
    pub dxs: Vec<Array2<F>>,
    /// ∂L/∂s_0: what flows into the initial state (the encoder's gradient in seq2seq).
    pub ds0: Array2<F>,
    /// ‖∂L/∂h_t‖ (Frobenius over the batch) for t = 1 … T.
    pub dh_norms: Vec<f64>,
}

/// Backward through all steps. `dh_out[t]: (B, H)` is ∂L/∂h_t from the outputs (`None` for a step
/// with no output); `ds_last: (B, S)` is any extra gradient into the final state. Adds into `grads`.
pub fn backprop<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    un: &Unrolled<F>,
    dh_out: &[Option<Array2<F>>],
    ds_last: Option<ArrayView2<F>>,
    grads: &mut [Array2<F>],
) -> Backprop<F> {
    let t_len = un.caches.len();
    assert_eq!(
        dh_out.len(),
        t_len,
        "backprop: {} output gradients for {t_len} steps",
        dh_out.len()
    );
    let h = cell.hidden_size();
    let batch = un.caches.first().map_or(0, |c| c.x.nrows());
    let mut ds = match ds_last {
        Some(d) => d.to_owned(),
        None => Array2::zeros((batch, cell.state_size())),
    };
    let mut dxs = vec![Array2::zeros((0, 0)); t_len];
    let mut dh_norms = vec![0.0; t_len];
    for t in (0..t_len).rev() {
        if let Some(d) = &dh_out[t] {
            let mut dh = ds.slice_mut(s![.., ..h]);
            dh += d;
        }
        dh_norms[t] = ds
            .slice(s![.., ..h])
            .iter()
            .map(|v| v.to_f64().unwrap_or(f64::NAN).powi(2))
            .sum::<f64>()
            .sqrt();
        let (dx, ds_prev) = cell.backward(ds.view(), &un.caches[t], grads);
        dxs[t] = dx;
        ds = ds_prev;
    }
    Backprop {
        dxs,
        ds0: ds,
        dh_norms,
    }
}

/// The input of a whole sequence: token ids (one-hot over `vocab`, which a fused kernel turns into
/// a row lookup) or dense rows, one `(B, I)` array per step.
pub enum SeqInput<'a, F> {
    Ids { ids: &'a [Vec<usize>], vocab: usize },
    Dense(&'a [Array2<F>]),
}

impl<F: NdFloat> SeqInput<'_, F> {
    /// Number of steps.
    pub fn len(&self) -> usize {
        match self {
            SeqInput::Ids { ids, .. } => ids.len(),
            SeqInput::Dense(xs) => xs.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every step as a dense `(B, I)` array (one-hot for ids).
    pub fn dense(&self) -> Vec<Array2<F>> {
        match self {
            SeqInput::Ids { ids, vocab } => ids
                .iter()
                .map(|i| crate::charlm::one_hot(i, *vocab))
                .collect(),
            SeqInput::Dense(xs) => xs.to_vec(),
        }
    }
}

/// The gradient arriving at the outputs h_t from above.
pub enum OutGrad<'a, F> {
    /// ∂L/∂h_t for every step, stacked: `(T·B, H)`, step-major.
    All(ArrayView2<'a, F>),
    /// Only the last step's: `(B, H)`.
    Last(ArrayView2<'a, F>),
    /// No output of this sequence feeds the loss (an encoder): only `ds_last` does.
    Nothing,
}

/// What a sequence forward pass keeps: per-step caches (the reference path) or a fused kernel's
/// stacked buffers.
pub enum SeqCache<F> {
    Steps(Unrolled<F>),
    Lstm(Box<crate::lstm_fused::LstmSeq<F>>),
}

impl<F: NdFloat> SeqCache<F> {
    /// Every output h_t stacked: `(T·B, H)`, step-major.
    pub fn hidden_all(&self, hidden: usize) -> Array2<F> {
        match self {
            SeqCache::Steps(un) => {
                let b = un.states.first().map_or(0, |s| s.nrows());
                let mut hs = Array2::zeros((un.states.len() * b, hidden));
                for (t, st) in un.states.iter().enumerate() {
                    hs.slice_mut(s![t * b..(t + 1) * b, ..])
                        .assign(&st.slice(s![.., ..hidden]));
                }
                hs
            }
            SeqCache::Lstm(l) => l.h_all.clone(),
        }
    }

    /// The final state s_T (or s_0 for an empty sequence).
    pub fn final_state(&self) -> Array2<F> {
        match self {
            SeqCache::Steps(un) => un.states.last().cloned().expect("non-empty sequence"),
            SeqCache::Lstm(l) => l.final_state(),
        }
    }
}

/// The reference backward through a sequence, from an [`OutGrad`].
pub fn backprop_steps<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    un: &Unrolled<F>,
    out: OutGrad<F>,
    ds_last: Option<ArrayView2<F>>,
    grads: &mut [Array2<F>],
) -> Backprop<F> {
    let t_len = un.caches.len();
    let b = un.caches.first().map_or(0, |c| c.x.nrows());
    let dh_out: Vec<Option<Array2<F>>> = match out {
        OutGrad::All(d) => (0..t_len)
            .map(|t| Some(d.slice(s![t * b..(t + 1) * b, ..]).to_owned()))
            .collect(),
        OutGrad::Last(d) => (0..t_len)
            .map(|t| (t + 1 == t_len).then(|| d.to_owned()))
            .collect(),
        OutGrad::Nothing => vec![None; t_len],
    };
    backprop(cell, un, &dh_out, ds_last, grads)
}
