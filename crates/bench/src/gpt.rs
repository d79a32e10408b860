//! `tfs bench gpt`: a character-level GPT trained on Tiny Shakespeare by tfs-gpt's own loop, the
//! same work as `bench/peers/torch_gpt.py` (model, data, optimiser, schedule and evaluation
//! described there). Wall time covers the whole run, evaluations included, samples excluded.

use serde_json::{json, Value};
use std::path::Path;
use tfs_data::fetch::Fetch;
use tfs_gpt::Preset;

/// Trains `preset` for `iters` iterations (its own count when None) and reports one JSON line.
pub fn gpt(
    data_dir: &Path,
    fetch: Fetch,
    preset: &str,
    iters: Option<usize>,
    seed: u64,
) -> Result<Value, String> {
    let mut p = Preset::get(preset).ok_or_else(|| format!("unknown preset '{preset}'"))?;
    if let Some(n) = iters {
        p.train.max_iters = n;
        p.train.lr_decay_iters = n;
    }
    p.train.sample_interval = 0;
    let text = tfs_data::text::load_tiny_shakespeare_fetching(data_dir, fetch)
        .map_err(|e| e.to_string())?;
    let r = tfs_gpt::train::train(&text, &p, seed, None, true)?;
    Ok(json!({
        "impl": crate::impl_name(), "preset": p.name, "threads": tfs_math::threads(),
        "iterations": r.iterations, "eval_iters": p.train.eval_iters, "eval_interval": p.train.eval_interval,
        "wall_seconds": r.wall_seconds, "tokens_per_s": r.tokens_per_s,
        "train_loss": r.train_loss, "val_loss": r.val_loss,
    }))
}
