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

impl<F: NdFloat> Unrolled<F> {
    /// The outputs h_t (first H columns of each state).
    pub fn hidden(&self, t: usize, hidden: usize) -> ArrayView2<'_, F> {
        self.states[t].slice(s![.., ..hidden])
    }
}

/// Runs `cell` over `xs` (T inputs of (B, I)) from state `s0: (B, S)`.
pub fn unroll<F: NdFloat>(cell: &dyn Cell<F>, xs: &[Array2<F>], s0: ArrayView2<F>) -> Unrolled<F> {
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
pub fn backprop<F: NdFloat>(
    cell: &dyn Cell<F>,
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
