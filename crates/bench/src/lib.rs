//! # tfs-bench — the bodies of `tfs bench …`
//!
//! Each benchmark runs the same work as its peer script in `bench/peers/` and returns one JSON
//! object with the peer's keys, so the two lines can be compared in one session: [`mlp`] (the
//! MNIST MLP recipe, peer `torch_mlp.py`), [`lstm`] (char-level LSTM training, peer
//! `torch_lstm.py`), [`tokenizer`] (GPT-2 encoding and BPE training, peer `tokenizers.py`),
//! [`transformer`] (encoder-decoder training on toy translation, peer `torch_transformer.py`),
//! [`gpt`] (a character-level GPT training run with its evaluations, peer `torch_gpt.py`),
//! [`generate`] (greedy GPT-2 generation with and without the KV cache, peer `hf_generate.py`),
//! [`gemm`] (our sgemm, peer `torch_matmul.py`) and [`kernels`] (the fused kernels' bandwidth
//! beside the machine's copy bandwidth).
//!
//! Left out: argument parsing and printing (the `tfs` binary does both), repeated-run statistics
//! beyond best-of-N, and any comparison logic: the ratio is read off the two lines.

#![forbid(unsafe_code)]

pub mod gemm;
pub mod generate;
pub mod gpt;
pub mod kernels;
pub mod lstm;
pub mod mlp;
pub mod tokenizer;
pub mod transformer;

use std::fmt;

/// What every line's `impl` key says: this project and its version.
pub fn impl_name() -> String {
    format!("tfs {}", env!("CARGO_PKG_VERSION"))
}

/// An error of a benchmark: its data or its tokenizer could not be read.
#[derive(Debug)]
pub enum BenchError {
    Data(tfs_data::DataError),
    Tokenizer(tfs_tokenizers::TokenizerError),
    /// The data or arguments cannot make the benchmark (too little data, a bad size).
    Input(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Data(e) => write!(f, "{e}"),
            BenchError::Tokenizer(e) => write!(f, "{e}"),
            BenchError::Input(m) => write!(f, "{m}"),
        }
    }
}

/// No `source()`: the message already is the inner error's, and `{:#}` would print it twice.
impl std::error::Error for BenchError {}

impl From<tfs_data::DataError> for BenchError {
    fn from(e: tfs_data::DataError) -> Self {
        BenchError::Data(e)
    }
}

impl From<tfs_tokenizers::TokenizerError> for BenchError {
    fn from(e: tfs_tokenizers::TokenizerError) -> Self {
        BenchError::Tokenizer(e)
    }
}
