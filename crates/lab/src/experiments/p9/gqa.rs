//! `p9-gqa`: grouped-query attention's trade — KV-cache memory against quality. The `baby` GPT
//! with 4 query heads and 4 (multi-head), 2 (grouped) or 1 (multi-query) key/value heads, the
//! same steps and data; then the cache each keeps per generated token, measured on a real cache,
//! and what the same choice means for GPT-2 124M at its 1024-token context.
//!
//! ```text
//!   cache bytes = 2 (k and v) · n_layer · n_kv_head · head_size · 4 bytes · positions
//! ```

use crate::gpt_runs::{preset, train_model};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_gpt::model::KvCache;
use tfs_tensor::nn::Module;
use tfs_tensor::no_grad;

pub(crate) const DESCRIPTION: &str =
    "multi-head vs grouped-query vs multi-query attention: KV-cache memory against validation loss";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let (iters, seeds) = ctx.size((2000, 2u64), (3, 1));
    let arms = [(4usize, "multi-head (4 kv heads)"), (2, "grouped-query (2 kv heads)"), (1, "multi-query (1 kv head)")];
    let pb = ctx.progress(arms.len() as u64 * seeds, "runs");
    let (mut rows, mut records, mut points) = (Vec::new(), Vec::new(), Vec::new());
    for (hkv, label) in arms {
        let p = preset(ctx, &[format!("n_kv_head={hkv}")], iters)?;
        let mut vals = Vec::new();
        let mut last = None;
        for s in 0..seeds {
            let mut run = train_model(ctx, &text, &p, ctx.seed + s)?;
            vals.push(run.report.val_loss);
            run.model.set_training(false);
            last = Some(run);
            pb.inc(1);
        }
        let run = last.expect("a seed");
        // The cache after one full context, measured.
        let t = run.model.cfg.block_size;
        let mut cache = KvCache::new(&run.model.cfg);
        let ids: Vec<usize> = (0..t).map(|i| i % run.model.cfg.vocab_size).collect();
        no_grad(|| run.model.forward_cached(&ids, &mut cache));
        let per_token = cache.bytes() as f64 / t as f64;
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        // GPT-2 124M's 12 heads: all (MHA), the same share (GQA), or one (MQA).
        let gpt2_kv = if hkv == 1 { 1 } else { 12 * hkv / 4 };
        let gpt2_mb = 2.0 * 12.0 * gpt2_kv as f64 * 64.0 * 4.0 * 1024.0 / 1e6;
        rows.push(vec![
            label.to_string(),
            format!("{}", run.report.parameters),
            format!("{per_token:.0}"),
            format!("{:.1}", cache.bytes() as f64 / 1024.0),
            format!("{mean:.3}"),
            format!("{:.0}", run.report.tokens_per_s),
            format!("{gpt2_kv} kv heads: {gpt2_mb:.1} MB"),
        ]);
        records.push(json!({"n_kv_head": hkv, "parameters": run.report.parameters, "cache_bytes_per_token": per_token,
            "cache_bytes_full_context": cache.bytes(), "val_loss": vals, "tokens_per_s": run.report.tokens_per_s,
            "gpt2_124m_cache_mb_at_1024": gpt2_mb}));
        points.push((per_token, mean, label.to_string()));
    }
    pb.finish_and_clear();
    crate::figures::labelled_scatter(
        &ctx.figure("memory_vs_quality.svg"),
        "KV-cache memory against validation loss (baby GPT, 4 query heads)",
        ("KV-cache bytes per generated token", "validation cross-entropy (mean of seeds)"),
        &points,
    )?;
    ctx.set("setup", json!({"preset": "baby", "iterations": iters, "seeds": seeds}));
    ctx.set("arms", json!(records));
    ctx.md(&format!(
        "The `baby` preset (4 layers, 4 query heads of 32, context 64) for {iters} steps, {seeds} seeds each. Cache: measured with \
         `KvCache::bytes` after a full 64-character context. The last column is GPT-2 124M (12 layers, 12 query heads of 64) \
         at 1024 positions, from the formula above, with all 12, half (6) or one kv head."
    ));
    ctx.table(&["attention", "parameters", "cache bytes per token", "cache at 64 positions (KiB)", "validation loss", "tokens/s", "GPT-2 124M at 1024 positions"], &rows);
    Ok(())
}
