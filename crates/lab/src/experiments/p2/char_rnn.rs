//! `p2-char-rnn`: character-level language models (RNN, LSTM, GRU) on the first 100 KB of Tiny
//! Shakespeare: training and validation loss, and samples printed at intervals.

use crate::plot::{LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_seq::charlm_train::{tail_mean, train_char_lm, Corpus, LmRecipe};
use tfs_seq::CellKind;

pub(crate) const DESCRIPTION: &str = "char-level RNN/LSTM/GRU language models on 100 KB of Tiny Shakespeare, with samples";

/// The full recipe (also `p2-cell-comparison`'s sizes).
pub fn recipe(quick: bool) -> LmRecipe {
    if quick {
        LmRecipe {
            hidden: 32,
            seq_len: 16,
            batch: 8,
            steps: 20,
            lr: 3e-3,
            clip: 5.0,
            eval_every: 10,
        }
    } else {
        LmRecipe {
            hidden: 128,
            seq_len: 64,
            batch: 32,
            steps: 800,
            lr: 3e-3,
            clip: 5.0,
            eval_every: 100,
        }
    }
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let corpus = Corpus::new(&text, ctx.size(100_000, 20_000), 0.1);
    let r = recipe(ctx.quick);
    corpus.check(&r).map_err(|e| ctx.fail(e))?;
    let mut train_chart = LineChart::new(
        "Char-level LM on Tiny Shakespeare: training loss",
        "step",
        "cross-entropy (nats/char, 20-step mean)",
    );
    let mut val_chart = LineChart::new(
        "Validation loss (held-out last 10%)",
        "step",
        "cross-entropy (nats/char)",
    );
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let mut samples_txt = String::new();
    for (k, kind) in CellKind::ALL.into_iter().enumerate() {
        let pb = ctx.progress(r.steps as u64, kind.name());
        let run = train_char_lm(
            kind,
            &corpus,
            &r,
            ctx.seed + k as u64,
            ctx.size(300, 60),
            &mut |_| pb.inc(1),
        )
        .map_err(|e| ctx.fail(e))?;
        pb.finish_and_clear();
        // Steps are 1, 2, …, so the moving average's x (index + 1) is the step.
        let losses: Vec<f64> = run.train_curve.iter().map(|p| p.1).collect();
        let smooth = crate::moving_average(&losses, 20, 1);
        train_chart = train_chart.series(Series::new(kind.name(), smooth));
        val_chart = val_chart.series(
            Series::new(
                kind.name(),
                run.val_curve.iter().map(|&(s, l)| (s as f64, l)).collect(),
            )
            .with_markers(),
        );
        let best_val = run
            .val_curve
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min);
        let final_val = run.val_curve.last().map_or(f64::NAN, |p| p.1);
        rows.push(vec![
            kind.name().to_string(),
            format!("{}", tfs_nn::Params::num_params(&run.model)),
            format!("{:.3}", tail_mean(&run.train_curve, 20)),
            format!("{final_val:.3}"),
            format!("{best_val:.3}"),
            format!("{:.0}", run.tokens_trained as f64 / run.train_seconds),
        ]);
        samples_txt.push_str(&format!("===== {} =====\n", kind.name()));
        for (step, s) in &run.samples {
            samples_txt.push_str(&format!("--- step {step} ---\n{s}\n"));
        }
        records.push(
            json!({"cell": kind.name(), "params": tfs_nn::Params::num_params(&run.model),
            "train_loss": run.train_curve.iter().map(|p| p.1).collect::<Vec<_>>(),
            "val_loss": run.val_curve, "samples": run.samples, "train_seconds": run.train_seconds,
            "tokens_per_second": run.tokens_trained as f64 / run.train_seconds}),
        );
    }
    train_chart.draw(&ctx.figure("train_loss.svg"))?;
    val_chart.draw(&ctx.figure("val_loss.svg"))?;
    ctx.write_file("samples.txt", &samples_txt)?;
    ctx.set("recipe", json!({"hidden": r.hidden, "seq_len": r.seq_len, "batch": r.batch, "steps": r.steps, "lr": r.lr,
        "clip": r.clip, "optimizer": "Adam", "bptt": "truncated at seq_len, state carried", "vocab": corpus.chars.len(),
        "train_chars": corpus.train.len(), "val_chars": corpus.val.len()}));
    ctx.set("cells", json!(records));
    ctx.table(
        &[
            "cell",
            "parameters",
            "final train loss",
            "final val loss",
            "best val loss",
            "train chars/s",
        ],
        &rows,
    );
    let last_sample = |i: usize| {
        records[i]["samples"]
            .as_array()
            .and_then(|a| a.last())
            .and_then(|s| s[1].as_str())
            .unwrap_or("")
            .to_string()
    };
    ctx.md(&format!(
        "Losses are in nats per character; a uniform guess over the {} characters would be {:.2}. \
         Samples are drawn at temperature 0.8 from the model at the end of training; every interval's \
         samples are in `samples.txt` and results.json. The LSTM's last sample:",
        corpus.chars.len(),
        (corpus.chars.len() as f64).ln()
    ));
    ctx.md(&format!("```text\n{}\n```", last_sample(1).trim()));
    // The LSTM learning to write: its samples at a few points of training, first lines only.
    let lstm = records[1]["samples"].as_array().cloned().unwrap_or_default();
    if !lstm.is_empty() {
        let picks = [0, lstm.len() / 4, lstm.len() / 2, lstm.len() - 1];
        let mut over = String::from("The LSTM's samples over training (the first 160 characters of each):\n\n");
        let mut last = usize::MAX;
        for &i in &picks {
            if i == last {
                continue;
            }
            last = i;
            let step = lstm[i][0].as_u64().unwrap_or(0);
            let text: String = lstm[i][1].as_str().unwrap_or("").chars().take(160).collect();
            over.push_str(&format!("after {step} steps:\n\n```text\n{}\n```\n\n", text.trim_end()));
        }
        ctx.md(&over);
    }
    Ok(())
}
