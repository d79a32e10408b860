//! `p9-rope-extrapolation`: what a model trained on 64-character windows does at positions it
//! never saw. Two `baby` models, trained the same way on Tiny Shakespeare: learned positions
//! (GPT-2) and rotary positions (RoPE). Then the validation loss at every position of windows
//! 256 characters long:
//!
//! - learned positions stop at 64: there is no row of `wpe` for position 64, so the model cannot
//!   be run further (only its first 64 positions are shown);
//! - RoPE runs at any length; past 64 its queries meet keys at distances it never saw;
//! - RoPE with a 64-position sliding window at evaluation: the same weights, attention limited
//!   to the distances seen in training.

use crate::gpt_runs::{preset, train_model};
use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_gpt::train::text_data;
use tfs_gpt::Gpt;
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::no_grad;

pub(crate) const DESCRIPTION: &str =
    "learned positions vs RoPE beyond the training context (loss per position up to 4x the context)";

/// Mean cross-entropy at each of the first `t` positions of the windows of `val` starting at
/// `starts` (every model reads the same text).
fn loss_per_position(model: &Gpt, val: &[usize], t: usize, starts: &[usize]) -> Vec<f64> {
    let v = model.cfg.vocab_size;
    let n = starts.len();
    let mut sum = vec![0.0; t];
    no_grad(|| {
        for &s in starts {
            let z = model.forward(&val[s..s + t], 1, t).to_vec();
            for (i, row) in z.chunks_exact(v).enumerate() {
                let m = row.iter().copied().fold(f32::MIN, f32::max) as f64;
                let lse = m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
                sum[i] += lse - row[val[s + i + 1]] as f64;
            }
        }
    });
    sum.iter().map(|x| x / n as f64).collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let (iters, windows) = ctx.size((2000, 200), (3, 2));
    let arms = [("learned positions", vec![]), ("RoPE", vec!["pos=rope".to_string()])];
    let pb = ctx.progress(2, "models");
    let mut models = Vec::new();
    for (label, sets) in &arms {
        let p = preset(ctx, sets, iters)?;
        let mut run = train_model(ctx, &text, &p, ctx.seed)?;
        run.model.set_training(false);
        models.push((label.to_string(), run));
        pb.inc(1);
    }
    pb.finish_and_clear();
    let ctx_len = models[0].1.model.cfg.block_size;
    let long = 4 * ctx_len;
    let (_, split) = text_data(&text, long).map_err(|m| ctx.fail(m))?;
    let mut rng = Rng::new(ctx.seed + 1);
    let starts: Vec<usize> = (0..windows).map(|_| rng.below(split.val.len() - long - 1)).collect();
    let learned = loss_per_position(&models[0].1.model, &split.val, ctx_len, &starts);
    let rope_model = &mut models[1].1.model;
    let rope = loss_per_position(rope_model, &split.val, long, &starts);
    rope_model.set_window(ctx_len);
    let windowed = loss_per_position(rope_model, &split.val, long, &starts);
    rope_model.set_window(0);
    let pts = |v: &[f64]| crate::moving_average(v, 4, 1);
    LineChart::new(
        &format!("Loss at each position; trained on windows of {ctx_len}"),
        "position in the window",
        "validation cross-entropy (nats per character)",
    )
    .legend(LegendPosition::UpperRight)
    .series(Series::new("learned positions (no rows past the context)", pts(&learned)))
    .series(Series::new("RoPE, full attention", pts(&rope)))
    .series(Series::new(format!("RoPE, window {ctx_len} at evaluation"), pts(&windowed)).dashed())
    .draw(&ctx.figure("loss_per_position.svg"))?;
    let parts = [(0, ctx_len), (ctx_len, 2 * ctx_len), (2 * ctx_len, long)];
    let part = |v: &[f64], (a, b): (usize, usize)| if b <= v.len() { format!("{:.3}", mean(&v[a..b])) } else { "cannot run".into() };
    let mut rows = Vec::new();
    for (label, v) in [("learned positions", &learned), ("RoPE", &rope), ("RoPE + window at evaluation", &windowed)] {
        rows.push(std::iter::once(label.to_string()).chain(parts.iter().map(|&r| part(v, r))).collect());
    }
    ctx.set("setup", json!({"preset": "baby", "iterations": iters, "train_context": ctx_len, "eval_length": long, "windows": windows}));
    ctx.set("val_loss_at_end_of_training", json!({"learned": models[0].1.report.val_loss, "rope": models[1].1.report.val_loss}));
    ctx.set("loss_per_position", json!({"learned": learned, "rope": rope, "rope_window": windowed}));
    ctx.md(&format!(
        "Both models: the `baby` preset for {iters} steps on windows of {ctx_len} characters (final validation loss: learned {:.3}, RoPE {:.3}). \
         Then {windows} random validation windows of {long} characters, the same for every model (the learned one reads their first {ctx_len}); the loss at each position is averaged over them.",
        models[0].1.report.val_loss, models[1].1.report.val_loss
    ));
    ctx.table(
        &["model", &format!("positions 0–{}", ctx_len - 1), &format!("{ctx_len}–{}", 2 * ctx_len - 1), &format!("{}–{}", 2 * ctx_len, long - 1)],
        &rows,
    );
    Ok(())
}
