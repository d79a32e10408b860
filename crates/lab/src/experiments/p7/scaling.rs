//! `p7-scaling`: three GPTs — the `1m`, `10m` and `50m` presets (0.8M, 10.7M and 47.8M
//! parameters; character-level, context 128) — trained on Tiny Shakespeare for the same
//! wall-clock budget each. Each model's iteration count is what fits its budget (from the
//! measured time of its first steps), and its cosine schedule ends there. The question is the
//! one scaling laws answer for a fixed compute budget (Kaplan et al., 2020; Hoffmann et al.,
//! 2022): on a 2-core CPU, which size uses the budget best?

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use std::time::Instant;
use tfs_gpt::Preset;

pub(crate) const DESCRIPTION: &str =
    "1M, 10M and 50M-parameter GPTs for the same wall-clock budget: loss against tokens and seconds, tokens/s, samples";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let budget: f64 = ctx.size(120.0, 0.5);
    let names = ["1m", "10m", "50m"];
    let pb = ctx.progress(names.len() as u64, "model (progress on the next line)");
    let (mut by_tokens, mut by_seconds) = (
        LineChart::new("Same wall-clock budget per model: loss against characters seen", "characters trained on", "training loss (nats per character, 10-step mean)")
            .log_x()
            .legend(LegendPosition::UpperRight),
        LineChart::new("Same wall-clock budget per model: loss against time", "seconds", "training loss (nats per character, 10-step mean)")
            .legend(LegendPosition::UpperRight),
    );
    let (mut rows, mut records, mut samples) = (Vec::new(), Vec::new(), Vec::new());
    for name in names {
        let mut p = Preset::get(name).expect("preset");
        if ctx.quick {
            p.quick();
            p.train.batch_size = 2;
        }
        // Time the steps alone (a 6-step run minus a 2-step run: data preparation and the final
        // evaluation cancel) to size the run to the budget.
        let timed = |steps: usize| -> Result<f64, LabError> {
            let mut probe = p.clone();
            probe.train.max_iters = steps;
            probe.train.eval_iters = 1;
            probe.train.sample_interval = 0;
            let t0 = Instant::now();
            tfs_gpt::train::train(&text, &probe, ctx.seed, None, false)
                .map_err(|message| LabError::Experiment { id: ctx.id.to_string(), message })?;
            Ok(t0.elapsed().as_secs_f64())
        };
        let per_step = ((timed(6)? - timed(2)?) / 4.0).max(1e-4);
        let iters = ((budget / per_step) as usize).max(2);
        p.train.max_iters = iters;
        p.train.lr_decay_iters = iters;
        p.train.warmup = (iters / 10).clamp(1, 100);
        p.train.eval_interval = iters;
        p.train.eval_iters = ctx.size(10, 1);
        p.train.sample_interval = 0;
        let r = tfs_gpt::train::train(&text, &p, ctx.seed, Some(&ctx.dir().join(format!("run-{name}"))), !ctx.quick)
            .map_err(|message| LabError::Experiment { id: ctx.id.to_string(), message })?;
        // Keep one sample from the finished model; drop the checkpoint (up to 190 MB) and the log.
        let (model, vocab) = tfs_gpt::checkpoint::load(&ctx.dir().join(format!("run-{name}/checkpoint")))
            .map_err(|e| LabError::Experiment { id: ctx.id.to_string(), message: e.to_string() })?;
        let _ = std::fs::remove_dir_all(ctx.dir().join(format!("run-{name}")));
        let prompt = vocab.encode("\n").unwrap_or_else(|_| vec![0]);
        let s = tfs_gpt::sample::Sampling { temperature: 0.8, ..Default::default() };
        let out = vocab.decode(&tfs_gpt::sample::generate(&model, &prompt, 300, &s, &mut tfs_math::Rng::new(ctx.seed + 5)));
        let tokens_per_step = (p.train.batch_size * p.model.block_size) as f64;
        let step_s = r.wall_seconds / iters as f64;
        let curve = crate::moving_average(&r.losses, 10, 2);
        let label = format!("{name}: {:.1}M parameters", r.parameters as f64 / 1e6);
        by_tokens = by_tokens.series(Series::new(label.clone(), curve.iter().map(|&(t, l)| ((t + 1.0) * tokens_per_step, l)).collect()));
        by_seconds = by_seconds.series(Series::new(label.clone(), curve.iter().map(|&(t, l)| ((t + 1.0) * step_s, l)).collect()));
        rows.push(vec![
            label.clone(),
            format!("{iters}"),
            format!("{:.0}", (iters as f64) * tokens_per_step),
            format!("{:.0}", r.tokens_per_s),
            format!("{:.0}", r.wall_seconds),
            format!("{:.3}", r.train_loss),
            format!("{:.3}", r.val_loss),
        ]);
        records.push(json!({"preset": name, "parameters": r.parameters, "model": p.model.to_json(), "batch": p.train.batch_size, "lr": p.train.lr,
            "iterations": iters, "characters": (iters as f64) * tokens_per_step, "tokens_per_s": r.tokens_per_s, "wall_seconds": r.wall_seconds,
            "train_loss": r.train_loss, "val_loss": r.val_loss, "sample": out}));
        samples.push((label, out));
        pb.inc(1);
    }
    pb.finish_and_clear();
    by_tokens.draw(&ctx.figure("loss_vs_characters.svg"))?;
    by_seconds.draw(&ctx.figure("loss_vs_seconds.svg"))?;
    ctx.set("budget_seconds", budget);
    ctx.set("models", json!(records));
    let best = records
        .iter()
        .min_by(|a, b| a["val_loss"].as_f64().unwrap_or(f64::MAX).total_cmp(&b["val_loss"].as_f64().unwrap_or(f64::MAX)))
        .map_or(String::new(), |r| r["preset"].as_str().unwrap_or("").to_string());
    let chars: Vec<f64> = records.iter().map(|r| r["characters"].as_f64().unwrap_or(0.0)).collect();
    ctx.md(&format!(
        "Each model was given a budget of {budget:.0} s of wall-clock time on this 2-core machine: \
         its iteration count was sized from the measured time of its first steps (the seconds it \
         actually took are in the table), with warmup over 10% of the run and a cosine to lr/10 at \
         its end (AdamW, clipping at 1). Losses are the mean cross-entropy over 10 fixed batches of \
         each split after training; characters trained on = iterations × batch × context. Under \
         this budget the lowest validation loss is the {best} model's: the 1m model saw {:.0}× the \
         characters of the 10m and {:.0}× those of the 50m. With compute this small the larger models \
         cannot see enough data to use their parameters — the compute-optimal trade of Hoffmann et \
         al. (2022), who scale data with parameters; here the 50m model would need hours, not minutes.",
        chars[0] / chars[1].max(1.0),
        chars[0] / chars[2].max(1.0),
    ));
    ctx.table(&["model", "iterations", "characters", "characters/s", "seconds", "train loss", "validation loss"], &rows);
    ctx.md("A sample from each (temperature 0.8, after a newline):");
    for (label, s) in samples {
        ctx.md(&format!("**{label}**\n\n```text\n{}\n```", s.trim_end()));
    }
    Ok(())
}
