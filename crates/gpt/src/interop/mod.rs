//! The GPT and the world outside: checkpoints (config.json + model.safetensors, and the training
//! state beside them), GPT-2 weights in and out of Hugging Face's layout, and scoring a text.

pub mod checkpoint;
pub mod hf;
pub mod score;
