//! `p7-sampling`: one trained model (the `baby` GPT after 2000 iterations on Tiny Shakespeare),
//! one prompt, six ways to choose the next character: greedy, temperature 0.5 / 1.0 / 1.5, top-k
//! (k = 10) and top-p (p = 0.9). For each, 600 generated characters and three measurements:
//!
//! - **distinct-n**: the fraction of the text's character n-grams (n = 4, 8) that are distinct
//!   (low: the text repeats itself);
//! - **longest repeat**: the longest substring that occurs twice (greedy decoding loops);
//! - **the model's own perplexity** of the text: exp of the mean cross-entropy the model assigns
//!   to each generated character given what precedes it (low: safe, predictable text; high:
//!   the model itself finds it unlikely, i.e. babble).

use crate::{Ctx, LabError};
use serde_json::json;
use std::collections::HashSet;
use tfs_gpt::sample::{generate, Sampling};
use tfs_gpt::{Gpt, Preset};
use tfs_math::Rng;
use tfs_tensor::no_grad;

pub(crate) const DESCRIPTION: &str =
    "greedy vs temperature 0.5/1.0/1.5 vs top-k vs top-p on one model and prompt: distinct-n, repeats, the model's own perplexity";

fn distinct(chars: &[char], n: usize) -> f64 {
    if chars.len() < n {
        return f64::NAN;
    }
    let grams: Vec<&[char]> = chars.windows(n).collect();
    grams.iter().collect::<HashSet<_>>().len() as f64 / grams.len() as f64
}

/// Length of the longest substring occurring at least twice (overlaps allowed).
fn longest_repeat(chars: &[char]) -> usize {
    let n = chars.len();
    let mut best = 0;
    // Dynamic programming over pairs of end positions: O(n²) for n = 600 is instant.
    let mut prev = vec![0usize; n + 1];
    for i in 1..=n {
        let mut cur = vec![0usize; n + 1];
        for j in i + 1..=n {
            if chars[i - 1] == chars[j - 1] {
                cur[j] = prev[j - 1] + 1;
                best = best.max(cur[j]);
            }
        }
        prev = cur;
    }
    best
}

/// exp(mean −log p(token | preceding ≤ block_size tokens)) over `ids[start..]`.
fn own_perplexity(model: &Gpt, ids: &[usize], start: usize) -> f64 {
    let (bs, v) = (model.cfg.block_size, model.cfg.vocab_size);
    let mut nll = 0.0;
    no_grad(|| {
        for i in start..ids.len() {
            let ctx = &ids[i.saturating_sub(bs)..i];
            let z = model.forward(ctx, 1, ctx.len());
            let row = &z.data()[(ctx.len() - 1) * v..ctx.len() * v];
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
            let lse = m + row.iter().map(|&x| (x as f64 - m).exp()).sum::<f64>().ln();
            nll += lse - row[ids[i]] as f64;
        }
    });
    (nll / (ids.len() - start).max(1) as f64).exp()
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let mut p = Preset::get("baby").expect("preset");
    let (iters, n_chars) = ctx.size((2000, 600), (4, 20));
    p.train.max_iters = iters;
    p.train.lr_decay_iters = iters;
    p.train.sample_interval = 0;
    p.train.eval_iters = ctx.size(20, 1);
    if ctx.quick {
        p.quick();
    }
    let pb = ctx.progress(1, "training the model (progress on the next line)");
    let dir = ctx.dir().join("run");
    let r = tfs_gpt::train::train(&text, &p, ctx.seed, Some(&dir), !ctx.quick)
        .map_err(|message| LabError::Experiment { id: ctx.id.to_string(), message })?;
    pb.finish_and_clear();
    let (model, vocab) = tfs_gpt::checkpoint::load(&dir.join("checkpoint"))
        .map_err(|e| LabError::Experiment { id: ctx.id.to_string(), message: e.to_string() })?;
    let _ = std::fs::remove_dir_all(&dir);
    let prompt_text = "ROMEO:\n";
    let prompt = vocab.encode(prompt_text).map_err(|c| LabError::Experiment { id: ctx.id.to_string(), message: format!("prompt: {c}") })?;
    let base = Sampling::default();
    let ways = [
        ("greedy", Sampling { greedy: true, ..base }),
        ("temperature 0.5", Sampling { temperature: 0.5, ..base }),
        ("temperature 1.0", base),
        ("temperature 1.5", Sampling { temperature: 1.5, ..base }),
        ("top-k 10", Sampling { top_k: Some(10), ..base }),
        ("top-p 0.9", Sampling { top_p: Some(0.9), ..base }),
    ];
    let pb = ctx.progress(ways.len() as u64, "strategy");
    let (mut rows, mut records, mut samples, mut points) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, s) in ways {
        let ids = generate(&model, &prompt, n_chars, &s, &mut Rng::new(ctx.seed + 11));
        let out: Vec<char> = vocab.decode(&ids[prompt.len()..]).chars().collect();
        let (d4, d8, rep) = (distinct(&out, 4), distinct(&out, 8), longest_repeat(&out));
        let ppl = own_perplexity(&model, &ids, prompt.len());
        rows.push(vec![name.to_string(), format!("{d4:.3}"), format!("{d8:.3}"), format!("{rep}"), format!("{ppl:.2}")]);
        records.push(json!({"strategy": name, "distinct_4": d4, "distinct_8": d8, "longest_repeat": rep, "own_perplexity": ppl, "text": out.iter().collect::<String>()}));
        samples.push((name, out.iter().take(300).collect::<String>()));
        points.push((ppl, d8, name.to_string()));
        pb.inc(1);
    }
    pb.finish_and_clear();
    crate::figures::labelled_scatter(
        &ctx.figure("repetition_vs_perplexity.svg"),
        "Six ways to sample one model: repetition against surprise",
        ("the model's own perplexity of its text (per character)", "distinct 8-grams (1 = no repetition)"),
        &points,
    )?;
    ctx.set("model", json!({"preset": "baby", "iterations": iters, "val_loss": r.val_loss, "parameters": r.parameters}));
    ctx.set("prompt", prompt_text);
    ctx.set("strategies", json!(records));
    ctx.md(&format!(
        "The `baby` model after {iters} iterations (validation loss {:.3}), prompt `ROMEO:` + newline, \
         {n_chars} characters per strategy, each from the same seed. Distinct-n: the share of distinct \
         character n-grams; longest repeat: the longest substring that occurs twice; own perplexity: \
         the model's perplexity of what it wrote (per character).",
        r.val_loss
    ));
    ctx.table(&["strategy", "distinct-4", "distinct-8", "longest repeat (chars)", "own perplexity"], &rows);
    ctx.md("The first 300 characters of each:");
    for (name, s) in samples {
        ctx.md(&format!("**{name}**\n\n```text\n{}\n```", s.trim_end()));
    }
    Ok(())
}
