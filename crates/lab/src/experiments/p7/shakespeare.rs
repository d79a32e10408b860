//! `p7-shakespeare`: the `baby` GPT (nanoGPT's CPU Shakespeare run: 4 layers, 4 heads, 128 wide,
//! context 64, batch 12, 2000 AdamW iterations) trained on Tiny Shakespeare's characters: the loss
//! curves, and what it writes along the way (samples at iterations 0, 100, 500 and after 2000).

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_gpt::Preset;

pub(crate) const DESCRIPTION: &str =
    "the baby GPT on Tiny Shakespeare: train/validation loss, and samples from gibberish to verse";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let mut p = Preset::get("baby").expect("preset");
    let (iters, every) = ctx.size((2000, 100), (6, 3));
    p.train.max_iters = iters;
    p.train.lr_decay_iters = iters;
    p.train.sample_interval = every;
    p.train.eval_interval = ctx.size(100, 3);
    p.train.eval_iters = ctx.size(20, 1);
    if ctx.quick {
        p.quick();
    }
    let pb = ctx.progress(1, "training (progress on the next line)");
    let r = tfs_gpt::train::train(&text, &p, ctx.seed, Some(&ctx.dir().join("run")), !ctx.quick).map_err(|message| LabError::Experiment { id: ctx.id.to_string(), message })?;
    pb.finish_and_clear();
    // The run folder holds the checkpoint (≈ 3 MB) and a line per step: keep the samples only.
    let _ = std::fs::remove_dir_all(ctx.dir().join("run/checkpoint"));
    let _ = std::fs::remove_file(ctx.dir().join("run/log.jsonl"));
    let evals_tr: Vec<(f64, f64)> = r.evals.iter().map(|e| (e.0 as f64, e.1)).collect();
    let evals_va: Vec<(f64, f64)> = r.evals.iter().map(|e| (e.0 as f64, e.2)).collect();
    LineChart::new("baby GPT on Tiny Shakespeare (characters)", "iteration", "cross-entropy (nats per character)")
        .legend(LegendPosition::UpperRight)
        .series(Series::new("training batch (20-step mean)", crate::moving_average(&r.losses, 20, 10)))
        .series(Series::new("train estimate (fixed batches)", evals_tr).with_markers())
        .series(Series::new("validation estimate (fixed batches)", evals_va).with_markers())
        .draw(&ctx.figure("loss.svg"))?;
    let wanted = [0, every, 5 * every, iters];
    let shown: Vec<(String, String)> = r
        .samples
        .iter()
        .filter(|(s, _)| wanted.contains(s))
        .map(|(s, t)| (format!("iteration {s}"), t.clone()))
        .collect();
    ctx.set("setup", json!({"preset": "baby", "model": p.model.to_json(), "iterations": iters, "batch": p.train.batch_size,
        "lr": p.train.lr, "min_lr": p.train.min_lr, "warmup": p.train.warmup, "betas": [p.train.beta1, p.train.beta2],
        "weight_decay_matrices": p.train.weight_decay, "clip": p.train.grad_clip, "eval_iters": p.train.eval_iters, "parameters": r.parameters}));
    ctx.set("result", json!({"train_loss": r.train_loss, "val_loss": r.val_loss, "wall_seconds": r.wall_seconds, "tokens_per_s": r.tokens_per_s,
        "evals": r.evals.iter().map(|e| json!({"iteration": e.0, "train": e.1, "val": e.2})).collect::<Vec<_>>()}));
    ctx.md(&format!(
        "{} parameters, {iters} iterations of batch {} × context {} in {:.0} s ({:.0} characters/s on this \
         machine, evaluations included). Final estimates over {} fixed batches: train {:.3}, validation \
         {:.3} nats per character.",
        r.parameters, p.train.batch_size, p.model.block_size, r.wall_seconds, r.tokens_per_s, p.train.eval_iters, r.train_loss, r.val_loss
    ));
    ctx.md("Samples (200 characters from a newline, temperature 1, every sample drawn from the same seeded generator):");
    for (label, s) in shown {
        ctx.md(&format!("**{label}**\n\n```text\n{}\n```", s.trim_end()));
    }
    Ok(())
}
