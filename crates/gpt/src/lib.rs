//! # tfs-gpt — Phases 7-9: GPT on our own framework
//!
//! [`config`]: the architecture and training recipe, with named presets (`baby` is nanoGPT's CPU
//! Shakespeare run). [`model`]: the decoder-only transformer with GPT-2's names and init.
//! [`data`]: character vocabulary, train/validation split, random windows. [`train`]: the loop
//! behind `tfs gpt train`. [`sample`]: greedy, temperature, top-k and top-p generation.
//! [`checkpoint`]: config.json + model.safetensors, written atomically, read with every size
//! checked. [`prepare`] (with [`inputs`]): text, JSON Lines and Parquet files → token shards,
//! on all cores; [`shards`]: their file format and the memory-mapped reader training uses.
//!
//! Everything runs on tfs-tensor (autograd, fused kernels); nothing here writes a backward pass.
//!
//! Left out so far: resume, gradient accumulation (Phase 8); KV cache,
//! RoPE, RMSNorm, SwiGLU, GQA, MoE, flash attention, DPO (Phase 9).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod inputs;
pub mod model;
pub mod prepare;
pub mod sample;
pub mod shards;
pub mod train;
pub mod vocab;

pub use config::{GptConfig, Preset, TrainConfig, PRESETS};
pub use model::Gpt;
pub use vocab::Vocab;
