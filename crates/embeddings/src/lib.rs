//! # tfs-embeddings — Phase 3: tokens as vectors
//!
//! The [`embedding::Embedding`] layer (lookup forward, scatter-add backward), [`word2vec`]
//! (skip-gram with negative sampling) and sinusoidal [`positional`] encodings.

#![forbid(unsafe_code)]

pub mod embedding;
pub mod positional;
pub mod word2vec;

pub use embedding::Embedding;
