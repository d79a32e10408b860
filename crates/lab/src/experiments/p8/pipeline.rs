//! `p8-pipeline`: the whole Phase 8 pipeline at a size this machine runs in minutes.
//!
//! 1. `prepare`: Tiny Shakespeare through our GPT-2 tokenizer into token shards (the last 10%
//!    of the tokens for validation), memory-mapped back by `shards::open`;
//! 2. the loop: a small GPT-2-vocabulary model (4 layers, 4 heads, 128 wide, context 128,
//!    dropout 0.1) with 2 accumulated micro-batches of 8 windows per step, sequential data
//!    cursor, AdamW (0.9/0.95, decay 0.1 on matrices), warmup then cosine to 10%, clipping at 1,
//!    evaluations, checkpoints every 100 steps;
//! 3. an interruption halfway: the run stops after step N/2 and a second run resumes from the
//!    checkpoint (that a resumed run is bit-identical to an uninterrupted one is tested by
//!    killing a real process, `crates/cli/tests/it/gpt.rs`);
//! 4. the log's curves (train/validation loss, perplexity, learning rate, gradient norms) and
//!    samples from the final checkpoint with several prompts and sampling rules.
//!
//! The prepared shards and the checkpoint are written to a temporary folder and removed: the
//! committed outputs hold the figures, the summary and the samples.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::{json, Value};
use tfs_gpt::prepare::{prepare, PrepareOptions};
use tfs_gpt::sample::{generate, Sampling};
use tfs_gpt::train::RunOptions;
use tfs_gpt::Preset;
use tfs_math::Rng;

pub(crate) const DESCRIPTION: &str =
    "prepare GPT-2 token shards, train with accumulation, checkpoints and a resume halfway: curves and samples";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    ctx.tiny_shakespeare()?;
    let input = ctx.data_dir.join("tinyshakespeare").join("input.txt");
    let work = std::env::temp_dir().join(format!("tfs-p8-pipeline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let result = pipeline(ctx, &input, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn pipeline(ctx: &mut Ctx, input: &std::path::Path, work: &std::path::Path) -> Result<(), LabError> {
    let data_dir = work.join("shards");
    let prep = prepare(&[input.to_path_buf()], "gpt2", &data_dir, &PrepareOptions::default()).map_err(|e| ctx.fail(e))?;
    let d = tfs_gpt::train::Dataset::open(&data_dir, 0).map_err(|e| ctx.fail(e))?;
    let mut p = Preset::get("gpt2-124m").expect("preset");
    for kv in [
        "n_layer=4", "n_head=4", "n_embd=128", "block_size=128", "batch_size=8", "grad_accum=2", "lr=2e-3", "min_lr=2e-4",
        "warmup=50", "eval_interval=50", "eval_iters=10", "sample_interval=0", "checkpoint_every=100", "dropout=0.1",
    ] {
        p.set(kv).map_err(|m| ctx.fail(m))?;
    }
    let iters = ctx.size(800, 4);
    p.train.max_iters = iters;
    p.train.lr_decay_iters = iters;
    if ctx.quick {
        p.quick();
        p.train.eval_interval = 2;
        p.train.eval_iters = 1;
        p.train.checkpoint_every = 2;
    }
    let data = d.data(); // a folder: the shards, read in order
    let out = work.join("run");
    let half = iters / 2;
    let pb = ctx.progress(2, "training: to the halfway stop, then resumed");
    let first = tfs_gpt::train::run(&data, &p, ctx.seed, &RunOptions { out: Some(&out), progress: !ctx.quick, resume: false, stop_after: Some(half) })
        .map_err(|m| ctx.fail(m))?;
    pb.inc(1);
    let second = tfs_gpt::train::run(&data, &p, ctx.seed, &RunOptions { out: Some(&out), progress: !ctx.quick, resume: true, stop_after: None })
        .map_err(|m| ctx.fail(m))?;
    pb.finish_and_clear();
    // The curves come from the log, which the resumed run continued.
    let log: Vec<Value> = std::fs::read_to_string(out.join("log.jsonl"))
        .map_err(|e| ctx.fail(e))?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let col = |k: &str| -> Vec<(f64, f64)> {
        log.iter().filter_map(|v| Some((v["step"].as_f64()? + 1.0, v[k].as_f64()?))).collect()
    };
    let train_loss: Vec<f64> = col("loss").iter().map(|p| p.1).collect();
    LineChart::new(&format!("GPT-2-vocabulary model on Tiny Shakespeare: loss (resumed at step {})", second.start_step), "step", "cross-entropy (nats per token)")
        .legend(LegendPosition::UpperRight)
        .series(Series::new("training batch (20-step mean)", crate::moving_average(&train_loss, 20, 10)))
        .series(Series::new("train estimate", col("train_estimate")).with_markers())
        .series(Series::new("validation estimate", col("val_loss")).with_markers())
        .draw(&ctx.figure("loss.svg"))?;
    LineChart::new("validation perplexity", "step", "perplexity (e^loss)")
        .series(Series::new("validation", col("val_perplexity")).with_markers())
        .draw(&ctx.figure("perplexity.svg"))?;
    LineChart::new("learning rate: linear warmup, cosine to 10%", "step", "learning rate (×10⁻³)")
        .series(Series::new("learning rate", col("lr").into_iter().map(|(x, y)| (x, 1e3 * y)).collect()))
        .draw(&ctx.figure("lr.svg"))?;
    let mut g = LineChart::new("gradient norm before clipping at 1 (20-step means)", "step", "L2 norm")
        .log_y()
        .legend(LegendPosition::UpperRight)
        .series(Series::new("all parameters", crate::moving_average(&col("grad_norm").iter().map(|p| p.1).collect::<Vec<_>>(), 20, 10)));
    for i in 0..p.model.n_layer {
        let v: Vec<f64> = col(&format!("grad_norm_h{i}")).iter().map(|p| p.1).collect();
        g = g.series(Series::new(format!("block {i}"), crate::moving_average(&v, 20, 10)).dashed());
    }
    g.draw(&ctx.figure("grad_norm.svg"))?;
    // Samples from the final checkpoint.
    let (model, vocab) = tfs_gpt::checkpoint::load(&out.join("checkpoint")).map_err(|e| ctx.fail(e))?;
    let n_new = ctx.size(60, 4);
    let rules: [(&str, Sampling); 4] = [
        ("greedy", Sampling { greedy: true, ..Sampling::default() }),
        ("temperature 0.8", Sampling { temperature: 0.8, ..Sampling::default() }),
        ("top-k 40", Sampling { top_k: Some(40), ..Sampling::default() }),
        ("top-p 0.9", Sampling { top_p: Some(0.9), ..Sampling::default() }),
    ];
    let mut samples = Vec::new();
    for prompt in ["ROMEO:", "To be, or not", "The king"] {
        let ids = vocab.encode(prompt).map_err(|m| ctx.fail(m))?;
        for (name, s) in &rules {
            let out_ids = generate(&model, &ids, n_new, s, &mut Rng::new(ctx.seed + 7));
            samples.push((prompt, *name, vocab.decode(&out_ids)));
        }
    }
    let evals: Vec<(f64, f64)> = col("val_loss");
    let final_val = evals.last().map_or(f64::NAN, |e| e.1);
    ctx.set("setup", json!({"prepare": prep.to_json(), "model": p.model.to_json(), "batch": p.train.batch_size, "grad_accum": p.train.grad_accum,
        "iterations": iters, "lr": p.train.lr, "min_lr": p.train.min_lr, "warmup": p.train.warmup, "betas": [p.train.beta1, p.train.beta2],
        "checkpoint_every": p.train.checkpoint_every, "stopped_after": half, "parameters": second.parameters}));
    ctx.set("result", json!({"val_loss": final_val, "val_perplexity": final_val.exp(), "first_run_seconds": first.wall_seconds,
        "resumed_run_seconds": second.wall_seconds, "resumed_from": second.start_step, "tokens_per_s": second.tokens_per_s,
        "evals": evals, "samples": samples.iter().map(|(p, r, s)| json!({"prompt": p, "rule": r, "text": s})).collect::<Vec<_>>()}));
    ctx.md(&format!(
        "`prepare` turned Tiny Shakespeare ({:.2} MB) into {} training and {} validation GPT-2 tokens in {:.2} s. The model ({} parameters, \
         most of them the 50257 × {} embedding shared with the output layer) trained {iters} steps of 2 × 8 windows of {} tokens: the first \
         run stopped after step {half} ({:.0} s), the second resumed from the checkpoint at step {} and finished ({:.0} s, {:.0} tokens/s). \
         Final validation loss {final_val:.3} nats per token, perplexity {:.1}.",
        prep.input_bytes as f64 / 1e6, prep.train_tokens, prep.val_tokens, prep.seconds, second.parameters, p.model.n_embd,
        p.model.block_size, first.wall_seconds, second.start_step, second.wall_seconds, second.tokens_per_s, final_val.exp()
    ));
    ctx.md("Samples from the final checkpoint (60 new tokens; every rule from the same seed):");
    for (prompt, rule, text) in &samples {
        ctx.md(&format!("**{prompt:?}, {rule}**\n\n```text\n{}\n```", text.trim_end()));
    }
    Ok(())
}
