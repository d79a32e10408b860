//! `tfs bench generate`: greedy generation with GPT-2 124M, batch 1, beside Hugging Face
//! transformers' `generate` on the same weights (peer `bench/peers/hf_generate.py`).
//!
//! The weights are a random-initialised `GPT2LMHeadModel(GPT2Config())` that the peer saves with
//! `save_pretrained` (fixed seed), imported here by `tfs_gpt::hf`: both sides compute the same
//! function, so their greedy ids can be compared token for token (a strong cross-check of the
//! whole forward pass and the cache; a near-tie between two logits could still send them apart,
//! and the line says where they first differ).
//!
//! Timed, as in the peer: from the same 16-token prompt, `new_tokens` (128) new tokens, once with
//! the KV cache (the prompt in one pass, then one token at a time) and once without (each token
//! re-runs the model on the whole sequence so far), each after a warm-up of 8 tokens, `repeats`
//! times; `seconds_*` is the fastest repetition and `tokens_per_s_*` new tokens over it, prompt
//! included in the timed call. `cache_bytes` is the memory the cache holds at the end (the keys
//! and values of the positions it has seen: the prompt and every generated token but the last,
//! which is never fed back); `peak_rss_mb` is the process's peak resident memory (it includes
//! the imported file's bytes, as the peer's includes its loading).
//!
//! Left out: sampling (greedy only, so both sides' outputs can be compared), batches > 1, and
//! the timing of the prompt's pass alone.

use crate::gpt::peak_rss_mb;
use crate::BenchError;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tfs_gpt::model::{Gpt, KvCache};
use tfs_gpt::sample::{generate as generate_uncached, generate_cached, Sampling};
use tfs_math::Rng;
use tfs_tensor::no_grad;

/// The prompt both sides start from (the peer's `PROMPT`): "The quick brown fox jumps over the
/// lazy dog. It was the best of times" in GPT-2's tokens.
pub const PROMPT: [usize; 16] = [
    464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 632, 373, 262, 1266, 286, 1661,
];

/// Tokens generated before each timed series.
const WARMUP_TOKENS: usize = 8;

/// The peer script, in the source tree this binary was built from.
pub fn peer_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peers/hf_generate.py")
}

/// What `tfs bench generate` was asked for.
#[derive(Clone, Debug)]
pub struct GenerateBench {
    /// A Hugging Face GPT-2 folder (`config.json`, `model.safetensors`); made by the peer's
    /// save step when it holds no `model.safetensors` yet.
    pub model: PathBuf,
    pub new_tokens: usize,
    pub repeats: usize,
    /// Run the peer after ours (`python` with torch and transformers).
    pub peer: bool,
    pub python: String,
}

/// Runs `python script args…` and returns its last stdout line as JSON.
fn run_peer(python: &str, args: &[String]) -> Result<Option<Value>, BenchError> {
    let script = peer_script();
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .map_err(|e| BenchError::Input(format!("running {python} {}: {e}", script.display())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.trim().lines().last().unwrap_or("no message");
        return Err(BenchError::Input(format!(
            "{python} {} {} failed: {last}",
            script.display(),
            args.join(" ")
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().lines().last() {
        None => Ok(None),
        Some(line) => serde_json::from_str(line).map(Some).map_err(|e| {
            BenchError::Input(format!(
                "the peer printed a line that is not JSON ({e}): {line}"
            ))
        }),
    }
}

/// Times `gen` (which returns prompt + generated ids) `repeats` times after a warm-up;
/// (the fastest seconds, every repetition's seconds, the ids of the last run).
fn time(
    repeats: usize,
    mut gen: impl FnMut(usize) -> Vec<usize>,
    n: usize,
) -> (f64, Vec<f64>, Vec<usize>) {
    gen(WARMUP_TOKENS.min(n));
    let mut times = Vec::with_capacity(repeats);
    let mut ids = Vec::new();
    for _ in 0..repeats {
        let t0 = Instant::now();
        ids = gen(n);
        times.push(t0.elapsed().as_secs_f64());
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    (best, times, ids)
}

const GREEDY: Sampling = Sampling {
    greedy: true,
    temperature: 1.0,
    top_k: None,
    top_p: None,
};

/// The bytes a cache holds after running the model over `ids` (batch 1).
pub fn cache_bytes_after(model: &Gpt, ids: &[usize]) -> usize {
    let mut cache = KvCache::new(&model.cfg);
    no_grad(|| model.forward_cached(ids, &mut cache));
    cache.bytes()
}

/// Runs the benchmark: calls `each` with our line, then (with `peer`) the peer's.
pub fn generate(a: &GenerateBench, each: &mut dyn FnMut(&Value)) -> Result<(), BenchError> {
    if a.new_tokens == 0 || a.repeats == 0 {
        return Err(BenchError::Input(
            "new tokens and repeats must be at least 1".into(),
        ));
    }
    let model_arg = a.model.to_string_lossy().to_string();
    if !a.model.join("model.safetensors").exists() {
        eprintln!(
            "saving a random-initialised GPT-2 124M to {} (the peer's save step)",
            a.model.display()
        );
        run_peer(
            &a.python,
            &["--model".into(), model_arg.clone(), "--save-only".into()],
        )?;
    }
    let (model, _vocab) =
        tfs_gpt::hf::import_dir(&a.model).map_err(|e| BenchError::Input(e.to_string()))?;
    let (n, bs) = (a.new_tokens, model.cfg.block_size);
    if PROMPT.len() + n > bs {
        return Err(BenchError::Input(format!(
            "{} prompt tokens + {n} new ones exceed the model's context of {bs}",
            PROMPT.len()
        )));
    }
    if let Some(&id) = PROMPT.iter().find(|&&id| id >= model.cfg.vocab_size) {
        return Err(BenchError::Input(format!(
            "the prompt's token {id} is outside the model's vocabulary of {}",
            model.cfg.vocab_size
        )));
    }
    let mut rng = Rng::new(0); // greedy: never drawn from
    eprintln!(
        "ours: {n} new tokens with the KV cache, {} times",
        a.repeats
    );
    let (s_cache, t_cache, ids) = time(
        a.repeats,
        |n| generate_cached(&model, &PROMPT, n, &GREEDY, &mut rng),
        n,
    );
    eprintln!(
        "ours: {n} new tokens without the cache, {} times",
        a.repeats
    );
    let (s_plain, t_plain, ids_plain) = time(
        a.repeats,
        |n| generate_uncached(&model, &PROMPT, n, &GREEDY, &mut rng),
        n,
    );
    // The positions the cache holds at the end: every id but the last, never fed back.
    let cache_bytes = cache_bytes_after(&model, &ids[..ids.len() - 1]);
    let mut line = json!({
        "impl": crate::impl_name(), "model": model_name(&model), "threads": tfs_math::threads(),
        "batch": 1, "prompt_tokens": PROMPT.len(), "new_tokens": n, "greedy": true,
        "seconds_cache": s_cache, "tokens_per_s_cache": n as f64 / s_cache,
        "repeat_seconds_cache": t_cache,
        "seconds_no_cache": s_plain, "tokens_per_s_no_cache": n as f64 / s_plain,
        "repeat_seconds_no_cache": t_plain,
        "cache_bytes": cache_bytes, "peak_rss_mb": peak_rss_mb(), "ids": ids,
        "ids_equal_without_cache": ids == ids_plain,
    });
    let peer = if a.peer {
        eprintln!("peer: {}", peer_script().display());
        run_peer(
            &a.python,
            &[
                "--model".into(),
                model_arg,
                "--new-tokens".into(),
                n.to_string(),
                "--repeats".into(),
                a.repeats.to_string(),
                "--threads".into(),
                tfs_math::threads().to_string(),
            ],
        )?
    } else {
        None
    };
    if let Some(p) = &peer {
        let theirs: Vec<usize> = p["ids"]
            .as_array()
            .map(|v| {
                v.iter()
                    .filter_map(|x| x.as_u64().map(|x| x as usize))
                    .collect()
            })
            .unwrap_or_default();
        let first = ids.iter().zip(&theirs).position(|(a, b)| a != b);
        line["ids_equal_peer"] = json!(ids == theirs);
        line["ids_first_difference"] =
            json!(first.or((ids.len() != theirs.len()).then(|| ids.len().min(theirs.len()))));
    }
    each(&line);
    if let Some(p) = &peer {
        each(p);
    }
    Ok(())
}

/// "gpt2-124m" for GPT-2 Small's shape, else the shape itself.
fn model_name(m: &Gpt) -> String {
    let c = &m.cfg;
    if (c.n_layer, c.n_head, c.n_embd, c.vocab_size) == (12, 12, 768, 50257) {
        "gpt2-124m".into()
    } else {
        format!(
            "gpt2 {}/{}/{} vocab {}",
            c.n_layer, c.n_head, c.n_embd, c.vocab_size
        )
    }
}
