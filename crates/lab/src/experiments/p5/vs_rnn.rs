//! `p5-vs-rnn`: the transformer against Phase 4's LSTM + Bahdanau attention on the Phase 2/4
//! reversal task: the same training draws (one random length in 4-32 per batch, from the same
//! seed), the same optimizer and schedule (Adam 3e-3, warmup 100, cosine to 1e-4, clip 5, the
//! recipe of `p4-seq2seq-attention`), the same test split (`tfs_attention::reverse`). Accuracy by
//! length at the end, and validation accuracy against training wall time (evaluation excluded).

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_attention::reverse::{score, TEST_LENGTHS, TEST_SEED};
use tfs_attention::scorer::ScoreKind;
use tfs_attention::seq2seq_attn::{AttnSeq2Seq, Style};
use tfs_math::Rng;
use tfs_nn::optim::{clip_and_step, Optimizer};
use tfs_nn::schedule::cosine_with_warmup;
use tfs_nn::{Adam, Grads, Params};
use tfs_seq::tasks::{reverse_pair, reverse_test_set, Pair, BOS, EOS, REVERSE_VOCAB};
use tfs_seq::CellKind;
use tfs_transformer::{Batch, Config, Example, Norm, Transformer};

pub(crate) const DESCRIPTION: &str =
    "transformer vs LSTM + attention on the same reversal data, seed and test split: accuracy by length, time to accuracy";

/// The two contestants behind one interface.
enum Model {
    Rnn(AttnSeq2Seq<f32>),
    Tf(Transformer<f32>),
}

impl Model {
    fn params(&mut self) -> &mut dyn Params<f32> {
        match self {
            Model::Rnn(m) => m,
            Model::Tf(m) => m,
        }
    }

    fn num_params(&self) -> usize {
        match self {
            Model::Rnn(m) => m.num_params(),
            Model::Tf(m) => m.num_params(),
        }
    }

    fn loss_and_grads(&self, batch: &[Pair]) -> (f64, Grads<f32>) {
        match self {
            Model::Rnn(m) => m.loss_and_grads(batch),
            Model::Tf(m) => {
                let ex: Vec<Example> = batch
                    .iter()
                    .map(|p| Example { src: p.src.clone(), tgt: p.tgt.clone() })
                    .collect();
                m.loss_and_grads(&Batch::new(&ex, BOS))
            }
        }
    }

    fn greedy(&self, srcs: &[&[usize]], max_len: usize) -> Vec<Vec<usize>> {
        match self {
            Model::Rnn(m) => m.greedy(srcs, max_len).0,
            Model::Tf(m) => m.greedy(srcs, BOS, EOS, max_len),
        }
    }

    /// Exact match and per-token accuracy per length of a split.
    fn evaluate(&self, split: &[(usize, Vec<Pair>)]) -> Vec<(usize, f64, f64)> {
        split
            .iter()
            .map(|(len, pairs)| {
                let srcs: Vec<&[usize]> = pairs.iter().map(|p| p.src.as_slice()).collect();
                let (e, t) = score(&self.greedy(&srcs, len + 5), pairs);
                (*len, e, t)
            })
            .collect()
    }
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (hidden, d, steps, bs, n_test, n_val, eval_every) =
        ctx.size((128, 64, 2000, 64, 100, 30, 200), (16, 16, 20, 8, 5, 3, 10));
    let lengths: Vec<usize> = ctx.size(TEST_LENGTHS.to_vec(), vec![4, 8]);
    let (lo, hi) = (lengths[0], *lengths.last().expect("lengths"));
    let val_lengths: Vec<usize> = ctx.size(vec![8, 16, 24, 32], vec![4, 8]);
    let val = reverse_test_set(&val_lengths, n_val, TEST_SEED + 1);
    let test = reverse_test_set(&lengths, n_test, TEST_SEED);
    let targets = [0.5, 0.8, 0.9];
    let mut acc_chart = LineChart::new("Reversal: exact match vs length", "sequence length", "exact-match accuracy (greedy)")
        .y_range(0.0, 1.05)
        .legend(LegendPosition::LowerLeft);
    let mut time_chart = LineChart::new(
        "Validation exact match vs training time",
        "training wall time (s, evaluation excluded)",
        "mean exact match over lengths 8/16/24/32",
    )
    .y_range(0.0, 1.05)
    .legend(LegendPosition::LowerRight);
    let mut loss_chart = LineChart::new("Training loss", "step", "cross-entropy per target token (50-step mean)").log_y();
    let mut rows: Vec<Vec<String>> = lengths.iter().map(|l| vec![l.to_string()]).collect();
    let mut records = Vec::new();
    let mut summary = Vec::new();
    for name in ["LSTM + Bahdanau attention", "transformer (pre-norm)"] {
        let mut rng = Rng::new(ctx.seed);
        let mut model = if name.starts_with("LSTM") {
            Model::Rnn(AttnSeq2Seq::new(CellKind::Lstm, Style::Bahdanau, ScoreKind::Additive, REVERSE_VOCAB, hidden, &mut rng))
        } else {
            let cfg = Config { d, ffn: 4 * d, norm: Norm::Pre, ..Config::small(REVERSE_VOCAB - 2, REVERSE_VOCAB) };
            Model::Tf(Transformer::new(cfg, &mut rng))
        };
        let mut opt = Adam::new(3e-3);
        let (mut losses, mut curve) = (Vec::new(), Vec::new());
        let mut train_secs = 0.0;
        let mut reached: Vec<Option<(usize, f64)>> = vec![None; targets.len()];
        let pb = ctx.progress(steps as u64, name);
        for step in 0..steps {
            let t0 = std::time::Instant::now();
            let len = lo + rng.below(hi - lo + 1);
            let batch: Vec<Pair> = (0..bs).map(|_| reverse_pair(len, &mut rng)).collect();
            opt.set_lr(cosine_with_warmup(3e-3, 1e-4, 100, steps, step));
            let (loss, mut g) = model.loss_and_grads(&batch);
            clip_and_step(&mut opt, model.params(), &mut g, Some(5.0));
            train_secs += t0.elapsed().as_secs_f64();
            losses.push(loss);
            pb.inc(1);
            if (step + 1) % eval_every == 0 || step + 1 == steps {
                let ev = model.evaluate(&val);
                let mean = ev.iter().map(|e| e.1).sum::<f64>() / ev.len() as f64;
                curve.push((train_secs, mean));
                for (r, &t) in reached.iter_mut().zip(&targets) {
                    if mean >= t && r.is_none() {
                        *r = Some((step + 1, train_secs));
                    }
                }
            }
        }
        pb.finish_and_clear();
        let ev = model.evaluate(&test);
        for (row, &(_, e, t)) in rows.iter_mut().zip(&ev) {
            row.push(format!("{:.1}% / {:.1}%", 100.0 * e, 100.0 * t));
        }
        acc_chart = acc_chart.series(Series::new(name, ev.iter().map(|&(l, e, _)| (l as f64, e)).collect()).with_markers());
        time_chart = time_chart.series(Series::new(name, curve.clone()).with_markers());
        loss_chart = loss_chart.series(Series::new(name, crate::moving_average(&losses, 50, 10)));
        let mean_test = ev.iter().map(|e| e.1).sum::<f64>() / ev.len() as f64;
        summary.push(vec![
            name.to_string(),
            model.num_params().to_string(),
            format!("{train_secs:.1}"),
            format!("{:.1} ms", 1000.0 * train_secs / steps as f64),
            reached
                .iter()
                .map(|r| r.map_or("not reached".into(), |(s, t)| format!("{t:.0} s (step {s})")))
                .collect::<Vec<_>>()
                .join(" / "),
            format!("{:.1}%", 100.0 * mean_test),
        ]);
        records.push(json!({
            "model": name, "params": model.num_params(), "train_seconds": train_secs,
            "time_to_target": targets.iter().zip(&reached).map(|(&a, r)| json!({"exact_match": a, "reached": r.map(|(s, t)| json!({"step": s, "seconds": t}))})).collect::<Vec<_>>(),
            "validation_curve": curve.iter().map(|&(t, a)| json!({"seconds": t, "exact_match": a})).collect::<Vec<_>>(),
            "by_length": ev.iter().map(|&(l, e, t)| json!({"length": l, "exact_match": e, "token_accuracy": t})).collect::<Vec<_>>(),
            "final_loss": losses.last(),
        }));
    }
    acc_chart.draw(&ctx.figure("exact_vs_length.svg"))?;
    time_chart.draw(&ctx.figure("accuracy_vs_time.svg"))?;
    loss_chart.draw(&ctx.figure("train_loss.svg"))?;
    ctx.set("setup", json!({"lstm_hidden": hidden, "transformer": {"d": d, "heads": 4, "ffn": 4 * d, "layers": "2 + 2", "norm": "pre"}, "steps": steps, "batch": bs, "train_lengths": [lo, hi], "optimizer": "Adam 3e-3, warmup 100, cosine to 1e-4, clip 5", "test_per_length": n_test, "validation_per_length": n_val, "targets_exact_match": targets}));
    ctx.set("models", json!(records));
    ctx.md(&format!(
        "Both models see the same {steps} batches of {bs} reversal pairs (one random length in \
         {lo}-{hi} per batch, drawn from the same seed), with the same optimizer, schedule and \
         clipping, and are tested on the same split as `p2-seq2seq-reverse` and \
         `p4-seq2seq-attention`. Wall time counts training only; \"time to x%\" is the first \
         validation check (every {eval_every} steps, {n_val} pairs per length 8/16/24/32) at or \
         above x% mean exact match."
    ));
    ctx.table(&["model", "parameters", "training s", "per step", "time to 50% / 80% / 90%", "mean test exact match"], &summary);
    ctx.table(&["length", "LSTM + attention: exact / per-token", "transformer: exact / per-token"], &rows);
    Ok(())
}
