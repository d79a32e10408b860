//! `p4-seq2seq-attention`: the Phase 2 reversal task with Bahdanau and with Luong attention, on the
//! same axes as the no-attention bottleneck curve: same recipe, same test split, same seed.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_attention::reverse::{evaluate, train, Recipe, Reverser, TEST_LENGTHS};
use tfs_attention::scorer::ScoreKind;
use tfs_attention::seq2seq_attn::{AttnSeq2Seq, Style};
use tfs_math::Rng;
use tfs_seq::seq2seq::Seq2Seq;
use tfs_seq::tasks::REVERSE_VOCAB;
use tfs_seq::CellKind;

pub(crate) const DESCRIPTION: &str = "reversal with Bahdanau and Luong attention vs the no-attention bottleneck, by length";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (hidden, steps, bs, n_test) = ctx.size((128, 3000, 64, 200), (16, 20, 8, 10));
    let lengths: Vec<usize> = if ctx.quick {
        vec![4, 8]
    } else {
        TEST_LENGTHS.to_vec()
    };
    let recipe = Recipe {
        steps,
        batch: bs,
        lengths: (lengths[0], *lengths.last().expect("lengths")),
        lr: 3e-3,
        clip: 5.0,
    };
    let mut exact_chart = LineChart::new(
        "Reversal: exact match vs length, with and without attention",
        "sequence length",
        "exact-match accuracy (greedy)",
    )
    .y_range(0.0, 1.05)
    .legend(LegendPosition::LowerLeft);
    let mut loss_chart = LineChart::new(
        "Training loss",
        "step",
        "cross-entropy per target token (50-step mean)",
    )
    .log_y();
    let mut rows: Vec<Vec<String>> = lengths.iter().map(|l| vec![l.to_string()]).collect();
    let mut records = Vec::new();
    let names = ["no attention", "Bahdanau (additive)", "Luong (general)"];
    for (k, name) in names.iter().enumerate() {
        let mut rng = Rng::new(ctx.seed);
        let mut model: Box<dyn Reverser> = match k {
            0 => Box::new(Seq2Seq::<f32>::new(
                CellKind::Lstm,
                REVERSE_VOCAB,
                hidden,
                &mut rng,
            )),
            1 => Box::new(AttnSeq2Seq::<f32>::new(
                CellKind::Lstm,
                Style::Bahdanau,
                ScoreKind::Additive,
                REVERSE_VOCAB,
                hidden,
                &mut rng,
            )),
            _ => Box::new(AttnSeq2Seq::<f32>::new(
                CellKind::Lstm,
                Style::Luong,
                ScoreKind::General,
                REVERSE_VOCAB,
                hidden,
                &mut rng,
            )),
        };
        let pb = ctx.progress(recipe.steps as u64, name);
        let (losses, secs) = train(model.as_mut(), &recipe, &mut rng, &mut |_| pb.inc(1));
        pb.finish_and_clear();
        let ev = evaluate(model.as_ref(), &lengths, n_test);
        exact_chart = exact_chart.series(
            Series::new(*name, ev.iter().map(|&(l, e, _)| (l as f64, e)).collect()).with_markers(),
        );
        let smooth = crate::moving_average(&losses, 50, 10);
        loss_chart = loss_chart.series(Series::new(*name, smooth));
        for (row, &(_, e, t)) in rows.iter_mut().zip(&ev) {
            row.push(format!("{:.1}% / {:.1}%", 100.0 * e, 100.0 * t));
        }
        records.push(json!({"model": name, "params": model.num_params(), "train_seconds": secs, "by_length": eval_json(&ev), "final_loss": losses.last()}));
    }
    exact_chart.draw(&ctx.figure("exact_vs_length.svg"))?;
    loss_chart.draw(&ctx.figure("train_loss.svg"))?;
    ctx.set("setup", json!({"cell": "LSTM", "hidden": hidden, "steps": steps, "batch": bs, "train_lengths": recipe.lengths, "test_per_length": n_test, "optimizer": "Adam 3e-3, warmup 100, cosine to 1e-4", "clip": 5.0}));
    ctx.set("models", json!(records));
    ctx.table(
        &[
            "length",
            "no attention: exact / per-token",
            "Bahdanau: exact / per-token",
            "Luong (general): exact / per-token",
        ],
        &rows,
    );
    ctx.md(&format!(
        "All three models use an LSTM of hidden size {hidden}, the same {steps} training steps of {bs} sequences \
         (lengths {}-{}), the same seed and the same test split as `p2-seq2seq-reverse`. Only the \
         way the decoder reads the source differs.",
        recipe.lengths.0, recipe.lengths.1
    ));
    Ok(())
}

/// The evaluation as JSON records.
fn eval_json(ev: &[(usize, f64, f64)]) -> serde_json::Value {
    json!(ev
        .iter()
        .map(|&(l, e, t)| json!({"length": l, "exact_match": e, "token_accuracy": t}))
        .collect::<Vec<_>>())
}
