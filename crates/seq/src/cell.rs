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
//! Parameters are 2-D arrays (biases are `(1, n)`), listed in the same order by `params`,
//! `params_mut` and the gradient vectors.
//!
//! Left out: peephole connections, layer stacking inside a cell (stack cells instead).

use crate::bptt::{backprop_steps, unroll, Backprop, OutGrad, SeqCache, SeqInput};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, NdFloat};

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

/// A recurrent cell.
pub trait Cell<F: NdFloat> {
    /// "RNN", "LSTM" or "GRU".
    fn name(&self) -> &'static str;
    fn input_size(&self) -> usize;
    fn hidden_size(&self) -> usize;
    /// Columns of the state array (H, or 2H for the LSTM).
    fn state_size(&self) -> usize {
        self.hidden_size()
    }
    fn params(&self) -> Vec<&Array2<F>>;
    fn params_mut(&mut self) -> Vec<&mut Array2<F>>;
    /// One step: `x: (B, I)`, `s: (B, S)` → `(s_t: (B, S), cache)`.
    fn forward(&self, x: ArrayView2<F>, s: ArrayView2<F>) -> (Array2<F>, StepCache<F>);
    /// `ds: (B, S)` = ∂L/∂s_t; adds into `grads`; returns `(∂L/∂x_t, ∂L/∂s_{t−1})`.
    fn backward(
        &self,
        ds: ArrayView2<F>,
        cache: &StepCache<F>,
        grads: &mut [Array2<F>],
    ) -> (Array2<F>, Array2<F>);

    /// Runs the cell over a whole sequence from `s0: (B, S)`. The default is the readable
    /// reference (one [`Cell::forward`] per step); a cell may override it with a fused kernel.
    fn forward_seq(&self, input: &SeqInput<F>, s0: ArrayView2<F>) -> SeqCache<F> {
        SeqCache::Steps(unroll(self, &input.dense(), s0))
    }

    /// Backward through a sequence run by [`Cell::forward_seq`]; adds into `grads`.
    fn backward_seq(
        &self,
        cache: &SeqCache<F>,
        out: OutGrad<F>,
        ds_last: Option<ArrayView2<F>>,
        grads: &mut [Array2<F>],
    ) -> Backprop<F> {
        match cache {
            SeqCache::Steps(un) => backprop_steps(self, un, out, ds_last, grads),
            SeqCache::Lstm(_) => panic!(
                "{}: a fused LSTM cache given to a step-wise backward",
                self.name()
            ),
        }
    }

    /// Zero gradients shaped like the parameters.
    fn zero_grads(&self) -> Vec<Array2<F>> {
        self.params()
            .iter()
            .map(|p| Array2::zeros(p.dim()))
            .collect()
    }

    /// Number of scalar parameters.
    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.len()).sum()
    }
}

/// `c += a · b`.
pub(crate) fn gemm_acc<F: NdFloat>(a: &ArrayView2<F>, b: &ArrayView2<F>, c: &mut Array2<F>) {
    general_mat_mul(F::one(), a, b, F::one(), c);
}

/// `a · b` into a new array.
pub(crate) fn gemm<F: NdFloat>(a: &ArrayView2<F>, b: &ArrayView2<F>) -> Array2<F> {
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    general_mat_mul(F::one(), a, b, F::zero(), &mut c);
    c
}

pub(crate) fn sigmoid<F: NdFloat>(x: F) -> F {
    tfs_nn::Activation::Sigmoid.f(x)
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
