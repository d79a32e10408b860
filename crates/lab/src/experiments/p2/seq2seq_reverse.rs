//! `p2-seq2seq-reverse`: an LSTM encoder-decoder learns to reverse digit sequences of length 4-32;
//! exact-match and per-token accuracy against length, greedy and beam search. The fixed test
//! split (`tfs_seq::tasks::reverse_test_set`, lengths and seed recorded) is the one Phase 4's
//! attention models are measured on.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_attention::reverse::{score, train, Recipe, TEST_LENGTHS, TEST_SEED};
use tfs_math::Rng;
use tfs_nn::Params;
use tfs_seq::seq2seq::Seq2Seq;
use tfs_seq::tasks::{reverse_test_set, REVERSE_VOCAB};
use tfs_seq::CellKind;

pub(crate) const DESCRIPTION: &str = "LSTM seq2seq reversing digit sequences: accuracy vs length (the bottleneck curve)";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    // 3000 steps: the budget of p4-seq2seq-attention, which trains this same model beside two
    // attention models, so that Phase 4's "no attention" row is this experiment's result.
    let (hidden, steps, bs, n_test, n_beam) =
        ctx.size((128, 3000, 64, 200, 50), (16, 20, 8, 10, 3));
    let lengths: Vec<usize> = if ctx.quick {
        vec![4, 8]
    } else {
        TEST_LENGTHS.to_vec()
    };
    let (lo, hi) = (lengths[0], *lengths.last().expect("lengths"));
    let mut rng = Rng::new(ctx.seed);
    let mut m: Seq2Seq<f32> = Seq2Seq::new(CellKind::Lstm, REVERSE_VOCAB, hidden, &mut rng);
    let recipe = Recipe {
        steps,
        batch: bs,
        lengths: (lo, hi),
        lr: 3e-3,
        clip: 5.0,
    };
    let pb = ctx.progress(recipe.steps as u64, "training steps");
    let (losses, train_seconds) = train(&mut m, &recipe, &mut rng, &mut |_| pb.inc(1));
    pb.finish_and_clear();
    let test = reverse_test_set(&lengths, n_test, TEST_SEED);
    let (mut exact_pts, mut token_pts, mut beam_pts) = (Vec::new(), Vec::new(), Vec::new());
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (len, pairs) in &test {
        let srcs: Vec<&[usize]> = pairs.iter().map(|p| p.src.as_slice()).collect();
        let greedy = m.greedy(&srcs, len + 5);
        let (exact, token) = score(&greedy, pairs);
        let beams: Vec<Vec<usize>> = pairs[..n_beam]
            .iter()
            .map(|p| m.beam(&p.src, 4, len + 5))
            .collect();
        let (beam_exact, _) = score(&beams, &pairs[..n_beam]);
        let (greedy_sub, _) = score(&greedy[..n_beam], &pairs[..n_beam]);
        exact_pts.push((*len as f64, exact));
        token_pts.push((*len as f64, token));
        beam_pts.push((*len as f64, beam_exact));
        rows.push(vec![
            len.to_string(),
            format!("{:.1}%", 100.0 * exact),
            format!("{:.1}%", 100.0 * token),
            format!("{:.0}% vs {:.0}%", 100.0 * beam_exact, 100.0 * greedy_sub),
        ]);
        records.push(json!({"length": len, "exact_match": exact, "token_accuracy": token, "beam4_exact_match_subset": beam_exact, "greedy_exact_match_subset": greedy_sub}));
    }
    LineChart::new(
        "Seq2seq without attention: reversing digit sequences",
        "sequence length",
        "accuracy on the test split",
    )
    .y_range(0.0, 1.05)
    .legend(LegendPosition::LowerLeft)
    .series(Series::new("per-token accuracy (greedy)", token_pts).with_markers())
    .series(Series::new("exact match (greedy)", exact_pts).with_markers())
    .series(
        Series::new(
            format!("exact match (beam 4, first {n_beam} per length)"),
            beam_pts,
        )
        .with_markers(),
    )
    .draw(&ctx.figure("accuracy_vs_length.svg"))?;
    let smooth = crate::moving_average(&losses, 50, 10);
    LineChart::new(
        "Seq2seq training loss",
        "step",
        "cross-entropy per target token (50-step mean)",
    )
    .log_y()
    .series(Series::new("LSTM seq2seq", smooth))
    .draw(&ctx.figure("train_loss.svg"))?;
    ctx.set("setup", json!({"cell": "LSTM", "hidden": hidden, "params": m.num_params(), "steps": steps, "batch": bs,
        "train_lengths": [lo, hi], "optimizer": "Adam 3e-3, warmup 100 then cosine to 1e-4", "clip": 5.0,
        "test_lengths": lengths, "test_per_length": n_test, "test_seed": TEST_SEED, "train_seconds": train_seconds}));
    ctx.set("by_length", json!(records));
    ctx.set("train_loss", json!(losses));
    ctx.table(
        &[
            "length",
            "exact match (greedy)",
            "per-token accuracy",
            "beam-4 vs greedy exact match (subset)",
        ],
        &rows,
    );
    ctx.md(&format!(
        "One LSTM encoder-decoder (H = {hidden}) is trained on lengths {lo}-{hi} mixed and tested on {n_test} \
         fresh sequences per length. Everything the decoder knows about the source must fit in the \
         encoder's final state; as the sequence grows, what it has to hold outgrows what it can, \
         and exact-match accuracy falls first, because one wrong digit spoils a whole sequence."
    ));
    Ok(())
}
