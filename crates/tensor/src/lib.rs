//! # tfs-tensor — Phase 6: our own framework, tensors and autograd
//!
//! What Phases 1-5 did by hand — write each backward pass, name each parameter, step each
//! optimizer — done once, generally:
//!
//! - [`tensor`] and [`storage`]: [`Tensor`], row-major elements in a [`Storage`] that holds
//!   its [`Device`] and [`DType`] (f32, bf16, i32 ids), with a live/peak byte counter
//!   ([`memory`]) and [`no_grad`].
//! - [`backend`]: the seam. One function per primitive (forward and backward of every op, copy,
//!   fill, cast, gather, reductions, optimizer updates, sum of squares) on storages and sizes,
//!   dispatched by device; `backend/cpu` holds the bodies and is the only place here that calls
//!   tfs-kernels or its thread pool.
//! - [`op`] and [`autograd`]: each op records an [`op::Op`]; `loss.backward()` walks the graph
//!   once in reverse topological order, and one `match` holds every op's backward.
//! - [`ops`]: the forward passes — broadcasting arithmetic, reductions, (batched) matmul and
//!   linear on tfs-kernels' GEMM, fused softmax / cross-entropy / layer norm / GELU, gather,
//!   dropout, masks, reshape/transpose/cat/narrow, and one attention op whose backend picks the
//!   naive kernel (saving the weights) or the tiled flash kernel (one float per query row).
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
//! [`testing`] runs a test body on every available device with the CPU as the oracle.
//!
//! Left out: a GPU backend (a `Storage` variant and a `backend/gpu` folder), ops on bf16 (it is a
//! storage dtype that casts in and out), strided views beyond reshape, higher-order gradients,
//! in-place ops on the graph.

#![forbid(unsafe_code)]

pub mod autograd;
pub mod backend;
pub mod loader;
pub mod log;
pub mod nn;
pub mod op;
pub mod ops;
pub mod optim;
pub mod schedule;
pub mod storage;
pub mod store;
pub mod tensor;
pub mod testing;
pub mod train;

pub use autograd::{Grads, GraphNode};
pub use ops::attention::{
    attention, flash_sdpa, sdpa, sdpa_packed, sdpa_reference, AttnKernel, AttnMask,
};
pub use ops::nn::IGNORE;
pub use storage::{DType, Device, Storage};
pub use store::ParamStore;
pub use tensor::{grad_enabled, memory, no_grad, Tensor};
