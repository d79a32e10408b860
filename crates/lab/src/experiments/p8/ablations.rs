//! `p8-ablations`: the choices of a training recipe, one at a time, at a scale this machine runs
//! in minutes — the `baby` GPT on Tiny Shakespeare's characters for 1000 steps, three seeds each.
//!
//! - **context length**: 32, 64, 128 characters (the roadmap's 256/512/1024 scaled down), at
//!   equal tokens per step (batch × context = 768), so each run sees the same number of tokens;
//! - **peak learning rate**: 3e-4, 1e-3, 3e-3;
//! - **warmup**: 100 linear steps against none;
//! - **data**: the first 25%, 50% or 100% of the training split (the validation split is the same).
//!
//! Everything else is the baseline: context 64, batch 12, lr 1e-3, warmup 100, all the data.
//! Reported: the final validation loss (20 fixed batches), mean and spread over the seeds.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_gpt::data::Order;
use tfs_gpt::train::{text_data, Data, RunOptions, TrainReport};
use tfs_gpt::Preset;

pub(crate) const DESCRIPTION: &str =
    "context length, learning rate, warmup and data size, one at a time, three seeds each";

struct Arm {
    group: &'static str,
    label: String,
    x: f64,
    sets: Vec<String>,
    data_fraction: f64,
}

impl Arm {
    /// The baseline recipe (run once, shown in every group).
    fn is_base(&self) -> bool {
        matches!(self.label.as_str(), "context 64" | "lr 1e-3" | "warmup 100" | "100% of the data")
    }
}

fn arms() -> Vec<Arm> {
    let arm = |group, label: &str, x, sets: &[String], f| Arm {
        group,
        label: label.to_string(),
        x,
        sets: sets.to_vec(),
        data_fraction: f,
    };
    let mut v = Vec::new();
    for t in [32usize, 64, 128] {
        v.push(arm("context", &format!("context {t}"), t as f64, &[format!("block_size={t}"), format!("batch_size={}", 768 / t)], 1.0));
    }
    for lr in ["3e-4", "1e-3", "3e-3"] {
        v.push(arm("lr", &format!("lr {lr}"), lr.parse().expect("lr"), &[format!("lr={lr}"), format!("min_lr={}", lr.parse::<f64>().expect("lr") / 10.0)], 1.0));
    }
    v.push(arm("warmup", "warmup 100", 100.0, &[], 1.0));
    v.push(arm("warmup", "no warmup", 0.0, &["warmup=0".to_string()], 1.0));
    for f in [0.25, 0.5, 1.0] {
        v.push(arm("data", &format!("{:.0}% of the data", 100.0 * f), 100.0 * f, &[], f));
    }
    v
}

fn mean_min_max(v: &[f64]) -> (f64, f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (m, v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(f64::NEG_INFINITY, f64::max))
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let (iters, seeds) = ctx.size((1000, 3), (4, 1));
    let arms = arms();
    let unique = arms.iter().filter(|a| !a.is_base()).count() + 1;
    let pb = ctx.progress((unique * seeds) as u64, "runs");
    let mut results: Vec<(Vec<TrainReport>, f64)> = Vec::new();
    let mut base: Option<(Vec<TrainReport>, f64)> = None;
    for a in &arms {
        if let (true, Some(b)) = (a.is_base(), &base) {
            results.push(b.clone());
            continue;
        }
        let mut reps = Vec::new();
        for s in 0..seeds {
            let mut p = Preset::get("baby").expect("preset");
            p.train.max_iters = iters;
            p.train.lr_decay_iters = iters;
            p.train.sample_interval = 0;
            p.train.eval_interval = ctx.size(250, 2);
            p.train.eval_iters = ctx.size(20, 1);
            for kv in &a.sets {
                p.set(kv).map_err(|m| ctx.fail(m))?;
            }
            if ctx.quick {
                p.quick();
            }
            let (vocab, mut split) = text_data(&text, p.model.block_size).map_err(|m| ctx.fail(m))?;
            let keep = ((split.train.len() as f64 * a.data_fraction) as usize).max(p.model.block_size + 1);
            split.train.truncate(keep);
            let data = Data { train: &split.train, val: &split.val, vocab, default_order: Order::Random };
            let r = tfs_gpt::train::run(&data, &p, ctx.seed + s as u64, &RunOptions::default()).map_err(|m| ctx.fail(m))?;
            reps.push(r);
            pb.inc(1);
        }
        let secs = reps.iter().map(|r| r.wall_seconds).sum::<f64>() / reps.len() as f64;
        if a.is_base() {
            base = Some((reps.clone(), secs));
        }
        results.push((reps, secs));
    }
    pb.finish_and_clear();
    let mut rows = Vec::new();
    let mut json_rows = Vec::new();
    for (a, (reps, secs)) in arms.iter().zip(&results) {
        let vals: Vec<f64> = reps.iter().map(|r| r.val_loss).collect();
        let trains: Vec<f64> = reps.iter().map(|r| r.train_loss).collect();
        let (m, lo, hi) = mean_min_max(&vals);
        let (tm, _, _) = mean_min_max(&trains);
        rows.push(vec![a.group.to_string(), a.label.clone(), format!("{m:.3}"), format!("{lo:.3} – {hi:.3}"), format!("{tm:.3}"), format!("{secs:.0}")]);
        json_rows.push(json!({"group": a.group, "arm": a.label, "x": a.x, "val": vals, "train": trains, "seconds": secs}));
    }
    // One chart per swept setting: mean and the seeds' range.
    for (group, title, xl, file, log) in [
        ("context", "context length at equal tokens per step", "context (characters)", "context.svg", true),
        ("lr", "peak learning rate", "learning rate", "lr.svg", true),
        ("data", "share of the training data", "% of the training split", "data.svg", false),
    ] {
        let pts: Vec<(f64, (f64, f64, f64))> = arms
            .iter()
            .zip(&results)
            .filter(|(a, _)| a.group == group)
            .map(|(a, (reps, _))| (a.x, mean_min_max(&reps.iter().map(|r| r.val_loss).collect::<Vec<_>>())))
            .collect();
        let mut c = LineChart::new(&format!("baby GPT, 1000 steps: validation loss vs {title}"), xl, "validation cross-entropy (nats per character)")
            .legend(LegendPosition::UpperRight)
            .series(Series::new(format!("mean of {seeds} seeds"), pts.iter().map(|(x, s)| (*x, s.0)).collect()).with_markers())
            .series(Series::new("best seed", pts.iter().map(|(x, s)| (*x, s.1)).collect()).dashed())
            .series(Series::new("worst seed", pts.iter().map(|(x, s)| (*x, s.2)).collect()).dashed());
        c = match group {
            // Rising with context: the legend goes where the low points are not.
            "context" => c.log2_x().x_range(24f64.log2(), 176f64.log2()).legend(LegendPosition::UpperLeft),
            "lr" => c.log_x().x_range(2e-4, 4.5e-3),
            _ => c,
        };
        let _ = log;
        c.draw(&ctx.figure(file))?;
    }
    // Warmup: the first steps' training loss, mean over seeds, smoothed.
    let mut wc = LineChart::new("warmup or not: training loss over the first 300 steps (mean of seeds)", "step", "training cross-entropy")
        .legend(LegendPosition::UpperRight);
    for (a, (reps, _)) in arms.iter().zip(&results).filter(|(a, _)| a.group == "warmup") {
        let n = reps.iter().map(|r| r.losses.len()).min().unwrap_or(0).min(300);
        let mean: Vec<f64> = (0..n).map(|i| reps.iter().map(|r| r.losses[i]).sum::<f64>() / reps.len() as f64).collect();
        let s = Series::new(a.label.clone(), crate::moving_average(&mean, 10, 5));
        wc = wc.series(if a.x == 0.0 { s.dashed() } else { s });
    }
    wc.draw(&ctx.figure("warmup.svg"))?;
    ctx.set("setup", json!({"base": "baby (4 layers, 4 heads, 128 wide, context 64, batch 12)", "iterations": iters, "seeds": seeds, "eval_iters": 20}));
    ctx.set("result", json!({"arms": json_rows}));
    ctx.md(&format!(
        "Each row: {seeds} runs of {iters} steps from different seeds; the baseline is context 64, batch 12, lr 1e-3 (cosine to 1e-4), \
         warmup 100, all the data (its runs appear once in each group). The context rows keep batch × context = 768 characters per step. Validation loss is the \
         final estimate over 20 fixed batches."
    ));
    ctx.table(&["setting", "arm", "validation loss (mean)", "range over seeds", "train loss (mean)", "seconds per run"], &rows);
    Ok(())
}

