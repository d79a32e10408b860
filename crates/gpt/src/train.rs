//! The training loop of `tfs gpt train`, for Phase 7's character models and Phase 8's GPT-2.
//!
//! ```text
//!   for step in start..max_iters:
//!       η ← warmup + cosine(step)                     AdamW, decay on matrices only
//!       g ← 0
//!       repeat grad_accum times:                      micro-batches
//!           (x, y) ← cursor.next_batch(B, T)          random or sequential windows
//!           g ← g + ∇ (CE(model(x), y) / grad_accum)
//!       clip ‖g‖ to grad_clip;  step
//!       every eval_interval: mean loss over fixed, seeded train and validation batches
//!       every sample_interval: a sample appended to samples.txt
//!       every checkpoint_every: a resumable checkpoint
//! ```
//!
//! Reported losses are what nanoGPT's `estimate_loss` reports: the mean cross-entropy (nats)
//! over `eval_iters` batches drawn once from a fixed seed, in evaluation mode; perplexity is
//! its exponential. `log.jsonl` has one line per step: loss, lr, gradient norm (global and per
//! layer), tokens/s, MFU, and at evaluations the estimates.
//!
//! **MFU** (model FLOP utilisation) is the achieved rate of the model's FLOPs over the machine's
//! measured fp32 peak (its FMA units flat out, timed at start: [`fp32_peak_flops`]). A step's FLOPs
//! per token are 6·N + 12·L·T·C (PaLM's count, appendix B, which nanoGPT's `estimate_mfu` also
//! uses: 6N for the matmuls with N the parameters outside the position table, plus the attention
//! scores q·kᵀ and P·v forward and backward at full T×T, though a causal mask needs half of them).
//!
//! **Resume** (`resume: true`): a checkpoint holds the weights, AdamW's moments and step count,
//! and `state.json` with the step, the data cursor and every generator (data, dropout, samples).
//! Every step after it is computed from exactly the same numbers in the same order, so a run
//! killed at any moment and resumed from its last checkpoint ends with the same bytes as one
//! that never stopped (tested by killing a real process). The recipe must be the same; a
//! resumed run that differs is refused, naming the setting.
//!
//! A non-finite loss stops the run with an error naming the step; the last checkpoint written
//! stays as it was.
//!
//! ## Performance notes
//!
//! The target (issue of Phase 7): the `baby` run in ≤ 0.4× PyTorch's wall time, `tfs bench gpt`
//! beside `bench/peers/torch_gpt.py`, one after the other on these 2 cores. The work is in the
//! kernels and ops this loop calls; what was tried, 2026-11-27:
//!
//! | change | measured |
//! |---|---|
//! | start of the day | 42.0 s vs 73.7 s (0.57×) |
//! | element-wise kernels with FMAs, GELU through 1/(e^(2u)+1), vectorised row max | bench kernels: GELU 1.64× → 1.0× the copy time |
//! | pool threads yield-poll 500 µs before sleeping (was 5 µs) | 300 steps, same binary: 6.26-6.96 s → 5.36-5.53 s; 200 µs 5.70, 1.5 ms 5.96, 3 ms 7.4 (longer polling slows the working thread) |
//! | outputs written in full skip the memset (`cache::for_overwrite`); clipping's and the per-layer norms' sums of squares vectorised | within the noise of 300-step runs; memset 4.3% → 1.3% of samples |
//! | `sdpa_packed` (no head split/merge copies) | whole run 33.5 s → 30.0 s |
//! | GELU, layer norm, AdamW on both threads; bias after a β = 0 product | ~3% each, at the noise floor |
//! | query blocks of 16 rows in `sdpa_packed` | slower (4.79 vs 4.51 s, 300 steps): 4× the calls |
//! | blocks of 32 rows | same at T = 64; 2-4% at T = 256 |
//! | B packed once per product, its panels shared out between the threads (the row chunks each packed all of B) | slower: 5.31 vs 4.94 s (300 steps, best of 4); reverted |
//! | end of the day, six pairs | 26.5-31.5 s vs 65.5-71.8 s: 0.400-0.454× |
//!
//! Later the same day (300-step runs alternated with the previous binary; this machine's speed drifts by
//! up to 25% from minute to minute, so medians and minima of 6-10 runs each):
//!
//! | change | measured |
//! |---|---|
//! | A read in place by a strided GEMM micro-kernel in products ≤ 512 wide (no transposing pack of x or ȳ, no strided copy of ȳᵀ) | both rows together: 5.03 → 4.54 s median, 4.10 → 3.76 s min (8 of 8 pairs faster); A in place alone: min 4.27 → 4.12 s (x, ȳ), then ≈ 1% more (ȳᵀ) |
//! | the calling thread's serial passes shared out: residual adds, the bias and its gradient split by rows; AdamW in one fork-join; gradients back to the buffer cache | the splits: min 4.38 → 4.27 s, median 5.12 → 4.88 s; AdamW and the recycling within the noise; the second thread's polling fell from ≈ 10% of samples to ≈ 6% |
//! | the pool's caller runs the indices its worker has not started; `per_task` hands tasks out as threads come free | 200 steps: 2.76 → 2.70 s median on a quiet machine, 4.45 → 3.47 s while another process takes 3 ms of every 10 on one core |
//! | end of the session, eight pairs beside PyTorch | 24.9-31.1 s vs 65.8-71.8 s: 0.347-0.473×, median 0.38 (five under 0.4) |
//! | tried: X̄ and W̄ products side by side, one per thread | no gain (4.72 vs 4.66 s median): not kept |
//! | tried: B read in place too | one thread +0-10%, but 384×128×768 TN on two threads 417 → 342 GFLOP/s: not kept |
//! | tried: evaluation batches stacked into passes of 16384 tokens | slower: 100 steps with an evaluation every 10, 2.82-2.95 s at 768 tokens a pass, 3.34-3.40 s at 16384 (the activations leave L2): not kept |
//! | tried: the bias as a GEMM epilogue, added to each C tile in L1 | neutral (4.13 vs 4.14 s median): not kept |
//! | tried: C split by columns when A is read in place (each thread packs only its B columns) | inconclusive (quiet runs −1-2%, noisy runs +6%): not kept |
//! | tried: prefetching A in the strided kernel | no gain (2.60 vs 2.57 s median, 200 steps, within the noise): not kept |
//!
//! Profile now (`perf record`, 300 steps): 65% of samples in the GEMM micro-kernels, 7.6% packing
//! B, ≈ 6% the second thread polling, 3% GELU, 2% layer norm, 2% softmax, 1.3% AdamW. Attention
//! is ≈ 11% of samples for ≈ 6% of the FLOPs (products of 32-64 rows). Not tried: data
//! parallelism over the batch (one graph per core; two single-thread processes at half the batch
//! were ≈ 6% faster than one two-thread run before the serial passes were shared out).

use crate::checkpoint::{self, TensorMap};
use crate::config::{GptConfig, Preset};
use crate::data::{CharVocab, Cursor, Order, Split, TokenSource};
use crate::model::Gpt;
use crate::sample::{generate, Sampling};
use crate::vocab::Vocab;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use tfs_math::Rng;
use tfs_tensor::log::JsonLog;
use tfs_tensor::nn::Module;
use tfs_tensor::optim::{groups_decay_matrices, AdamW};
use tfs_tensor::schedule::Schedule;
use tfs_tensor::train::{StepError, Trainer};
use tfs_tensor::{no_grad, Grads, Tensor};

/// What a run produced (the steps this process ran; a resumed run starts at `start_step`).
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    pub iterations: usize,
    pub start_step: usize,
    pub wall_seconds: f64,
    pub tokens_per_s: f64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub parameters: usize,
    /// Model FLOPs per trained token (see the module doc).
    pub flops_per_token: f64,
    /// The fp32 matmul rate measured at start (FLOP/s; 0 when not measured).
    pub peak_flops: f64,
    /// Achieved model FLOP/s over `peak_flops`.
    pub mfu: f64,
    /// Training loss of every step (the mean over its micro-batches).
    pub losses: Vec<f64>,
    /// Seconds of every step's training work (batches, forward, backward, update; not the
    /// evaluations, samples or checkpoints).
    pub step_seconds: Vec<f64>,
    /// (step, train estimate, validation estimate) at every evaluation.
    pub evals: Vec<(usize, f64, f64)>,
    /// Seconds since the run (this process) started, at each evaluation.
    pub eval_wall: Vec<f64>,
    /// (step, text) of every sample taken.
    pub samples: Vec<(usize, String)>,
}

/// The tokens a run trains and evaluates on, and what they mean.
pub struct Data<'a> {
    pub train: &'a dyn TokenSource,
    pub val: &'a dyn TokenSource,
    pub vocab: Vocab,
    /// The order used when the recipe does not choose one.
    pub default_order: Order,
}

/// Where and how a run reports.
#[derive(Clone, Debug, Default)]
pub struct RunOptions<'a> {
    /// Writes `log.jsonl`, `samples.txt` and `checkpoint/` here.
    pub out: Option<&'a Path>,
    /// A progress bar on stderr.
    pub progress: bool,
    /// Continue from `out/checkpoint` when it holds a training state (else start at step 0).
    pub resume: bool,
    /// Stop after this step as if interrupted (tests and the resume demonstration).
    pub stop_after: Option<usize>,
}

/// A character vocabulary of `text`, and its ids split 90/10.
pub fn text_data(text: &str, block_size: usize) -> Result<(Vocab, Split), String> {
    let vocab = CharVocab::from_text(text);
    let ids = vocab
        .encode(text)
        .expect("every character is in its own vocabulary");
    Ok((Vocab::Char(vocab), Split::new(ids, block_size)?))
}

/// Trains `preset` on the characters of `text` from `seed` (Phase 7's entry point). With `out`,
/// writes `log.jsonl`, `samples.txt` and the checkpoint `out/checkpoint/`.
pub fn train(
    text: &str,
    preset: &Preset,
    seed: u64,
    out: Option<&Path>,
    progress: bool,
) -> Result<TrainReport, String> {
    let (vocab, split) = text_data(text, preset.model.block_size)?;
    let data = Data {
        train: &split.train,
        val: &split.val,
        vocab,
        default_order: Order::Random,
    };
    let opts = RunOptions {
        out,
        progress,
        ..RunOptions::default()
    };
    run(&data, preset, seed, &opts)
}

/// Fixed batches for loss estimates.
fn fixed_batches(
    src: &dyn TokenSource,
    n: usize,
    b: usize,
    t: usize,
    seed: u64,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut c = Cursor {
        order: Order::Random,
        pos: 0,
        rng: Rng::new(seed),
    };
    (0..n).map(|_| c.next_batch(src, b, t)).collect()
}

fn estimate(model: &mut Gpt, batches: &[(Vec<usize>, Vec<usize>)], b: usize, t: usize) -> f64 {
    model.set_training(false);
    let l = no_grad(|| {
        batches
            .iter()
            .map(|(x, y)| model.loss(x, y, b, t).item() as f64)
            .sum::<f64>()
    });
    model.set_training(true);
    l / batches.len().max(1) as f64
}

/// 200 tokens after a newline at temperature 1, in evaluation mode.
fn sample(model: &mut Gpt, vocab: &Vocab, rng: &mut Rng) -> String {
    let prompt = match vocab.encode("\n") {
        Ok(p) if !p.is_empty() => p,
        _ => vec![0],
    };
    model.set_training(false);
    let s = vocab.decode(&generate(model, &prompt, 200, &Sampling::default(), rng));
    model.set_training(true);
    s
}

/// FLOPs per trained token: 6·N + 12·L·T·C, N without the position table.
pub fn flops_per_token(cfg: &GptConfig, parameters: usize) -> f64 {
    let n = parameters - cfg.block_size * cfg.n_embd;
    6.0 * n as f64 + 12.0 * (cfg.n_layer * cfg.block_size * cfg.n_embd) as f64
}

/// The device's measured fp32 peak (FLOP/s): on the CPU its fused multiply-adds on the kernel
/// threads the run uses (`TFS_THREADS`, else every core) with nothing else in the way
/// (`tfs_tensor::backend::peak_flops`, the ceiling the project draws MFU against); where that
/// cannot be measured (no AVX2/AVX-512), the GEMM rate below.
pub fn fp32_peak_flops() -> f64 {
    tfs_tensor::backend::peak_flops(tfs_tensor::Device::Cpu).unwrap_or_else(measured_peak_flops)
}

/// The fp32 matmul rate of this machine through our kernels: the best of three 1024³ GEMMs.
pub fn measured_peak_flops() -> f64 {
    let n = 1024;
    let a = Tensor::new(vec![0.5; n * n], &[n, n]);
    let b = Tensor::new(vec![0.25; n * n], &[n, n]);
    no_grad(|| {
        (0..3)
            .map(|_| {
                let t0 = Instant::now();
                let c = a.matmul(&b);
                std::hint::black_box(c.shape());
                2.0 * (n * n * n) as f64 / t0.elapsed().as_secs_f64()
            })
            .fold(0.0, f64::max)
    })
}

/// Squared L2 norm of the gradients of `params` whose names start with each prefix.
fn grad_norms_by_layer(params: &[(String, Tensor)], grads: &Grads, n_layer: usize) -> Vec<f64> {
    let mut sq = vec![0.0f64; n_layer];
    for (name, p) in params {
        let Some(rest) = name.strip_prefix("transformer.h.") else {
            continue;
        };
        let Some(i) = rest.split('.').next().and_then(|i| i.parse::<usize>().ok()) else {
            continue;
        };
        if let (Some(g), true) = (grads.get(p), i < n_layer) {
            sq[i] += tfs_tensor::backend::sum_squares(&g.storage());
        }
    }
    sq.into_iter().map(f64::sqrt).collect()
}

fn rng_json(s: [u64; 4]) -> Value {
    json!(s)
}

fn rng_from(v: &Value, what: &str) -> Result<[u64; 4], String> {
    let a = v
        .as_array()
        .filter(|a| a.len() == 4)
        .ok_or_else(|| format!("state.json: '{what}' is not 4 numbers"))?;
    let mut s = [0u64; 4];
    for (d, x) in s.iter_mut().zip(a) {
        *d = x
            .as_u64()
            .ok_or_else(|| format!("state.json: '{what}' is not 4 numbers"))?;
    }
    Ok(s)
}

/// The recipe settings a resumed run must share with the run it continues.
fn recipe_json(p: &Preset, order: Order, seed: u64, data: &Data) -> Value {
    let t = &p.train;
    let v = json!({"batch_size": t.batch_size, "max_iters": t.max_iters, "lr": t.lr, "min_lr": t.min_lr,
           "warmup": t.warmup, "lr_decay_iters": t.lr_decay_iters, "beta1": t.beta1, "beta2": t.beta2,
           "weight_decay": t.weight_decay, "grad_clip": t.grad_clip, "eval_interval": t.eval_interval,
           "eval_iters": t.eval_iters, "sample_interval": t.sample_interval, "grad_accum": t.grad_accum,
           "data_order": order.name(), "seed": seed,
           "train_tokens": data.train.len(), "val_tokens": data.val.len()});
    // As it reads back from state.json (serde_json's float text does not round-trip every f64).
    serde_json::from_str(&v.to_string()).expect("json")
}

/// The run's mutable state besides the weights.
struct State {
    step: usize,
    cursor: Cursor,
    sample_rng: Rng,
}

fn save_training(
    dir: &Path,
    model: &Gpt,
    vocab: &Vocab,
    opt: &AdamW,
    st: &State,
    recipe: &Value,
) -> Result<(), String> {
    let mut moments: TensorMap = TensorMap::new();
    for name in opt.moment_names() {
        let (m, v) = opt.moments(&name).expect("listed");
        moments.insert(format!("exp_avg.{name}"), (vec![m.len()], m.to_vec()));
        moments.insert(format!("exp_avg_sq.{name}"), (vec![v.len()], v.to_vec()));
    }
    let state = json!({
        "format": "tfs-gpt train state 1",
        "step": st.step,
        "optimizer_steps": opt.steps(),
        "cursor": {"order": st.cursor.order.name(), "pos": st.cursor.pos, "rng": rng_json(st.cursor.rng.state())},
        "sample_rng": rng_json(st.sample_rng.state()),
        "dropout_rngs": model.rng_states().into_iter().map(rng_json).collect::<Vec<_>>(),
        "recipe": recipe,
    });
    checkpoint::save_with(
        dir,
        model,
        vocab,
        &[
            (
                "optimizer.safetensors",
                checkpoint::safetensors_bytes(&moments),
            ),
            (
                "state.json",
                serde_json::to_string_pretty(&state)
                    .expect("json")
                    .into_bytes(),
            ),
        ],
    )
    .map_err(|e| e.to_string())
}

/// Loads `dir`'s training state into `model` and `opt`; the state's step, cursor and generators.
fn load_training(
    dir: &Path,
    model: &mut Gpt,
    vocab: &Vocab,
    opt: &mut AdamW,
    recipe: &Value,
) -> Result<State, String> {
    let (saved, saved_vocab) = checkpoint::load(dir).map_err(|e| e.to_string())?;
    if saved.cfg != model.cfg || saved_vocab.to_json() != vocab.to_json() {
        return Err(format!(
            "{}: the checkpoint's model or vocabulary differs from this run's (start a new --out, or drop --resume)",
            dir.display()
        ));
    }
    let sp = dir.join("state.json");
    let text = std::fs::read_to_string(&sp).map_err(|e| format!("{}: {e}", sp.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", sp.display()))?;
    if let Some((k, was)) = v["recipe"]
        .as_object()
        .ok_or_else(|| format!("{}: no 'recipe'", sp.display()))?
        .iter()
        .find(|(k, was)| recipe.get(k.as_str()) != Some(*was))
    {
        return Err(format!(
            "{}: the checkpoint was trained with {k} = {was}, this run has {}; a resumed run must use the same recipe",
            sp.display(),
            recipe.get(k.as_str()).unwrap_or(&Value::Null)
        ));
    }
    for ((_, mine), (_, theirs)) in model.parameters().iter().zip(saved.parameters()) {
        mine.assign(&theirs.to_vec());
    }
    model.set_training(true);
    let op = dir.join("optimizer.safetensors");
    let mut tensors = checkpoint::read_safetensors(&op).map_err(|e| e.to_string())?;
    let mut moments = HashMap::new();
    for (name, p) in model.parameters() {
        match (
            tensors.remove(&format!("exp_avg.{name}")),
            tensors.remove(&format!("exp_avg_sq.{name}")),
        ) {
            (Some((_, m)), Some((_, s))) if m.len() == p.numel() && s.len() == p.numel() => {
                moments.insert(name, (m, s));
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "{}: the moments of '{name}' are missing or the wrong size",
                    op.display()
                ))
            }
        }
    }
    let num = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| format!("{}: '{k}' missing", sp.display()))
    };
    opt.set_state(num("optimizer_steps")? as u32, moments);
    model.set_rng_states(
        &v["dropout_rngs"]
            .as_array()
            .ok_or_else(|| format!("{}: no 'dropout_rngs'", sp.display()))?
            .iter()
            .map(|r| rng_from(r, "dropout_rngs"))
            .collect::<Result<Vec<_>, _>>()?,
    )?;
    let c = &v["cursor"];
    Ok(State {
        step: num("step")? as usize,
        cursor: Cursor {
            order: Order::parse(c["order"].as_str().unwrap_or(""))
                .ok_or_else(|| format!("{}: bad cursor order", sp.display()))?,
            pos: c["pos"]
                .as_u64()
                .ok_or_else(|| format!("{}: no cursor position", sp.display()))?
                as usize,
            rng: Rng::from_state(rng_from(&c["rng"], "cursor.rng")?),
        },
        sample_rng: Rng::from_state(rng_from(&v["sample_rng"], "sample_rng")?),
    })
}

/// Keeps the lines of `path` whose `"step"` is below `step` (a resumed run rewrites what the
/// interrupted one logged after its checkpoint).
fn truncate_log(path: &Path, step: usize) -> std::io::Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| v["step"].as_u64())
                .is_some_and(|s| (s as usize) < step)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    replace_file(path, &kept)
}

/// Writes `text` to `path` through a temporary file and a rename, so a crash leaves the old
/// file or the new one.
fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

/// Keeps the samples of `samples.txt` taken before `step`.
fn truncate_samples(path: &Path, step: usize) -> std::io::Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let mut kept = String::new();
    for block in text.split("=== iteration ").filter(|b| !b.is_empty()) {
        let n = block
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<usize>().ok());
        if n.is_some_and(|n| n < step) {
            kept.push_str("=== iteration ");
            kept.push_str(block);
        }
    }
    replace_file(path, &kept)
}

fn append_sample(out: Option<&Path>, step: usize, text: &str) -> Result<(), String> {
    if let Some(dir) = out {
        use std::io::Write;
        let p = dir.join("samples.txt");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .and_then(|mut f| write!(f, "=== iteration {step} ===\n{text}\n\n"))
            .map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// The end of a stop message: where the last checkpoint (every one of which was written after a
/// finite loss and gradient) is.
fn last_good(last_saved: Option<usize>, ck_dir: &Option<std::path::PathBuf>) -> String {
    match (last_saved, ck_dir) {
        (Some(s), Some(d)) => format!(
            " (the last good checkpoint, step {s}, is in {})",
            d.display()
        ),
        _ => " before any checkpoint was written".into(),
    }
}

/// Trains `preset` on `data` from `seed`; see the module doc.
pub fn run(
    data: &Data,
    preset: &Preset,
    seed: u64,
    opts: &RunOptions,
) -> Result<TrainReport, String> {
    preset.validate()?;
    let mut cfg = preset.model;
    cfg.vocab_size = data.vocab.len();
    let tc = &preset.train;
    let (b, t, accum) = (tc.batch_size, cfg.block_size, tc.grad_accum.max(1));
    for (name, src) in [("training", data.train), ("validation", data.val)] {
        if src.len() <= t {
            return Err(format!(
                "the {name} split has {} tokens: too short for a context of {t}",
                src.len()
            ));
        }
    }
    let order = tc.data_order.unwrap_or(data.default_order);
    let recipe = recipe_json(preset, order, seed, data);
    let mut model = Gpt::new(cfg, &mut Rng::new(seed));
    let params = model.parameters();
    let opt = AdamW::new(tc.lr, &groups_decay_matrices(&params, tc.weight_decay))
        .betas(tc.beta1, tc.beta2);
    let sched = Schedule::WarmupCosine {
        lr: tc.lr,
        min_lr: tc.min_lr,
        warmup: tc.warmup,
        total: tc.lr_decay_iters,
    };
    let mut trainer = Trainer::new(opt, sched)
        .clip(tc.grad_clip)
        .accumulate(accum);
    let eval_n = tc.eval_iters.max(1);
    let (train_eval, val_eval) = (
        fixed_batches(data.train, eval_n, b, t, seed ^ 0x7EA1),
        fixed_batches(data.val, eval_n, b, t, seed ^ 0x7A11),
    );
    let mut st = State {
        step: 0,
        cursor: Cursor {
            order,
            pos: 0,
            rng: Rng::new(seed.wrapping_add(1)),
        },
        sample_rng: Rng::new(seed.wrapping_add(2)),
    };
    let ck_dir = opts.out.map(|d| d.join("checkpoint"));
    let mut last_saved = None;
    if let (true, Some(ck)) = (opts.resume, ck_dir.as_deref()) {
        if checkpoint::recover(ck) && ck.join("state.json").exists() {
            st = load_training(ck, &mut model, &data.vocab, &mut trainer.opt, &recipe)?;
            last_saved = Some(st.step);
        }
    }
    let start = st.step;
    let mut log = match opts.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let (lp, sp) = (dir.join("log.jsonl"), dir.join("samples.txt"));
            let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
            if start > 0 {
                truncate_log(&lp, start).map_err(|e| io(&lp, e))?;
                truncate_samples(&sp, start).map_err(|e| io(&sp, e))?;
                Some(JsonLog::append(&lp).map_err(|e| io(&lp, e))?)
            } else {
                let _ = std::fs::remove_file(&sp);
                Some(JsonLog::create(&lp).map_err(|e| io(&lp, e))?)
            }
        }
        None => None,
    };
    let pb = if opts.progress {
        ProgressBar::new(tc.max_iters as u64)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .expect("template"),
    );
    pb.set_position(start as u64);
    if start > 0 {
        pb.println(format!("resumed at step {start}"));
    }
    let parameters: usize = params.iter().map(|(_, p)| p.numel()).sum();
    let mut rep = TrainReport {
        parameters,
        start_step: start,
        flops_per_token: flops_per_token(&cfg, parameters),
        peak_flops: if opts.out.is_some() || opts.progress {
            fp32_peak_flops()
        } else {
            0.0
        },
        ..TrainReport::default()
    };
    let tokens_per_step = b * t * accum;
    let end = opts.stop_after.unwrap_or(tc.max_iters).min(tc.max_iters);
    let t0 = Instant::now();
    for it in start..end {
        if tc.sample_interval > 0 && it % tc.sample_interval == 0 {
            let s = sample(&mut model, &data.vocab, &mut st.sample_rng);
            append_sample(opts.out, it, &s)?;
            rep.samples.push((it, s));
        }
        let ts = Instant::now();
        let lr = sched.at(it);
        // ANCHOR: step
        let mut layer_norms = Vec::new();
        let micro = |_| {
            let (x, y) = st.cursor.next_batch(data.train, b, t);
            Ok(model.loss(&x, &y, b, t))
        };
        let inspect = |g: &Grads| {
            if log.is_some() {
                layer_norms = grad_norms_by_layer(&params, g, cfg.n_layer);
            }
        };
        let stats = match trainer.step_with(&params, lr, micro, inspect) {
            Ok(s) => s,
            Err(e) => {
                pb.finish_and_clear();
                let saved = last_good(last_saved, &ck_dir);
                return Err(match e {
                    StepError::Loss { value, .. } => {
                        format!("the loss became {value} at step {it}; stopped{saved}")
                    }
                    StepError::Norm(n) => format!(
                        "the gradient norm became {n} at step {it}; stopped before the update{saved}"
                    ),
                    StepError::Micro(m) => format!("step {it}: {m}"),
                });
            }
        };
        let (l, norm) = (stats.loss, stats.grad_norm);
        // ANCHOR_END: step
        rep.step_seconds.push(ts.elapsed().as_secs_f64());
        st.step = it + 1;
        rep.losses.push(l);
        let secs = t0.elapsed().as_secs_f64();
        let tps = ((it + 1 - start) * tokens_per_step) as f64 / secs;
        let mfu = if rep.peak_flops > 0.0 {
            tps * rep.flops_per_token / rep.peak_flops
        } else {
            0.0
        };
        let last = it + 1 == tc.max_iters;
        let eval = if (tc.eval_interval > 0 && (it + 1) % tc.eval_interval == 0) || last {
            let (tr, va) = (
                estimate(&mut model, &train_eval, b, t),
                estimate(&mut model, &val_eval, b, t),
            );
            rep.evals.push((it + 1, tr, va));
            rep.eval_wall.push(t0.elapsed().as_secs_f64());
            pb.println(format!(
                "step {:>6}: train loss {tr:.4}, val loss {va:.4} (perplexity {:.2})",
                it + 1,
                va.exp()
            ));
            Some((tr, va))
        } else {
            None
        };
        if let Some(log) = log.as_mut() {
            let mut fields: Vec<(String, f64)> = vec![
                ("loss".into(), l),
                ("lr".into(), lr as f64),
                ("grad_norm".into(), norm as f64),
                ("tokens_per_s".into(), tps),
                ("mfu".into(), mfu),
            ];
            if let Some((tr, va)) = eval {
                fields.push(("train_estimate".into(), tr));
                fields.push(("val_loss".into(), va));
                fields.push(("val_perplexity".into(), va.exp()));
            }
            for (i, n) in layer_norms.iter().enumerate() {
                fields.push((format!("grad_norm_h{i}"), *n));
            }
            let f: Vec<(&str, f64)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            let _ = log.log(it, &f);
        }
        if let Some(ck) = ck_dir.as_deref() {
            if tc.checkpoint_every > 0 && st.step.is_multiple_of(tc.checkpoint_every) && !last {
                save_training(ck, &model, &data.vocab, &trainer.opt, &st, &recipe)?;
                last_saved = Some(st.step);
            }
        }
        pb.set_message(format!(
            "loss {l:.4}, {tps:.0} tok/s, MFU {:.1}%",
            100.0 * mfu
        ));
        pb.inc(1);
    }
    pb.finish_and_clear();
    let finished = end == tc.max_iters;
    if finished && tc.sample_interval > 0 && start < tc.max_iters {
        let s = sample(&mut model, &data.vocab, &mut st.sample_rng);
        append_sample(opts.out, tc.max_iters, &s)?;
        rep.samples.push((tc.max_iters, s));
    }
    rep.iterations = end.saturating_sub(start);
    rep.wall_seconds = t0.elapsed().as_secs_f64();
    rep.tokens_per_s = (rep.iterations * tokens_per_step) as f64 / rep.wall_seconds.max(1e-9);
    rep.mfu = if rep.peak_flops > 0.0 {
        rep.tokens_per_s * rep.flops_per_token / rep.peak_flops
    } else {
        0.0
    };
    let (tr, va) = rep
        .evals
        .last()
        .map_or((f64::NAN, f64::NAN), |e| (e.1, e.2));
    rep.train_loss = tr;
    rep.val_loss = va;
    if let (true, Some(ck)) = (finished && start < tc.max_iters, ck_dir.as_deref()) {
        save_training(ck, &model, &data.vocab, &trainer.opt, &st, &recipe)?;
    }
    Ok(rep)
}
