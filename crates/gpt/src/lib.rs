//! # tfs-gpt — Phases 7-9: GPT on our own framework
//!
//! [`config`]: the architecture and training recipe, with named presets (`baby` is nanoGPT's CPU
//! Shakespeare run). [`model`]: the decoder-only transformer with GPT-2's names and init.
//! [`vocab`]: characters or GPT-2's BPE. [`data`]: character vocabulary, train/validation split,
//! the data cursor (random or sequential windows). [`train`]: the loop behind `tfs gpt train`
//! (gradient accumulation, evaluations, checkpoints, bit-identical resume). [`sample`]: greedy,
//! temperature, top-k and top-p generation. [`checkpoint`]: config.json + model.safetensors
//! (+ optimizer.safetensors and state.json for training), written atomically, read with every
//! size checked. [`prepare`] (with [`inputs`]): text, JSON Lines and Parquet files → token shards,
//! on all cores; [`shards`]: their file format and the memory-mapped reader training uses.
//! [`hf`]: GPT-2 weights in and out of Hugging Face's layout (a directory or a hub id).
//! [`score`]: mean next-token loss and perplexity of a text. [`dpo`]: preference pairs from a
//! trained model and the DPO loss against a frozen reference (Phase 9); [`dpo_data`]: a run's
//! prompts, pairs and KL probe from a text.
//!
//! Phase 9's switches live in [`config`] and [`model`]: RoPE, RMSNorm, SwiGLU, no biases, GQA/MQA,
//! sliding windows, mixtures of experts, flash attention, and the KV cache of generation.
//!
//! Everything runs on tfs-tensor (autograd, its backend's kernels); nothing here writes a
//! backward pass or calls tfs-kernels, except the shards' memory map.
//!
//! Left out: a folder per idea (model, training, data, interop), planned in the design.

#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dpo;
pub mod dpo_data;
pub mod hf;
pub mod inputs;
pub mod model;
pub mod prepare;
pub mod sample;
pub mod score;
pub mod shards;
pub mod train;
pub mod vocab;

pub use config::{AttnKernel, GptConfig, Mlp, Norm, Pos, Preset, TrainConfig, PRESETS};
pub use model::Gpt;
pub use vocab::Vocab;
