//! # tfs-attention — Phase 4: attention, from Bahdanau to multi-head self-attention
//!
//! [`scorer`]: additive (Bahdanau), dot and general (Luong) attention over encoder states;
//! [`seq2seq_attn`]: the Phase 2 encoder-decoder with attention; [`sdpa`]: scaled dot-product
//! attention with padding and causal masks; [`mha`]: multi-head self-attention; [`reverse`]: the
//! digit-reversal trainer shared by the Phase 2 and Phase 4 models. Every backward is
//! written by hand and gradient-checked; the batched kernels are tested against loop references.
//!
//! The attention core does not depend on the recurrent cells of Phase 2: only `seq2seq_attn` and
//! `reverse` do, behind the default feature `seq2seq` (`cargo check -p tfs-attention
//! --no-default-features` builds the core alone).

// `deny`, not `forbid`: ndarray's `s![]` expands to an `allow(unsafe_code)` item.
#![deny(unsafe_code)]

pub mod mha;
#[cfg(feature = "seq2seq")]
pub mod reverse;
pub mod scorer;
pub mod sdpa;
#[cfg(feature = "seq2seq")]
pub mod seq2seq_attn;
