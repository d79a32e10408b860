//! `p9-llama-vs-gpt2`: GPT-2's architecture against LLaMA's on Tiny Shakespeare's characters, at
//! (nearly) equal parameters and equal wall-clock, and each change alone.
//!
//! Arms: GPT-2 (learned positions, LayerNorm, GELU MLP, biases, multi-head); each LLaMA change
//! alone (RoPE, RMSNorm, SwiGLU, no biases, GQA with 2 of 4 kv heads, a 32-position sliding
//! window); LLaMA (RoPE + RMSNorm + SwiGLU + no biases); LLaMA with GQA. The model size is the
//! `baby` preset's (4 layers, 4 heads, 128 wide, context 64, batch 12).
//!
//! Equal wall-clock: every arm's seconds per step are measured first (each arm twice, in turn,
//! keeping the faster), and its step count is the budget divided by that (the cosine schedule then
//! ends with the budget). A change that makes a step slower pays for it in steps.

use crate::gpt_runs::{preset, seconds_per_step, train_model};
use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;

pub(crate) const DESCRIPTION: &str =
    "GPT-2 vs LLaMA-style (RoPE, RMSNorm, SwiGLU, no bias, GQA) at equal wall-clock, and each change alone";

fn arms() -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("GPT-2", s(&[])),
        ("+ RoPE", s(&["pos=rope"])),
        ("+ RMSNorm", s(&["norm=rmsnorm"])),
        ("+ SwiGLU", s(&["mlp=swiglu"])),
        ("no biases", s(&["bias=false"])),
        ("+ GQA (2 kv heads)", s(&["n_kv_head=2"])),
        ("+ window 32", s(&["window=32"])),
        ("LLaMA", s(&["llama=true"])),
        ("LLaMA + GQA", s(&["llama=true", "n_kv_head=2"])),
    ]
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let (budget, seeds) = ctx.size((20.0f64, 2u64), (0.05, 1));
    let arms = arms();
    let pb = ctx.progress((arms.len() as u64) * (seeds + 1), "runs (step times first)");
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut points = Vec::new();
    let mut curves = Vec::new();
    // Step times first, every arm twice in turn, the faster of the two medians: a burst of
    // other work on the machine during one calibration then costs that arm nothing.
    let mut sps = vec![f64::INFINITY; arms.len()];
    for _round in 0..2 {
        for (i, (_, sets)) in arms.iter().enumerate() {
            let p0 = preset(ctx, sets, 1)?;
            sps[i] = sps[i].min(seconds_per_step(ctx, &text, &p0, ctx.seed)?);
        }
    }
    pb.inc(arms.len() as u64);
    for ((label, sets), &sps) in arms.iter().zip(&sps) {
        let iters = ((budget / sps) as usize).clamp(ctx.size(100, 3), 5000);
        let p = preset(ctx, sets, iters)?;
        let mut vals = Vec::new();
        let mut last = None;
        for s in 0..seeds {
            let run = train_model(ctx, &text, &p, ctx.seed + s)?;
            vals.push(run.report.val_loss);
            last = Some(run.report);
            pb.inc(1);
        }
        let r = last.expect("one seed at least");
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let spread = vals.iter().fold(0.0f64, |m, v| m.max((v - mean).abs()));
        rows.push(vec![
            label.to_string(),
            format!("{}", r.parameters),
            format!("{:.1}", sps * 1e3),
            format!("{iters}"),
            format!("{mean:.3}"),
            format!("±{spread:.3}"),
        ]);
        records.push(json!({"arm": label, "sets": sets, "parameters": r.parameters, "ms_per_step": sps * 1e3,
            "iterations": iters, "val_loss": vals, "val_loss_mean": mean, "tokens_per_s": r.tokens_per_s}));
        points.push((iters as f64, mean, label.to_string()));
        if matches!(*label, "GPT-2" | "LLaMA" | "LLaMA + GQA") {
            let pts: Vec<(f64, f64)> = r.evals.iter().map(|&(st, _, v)| (st as f64 * sps, v)).collect();
            curves.push((label.to_string(), pts));
        }
    }
    pb.finish_and_clear();
    crate::figures::labelled_scatter(
        &ctx.figure("loss_vs_steps.svg"),
        &format!("Equal wall-clock ({budget:.0} s): steps afforded and validation loss reached"),
        ("training steps in the budget", "validation cross-entropy (nats per character, mean of seeds)"),
        &points,
    )?;
    let mut c = LineChart::new(
        "Validation loss against training time (last seed)",
        "seconds of training (measured step time × step)",
        "validation cross-entropy",
    )
    .legend(LegendPosition::UpperRight);
    for (i, (label, pts)) in curves.into_iter().enumerate() {
        let s = Series::new(label, pts).with_markers();
        c = c.series(if i == 0 { s } else { s.dashed() });
    }
    c.draw(&ctx.figure("loss_vs_seconds.svg"))?;
    ctx.set("setup", json!({"base": "baby (4 layers, 4 heads, 128 wide, context 64, batch 12)", "budget_seconds": budget, "seeds": seeds}));
    ctx.set("arms", json!(records));
    ctx.md(&format!(
        "Each arm trains for a budget of {budget:.0} s of measured step time (steps = budget / seconds per step, \
         cosine schedule over those steps), {seeds} seeds; validation loss over 20 fixed batches at the end. \
         Spread: the largest distance of a seed from the mean."
    ));
    ctx.table(&["arm", "parameters", "ms per step", "steps in budget", "validation loss", "spread"], &rows);
    Ok(())
}
