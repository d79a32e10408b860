//! `p6-hand-vs-framework`: the Phase 5 transformer trained twice on reversal — once with its
//! hand-written backward (tfs-transformer), once on the framework (tfs-tensor, autograd) — from
//! the same initial weights, on the same batches, with the same recipe. If the framework's
//! calculus is right the loss curves coincide; their difference is plotted step by step. It starts
//! at f32 rounding and grows through the optimiser's feedback (Adam's first step turns rounding
//! noise in near-zero gradients into full-size steps), so a control curve shows the same growth
//! between the hand-written model in f32 and the same model in f64: a rounding-sized perturbation
//! with no framework involved. Also: time per step of each, and lines of code of each model.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_bench::transformer::{framework_batch, framework_config, load_from_phase5};
use tfs_math::Rng;
use tfs_nn::Params;
use tfs_tensor::nn::transformer as fw;
use tfs_tensor::nn::Module;
use tfs_tensor::train::{fit, Recipe as FwRecipe};
use tfs_transformer::train::{sample_batch, train, Recipe};
use tfs_transformer::{Batch, Config, Task, Transformer};

pub(crate) const DESCRIPTION: &str =
    "Phase 5's transformer trained by hand-written backward and by autograd from the same start: loss curves, their difference, time, lines of code";

/// Lines that are code: not blank, not comments, outside `#[cfg(test)]` blocks is not checked
/// (none of the counted files has one).
fn code_lines(src: &str) -> usize {
    src.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (steps, batch) = ctx.size((800, 32), (6, 4));
    let task = Task::Reverse;
    let lengths = (1, 8);
    let cfg = Config::small(10, task.tgt_vocab());
    let mut hand: Transformer<f32> = Transformer::new(cfg, &mut Rng::new(ctx.seed));
    let framework = fw::Transformer::new(framework_config(&cfg), &mut Rng::new(ctx.seed + 1));
    load_from_phase5(&framework, &hand);
    // The control: the same weights in f64.
    let mut hand64: Transformer<f64> = Transformer::new(cfg, &mut Rng::new(ctx.seed));
    let mut init = Vec::new();
    hand.visit(&mut |_, a| init.push(a.iter().map(|&v| v as f64).collect::<Vec<f64>>()));
    let mut k = 0;
    hand64.visit_mut(&mut |_, mut a| {
        a.iter_mut().zip(&init[k]).for_each(|(x, &v)| *x = v);
        k += 1;
    });
    let pb = ctx.progress(3, "trainings");
    let recipe = Recipe::new(steps, batch, lengths);
    let hand_log = train(&mut hand, task, &recipe, &mut Rng::new(ctx.seed + 7), &mut |_, _, _| {});
    pb.inc(1);
    let log64 = train(&mut hand64, task, &recipe, &mut Rng::new(ctx.seed + 7), &mut |_, _, _| {});
    pb.inc(1);
    let mut rng = Rng::new(ctx.seed + 7);
    let params = framework.parameters();
    let fw_log = fit(&params, &FwRecipe::phase5(steps), |_| {
        let ex = sample_batch(task, batch, lengths, &mut rng);
        framework.loss(&framework_batch(&Batch::new(&ex, task.bos())))
    });
    pb.finish_and_clear();
    // What one framework step adds at its peak (the byte counter), above the bytes alive before
    // it (the parameters): the graph's activations and the gradients in flight.
    let ex = sample_batch(task, batch, (8, 8), &mut Rng::new(ctx.seed + 9));
    let before = tfs_tensor::memory::allocated();
    tfs_tensor::memory::reset_peak();
    let l = framework.loss(&framework_batch(&Batch::new(&ex, task.bos())));
    let after_forward = tfs_tensor::memory::allocated() - before;
    drop(l.backward());
    drop(l);
    let step_peak = tfs_tensor::memory::peak() - before;
    let param_bytes: usize = params.iter().map(|(_, p)| p.numel() * 4).sum();
    let n = hand_log.losses.len().min(fw_log.losses.len());
    let diff: Vec<f64> = (0..n).map(|t| (hand_log.losses[t] - fw_log.losses[t]).abs()).collect();
    let n64 = n.min(log64.losses.len());
    let diff64: Vec<f64> = (0..n64).map(|t| (hand_log.losses[t] - log64.losses[t]).abs()).collect();
    let max64 = |k: usize| diff64.iter().take(k).fold(0.0f64, |m, &d| m.max(d));
    let max_upto = |k: usize| diff.iter().take(k).fold(0.0f64, |m, &d| m.max(d));
    let per_step = |s: f64, k: usize| 1e3 * s / k.max(1) as f64;
    let (ms_hand, ms_fw) = (per_step(hand_log.seconds, hand_log.losses.len()), per_step(fw_log.seconds, fw_log.losses.len()));
    let hand_loc: usize = [
        include_str!("../../../../transformer/src/layernorm.rs"),
        include_str!("../../../../transformer/src/ffn.rs"),
        include_str!("../../../../transformer/src/attention.rs"),
        include_str!("../../../../transformer/src/block.rs"),
        include_str!("../../../../transformer/src/model.rs"),
    ]
    .iter()
    .map(|s| code_lines(s))
    .sum();
    let fw_model_loc: usize = [
        include_str!("../../../../tensor/src/nn/mod.rs"),
        include_str!("../../../../tensor/src/nn/attention.rs"),
        include_str!("../../../../tensor/src/nn/transformer.rs"),
    ]
    .iter()
    .map(|s| code_lines(s))
    .sum();
    let fw_engine_loc: usize = [
        include_str!("../../../../tensor/src/tensor.rs"),
        include_str!("../../../../tensor/src/op.rs"),
        include_str!("../../../../tensor/src/autograd.rs"),
        include_str!("../../../../tensor/src/ops/mod.rs"),
        include_str!("../../../../tensor/src/ops/arith.rs"),
        include_str!("../../../../tensor/src/ops/reduce.rs"),
        include_str!("../../../../tensor/src/ops/matmul.rs"),
        include_str!("../../../../tensor/src/ops/nn.rs"),
        include_str!("../../../../tensor/src/ops/shape.rs"),
        include_str!("../../../../tensor/src/ops/attention.rs"),
        include_str!("../../../../tensor/src/storage.rs"),
        include_str!("../../../../tensor/src/backend/mod.rs"),
        include_str!("../../../../tensor/src/backend/kinds.rs"),
        include_str!("../../../../tensor/src/backend/attention.rs"),
        include_str!("../../../../tensor/src/backend/optim.rs"),
        include_str!("../../../../tensor/src/backend/cpu/mod.rs"),
        include_str!("../../../../tensor/src/backend/cpu/elementwise.rs"),
        include_str!("../../../../tensor/src/backend/cpu/reduce.rs"),
        include_str!("../../../../tensor/src/backend/cpu/layout.rs"),
        include_str!("../../../../tensor/src/backend/cpu/matmul.rs"),
        include_str!("../../../../tensor/src/backend/cpu/nn.rs"),
        include_str!("../../../../tensor/src/backend/cpu/attention.rs"),
    ]
    .iter()
    .map(|s| code_lines(s))
    .sum();

    LineChart::new("Same model, same start, same batches: hand-written backward vs autograd", "step", "training loss (20-step mean)")
        .log_y()
        .legend(LegendPosition::UpperRight)
        .series(Series::new("hand-written backward (Phase 5)", crate::moving_average(&hand_log.losses, 20, 5)))
        .series(Series::new("framework autograd (Phase 6)", crate::moving_average(&fw_log.losses, 20, 5)))
        .draw(&ctx.figure("loss_curves.svg"))?;
    let pts = |d: &[f64]| -> Vec<(f64, f64)> { crate::moving_average(d, 10, 1).into_iter().filter(|p| p.1 > 0.0).collect() };
    LineChart::new("Loss differences at each step (10-step mean)", "step", "|Δ loss| (nats)")
        .log_y()
        .legend(LegendPosition::LowerRight)
        .series(Series::new("hand-written f32 vs framework f32", pts(&diff)))
        .series(Series::new("control: hand-written f32 vs hand-written f64", pts(&diff64)))
        .draw(&ctx.figure("loss_difference.svg"))?;

    ctx.set("setup", json!({"task": "reverse", "lengths": [1, 8], "config": format!("{cfg:?}"), "steps": steps, "batch": batch,
        "recipe": "AdamW 1e-3, warmup 100, cosine to 1e-5, decay 0.01 on every parameter, clip 1", "precision": "f32 both"}));
    ctx.set("hand", json!({"final_loss": hand_log.losses.last(), "ms_per_step": ms_hand, "code_lines_model": hand_loc}));
    ctx.set("framework", json!({"final_loss": fw_log.losses.last(), "ms_per_step": ms_fw, "code_lines_model": fw_model_loc, "code_lines_engine": fw_engine_loc,
        "step_bytes_after_forward": after_forward, "step_bytes_peak": step_peak, "parameter_bytes": param_bytes}));
    ctx.set("difference", json!({"first_step": diff.first(), "max_first_10": max_upto(10), "max_first_100": max_upto(100), "max_all": max_upto(n), "last": diff.last()}));
    ctx.set("control_f32_vs_f64", json!({"first_step": diff64.first(), "max_first_10": max64(10), "max_first_100": max64(100), "max_all": max64(n64), "final_loss_f64": log64.losses.last(), "last": diff64.last()}));
    let s2 = |x: Option<&f64>| crate::sig(x.copied().unwrap_or(f64::NAN), 2);
    ctx.md(&format!(
        "One D = {}, {} + {}-block post-norm transformer, initialised once and copied into the \
         framework's modules, trained {steps} steps (batch {batch}, reversal of 1-8 digits) both ways \
         on the same batch sequence. Step 0 differs by {} nats: f32 rounding, the two sides sum in \
         different orders. The difference then grows with the optimiser's feedback (largest over the \
         first 10 steps {}, over the first 100 {}, over the run {}, at the last step {}); the control \
         — the hand-written model against itself in f64, the same weights and batches — drifts the \
         same way (first step {}, first 10 steps {}, first 100 {}, whole run {}). The framework's \
         gradients are the hand-written ones up to rounding; what follows is the sensitivity of \
         training itself to rounding.",
        cfg.d, cfg.enc_layers, cfg.dec_layers,
        s2(diff.first()), s2(Some(&max_upto(10))), s2(Some(&max_upto(100))), s2(Some(&max_upto(n))), s2(diff.last()),
        s2(diff64.first()), s2(Some(&max64(10))), s2(Some(&max64(100))), s2(Some(&max64(n64))),
    ));
    ctx.table(
        &["", "hand-written backward (Phase 5)", "framework autograd (Phase 6)"],
        &[
            vec!["final loss".into(), format!("{:.4}", hand_log.losses.last().unwrap_or(&f64::NAN)), format!("{:.4}", fw_log.losses.last().unwrap_or(&f64::NAN))],
            vec!["time per step".into(), format!("{ms_hand:.1} ms"), format!("{ms_fw:.1} ms ({:.2}× the hand-written)", ms_fw / ms_hand)],
            vec![
                "live tensor bytes of one step (batch of 8-digit reversals)".into(),
                "—".into(),
                format!("{:.2} MB after the forward pass, {:.2} MB at the peak of the backward (parameters: {:.2} MB)", after_forward as f64 / 1e6, step_peak as f64 / 1e6, param_bytes as f64 / 1e6),
            ],
            vec!["lines of code of the model (forward + backward)".into(), format!("{hand_loc}"), format!("{fw_model_loc} (forward only)")],
            vec!["lines of code under it".into(), "tfs-nn, tfs-attention, tfs-kernels".into(), format!("{fw_engine_loc} (tensor, autograd, ops) + tfs-kernels, shared by every model")],
        ],
    );
    Ok(())
}
