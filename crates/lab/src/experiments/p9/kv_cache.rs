//! `p9-kv-cache`: what the KV cache buys in generation — time per generated token against its
//! position, with and without the cache, and the memory the cache holds against the length
//! (with grouped-query attention's smaller caches beside multi-head's).
//!
//! ```text
//!   without the cache, token t re-runs the model on all t positions:   ≈ 2·N·t FLOPs, + attention ∝ t²
//!   with it, only the new position runs; attention reads the t cached keys and values:
//!                                                                       ≈ 2·N FLOPs + 4·L·C·t
//!   cache bytes = 2 (k and v) · n_layer · n_kv_head · head_size · 4 bytes · positions
//! ```
//!
//! Two models, random-initialised (speed and memory do not depend on training): the
//! `shakespeare-char` shape (6 layers, 384 wide, context 256, 65 characters) over its whole
//! context, and GPT-2 124M (12 layers, 768 wide, vocabulary 50257), with the cache to 1024
//! positions and without it to 256 (beyond, each uncached token only gets slower). Greedy decoding
//! from one token, batch 1, each token timed alone; both ways must produce the same ids (checked).
//! Then GPT-2 124M's cache filled to 1024 positions with 12 (multi-head), 6 (grouped-query) and
//! 1 (multi-query) key/value heads, measured with `KvCache::bytes`, and the time per cached token
//! of each.
//!
//! Left out: batches > 1 (where the cache's memory, not the weights, becomes the limit), and a
//! cache preallocated for the whole context (ours grows by concatenation).

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use std::time::Instant;
use tfs_gpt::model::{Gpt, KvCache};
use tfs_gpt::Preset;
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::no_grad;

pub(crate) const DESCRIPTION: &str =
    "KV cache: time per generated token against position with and without it, and the cache's memory (MHA, GQA, MQA)";

/// Milliseconds per generated token and the ids, decoding greedily `n` tokens after `first`.
fn decode(model: &Gpt, first: usize, n: usize, cached: bool) -> (Vec<f64>, Vec<usize>) {
    let v = model.cfg.vocab_size;
    let mut ids = vec![first];
    let mut ms = Vec::with_capacity(n);
    let mut cache = KvCache::new(&model.cfg);
    no_grad(|| {
        for _ in 0..n {
            let t0 = Instant::now();
            let logits = if cached {
                model.forward_cached(&ids[ids.len() - 1..], &mut cache)
            } else {
                model.forward(&ids, 1, ids.len())
            };
            let d = logits.data();
            let id = tfs_math::argmax(d[d.len() - v..].iter().copied());
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            ids.push(id);
        }
    });
    (ms, ids)
}

/// A random-initialised model of preset `name` with `sets`, in evaluation mode.
fn model(ctx: &Ctx, name: &str, sets: &[&str]) -> Result<Gpt, LabError> {
    let mut p = Preset::get(name).expect("preset");
    for kv in sets {
        p.set(kv).map_err(|m| ctx.fail(m))?;
    }
    p.validate().map_err(|m| ctx.fail(m))?;
    let mut m = Gpt::new(p.model, &mut Rng::new(ctx.seed));
    m.set_training(false);
    Ok(m)
}

fn parameters(m: &Gpt) -> usize {
    m.parameters().iter().map(|(_, p)| p.numel()).sum()
}

/// The median of `xs[i - w ..= i + w]` (clamped), a robust per-position time on a noisy machine.
fn median_around(xs: &[f64], i: usize, w: usize) -> f64 {
    let mut s: Vec<f64> = xs[i.saturating_sub(w)..(i + w + 1).min(xs.len())].to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// One model's decoding both ways: a figure, table rows and the record.
fn with_and_without(
    ctx: &mut Ctx,
    label: &str,
    m: &Gpt,
    first: usize,
    (n_cached, n_plain): (usize, usize),
    figure: &str,
) -> Result<(Vec<Vec<String>>, serde_json::Value), LabError> {
    // A few tokens each way first: first-touch allocation and the thread pool's start.
    decode(m, first, 4.min(n_plain), true);
    decode(m, first, 4.min(n_plain), false);
    let (with, ids_with) = decode(m, first, n_cached, true);
    let (without, ids_without) = decode(m, first, n_plain, false);
    let same = ids_with[..ids_without.len()] == ids_without[..];
    let points = |xs: &[f64]| -> Vec<(f64, f64)> {
        xs.iter().enumerate().map(|(i, &y)| ((i + 1) as f64, y)).collect()
    };
    LineChart::new(
        &format!("{label}: time per generated token (batch 1, greedy)"),
        "position of the new token (tokens in the context)",
        "milliseconds per token",
    )
    // Where the uncached run stops short, the upper right is free; otherwise the upper left is.
    .legend(if n_cached > n_plain { LegendPosition::UpperRight } else { LegendPosition::UpperLeft })
    .series(Series::new("without the cache (whole sequence re-run)", points(&without)))
    .series(Series::new("with the KV cache (one new position)", points(&with)).dashed())
    .draw(&ctx.figure(figure))?;
    let mut rows = Vec::new();
    for pos in [1, 16, 64, 128, 255, 512, 1023].into_iter().filter(|&p| p <= n_cached) {
        let w = median_around(&with, pos - 1, 4);
        let wo = (pos <= n_plain).then(|| median_around(&without, pos - 1, 4));
        rows.push(vec![
            label.to_string(),
            pos.to_string(),
            wo.map_or("—".into(), |x| format!("{x:.1}")),
            format!("{w:.2}"),
            wo.map_or("—".into(), |x| format!("{:.1}×", x / w)),
        ]);
    }
    let total = |xs: &[f64], n: usize| xs[..n].iter().sum::<f64>() / 1e3;
    let record = json!({
        "model": label, "parameters": parameters(m), "config": m.cfg.to_json(), "ms_per_token_cached": with, "ms_per_token_uncached": without,
        "seconds_cached_first_n_uncached": total(&with, n_plain), "seconds_uncached": total(&without, n_plain),
        "ids_equal": same, "tokens_cached": n_cached, "tokens_uncached": n_plain,
    });
    Ok((rows, record))
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let quick_sets: &[&str] = if ctx.quick {
        &["n_layer=1", "n_embd=48", "n_head=2", "block_size=32", "n_kv_head=2"]
    } else {
        &[]
    };
    let pb = ctx.progress(5, "char model, GPT-2 124M, then the cache with 12, 6 and 1 kv heads");
    let char_model = model(ctx, "shakespeare-char", quick_sets)?;
    let t_char = char_model.cfg.block_size - 1;
    let (mut rows, rec_char) = with_and_without(
        ctx,
        &format!("shakespeare-char shape ({:.1}M)", parameters(&char_model) as f64 / 1e6),
        &char_model,
        0,
        (t_char, t_char),
        "ms_per_token_char.svg",
    )?;
    drop(char_model);
    pb.inc(1);
    let gpt2 = model(ctx, "gpt2-124m", quick_sets)?;
    let n_cached = ctx.size(1023, 31);
    let n_plain = ctx.size(256, 16);
    let (rows_gpt2, rec_gpt2) = with_and_without(
        ctx,
        &format!("GPT-2 124M shape ({:.1}M)", parameters(&gpt2) as f64 / 1e6),
        &gpt2,
        464,
        (n_cached, n_plain),
        "ms_per_token_gpt2.svg",
    )?;
    rows.extend(rows_gpt2);
    let (c, l, nh) = (gpt2.cfg.n_embd, gpt2.cfg.n_layer, gpt2.cfg.n_head);
    drop(gpt2);
    pb.inc(1);

    // The cache's memory against length, multi-head vs grouped-query vs multi-query.
    let block = ctx.size(1024, 32);
    let chunk = block / 8;
    let mut mem_series = Vec::new();
    let mut gqa = Vec::new();
    let mut gqa_rows = Vec::new();
    let mut kv_heads = vec![nh, nh / 2, 1];
    kv_heads.dedup();
    for hkv in kv_heads {
        let mut sets: Vec<String> = quick_sets.iter().map(|s| s.to_string()).collect();
        sets.retain(|s| !s.starts_with("n_kv_head"));
        sets.push(format!("n_kv_head={hkv}"));
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let m = model(ctx, "gpt2-124m", &sets)?;
        let mut cache = KvCache::new(&m.cfg);
        let mut points = vec![(0.0, 0.0)];
        let ids: Vec<usize> = (0..block).map(|i| (i * 7919) % m.cfg.vocab_size).collect();
        no_grad(|| {
            for part in ids.chunks(chunk) {
                m.forward_cached(part, &mut cache);
                points.push((cache.len() as f64, cache.bytes() as f64 / 1e6));
            }
        });
        let full = cache.bytes();
        let formula = 2 * l * hkv * (c / nh) * 4 * block;
        let (ms, _) = decode(&m, 464, ctx.size(128, 8), true);
        let mut sorted = ms.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let name = match hkv {
            h if h == nh => format!("multi-head ({h} kv heads)"),
            1 => "multi-query (1 kv head)".to_string(),
            h => format!("grouped-query ({h} kv heads)"),
        };
        gqa_rows.push(vec![
            name.clone(),
            format!("{}", parameters(&m)),
            format!("{:.0}", full as f64 / block as f64),
            format!("{:.1}", full as f64 / 1e6),
            format!("{:.1}", formula as f64 / 1e6),
            format!("{median:.1}"),
        ]);
        gqa.push(json!({"n_kv_head": hkv, "cache_bytes": points, "cache_bytes_full": full, "formula_bytes_full": formula,
            "ms_per_cached_token": ms, "median_ms_per_cached_token": median}));
        let s = Series::new(name, points);
        mem_series.push(if hkv == nh { s } else { s.dashed() });
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut chart = LineChart::new(
        "GPT-2 124M: KV-cache memory against length (batch 1, fp32)",
        "positions in the cache",
        "cache size (MB)",
    )
    .legend(LegendPosition::UpperLeft);
    for s in mem_series {
        chart = chart.series(s.with_markers());
    }
    chart.draw(&ctx.figure("cache_mb_vs_length.svg"))?;

    let speedup = |r: &serde_json::Value| {
        r["seconds_uncached"].as_f64().unwrap_or(f64::NAN)
            / r["seconds_cached_first_n_uncached"].as_f64().unwrap_or(f64::NAN)
    };
    ctx.set("setup", json!({"threads": tfs_math::threads(), "batch": 1, "decoding": "greedy", "init": "random (seed)"}));
    ctx.set("decoding", json!([rec_char, rec_gpt2]));
    ctx.set("cache_memory", json!(gqa));
    ctx.md(&format!(
        "Greedy decoding, batch 1, {} threads, random-initialised weights; each token timed alone. Table: the median of the \
         nine timings around each position (the machine is shared). Both ways produced the same ids: {} (character model), \
         {} (GPT-2 124M). Generating the first {} tokens took {:.1}× less time with the cache for the character model and \
         {:.1}× less for GPT-2 124M over its first {}.",
        tfs_math::threads(),
        if rec_char["ids_equal"] == true { "yes" } else { "no" },
        if rec_gpt2["ids_equal"] == true { "yes" } else { "no" },
        t_char,
        speedup(&rec_char),
        speedup(&rec_gpt2),
        n_plain,
    ));
    ctx.table(&["model", "position", "ms per token without the cache", "with the cache", "ratio"], &rows);
    ctx.md(&format!(
        "With the cache the time per token still grows with the position, slowly: each step's attention reads every cached key and \
         value ({:.0} MB for GPT-2 124M at {} positions, beside the ≈ {:.0} MB of weights every step streams), and our cache grows by \
         concatenation, which copies it at every step.",
        (2 * l * c * 4 * n_cached) as f64 / 1e6,
        n_cached,
        4.0 * rec_gpt2["parameters"].as_f64().unwrap_or(f64::NAN) / 1e6
    ));
    ctx.md(&format!(
        "The cache of GPT-2 124M filled to {block} positions (measured by `KvCache::bytes`, beside the formula), and the median time \
         per cached token over the first {} positions (one run each). Fewer key/value heads shrink the cache in proportion. \
         The time per token falls too, for two reasons this experiment does not separate: the key/value projection has \
         2·(12 − Hkv)·64 fewer output rows, so fewer weights stream from memory at each step, and attention reads a smaller cache.",
        ctx.size(128, 8)
    ));
    ctx.table(&["attention", "parameters", "cache bytes per position", "cache MB", "formula MB", "ms per cached token"], &gqa_rows);
    Ok(())
}
