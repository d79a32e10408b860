//! # tfs-seq — Phase 2: sequence models and the path to attention
//!
//! Recurrent [`cell`]s — [`rnn::Rnn`], [`lstm::Lstm`], [`gru::Gru`] — with forward and backward by
//! hand, [`bptt`] over sequences, a character-level language model ([`charlm`]) and its trainer
//! ([`charlm_train`]), an encoder-decoder ([`seq2seq`]) with greedy and beam-search decoding, and
//! the synthetic [`tasks`] the experiments train on. Every model names its parameters through
//! [`tfs_nn::Params`].

// `deny`, not `forbid`: ndarray's `s![]` expands to an `allow(unsafe_code)` item.
#![deny(unsafe_code)]

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

use ndarray::NdFloat;
use tfs_math::Rng;

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
