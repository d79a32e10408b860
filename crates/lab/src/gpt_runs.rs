//! Training runs of the GPT shared by the Phase 9 experiments: a preset with `--set`-style
//! switches, trained for a number of steps or for a wall-clock budget, and the trained model back.

use crate::{Ctx, LabError};
use tfs_gpt::train::{train, TrainReport};
use tfs_gpt::{Gpt, Preset, Vocab};

/// The `baby` preset (4 layers, 128 wide, context 64, batch 12) with `sets` applied and `iters`
/// steps (cosine to the end), no samples; in quick mode a one-layer, 32-wide, context-16 model.
pub fn preset(ctx: &Ctx, sets: &[String], iters: usize) -> Result<Preset, LabError> {
    let mut p = Preset::get("baby").expect("preset");
    p.train.max_iters = iters;
    p.train.lr_decay_iters = iters;
    p.train.sample_interval = 0;
    p.train.eval_interval = ctx.size(250, 2);
    p.train.eval_iters = ctx.size(20, 1);
    for kv in sets {
        p.set(kv).map_err(|m| ctx.fail(m))?;
    }
    if ctx.quick {
        p.quick();
    }
    p.validate().map_err(|m| ctx.fail(m))?;
    Ok(p)
}

/// A finished run: its report and the trained model.
pub struct GptRun {
    pub report: TrainReport,
    pub model: Gpt,
    pub vocab: Vocab,
}

/// Trains `p` on `text` (characters) from `seed` and loads the final checkpoint.
pub fn train_model(ctx: &Ctx, text: &str, p: &Preset, seed: u64) -> Result<GptRun, LabError> {
    let dir = ctx.dir().join(format!("run-{seed}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let report = train(text, p, seed, Some(&dir), false).map_err(|m| ctx.fail(m))?;
    let (model, vocab) =
        tfs_gpt::checkpoint::load(&dir.join("checkpoint")).map_err(|e| ctx.fail(e))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(GptRun {
        report,
        model,
        vocab,
    })
}

/// Seconds per training step of `p` (median of 35 steps after 5 warm-up steps).
pub fn seconds_per_step(ctx: &Ctx, text: &str, p: &Preset, seed: u64) -> Result<f64, LabError> {
    let mut q = p.clone();
    q.train.max_iters = ctx.size(40, 3);
    q.train.lr_decay_iters = q.train.max_iters;
    q.train.eval_interval = 0;
    q.train.eval_iters = 1;
    let r = train(text, &q, seed, None, false).map_err(|m| ctx.fail(m))?;
    let mut s: Vec<f64> = r
        .step_seconds
        .iter()
        .skip(ctx.size(5, 0))
        .copied()
        .collect();
    s.sort_by(f64::total_cmp);
    Ok(s[s.len() / 2].max(1e-6))
}
