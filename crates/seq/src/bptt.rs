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
//!
//! [`forward_seq`] and [`backward_seq`] are what models call: they take a cell's fused kernel when
//! it has one ([`crate::cell::FusedSeq`]) and this step-wise reference otherwise, without knowing
//! which cell they run.

use crate::cell::{Backprop, Cell, OutGrad, SeqCache, SeqInput, StepCache};
use ndarray::{s, Array2, ArrayView2, NdFloat};
use std::any::Any;
use tfs_nn::Grads;

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

/// Backward through all steps. `dh_out[t]: (B, H)` is ∂L/∂h_t from the outputs (`None` for a step
/// with no output); `ds_last: (B, S)` is any extra gradient into the final state. Adds into `grads`.
pub fn backprop<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    un: &Unrolled<F>,
    dh_out: &[Option<Array2<F>>],
    ds_last: Option<ArrayView2<F>>,
    grads: &mut Grads<F>,
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

impl<F: NdFloat> SeqCache<F> for Unrolled<F> {
    fn hidden_all(&self, hidden: usize) -> Array2<F> {
        let b = self.states.first().map_or(0, |s| s.nrows());
        let mut hs = Array2::zeros((self.states.len() * b, hidden));
        for (t, st) in self.states.iter().enumerate() {
            hs.slice_mut(s![t * b..(t + 1) * b, ..])
                .assign(&st.slice(s![.., ..hidden]));
        }
        hs
    }

    fn final_state(&self) -> Array2<F> {
        self.states.last().cloned().expect("non-empty sequence")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Runs `cell` over a whole sequence from `s0: (B, S)`: its fused kernel if it has one, else the
/// step-wise reference ([`unroll`]).
pub fn forward_seq<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    input: &SeqInput<F>,
    s0: ArrayView2<F>,
) -> Box<dyn SeqCache<F>> {
    match cell.fused() {
        Some(fused) => fused.forward_seq(input, s0),
        None => Box::new(unroll(cell, &input.dense(), s0)),
    }
}

/// Backward through a sequence run by [`forward_seq`] (or by [`unroll`]); adds into `grads`.
pub fn backward_seq<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    cache: &dyn SeqCache<F>,
    out: OutGrad<F>,
    ds_last: Option<ArrayView2<F>>,
    grads: &mut Grads<F>,
) -> Backprop<F> {
    if let Some(un) = cache.as_any().downcast_ref::<Unrolled<F>>() {
        return backprop_steps(cell, un, out, ds_last, grads);
    }
    match cell.fused() {
        Some(fused) => fused.backward_seq(cache, out, ds_last, grads),
        None => panic!(
            "{}: a fused sequence cache given to a cell without a fused kernel",
            cell.name()
        ),
    }
}

/// The reference backward through a sequence, from an [`OutGrad`].
pub fn backprop_steps<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    un: &Unrolled<F>,
    out: OutGrad<F>,
    ds_last: Option<ArrayView2<F>>,
    grads: &mut Grads<F>,
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
