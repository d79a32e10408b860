//! The recurrent cell: one step `s_t = cell(x_t, s_{t−1})`, forward and backward, behind one trait.
//!
//! Every cell keeps its whole state in one `(B, S)` array: for the RNN and the GRU the state is
//! the hidden vector h (S = H); for the LSTM it is `[h | c]` (S = 2H). The first H columns are
//! always the output h. One state shape lets the char-LM, the seq2seq model and BPTT treat the three
//! cells alike.
//!
//! Backward takes `∂L/∂s_t` (everything that flows into this step's state: from the output head
//! and from step t+1), accumulates the parameter gradients, and returns `(∂L/∂x_t, ∂L/∂s_{t−1})`.
//! Backpropagation through time is this, called from the last step to the first.
//!
//! Parameters are 2-D arrays (biases are `(1, n)`), named after their fields through
//! [`tfs_nn::Params`]; a backward pass adds into the cell's own [`Grads`] subtree by those names.
//!
//! A cell may also run a whole sequence at once (a fused kernel, [`FusedSeq`]) beside its
//! step-by-step reference; the sequence types both produce ([`SeqInput`], [`OutGrad`],
//! [`SeqCache`], [`Backprop`]) live here, and [`crate::bptt`] drives either path without knowing
//! which cell it runs.
//!
//! Left out: peephole connections, layer stacking inside a cell (stack cells instead).

use ndarray::{Array2, ArrayBase, ArrayView2, DataMut, Ix2, NdFloat};
use std::any::Any;
use tfs_nn::{Grads, Params};

/// What a step keeps for its backward pass.
#[derive(Clone, Debug)]
pub struct StepCache<F> {
    /// x_t: (B, I)
    pub x: Array2<F>,
    /// s_{t−1}: (B, S)
    pub s_prev: Array2<F>,
    /// Cell-specific activations (gates, candidates).
    pub extra: Vec<Array2<F>>,
}

/// A recurrent cell. Its parameters are visited by name ([`Params`]).
pub trait Cell<F: NdFloat>: Params<F> {
    /// "RNN", "LSTM" or "GRU".
    fn name(&self) -> &'static str;
    fn input_size(&self) -> usize;
    fn hidden_size(&self) -> usize;
    /// Columns of the state array (H, or 2H for the LSTM).
    fn state_size(&self) -> usize {
        self.hidden_size()
    }
    /// One step: `x: (B, I)`, `s: (B, S)` → `(s_t: (B, S), cache)`.
    fn forward(&self, x: ArrayView2<F>, s: ArrayView2<F>) -> (Array2<F>, StepCache<F>);
    /// `ds: (B, S)` = ∂L/∂s_t; adds into this cell's `grads` (named like its parameters);
    /// returns `(∂L/∂x_t, ∂L/∂s_{t−1})`.
    fn backward(
        &self,
        ds: ArrayView2<F>,
        cache: &StepCache<F>,
        grads: &mut Grads<F>,
    ) -> (Array2<F>, Array2<F>);

    /// A fused whole-sequence kernel, if this cell has one (the LSTM does).
    fn fused(&self) -> Option<&dyn FusedSeq<F>> {
        None
    }

    /// Zero gradients named and shaped like the parameters.
    fn zero_grads(&self) -> Grads<F> {
        Grads::zeros_like(self)
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
            SeqInput::Ids { ids, vocab } => {
                ids.iter().map(|i| tfs_math::one_hot(i, *vocab)).collect()
            }
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

/// What a backward pass through time returns.
pub struct Backprop<F> {
    /// ∂L/∂x_t for every step (empty when a fused kernel read token ids).
    pub dxs: Vec<Array2<F>>,
    /// ∂L/∂s_0: what flows into the initial state (the encoder's gradient in seq2seq).
    pub ds0: Array2<F>,
    /// ‖∂L/∂h_t‖ (Frobenius over the batch) for t = 1 … T.
    pub dh_norms: Vec<f64>,
}

/// What a forward pass over a sequence keeps for its backward: the per-step caches of the
/// reference path ([`crate::bptt::Unrolled`]) or a fused kernel's stacked buffers.
pub trait SeqCache<F>: Any {
    /// Every output h_t stacked: `(T·B, H)`, step-major.
    fn hidden_all(&self, hidden: usize) -> Array2<F>;
    /// The final state s_T. (A fused cache returns s_0 for an empty sequence; the step-wise
    /// cache needs at least one step: callers handle T = 0 themselves.)
    fn final_state(&self) -> Array2<F>;
    /// For the backward pass to recover its own cache type.
    fn as_any(&self) -> &dyn Any;
}

/// A whole-sequence forward and backward, the fast path beside the step-wise reference.
pub trait FusedSeq<F: NdFloat> {
    /// Runs the sequence from `s0: (B, S)`.
    fn forward_seq(&self, input: &SeqInput<F>, s0: ArrayView2<F>) -> Box<dyn SeqCache<F>>;
    /// Backward through a cache made by [`FusedSeq::forward_seq`]; adds into `grads`.
    fn backward_seq(
        &self,
        cache: &dyn SeqCache<F>,
        out: OutGrad<F>,
        ds_last: Option<ArrayView2<F>>,
        grads: &mut Grads<F>,
    ) -> Backprop<F>;
}

/// `c += a · b`.
pub(crate) fn gemm_acc<F: NdFloat, S: DataMut<Elem = F>>(
    a: &ArrayView2<F>,
    b: &ArrayView2<F>,
    c: &mut ArrayBase<S, Ix2>,
) {
    tfs_kernels::nd::gemm(F::one(), a, b, F::one(), c);
}

/// `a · b` into a new array.
pub(crate) fn gemm<F: NdFloat>(a: &ArrayView2<F>, b: &ArrayView2<F>) -> Array2<F> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    tfs_kernels::nd::gemm(F::one(), a, b, F::zero(), &mut c);
    c
}

pub(crate) fn check_step<F: NdFloat, C: Cell<F> + ?Sized>(
    cell: &C,
    x: &ArrayView2<F>,
    s: &ArrayView2<F>,
) {
    assert_eq!(
        x.ncols(),
        cell.input_size(),
        "{}: input is {:?}, expected (B, {})",
        cell.name(),
        x.dim(),
        cell.input_size()
    );
    assert_eq!(
        s.dim(),
        (x.nrows(), cell.state_size()),
        "{}: state is {:?}, expected (B, S) = ({}, {})",
        cell.name(),
        s.dim(),
        x.nrows(),
        cell.state_size()
    );
}
