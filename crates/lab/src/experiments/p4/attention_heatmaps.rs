//! `p4-attention-heatmaps`: where does the decoder look? Alignment weights of a trained
//! Bahdanau model on test sequences; for reversal, output t should attend to input L − 1 − t,
//! the anti-diagonal.

use crate::figures::Heatmap;
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_attention::reverse::{evaluate, train, Recipe};
use tfs_attention::scorer::ScoreKind;
use tfs_attention::seq2seq_attn::{AttnSeq2Seq, Style};
use tfs_math::Rng;
use tfs_seq::tasks::{reverse_test_set, REVERSE_VOCAB};
use tfs_seq::CellKind;

pub(crate) const DESCRIPTION: &str = "alignment heatmaps of a Bahdanau model reversing digits (the anti-diagonal)";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (hidden, steps) = ctx.size((64, 1500), (16, 20));
    let mut rng = Rng::new(ctx.seed);
    let mut m: AttnSeq2Seq<f32> = AttnSeq2Seq::new(
        CellKind::Lstm,
        Style::Bahdanau,
        ScoreKind::Additive,
        REVERSE_VOCAB,
        hidden,
        &mut rng,
    );
    let recipe = Recipe {
        steps,
        batch: 64,
        lengths: (4, 16),
        lr: 3e-3,
        clip: 5.0,
    };
    let pb = ctx.progress(recipe.steps as u64, "Bahdanau training");
    train(&mut m, &recipe, &mut rng, &mut |_| pb.inc(1));
    pb.finish_and_clear();
    let ev = evaluate(&m, &[8, 12, 16], 100);
    let mut records = Vec::new();
    let mut diag_mass = Vec::new();
    for (len, pairs) in reverse_test_set(&[8, 12, 16], 1, 99) {
        let p = &pairs[0];
        let (out, w) = m.greedy(&[p.src.as_slice()], len + 5);
        let weights = &w[0];
        // Weight on the anti-diagonal (input L−1−t for output t), averaged over output steps.
        let mass: f64 = weights
            .iter()
            .enumerate()
            .filter(|(t, _)| *t < len)
            .map(|(t, row)| row[len - 1 - t])
            .sum::<f64>()
            / len as f64;
        diag_mass.push((len, mass));
        let digits = |v: &[usize]| v.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        Heatmap {
            title: &format!("Attention while reversing {} digits", len),
            x_label: "source position (digit)",
            y_label: "output step (digit emitted)",
            col_names: p
                .src
                .iter()
                .enumerate()
                .map(|(i, d)| format!("{i}:{d}"))
                .collect(),
            row_names: out[0]
                .iter()
                .enumerate()
                .map(|(t, d)| format!("{t}:{d}"))
                .collect(),
            values: weights.clone(),
            annotate: None,
        }
        .draw(&ctx.figure(&format!("alignment_{len}.svg")))?;
        records.push(json!({"length": len, "source": digits(&p.src), "output": digits(&out[0]), "weights": weights, "anti_diagonal_mass": mass}));
    }
    ctx.set("examples", json!(records));
    ctx.set(
        "accuracy",
        json!(ev
            .iter()
            .map(|&(l, e, t)| json!({"length": l, "exact_match": e, "token_accuracy": t}))
            .collect::<Vec<_>>()),
    );
    ctx.table(
        &[
            "length",
            "mean attention weight on the mirrored position",
            "exact match (100 test sequences)",
        ],
        &diag_mass
            .iter()
            .zip(&ev)
            .map(|(&(l, m), &(_, e, _))| {
                vec![
                    l.to_string(),
                    format!("{m:.2}"),
                    format!("{:.0}%", 100.0 * e),
                ]
            })
            .collect::<Vec<_>>(),
    );
    ctx.md(&format!(
        "A Bahdanau model (LSTM, H = {hidden}, {steps} steps on lengths 4-16). Each heatmap row is one output step, \
         each column a source digit; dark cells are where the decoder looked. Reversal needs output t \
         to read source L − 1 − t: the anti-diagonal. Nobody told the model where to look; the \
         alignment was learned from the loss alone."
    ));
    Ok(())
}
