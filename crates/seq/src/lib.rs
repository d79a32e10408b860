//! # tfs-seq — Phase 2: sequence models and the path to attention
//!
//! Recurrent [`cell`]s — [`rnn::Rnn`], [`lstm::Lstm`], [`gru::Gru`] — with forward and backward by
//! hand, [`bptt`] over sequences, a character-level language model ([`charlm`]) and its trainer
//! ([`charlm_train`]), an encoder-decoder ([`seq2seq`]) with greedy and beam-search decoding, and
//! the synthetic [`tasks`] the experiments train on.

pub mod bptt;
pub mod cell;
pub mod charlm;
pub mod charlm_train;
pub mod classifier;
pub mod gru;
pub mod lstm;
pub mod lstm_fused;
pub mod rnn;
pub mod seq2seq;
pub mod tasks;

pub use cell::Cell;
pub use charlm::CharLm;

use ndarray::{Array2, NdFloat};
use tfs_math::Rng;
use tfs_nn::optim::{clip_grad_norm, Optimizer};

/// Which cell to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    Rnn,
    Lstm,
    Gru,
}

impl CellKind {
    pub const ALL: [CellKind; 3] = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru];

    /// A fresh cell of this kind.
    pub fn build<F: NdFloat>(self, input: usize, hidden: usize, rng: &mut Rng) -> Box<dyn Cell<F>> {
        match self {
            CellKind::Rnn => Box::new(rnn::Rnn::new(input, hidden, rng)),
            CellKind::Lstm => Box::new(lstm::Lstm::new(input, hidden, rng)),
            CellKind::Gru => Box::new(gru::Gru::new(input, hidden, rng)),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "RNN",
            CellKind::Lstm => "LSTM",
            CellKind::Gru => "GRU",
        }
    }
}

/// A model whose parameters are a list of 2-D arrays, in a fixed order shared with its gradients.
pub trait Model<F: NdFloat> {
    fn params(&self) -> Vec<&Array2<F>>;
    fn params_mut(&mut self) -> Vec<&mut Array2<F>>;

    fn num_params(&self) -> usize {
        self.params().iter().map(|p| p.len()).sum()
    }

    /// Clips the gradients' global norm to `clip` (if given) and applies one optimizer step.
    /// Returns the gradient norm before clipping.
    fn apply(
        &mut self,
        opt: &mut dyn Optimizer<F>,
        grads: &mut [Array2<F>],
        clip: Option<f64>,
    ) -> f64 {
        let mut gs: Vec<&mut [F]> = grads
            .iter_mut()
            .map(|g| g.as_slice_mut().expect("contiguous"))
            .collect();
        let norm = match clip {
            Some(c) => clip_grad_norm(&mut gs, c),
            None => clip_grad_norm(&mut gs, f64::INFINITY),
        };
        let gs: Vec<&[F]> = gs.into_iter().map(|g| &*g).collect();
        let mut ps: Vec<&mut [F]> = self
            .params_mut()
            .into_iter()
            .map(|p| p.as_slice_mut().expect("contiguous"))
            .collect();
        opt.step(&mut ps, &gs);
        norm
    }
}
