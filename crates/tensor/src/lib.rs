//! # tfs-tensor — Phase 6: our own framework, tensors and autograd
//!
//! What Phases 1-5 did by hand — write each backward pass, name each parameter, step each
//! optimizer — done once, generally:
//!
//! - [`tensor`]: [`Tensor`], f32 in row-major storage behind `enum Storage { Cpu(..) }`, with a
//!   live/peak byte counter ([`memory`]) and [`no_grad`].
//! - [`op`] and [`autograd`]: each op records an [`op::Op`]; `loss.backward()` walks the graph
//!   once in reverse topological order, and one `match` holds every op's backward.
//! - [`ops`]: the forward passes — broadcasting arithmetic, reductions, (batched) matmul and
//!   linear on tfs-kernels' GEMM, fused softmax / cross-entropy / layer norm / GELU, gather,
//!   dropout, masks, reshape/transpose/cat/narrow, fused scaled dot-product attention, and flash
//!   attention (the same function, tiled, saving one float per query row).
//! - [`nn`]: the [`nn::Module`] trait with named parameters (`"enc.0.self_attn.q.weight"`),
//!   Linear, Embedding, LayerNorm, Dropout, multi-head attention, FFN, encoder and decoder blocks
//!   and the encoder-decoder transformer of Phase 5, rebuilt from ops.
//! - [`optim`], [`schedule`], [`loader`], [`log`], [`train`]: SGD / momentum / AdamW with parameter groups,
//!   gradient clipping, warmup + cosine, a seeded batch loader with a prefetch thread, JSON-lines
//!   logging, and the shared training loop ([`train::fit`]).
//!
//! Every op's backward is gradient-checked (tests/it/grad.rs), and every module is proven equal,
//! outputs and gradients, to its Phase 5 hand-written twin and to a PyTorch training step
//! (tests/it/equal.rs).
//!
//! Left out: a GPU backend (the `Storage` enum is where it goes), dtypes other than f32,
//! strided views beyond reshape, higher-order gradients, in-place ops on the graph.

pub mod autograd;
pub mod loader;
pub mod log;
pub mod nn;
pub mod op;
pub mod ops;
pub mod optim;
pub mod schedule;
pub mod tensor;
pub mod train;

pub use autograd::{Grads, GraphNode};
pub use ops::attention::{sdpa, sdpa_packed, sdpa_reference, AttnMask};
pub use ops::flash_attention::flash_sdpa;
pub use ops::nn::IGNORE;
pub use tensor::{grad_enabled, memory, no_grad, DType, Storage, Tensor};
