//! `p5-toy-translation`: the transformer on three toy tasks with variable-length, padded
//! batches: digits to words ("4 0 7" → "four zero seven", characters out), reversal and copy.
//! Training curves, greedy exact-match accuracy by source length (including lengths longer than
//! any seen in training), example outputs.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_math::Rng;
use tfs_nn::Params;
use tfs_transformer::tasks::digits;
use tfs_transformer::train::{decode_all, evaluate, train, Recipe};
use tfs_transformer::{Config, Task, Transformer};

pub(crate) const DESCRIPTION: &str =
    "digits→words, reversal and copy with padded variable-length batches: curves, accuracy by length, outputs";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (d, steps, n_test) = ctx.size((64, 2000, 100), (16, 30, 5));
    let train_max = 10;
    let lengths: Vec<usize> = ctx.size(vec![1, 2, 4, 6, 8, 10, 12, 14], vec![2, 4]);
    let mut acc_chart = LineChart::new(
        "Exact match by source length (trained on 1-10 digits)",
        "source length (digits)",
        "exact-match accuracy (greedy)",
    )
    .y_range(0.0, 1.05)
    .legend(LegendPosition::LowerLeft);
    let mut loss_chart = LineChart::new("Training loss", "step", "cross-entropy per target token (50-step mean)").log_y();
    let mut records = Vec::new();
    let mut rows: Vec<Vec<String>> = lengths.iter().map(|l| vec![l.to_string()]).collect();
    let mut examples = Vec::new();
    let (mut beam_rows, mut beam_json) = (Vec::new(), Vec::new());
    for task in [Task::Words, Task::Reverse, Task::Copy] {
        let mut rng = Rng::new(ctx.seed);
        let cfg = Config { d, ffn: 4 * d, ..Config::small(10, task.tgt_vocab()) };
        let mut m: Transformer<f32> = Transformer::new(cfg, &mut rng);
        let recipe = Recipe { lr: 1e-3, warmup: 200.min(steps / 5), ..Recipe::new(steps, 32, (1, train_max)) };
        let pb = ctx.progress(steps as u64, task.name());
        let log = train(&mut m, task, &recipe, &mut rng, &mut |_, _, _| pb.inc(1));
        pb.finish_and_clear();
        let test = task.test_set(&lengths, n_test, 2025);
        let ev = evaluate(&m, task, &test);
        for (row, &(_, e, t)) in rows.iter_mut().zip(&ev) {
            row.push(format!("{:.0}% / {:.0}%", 100.0 * e, 100.0 * t));
        }
        acc_chart = acc_chart.series(
            Series::new(task.name(), ev.iter().map(|&(l, e, _)| (l as f64, e)).collect()).with_markers(),
        );
        loss_chart = loss_chart.series(Series::new(task.name(), crate::moving_average(&log.losses, 50, 10)));
        // Greedy against beam search (k = 4) on the first examples of the longest lengths.
        let n_beam = n_test.min(30);
        for (len, ex) in test.iter().rev().take(3).rev() {
            let ex = &ex[..n_beam];
            let greedy = exact(&decode_all(&m, task, ex), ex);
            let beams: Vec<Vec<usize>> = ex
                .iter()
                .map(|e| m.beam_search(&e.src, task.bos(), task.eos(), 4, e.tgt.len() + 5).tokens)
                .collect();
            let beam = exact(&beams, ex);
            beam_rows.push(vec![task.name().to_string(), len.to_string(), format!("{:.0}%", 100.0 * greedy), format!("{:.0}%", 100.0 * beam)]);
            beam_json.push(json!({"task": task.name(), "length": len, "examples": n_beam, "greedy_exact": greedy, "beam4_exact": beam}));
        }
        // A few outputs per task: one short, one at the edge of training, one beyond it.
        let mut shown = Vec::new();
        for &(len, ref ex) in test.iter().filter(|(l, _)| [4, 10, 12].contains(l) || ctx.quick) {
            let out = decode_all(&m, task, &ex[..2.min(ex.len())]);
            for (e, o) in ex.iter().zip(out) {
                let (want, got) = (task.render(&e.tgt), task.render(&o));
                examples.push(vec![
                    task.name().to_string(),
                    len.to_string(),
                    format!("`{}`", digits(&e.src)),
                    format!("`{got}`"),
                    if got == want { "✓".into() } else { format!("✗ (want `{want}`)") },
                ]);
                shown.push(json!({"source": digits(&e.src), "output": got, "target": want}));
            }
        }
        records.push(json!({
            "task": task.name(), "params": m.num_params(), "train_seconds": log.seconds,
            "final_loss_50": log.losses.iter().rev().take(50).sum::<f64>() / 50f64.min(log.losses.len() as f64),
            "by_length": ev.iter().map(|&(l, e, t)| json!({"length": l, "exact_match": e, "token_accuracy": t})).collect::<Vec<_>>(),
            "examples": shown,
        }));
    }
    acc_chart.draw(&ctx.figure("accuracy_by_length.svg"))?;
    loss_chart.draw(&ctx.figure("train_loss.svg"))?;
    ctx.set("setup", json!({"d": d, "heads": 4, "ffn": 4 * d, "layers": "2 + 2", "norm": "post", "steps": steps, "batch": 32, "train_lengths": [1, train_max], "optimizer": "AdamW 1e-3 (decay 0.01), warmup then cosine to 1e-5, clip 1", "test_per_length": n_test}));
    ctx.set("tasks", json!(records));
    ctx.set("greedy_vs_beam", json!(beam_json));
    ctx.md(&format!(
        "One post-norm transformer per task (D = {d}, 4 heads, FFN {}, 2 encoder + 2 decoder \
         blocks), {steps} AdamW steps of 32 examples whose source lengths are drawn from 1-{train_max} \
         independently, so every batch is padded. Greedy decoding on {n_test} held-out examples per \
         length (exact match / per-token accuracy); lengths above {train_max} were never seen in training.",
        4 * d
    ));
    ctx.table(&["source length", "digits → words", "reverse", "copy"], &rows);
    ctx.table(&["task", "length", "source", "greedy output", ""], &examples);
    ctx.md("Greedy decoding against beam search of width 4 (exact match on the first test examples of the three longest lengths):");
    ctx.table(&["task", "source length", "greedy", "beam, k = 4"], &beam_rows);
    Ok(())
}

/// The exact-match rate of outputs against targets (EOS excluded).
fn exact(out: &[Vec<usize>], ex: &[tfs_transformer::Example]) -> f64 {
    tfs_transformer::train::score(out, ex).0
}
