//! `p5-ablations`: what each piece of the transformer buys, on reversal (1-8 digits), several
//! seeds each. Residual connections off; layer norm off; post- vs pre-norm, with and without
//! warmup, at a moderate and at a high learning rate; 1/2/4/8 heads at a fixed width; FFN width
//! 1×/2×/4×/8× D. Instability shows in the loss curves (plateaus at the unigram loss, spikes,
//! NaN) and in the gradient norm of each block during the first steps.
//!
//! No gradient clipping here: clipping would hide the instabilities we want to see.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_math::Rng;
use tfs_nn::{Grads, Params};
use tfs_transformer::train::{evaluate, train, Recipe};
use tfs_transformer::{Config, Norm, Task, Transformer};

pub(crate) const DESCRIPTION: &str =
    "no residuals, no layer norm, pre/post-norm × warmup × learning rate, heads 1-8, FFN 1-8×: seeds, spread, gradient norms";

/// One ablation: a name, a group, and what it changes.
#[derive(Clone)]
struct Variant {
    name: String,
    group: &'static str,
    norm: Norm,
    residual: bool,
    heads: usize,
    ffn_mult: usize,
    lr: f64,
    warmup: usize,
}

fn variants() -> Vec<Variant> {
    let base = Variant {
        name: String::new(),
        group: "norm",
        norm: Norm::Post,
        residual: true,
        heads: 4,
        ffn_mult: 4,
        lr: 3e-3,
        warmup: 100,
    };
    let mut v = Vec::new();
    for lr in [3e-3, 1e-2] {
        for norm in [Norm::Post, Norm::Pre] {
            for warmup in [100, 0] {
                let name = format!(
                    "{}-norm, {}, lr {lr:.0e}",
                    if norm == Norm::Post { "post" } else { "pre" },
                    if warmup > 0 { "warmup" } else { "no warmup" }
                );
                v.push(Variant { name, norm, lr, warmup, ..base.clone() });
            }
        }
    }
    let arch = Variant { group: "architecture", ..base.clone() };
    v.push(Variant { name: "no residual connections".into(), residual: false, ..arch.clone() });
    v.push(Variant { name: "no layer norm".into(), norm: Norm::None, ..arch.clone() });
    for heads in [1, 2, 8] {
        v.push(Variant { name: format!("{heads} head{}", if heads == 1 { "" } else { "s" }), group: "heads", heads, ..arch.clone() });
    }
    for m in [1, 2, 8] {
        v.push(Variant { name: format!("FFN {m}×D"), group: "ffn", ffn_mult: m, ..arch.clone() });
    }
    v
}

/// What one (variant, seed) run produced.
struct RunOut {
    losses: Vec<f64>,
    diverged_at: Option<usize>,
    exact8: f64,
    /// Median and largest global gradient norm after the first 100 steps.
    late_norms: (f64, f64),
    /// Mean gradient norm of each block (enc.0 … dec.N) over the first 100 steps.
    block_norms: Vec<f64>,
    block_names: Vec<String>,
}

fn block_of(name: &str) -> String {
    let mut it = name.splitn(3, '.');
    match (it.next(), it.next()) {
        (Some(a @ ("enc" | "dec")), Some(i)) => format!("{a}.{i}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    }
}

fn run_one(v: &Variant, seed: u64, d: usize, layers: usize, steps: usize, n_test: usize) -> RunOut {
    let task = Task::Reverse;
    let mut rng = Rng::new(seed);
    let cfg = Config {
        d,
        heads: v.heads,
        ffn: v.ffn_mult * d,
        enc_layers: layers,
        dec_layers: layers,
        norm: v.norm,
        residual: v.residual,
        ..Config::small(10, task.tgt_vocab())
    };
    let mut m: Transformer<f32> = Transformer::new(cfg, &mut rng);
    let r = Recipe { lr: v.lr, warmup: v.warmup, clip: None, ..Recipe::new(steps, 32, (1, 8)) };
    let names: Vec<String> = (0..layers).map(|i| format!("enc.{i}")).chain((0..layers).map(|i| format!("dec.{i}"))).collect();
    let mut sums = vec![0.0; names.len()];
    let mut counted = 0usize;
    let log = train(&mut m, task, &r, &mut rng, &mut |step, _, g: &Grads<f32>| {
        if step < 100 {
            let mut sq = vec![0.0f64; names.len()];
            g.visit(&mut |n, t| {
                let b = block_of(n);
                if let Some(k) = names.iter().position(|x| *x == b) {
                    sq[k] += t.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>();
                }
            });
            for (s, q) in sums.iter_mut().zip(sq) {
                *s += q.sqrt();
            }
            counted += 1;
        }
    });
    let exact8 = if log.diverged_at.is_some() {
        0.0
    } else {
        evaluate(&m, task, &task.test_set(&[8], n_test, 2025))[0].1
    };
    RunOut {
        late_norms: {
            let mut late: Vec<f64> = log.grad_norms.iter().skip(100.min(steps / 2)).copied().collect();
            late.sort_by(f64::total_cmp);
            let med = late.get(late.len() / 2).copied().unwrap_or(f64::NAN);
            (med, late.last().copied().unwrap_or(f64::NAN))
        },
        losses: log.losses,
        diverged_at: log.diverged_at,
        exact8,
        block_norms: sums.iter().map(|s| s / counted.max(1) as f64).collect(),
        block_names: names,
    }
}

fn mean_std(x: &[f64]) -> (f64, f64) {
    let n = x.len().max(1) as f64;
    let m = x.iter().sum::<f64>() / n;
    (m, (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt())
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (d, layers, steps, seeds, n_test) = ctx.size((64, 3, 400, 3, 100), (16, 1, 6, 2, 4));
    let vars = variants();
    let jobs: Vec<(usize, u64)> = (0..vars.len()).flat_map(|i| (0..seeds).map(move |s| (i, s as u64))).collect();
    let pb = ctx.progress(jobs.len() as u64, "variant × seed");
    // Two workers: the runs are independent and mostly single-threaded small products.
    let mut outs: Vec<Option<RunOut>> = (0..jobs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|w| {
                let (jobs, vars, pb) = (&jobs, &vars, pb.clone());
                let seed = ctx.seed;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for (k, &(i, sd)) in jobs.iter().enumerate().filter(|(k, _)| k % 2 == w) {
                        mine.push((k, run_one(&vars[i], seed + sd, d, layers, steps, n_test)));
                        pb.inc(1);
                    }
                    mine
                })
            })
            .collect();
        for h in handles {
            for (k, o) in h.join().expect("ablation worker") {
                outs[k] = Some(o);
            }
        }
    });
    pb.finish_and_clear();
    let outs: Vec<RunOut> = outs.into_iter().map(|o| o.expect("every job ran")).collect();
    let unigram = (10f64).ln();
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut loss_charts: Vec<(String, LineChart)> = vec![
        ("loss_lr3e-3.svg".into(), LineChart::new("Post- vs pre-norm, ± warmup, lr 3e-3 (mean of seeds)", "step", "training loss (20-step mean)").log_y()),
        ("loss_lr1e-2.svg".into(), LineChart::new("Post- vs pre-norm, ± warmup, lr 1e-2 (mean of seeds)", "step", "training loss (20-step mean)").log_y()),
        ("loss_architecture.svg".into(), LineChart::new("Without residuals, without layer norm (mean of seeds)", "step", "training loss (20-step mean)").log_y()),
    ];
    let mut norm_chart = LineChart::new(
        "Gradient norm per block, first 100 steps (seed 0)",
        "block (1-3: encoder 0-2, 4-6: decoder 0-2)",
        "mean ‖∂L/∂θ_block‖",
    )
    .log_y()
    .integer_x()
    .legend(LegendPosition::UpperLeft);
    let (mut heads_pts, mut ffn_pts) = (Vec::new(), Vec::new());
    for (i, v) in vars.iter().enumerate() {
        let runs: Vec<&RunOut> = (0..seeds).map(|s| &outs[i * seeds + s]).collect();
        let finals: Vec<f64> = runs
            .iter()
            .map(|r| match r.diverged_at {
                Some(_) => f64::NAN,
                None => r.losses.iter().rev().take(50).sum::<f64>() / 50f64.min(r.losses.len().max(1) as f64),
            })
            .collect();
        let ok: Vec<f64> = finals.iter().copied().filter(|x| x.is_finite()).collect();
        let (lm, ls) = mean_std(&ok);
        let exact: Vec<f64> = runs.iter().map(|r| r.exact8).collect();
        let (em, es) = mean_std(&exact);
        let diverged = runs.iter().filter(|r| r.diverged_at.is_some()).count();
        let stuck = ok.iter().filter(|&&l| l > 0.9 * unigram).count();
        let med_norm = runs.iter().map(|r| r.late_norms.0).sum::<f64>() / seeds as f64;
        let max_norm = runs.iter().map(|r| r.late_norms.1).fold(0.0, f64::max);
        rows.push(vec![
            v.name.clone(),
            if ok.is_empty() { "—".into() } else { format!("{lm:.3} ± {ls:.3}") },
            format!("{:.0}% ± {:.0}%", 100.0 * em, 100.0 * es),
            format!("{diverged}/{seeds} diverged, {stuck}/{seeds} stuck"),
            format!("{} / {}", crate::sig(med_norm, 2), crate::sig(max_norm, 2)),
        ]);
        // Seed-mean loss curve (over the steps every seed reached).
        let len = runs.iter().map(|r| r.losses.len()).min().unwrap_or(0);
        let mean_curve: Vec<f64> = (0..len).map(|t| runs.iter().map(|r| r.losses[t]).sum::<f64>() / seeds as f64).collect();
        let chart = match (v.group, v.lr > 5e-3) {
            ("norm", false) => Some(0),
            ("norm", true) => Some(1),
            ("architecture", _) => Some(2),
            _ => None,
        };
        if let Some(c) = chart {
            let series = Series::new(v.name.clone(), crate::moving_average(&mean_curve, 20, 5));
            loss_charts[c].1 = std::mem::replace(&mut loss_charts[c].1, LineChart::new("", "", "")).series(series);
        }
        if v.name == "post-norm, warmup, lr 3e-3" {
            let s = Series::new("baseline (post-norm, warmup, lr 3e-3)", crate::moving_average(&mean_curve, 20, 5));
            loss_charts[2].1 = std::mem::replace(&mut loss_charts[2].1, LineChart::new("", "", "")).series(s);
            heads_pts.push((4.0, em));
            ffn_pts.push((4.0, em));
        }
        match v.group {
            "heads" => heads_pts.push((v.heads as f64, em)),
            "ffn" => ffn_pts.push((v.ffn_mult as f64, em)),
            _ => {}
        }
        if v.lr > 5e-3 || v.group == "architecture" {
            let r0 = runs[0];
            let pts: Vec<(f64, f64)> = r0.block_norms.iter().enumerate().filter(|(_, n)| n.is_finite() && **n > 0.0).map(|(k, &n)| (k as f64 + 1.0, n)).collect();
            norm_chart = norm_chart.series(Series::new(v.name.clone(), pts).with_markers());
        }
        records.push(json!({
            "variant": v.name, "group": v.group, "norm": format!("{:?}", v.norm), "residual": v.residual,
            "heads": v.heads, "ffn_mult": v.ffn_mult, "lr": v.lr, "warmup": v.warmup,
            "final_loss": finals.iter().map(|x| if x.is_finite() { json!(x) } else { json!(null) }).collect::<Vec<_>>(),
            "exact_match_len8": exact, "diverged": diverged, "stuck": stuck, "grad_norm_after_100_median_mean": med_norm, "grad_norm_after_100_max": max_norm,
            "block_grad_norms_seed0": runs[0].block_names.iter().zip(&runs[0].block_norms).map(|(n, v)| json!({"block": n, "mean_norm_first_100": v})).collect::<Vec<_>>(),
        }));
    }
    heads_pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    ffn_pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (name, chart) in loss_charts {
        chart.draw(&ctx.figure(&name))?;
    }
    norm_chart.draw(&ctx.figure("block_grad_norms.svg"))?;
    LineChart::new("Heads at fixed width, FFN width", "heads (D fixed) / FFN width as a multiple of D", "exact match at 8 digits (mean of seeds)")
        .log2_x()
        .y_range(0.0, 1.05)
        .legend(LegendPosition::LowerRight)
        .series(Series::new("heads", heads_pts).with_markers())
        .series(Series::new("FFN width ×D", ffn_pts).with_markers())
        .draw(&ctx.figure("heads_ffn.svg"))?;
    ctx.set("setup", json!({"task": "reverse", "train_lengths": [1, 8], "d": d, "layers": format!("{layers} + {layers}"), "steps": steps, "batch": 32, "seeds": seeds, "optimizer": "AdamW (decay 0.01), cosine to 1e-5, no clipping", "test": format!("{n_test} pairs of 8 digits, greedy")}));
    ctx.set("variants", json!(records));
    ctx.md(&format!(
        "Each row: {seeds} seeds of a D = {d}, {layers} + {layers}-block transformer trained {steps} \
         AdamW steps (batch 32) on reversal of 1-8 digits, without gradient clipping. Unless the \
         row says otherwise: post-norm, residuals, 4 heads, FFN 4×D, warmup 100 steps, lr 3e-3. \
         \"Stuck\" means a final loss above 90% of ln 10 = {unigram:.2}, the loss of guessing digits \
         uniformly. Final loss is the mean of the last 50 steps (mean ± std over seeds); exact match \
         is greedy on {n_test} held-out 8-digit sequences."
    ));
    ctx.table(&["variant", "final loss", "exact match, 8 digits", "failures", "‖g‖ after step 100: median / max"], &rows);
    Ok(())
}
