//! `tfs bench lstm`: the char-level LSTM language model of `bench/peers/torch_lstm.py` (the first
//! 200 000 characters of Tiny Shakespeare, 64 × 32 windows, Adam, clip 5), timed over `steps`
//! steps after 3 warm-up steps, with the peer's keys.
//!
//! Left out: validation and sampling (the recipe never evaluates), other cell kinds.

use crate::BenchError;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;
use tfs_data::fetch::Fetch;
use tfs_seq::charlm_train::{train_char_lm, Corpus, LmRecipe};

/// Steps trained before the clock starts.
const WARMUP: usize = 3;

/// Trains `steps` timed steps of an LSTM with `hidden` units from `seed`.
pub fn lstm(
    data_dir: &Path,
    fetch: Fetch,
    steps: usize,
    hidden: usize,
    seed: u64,
) -> Result<Value, BenchError> {
    let text = tfs_data::text::load_tiny_shakespeare_fetching(data_dir, fetch)?;
    let corpus = Corpus::new(&text, 200_000, 0.0);
    let r = LmRecipe {
        hidden,
        seq_len: 64,
        batch: 32,
        steps: steps + WARMUP,
        lr: 3e-3,
        clip: 5.0,
        eval_every: usize::MAX,
    };
    let mut t0 = Instant::now();
    let run = train_char_lm(tfs_seq::CellKind::Lstm, &corpus, &r, seed, 0, &mut |s| {
        if s == WARMUP {
            t0 = Instant::now();
        }
    })
    .map_err(|e| BenchError::Input(e.to_string()))?;
    let secs = t0.elapsed().as_secs_f64();
    Ok(json!({
        "impl": crate::impl_name(),
        "threads": tfs_kernels::pool::default_threads(),
        "hidden": hidden, "seq_len": r.seq_len, "batch": r.batch, "steps": steps,
        "tokens_per_s": (steps * r.seq_len * r.batch) as f64 / secs,
        "final_loss": run.train_curve.last().map(|p| p.1),
    }))
}
