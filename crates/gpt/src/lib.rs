//! # tfs-gpt — Phases 7-9: GPT on our own framework
//!
//! [`config`]: the architecture and training recipe, with named presets (`baby` is nanoGPT's CPU
//! Shakespeare run). [`model`]: the decoder-only transformer with GPT-2's names and init.
//! [`data`]: character vocabulary, train/validation split, random windows. [`train`]: the loop
//! behind `tfs gpt train`. [`sample`]: greedy, temperature, top-k and top-p generation.
//! [`checkpoint`]: config.json + model.safetensors, written atomically, read with every size
//! checked. [`hf`]: GPT-2 weights in and out of Hugging Face's layout (a directory or a hub id).
//! [`score`]: mean next-token loss and perplexity of a text.
//!
//! Everything runs on tfs-tensor (autograd, fused kernels); nothing here writes a backward pass.
//!
//! Left out so far: GPT-2 BPE data shards, resume, gradient accumulation (Phase 8); KV cache,
//! RoPE, RMSNorm, SwiGLU, GQA, MoE, flash attention, DPO (Phase 9).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod hf;
pub mod model;
pub mod sample;
pub mod score;
pub mod train;
pub mod vocab;

pub use config::{GptConfig, Preset, TrainConfig, PRESETS};
pub use model::Gpt;
pub use vocab::Vocab;
