//! Resuming a run: the state a checkpoint holds besides the weights (step, data cursor, every
//! generator, the recipe it was trained with), read back and checked against this run, and the
//! log and samples of an interrupted run trimmed to the checkpoint's step.

use super::Data;
use crate::checkpoint;
use crate::config::Preset;
use crate::data::{Cursor, Order};
use crate::model::Gpt;
use crate::vocab::Vocab;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::optim::AdamW;

pub(super) fn rng_json(s: [u64; 4]) -> Value {
    json!(s)
}

fn rng_from(v: &Value, what: &str) -> Result<[u64; 4], String> {
    let a = v
        .as_array()
        .filter(|a| a.len() == 4)
        .ok_or_else(|| format!("state.json: '{what}' is not 4 numbers"))?;
    let mut s = [0u64; 4];
    for (d, x) in s.iter_mut().zip(a) {
        *d = x
            .as_u64()
            .ok_or_else(|| format!("state.json: '{what}' is not 4 numbers"))?;
    }
    Ok(s)
}

/// The recipe settings a resumed run must share with the run it continues.
pub(super) fn recipe_json(p: &Preset, order: Order, seed: u64, data: &Data) -> Value {
    let t = &p.train;
    let v = json!({"batch_size": t.batch_size, "max_iters": t.max_iters, "lr": t.lr, "min_lr": t.min_lr,
           "warmup": t.warmup, "lr_decay_iters": t.lr_decay_iters, "beta1": t.beta1, "beta2": t.beta2,
           "weight_decay": t.weight_decay, "grad_clip": t.grad_clip, "eval_interval": t.eval_interval,
           "eval_iters": t.eval_iters, "sample_interval": t.sample_interval, "grad_accum": t.grad_accum,
           "data_order": order.name(), "seed": seed,
           "train_tokens": data.train.len(), "val_tokens": data.val.len()});
    // As it reads back from state.json (serde_json's float text does not round-trip every f64).
    serde_json::from_str(&v.to_string()).expect("json")
}

/// The run's mutable state besides the weights.
pub(super) struct State {
    pub step: usize,
    pub cursor: Cursor,
    pub sample_rng: Rng,
}

/// Loads `dir`'s training state into `model` and `opt`; the state's step, cursor and generators.
pub(super) fn load_training(
    dir: &Path,
    model: &mut Gpt,
    vocab: &Vocab,
    opt: &mut AdamW,
    recipe: &Value,
) -> Result<State, String> {
    let (saved, saved_vocab) = checkpoint::load(dir).map_err(|e| e.to_string())?;
    if saved.cfg != model.cfg || saved_vocab.to_json() != vocab.to_json() {
        return Err(format!(
            "{}: the checkpoint's model or vocabulary differs from this run's (start a new --out, or drop --resume)",
            dir.display()
        ));
    }
    let sp = dir.join("state.json");
    let text = std::fs::read_to_string(&sp).map_err(|e| format!("{}: {e}", sp.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", sp.display()))?;
    if let Some((k, was)) = v["recipe"]
        .as_object()
        .ok_or_else(|| format!("{}: no 'recipe'", sp.display()))?
        .iter()
        .find(|(k, was)| recipe.get(k.as_str()) != Some(*was))
    {
        return Err(format!(
            "{}: the checkpoint was trained with {k} = {was}, this run has {}; a resumed run must use the same recipe",
            sp.display(),
            recipe.get(k.as_str()).unwrap_or(&Value::Null)
        ));
    }
    for ((_, mine), (_, theirs)) in model.parameters().iter().zip(saved.parameters()) {
        mine.assign(&theirs.to_vec());
    }
    model.set_training(true);
    let op = dir.join("optimizer.safetensors");
    let mut tensors = checkpoint::read_safetensors(&op).map_err(|e| e.to_string())?;
    let mut moments = HashMap::new();
    for (name, p) in model.parameters() {
        match (
            tensors.remove(&format!("exp_avg.{name}")),
            tensors.remove(&format!("exp_avg_sq.{name}")),
        ) {
            (Some((_, m)), Some((_, s))) if m.len() == p.numel() && s.len() == p.numel() => {
                moments.insert(name, (m, s));
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "{}: the moments of '{name}' are missing or the wrong size",
                    op.display()
                ))
            }
        }
    }
    let num = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| format!("{}: '{k}' missing", sp.display()))
    };
    opt.set_state(num("optimizer_steps")? as u32, moments);
    model.set_rng_states(
        &v["dropout_rngs"]
            .as_array()
            .ok_or_else(|| format!("{}: no 'dropout_rngs'", sp.display()))?
            .iter()
            .map(|r| rng_from(r, "dropout_rngs"))
            .collect::<Result<Vec<_>, _>>()?,
    )?;
    let c = &v["cursor"];
    Ok(State {
        step: num("step")? as usize,
        cursor: Cursor {
            order: Order::parse(c["order"].as_str().unwrap_or(""))
                .ok_or_else(|| format!("{}: bad cursor order", sp.display()))?,
            pos: c["pos"]
                .as_u64()
                .ok_or_else(|| format!("{}: no cursor position", sp.display()))?
                as usize,
            rng: Rng::from_state(rng_from(&c["rng"], "cursor.rng")?),
        },
        sample_rng: Rng::from_state(rng_from(&v["sample_rng"], "sample_rng")?),
    })
}

/// Keeps the lines of `path` whose `"step"` is below `step` (a resumed run rewrites what the
/// interrupted one logged after its checkpoint).
pub(super) fn truncate_log(path: &Path, step: usize) -> std::io::Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| (s as usize) < step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    replace_file(path, &kept)
}

/// Writes `text` to `path` through a temporary file and a rename, so a crash leaves the old
/// file or the new one.
fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Keeps the samples of `samples.txt` taken before `step`.
pub(super) fn truncate_samples(path: &Path, step: usize) -> std::io::Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let mut kept = String::new();
    for block in text.split("=== iteration ").filter(|b| !b.is_empty()) {
        let n = block
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<usize>().ok());
        if n.is_some_and(|n| n < step) {
            kept.push_str("=== iteration ");
            kept.push_str(block);
        }
    }
    replace_file(path, &kept)
}
