//! `p9-moe`: a mixture of experts against the dense MLP at equal compute per token. Every block's
//! MLP becomes `E` expert MLPs of the dense one's size, a router sends each token to its top 1,
//! so each token still passes through one MLP: parameters grow with E, FLOPs per token do not
//! (the router adds `C·E` multiply-adds). Arms: dense; 4 experts; 8 experts; 8 experts without
//! the load-balancing loss (`moe_aux = 0`), to see what the loss prevents. Same steps and data.
//! After training, each expert's share of the routed tokens on validation batches.

use crate::gpt_runs::{preset, train_model};
use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_gpt::data::batch;
use tfs_gpt::train::text_data;
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::no_grad;

pub(crate) const DESCRIPTION: &str =
    "mixture of experts (top-1 of 4 or 8) vs dense at equal compute per token: loss, utilisation, the balancing loss";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let iters = ctx.size(1500, 3);
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let arms = [
        ("dense", s(&[])),
        ("4 experts, top-1", s(&["n_expert=4", "top_k=1"])),
        ("8 experts, top-1", s(&["n_expert=8", "top_k=1"])),
        ("8 experts, top-1, no balancing loss", s(&["n_expert=8", "top_k=1", "moe_aux=0"])),
    ];
    let pb = ctx.progress(arms.len() as u64, "runs");
    let (mut rows, mut records) = (Vec::new(), Vec::new());
    let mut chart = LineChart::new(
        "Share of the routed tokens per expert (validation, all layers), most used first",
        "expert rank in its layer",
        "share of the layer's tokens",
    )
    .legend(LegendPosition::UpperRight);
    for (i, (label, sets)) in arms.iter().enumerate() {
        let p = preset(ctx, sets, iters)?;
        let mut run = train_model(ctx, &text, &p, ctx.seed)?;
        run.model.set_training(false);
        let cfg = run.model.cfg;
        let (_, split) = text_data(&text, cfg.block_size).map_err(|m| ctx.fail(m))?;
        // Utilisation on validation batches, per layer; and the balancing loss there.
        let mut rng = Rng::new(ctx.seed + 5);
        let mut load: Vec<Vec<usize>> = Vec::new();
        let mut aux = 0.0;
        let n_batches = ctx.size(10, 1);
        for _ in 0..n_batches {
            let (x, _) = batch(&split.val, 12, cfg.block_size, &mut rng);
            no_grad(|| run.model.forward(&x, 12, cfg.block_size));
            aux += run.model.moe_aux_loss().unwrap_or(0.0) as f64 / cfg.n_layer as f64 / n_batches as f64;
            for (l, v) in run.model.expert_load().into_iter().enumerate() {
                if load.len() <= l {
                    load.push(vec![0; v.len()]);
                }
                load[l].iter_mut().zip(&v).for_each(|(a, b)| *a += b);
            }
        }
        let shares: Vec<Vec<f64>> = load
            .iter()
            .map(|l| {
                let total = l.iter().sum::<usize>().max(1) as f64;
                let mut s: Vec<f64> = l.iter().map(|&c| c as f64 / total).collect();
                s.sort_by(|a, b| b.total_cmp(a));
                s
            })
            .collect();
        if !shares.is_empty() {
            let e = shares[0].len();
            let mean: Vec<(f64, f64)> = (0..e)
                .map(|r| ((r + 1) as f64, shares.iter().map(|s| s[r]).sum::<f64>() / shares.len() as f64))
                .collect();
            let ser = Series::new(*label, mean).with_markers();
            chart = chart.series(if i == 3 { ser.dashed() } else { ser });
        }
        let ffn = {
            let (c, h) = (cfg.n_embd, cfg.ffn_hidden());
            2 * c * h + h + c
        };
        let active = run.report.parameters - cfg.n_layer * cfg.n_expert.saturating_sub(cfg.top_k) * ffn;
        let max_share = shares.iter().flatten().copied().fold(0.0, f64::max);
        let min_share = shares.iter().flatten().copied().fold(1.0, f64::min);
        rows.push(vec![
            label.to_string(),
            format!("{}", run.report.parameters),
            format!("{active}"),
            format!("{:.3}", run.report.val_loss),
            format!("{:.0}", run.report.tokens_per_s),
            if shares.is_empty() { "–".into() } else { format!("{min_share:.2} – {max_share:.2}") },
            if shares.is_empty() { "–".into() } else { format!("{aux:.2}") },
        ]);
        records.push(json!({"arm": label, "parameters": run.report.parameters, "active_parameters": active,
            "val_loss": run.report.val_loss, "tokens_per_s": run.report.tokens_per_s, "shares_sorted_per_layer": shares,
            "balancing_loss_per_layer": aux}));
        pb.inc(1);
    }
    pb.finish_and_clear();
    chart.draw(&ctx.figure("utilisation.svg"))?;
    ctx.set("setup", json!({"preset": "baby", "iterations": iters, "moe_aux": 0.01}));
    ctx.set("arms", json!(records));
    ctx.md(&format!(
        "The `baby` preset for {iters} steps, one seed per arm; experts are MLPs of the dense size (4·128 wide), top-1 routing, \
         balancing-loss weight 0.01 unless stated. Active parameters: those a token passes through (the dense model's count plus \
         the router). Shares: each expert's fraction of its layer's tokens over 10 validation batches (the smallest and largest \
         over all layers); balancing loss: E·Σ fₑPₑ per layer, 1 when the load is uniform."
    ));
    ctx.table(&["arm", "parameters", "active per token", "validation loss", "tokens/s", "expert shares (min – max)", "balancing loss"], &rows);
    Ok(())
}
