//! # tfs-kernels — the fast kernels under every chapter
//!
//! [`gemm`]: `C = α·op(A)·op(B) + β·C` in f32 ([`sgemm`]), packed and blocked like BLIS, with
//! AVX-512 and AVX2+FMA micro-kernels picked at run time, a portable fallback (NEON on Apple
//! silicon through the compiler), threads from a persistent [`pool`], and the readable triple
//! loop [`sgemm_reference`] beside it as the oracle. [`mod@bench`] measures GFLOP/s against the same
//! shapes as `bench/peers/torch_matmul.py`.
//!
//! [`nd`]: the bridge from ndarray views to `sgemm` (layouts read from the strides, transposed
//! views without copies, f64 and odd layouts falling back to ndarray), which the models call.
//!
//! [`fused`]: row softmax with a causal mask, GELU (tanh form) forward and backward, layer norm
//! forward and backward, the AdamW update, and flash attention (tiled, online softmax, forward and
//! backward), each beside its reference, vectorised by the compiler for the instruction set found
//! at run time.
//!
//! [`mmap`]: read-only memory maps of files (token shards), for the data side.
//!
//! [`alloc`]: keeps freed big buffers in the process, so that training steps stop paying page
//! faults for the same buffers every step.
//!
//! This is the only crate of the project with `unsafe`; every unsafe block says why it is sound
//! in a `// SAFETY:` comment. It depends on no other tfs crate.
//!
//! Left out (for now): a bf16 GEMM; the module layout
//! (`gemm::sgemm`) leaves room for a `gemm::bf16gemm` beside it.

pub mod alloc;
pub mod bench;
pub mod fused;
pub mod gemm;
pub mod mmap;
pub mod nd;
pub mod peak;
pub mod pool;
pub mod simd;

pub use gemm::{
    sgemm, sgemm_batched, sgemm_here, sgemm_prepacked, sgemm_reference, sgemm_with, Batch, Gemm,
    GemmConfig, Kernel, MatMut, MatRef, PackedB, Trans,
};
