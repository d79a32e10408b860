//! # tfs-gpt — Phases 7-9: GPT on our own framework
//!
//! [`config`]: the architecture and training recipe, with named presets (`baby` is nanoGPT's CPU
//! Shakespeare run). [`model`]: the decoder-only transformer with GPT-2's names and init.
//! [`vocab`]: characters or GPT-2's BPE. [`data`]: character vocabulary, train/validation split,
//! the data cursor (random or sequential windows). [`train`]: the loop behind `tfs gpt train`
//! (gradient accumulation, evaluations, checkpoints, bit-identical resume; [`train::Dataset`]:
//! a file means characters, a folder means shards). [`sample`]: greedy,
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
//! In folders by idea: `model/` (config and presets, the GPT and its switches, the KV cache,
//! sampling, vocabularies), `train/` (the loop, resume, report; DPO), `data/` (the cursor,
//! prepare, inputs, shards), `interop/` (checkpoints, Hugging Face import/export, scoring).

#![forbid(unsafe_code)]

pub mod data;
pub mod interop;
pub mod model;
pub mod train;

// The ideas by their names at the crate root too (`tfs_gpt::checkpoint`, `tfs_gpt::config`, …).
pub use data::{inputs, prepare, shards};
pub use interop::{checkpoint, hf, score};
pub use model::{config, sample, vocab};
pub use train::{dpo, dpo_data};

pub use config::{AttnKernel, GptConfig, Mlp, Norm, Pos, Preset, TrainConfig, PRESETS};
pub use model::Gpt;
pub use vocab::Vocab;
