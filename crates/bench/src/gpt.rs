//! `tfs bench gpt`: a GPT trained on Tiny Shakespeare by tfs-gpt's own loop, the same work as
//! `bench/peers/torch_gpt.py` (model, data, optimiser, schedule and evaluation described there).
//!
//! Two kinds of run, one JSON line each:
//! - the character presets (`baby`, `shakespeare-char`, …): a whole training run; wall time
//!   covers it all, evaluations included, samples excluded; `tokens_per_s` is over the wall time.
//! - `gpt2-124m` (Phase 8): GPT-2 Small on Tiny Shakespeare's GPT-2 tokens, a few steps at the
//!   given batch and context; `tokens_per_s` is over the training steps after the first (which
//!   pays for first-touch allocation), and `peak_rss_mb` is the process's peak resident memory.

use serde_json::{json, Value};
use std::path::Path;
use tfs_data::fetch::Fetch;
use tfs_gpt::data::Order;
use tfs_gpt::train::{run, Data, RunOptions};
use tfs_gpt::{Preset, Vocab};

/// What `tfs bench gpt` was asked for.
#[derive(Clone, Debug, Default)]
pub struct GptBench {
    pub preset: String,
    pub iters: Option<usize>,
    pub batch: Option<usize>,
    pub ctx: Option<usize>,
    pub eval_iters: Option<usize>,
}

/// Peak resident memory of this process in MB (Linux's VmHWM; 0 where unknown).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Runs the benchmark and returns its JSON line.
pub fn gpt(data_dir: &Path, fetch: Fetch, a: &GptBench, seed: u64) -> Result<Value, String> {
    let mut p = Preset::get(&a.preset).ok_or_else(|| format!("unknown preset '{}'", a.preset))?;
    let bpe = p.model.vocab_size > 256;
    let iters = a.iters.or(bpe.then_some(6));
    if let Some(n) = iters {
        p.train.max_iters = n;
        p.train.lr_decay_iters = n;
    }
    if let Some(b) = a.batch {
        p.train.batch_size = b;
    }
    if let Some(t) = a.ctx {
        p.model.block_size = t;
    }
    if let Some(e) = a.eval_iters.or(bpe.then_some(1)) {
        p.train.eval_iters = e;
    }
    p.train.sample_interval = 0;
    p.train.checkpoint_every = 0;
    if bpe {
        // A throughput measurement: one micro-batch per step, a short warmup.
        p.train.grad_accum = 1;
        p.train.warmup = 2;
    }
    p.validate()?;
    let text = tfs_data::text::load_tiny_shakespeare_fetching(data_dir, fetch)
        .map_err(|e| e.to_string())?;
    let r = if bpe {
        let tok = tfs_gpt::vocab::gpt2()?;
        let ids = Vocab::Gpt2(tok.clone()).encode(&text)?;
        let split = tfs_gpt::data::Split::new(ids, p.model.block_size)?;
        let data = Data {
            train: &split.train,
            val: &split.val,
            vocab: Vocab::Gpt2(tok),
            default_order: Order::Random,
        };
        run(
            &data,
            &p,
            seed,
            &RunOptions {
                progress: true,
                ..RunOptions::default()
            },
        )?
    } else {
        tfs_gpt::train::train(&text, &p, seed, None, true)?
    };
    let (b, t) = (p.train.batch_size, p.model.block_size);
    let tokens_per_s = if bpe && r.step_seconds.len() > 1 {
        let s: f64 = r.step_seconds[1..].iter().sum();
        ((r.step_seconds.len() - 1) * b * t) as f64 / s
    } else {
        r.tokens_per_s
    };
    let mut v = json!({
        "impl": crate::impl_name(), "preset": p.name, "threads": tfs_math::threads(),
        "iterations": r.iterations, "eval_iters": p.train.eval_iters, "eval_interval": p.train.eval_interval,
        "batch": b, "ctx": t, "dropout": (p.model.dropout as f64 * 1e6).round() / 1e6,
        "wall_seconds": r.wall_seconds, "tokens_per_s": tokens_per_s,
        "train_loss": r.train_loss, "val_loss": r.val_loss,
    });
    if bpe {
        v["peak_rss_mb"] = json!(peak_rss_mb());
        v["parameters"] = json!(r.parameters);
        v["step_seconds"] = json!(r.step_seconds);
        v["losses"] = json!(r.losses);
        v["mfu_vs_1024_gemm"] = json!(
            tokens_per_s * tfs_gpt::train::flops_per_token(&p.model, r.parameters)
                / tfs_gpt::train::measured_peak_flops()
        );
    }
    Ok(v)
}
