//! `p2-long-range`: remember one symbol across k distractors (delayed recall): accuracy vs k for
//! RNN, LSTM and GRU trained with the same budget, from several seeds (whether a run finds the
//! solution is close to all-or-nothing, so one seed says little). Chance is 1/8.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_math::Rng;
use tfs_nn::optim::clip_and_step;
use tfs_nn::Adam;
use tfs_seq::classifier::SeqClassifier;
use tfs_seq::tasks::{recall_example, RECALL_KEYS, RECALL_VOCAB};
use tfs_seq::CellKind;

pub(crate) const DESCRIPTION: &str = "delayed recall of a symbol after k distractors: accuracy vs k for RNN, LSTM, GRU";

fn batch(k: usize, n: usize, rng: &mut Rng) -> (Vec<Vec<usize>>, Vec<usize>) {
    let ex: Vec<(Vec<usize>, usize)> = (0..n).map(|_| recall_example(k, rng)).collect();
    let steps = (0..ex[0].0.len())
        .map(|t| ex.iter().map(|e| e.0[t]).collect())
        .collect();
    (steps, ex.iter().map(|e| e.1).collect())
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let ks: Vec<usize> = ctx.size(vec![2, 5, 10, 20, 40, 80], vec![2, 5]);
    let (hidden, steps, bs, seeds) = ctx.size((64, 1500, 32, 3u64), (16, 30, 16, 1));
    let mut chart = LineChart::new(
        "Delayed recall: accuracy vs number of distractors",
        "distractors k between the key and the query",
        "test accuracy",
    )
    .log2_x()
    .y_range(0.0, 1.05)
    .legend(LegendPosition::LowerLeft);
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let pb = ctx.progress(ks.len() as u64 * 3 * seeds, "cells × k × seeds");
    for kind in CellKind::ALL {
        let mut pts = Vec::new();
        let mut row = vec![kind.name().to_string()];
        for &k in &ks {
            let mut accs = Vec::new();
            for seed in 0..seeds {
                let mut rng = Rng::new(ctx.seed ^ (k as u64 * 7919) ^ (seed << 32));
                let mut m: SeqClassifier<f32> =
                    SeqClassifier::new(kind, RECALL_VOCAB, hidden, RECALL_KEYS, &mut rng);
                let mut opt = Adam::new(3e-3);
                for _ in 0..steps {
                    let (x, y) = batch(k, bs, &mut rng);
                    let mut st = m.loss_and_grads(&x, &y);
                    clip_and_step(&mut opt, &mut m, &mut st.grads, Some(1.0));
                }
                let mut test_rng = Rng::new(ctx.seed ^ 0xface ^ k as u64);
                let (x, y) = batch(k, 512, &mut test_rng);
                let pred = m.loss_and_grads(&x, &y).predictions;
                accs.push(
                    pred.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / y.len() as f64,
                );
                pb.inc(1);
            }
            let mean = accs.iter().sum::<f64>() / accs.len() as f64;
            let solved = accs.iter().filter(|&&a| a >= 0.9).count();
            pts.push((k as f64, mean));
            row.push(format!("{:.0}% ({solved}/{seeds})", 100.0 * mean));
            records.push(json!({"cell": kind.name(), "k": k, "accuracy_per_seed": accs, "mean_accuracy": mean, "seeds_solved": solved}));
        }
        chart = chart.series(Series::new(kind.name(), pts).with_markers());
        rows.push(row);
    }
    pb.finish_and_clear();
    // Chance last, in grey: the cells keep the colours they have in every other Phase 2 chart.
    chart = chart.series(
        Series::new(
            "chance (1/8)",
            vec![
                (ks[0] as f64, 0.125),
                (*ks.last().expect("ks") as f64, 0.125),
            ],
        )
        .dashed()
        .color(crate::plot::PALETTE[7]),
    );
    chart.draw(&ctx.figure("accuracy_vs_k.svg"))?;
    ctx.set("setup", json!({"hidden": hidden, "train_steps": steps, "batch": bs, "seeds": seeds, "test_examples": 512, "optimizer": "Adam 3e-3", "clip": 1.0}));
    ctx.set("results", json!(records));
    let mut headers = vec![format!(
        "cell (H={hidden}, {steps} steps): mean accuracy (seeds ≥ 90%)"
    )];
    headers.extend(ks.iter().map(|k| format!("k = {k}")));
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    ctx.table(&headers, &rows);
    ctx.md(
        "The only way to answer is to carry the key, seen once at the start, across every \
         distractor. The loss sits at the last step, so the gradient that teaches the network to \
         store the key must travel back k + 1 steps. Each cell is trained from several seeds per k; \
         a run tends either to find the solution (near 100%) or to stay at chance (12.5%), so the \
         table gives the mean and how many seeds solved it. Read it as this budget's outcome, not \
         as a ranking of the cells: a longer budget or another learning rate moves the boundary.",
    );
    Ok(())
}
