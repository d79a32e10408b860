//! # tfs-transformer — Phase 5: the encoder-decoder transformer, every backward by hand
//!
//! [`layernorm`]: layer normalisation; [`ffn`]: affine maps and the position-wise FFN;
//! [`attention`]: multi-head attention with biases (self and cross), on Phase 4's masks;
//! [`block`]: encoder and decoder blocks with residuals, pre- or post-norm; [`model`]: the full
//! transformer (embeddings + sinusoidal positions → encoder → decoder → linear → softmax) with
//! named parameters; [`trace`]: the shape of every tensor on a tiny batch; [`tasks`]: toy
//! translation (digits → words, reversal, copy); [`train`]: teacher forcing, AdamW with warmup,
//! greedy decoding; [`decode`]: beam search. Every matrix product goes through [`ops`].
//!
//! Every backward is derived in its module's header, written by hand, gradient-checked in f64,
//! and the whole model is compared tensor by tensor with a PyTorch implementation through a
//! committed fixture (`fixtures/transformer/`).
//!
//! Left out: dropout, label smoothing, KV caching, mixed precision.

// `deny`, not `forbid`: ndarray's `s![]` expands to an `allow(unsafe_code)` item.
#![deny(unsafe_code)]

pub mod attention;
pub mod block;
pub mod decode;
pub mod ffn;
pub mod layernorm;
pub mod model;
pub mod ops;
pub mod tasks;
pub mod trace;
pub mod train;

pub use block::Norm;
pub use model::{Batch, Config, Transformer};
pub use tasks::{Example, Task};
