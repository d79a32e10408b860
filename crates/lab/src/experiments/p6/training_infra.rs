//! `p6-training-infra`: what the training infrastructure buys, on the framework's transformer
//! (post-norm, where the first steps are fragile): a warmup + cosine schedule against a constant
//! learning rate, each with and without clipping the global gradient norm at 1, at a learning
//! rate high enough (3e-3) for the difference to show. Several seeds each.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_bench::transformer::{framework_batch, framework_config};
use tfs_math::Rng;
use tfs_tensor::nn::transformer as fw;
use tfs_tensor::nn::Module;
use tfs_tensor::train::{fit, Recipe};
use tfs_transformer::train::sample_batch;
use tfs_transformer::{Batch, Config, Task};

pub(crate) const DESCRIPTION: &str =
    "warmup + cosine vs constant learning rate, with and without gradient clipping, on the framework's transformer";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (steps, seeds, batch) = ctx.size((500, 2, 32), (6, 1, 4));
    let task = Task::Reverse;
    let lr = 3e-3;
    let variants = [
        ("warmup 100 + cosine, clip 1", true, true),
        ("warmup 100 + cosine, no clip", true, false),
        ("constant, clip 1", false, true),
        ("constant, no clip", false, false),
    ];
    let pb = ctx.progress((variants.len() * seeds) as u64, "variant × seed");
    let mut loss_chart = LineChart::new("Training loss (seed 0)", "step", "loss (20-step mean)").log_y().legend(LegendPosition::UpperRight);
    let mut norm_chart = LineChart::new("Global gradient norm before clipping (seed 0)", "step", "‖g‖ (20-step mean)").log_y().legend(LegendPosition::UpperRight);
    let (mut rows, mut records) = (Vec::new(), Vec::new());
    for (name, sched, clip) in variants {
        let mut finals = Vec::new();
        let mut maxnorm = 0.0f64;
        let mut diverged = 0;
        for s in 0..seeds as u64 {
            let cfg = Config::small(10, task.tgt_vocab());
            let model = fw::Transformer::new(framework_config(&cfg), &mut Rng::new(ctx.seed + s));
            let mut rng = Rng::new(ctx.seed + 100 + s);
            let r = Recipe {
                lr,
                warmup: if sched { 100 } else { 0 },
                min_lr: if sched { 1e-5 } else { lr },
                clip: clip.then_some(1.0),
                ..Recipe::phase5(steps)
            };
            let params = model.parameters();
            let log = fit(&params, &r, |_| {
                let ex = sample_batch(task, batch, (1, 8), &mut rng);
                model.loss(&framework_batch(&Batch::new(&ex, task.bos())))
            });
            pb.inc(1);
            if log.diverged_at.is_some() {
                diverged += 1;
            }
            let k = log.losses.len().clamp(1, 50);
            finals.push(log.losses.iter().rev().take(k).sum::<f64>() / k as f64);
            maxnorm = log.grad_norms.iter().fold(maxnorm, |m, &g| m.max(g));
            if s == 0 {
                loss_chart = loss_chart.series(Series::new(name, crate::moving_average(&log.losses, 20, 5)));
                norm_chart = norm_chart.series(Series::new(name, crate::moving_average(&log.grad_norms, 20, 5)));
            }
        }
        let mean = finals.iter().sum::<f64>() / finals.len().max(1) as f64;
        rows.push(vec![name.to_string(), format!("{mean:.4}"), finals.iter().map(|f| format!("{f:.3}")).collect::<Vec<_>>().join(", "), crate::sig(maxnorm, 3), format!("{diverged}/{seeds}")]);
        records.push(json!({"variant": name, "schedule": if sched { "warmup+cosine" } else { "constant" }, "clip": clip, "final_loss_per_seed": finals, "final_loss_mean": mean, "max_grad_norm": maxnorm, "diverged": diverged}));
    }
    pb.finish_and_clear();
    loss_chart.draw(&ctx.figure("loss.svg"))?;
    norm_chart.draw(&ctx.figure("grad_norm.svg"))?;
    ctx.set("setup", json!({"task": "reverse", "lengths": [1, 8], "model": "D 64, 4 heads, FFN 256, 2 + 2 post-norm blocks (framework)", "steps": steps, "batch": batch, "lr": lr, "seeds": seeds, "optimizer": "AdamW, decay 0.01"}));
    ctx.set("variants", json!(records));
    ctx.md(&format!(
        "{seeds} seeds × {steps} steps each, peak learning rate {lr}. Final loss: mean of the last 50 \
         steps. The schedule warms up linearly over 100 steps, then decays by a cosine to 1e-5; the \
         constant rate starts at the peak. Clipping rescales the gradient when its global norm \
         exceeds 1."
    ));
    ctx.table(&["variant", "final loss (mean)", "per seed", "largest ‖g‖", "diverged"], &rows);
    Ok(())
}
