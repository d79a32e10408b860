//! `p8-gpt2-124m`: GPT-2 Small (12 layers, 12 heads, 768 wide, vocabulary 50257, 124M
//! parameters) trained for a few steps on this machine — at batch 4 × context 256, and once at
//! the full context 1024: tokens/s, MFU, where the memory goes, and what a real run would take.
//!
//! ```text
//!   memory (fp32 AdamW):  weights 4N + gradients 4N + moments 8N bytes = 16N
//!                         + activations kept for the backward pass, ∝ B·T·L·C, + B·H·T² per
//!                           layer for the attention probabilities our fused kernel saves
//!   FLOPs per token       6N + 6·L·T·C                     (see tfs_gpt::train)
//!   MFU                   tokens/s · FLOPs per token / measured fp32 peak (FMA units flat out;
//!                         also given against our best GEMM rate)
//!   Chinchilla yardstick  20 tokens per parameter: 124M → 2.5B tokens
//! ```
//!
//! The data is Tiny Shakespeare's GPT-2 tokens (338k). The projection to a GPU is arithmetic, not
//! a measurement: the chip's published dense bf16 peak times an assumed MFU, stated in the table.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use std::time::Instant;
use tfs_gpt::data::{Order, Split};
use tfs_gpt::train::{flops_per_token, fp32_peak_flops, measured_peak_flops, Data, RunOptions};
use tfs_gpt::{Gpt, Preset, Vocab};
use tfs_math::Rng;
use tfs_tensor::memory;
use tfs_tensor::nn::Module;

pub(crate) const DESCRIPTION: &str =
    "GPT-2 124M on 2 cores: tokens/s, MFU, the memory budget measured, and what 2.5-10B tokens would take";

use tfs_bench::gpt::peak_rss_mb;

/// One training step's memory by phase (bytes counted by tfs-tensor).
struct StepMemory {
    params: usize,
    after_forward: usize,
    peak: usize,
    grads: usize,
    seconds: f64,
}

fn step_memory(p: &Preset, ids: &[usize], b: usize, t: usize, seed: u64) -> StepMemory {
    let mut cfg = p.model;
    cfg.block_size = t;
    let before = memory::allocated();
    let model = Gpt::new(cfg, &mut Rng::new(seed));
    let params = memory::allocated() - before;
    let mut rng = Rng::new(seed + 1);
    let (x, y) = tfs_gpt::data::batch(ids, b, t, &mut rng);
    memory::reset_peak();
    let t0 = Instant::now();
    let loss = model.loss(&x, &y, b, t);
    let after_forward = memory::allocated() - before;
    let grads = loss.backward();
    drop(loss);
    let seconds = t0.elapsed().as_secs_f64();
    let g: usize = model
        .parameters()
        .iter()
        .filter_map(|(_, p)| grads.get(p).map(|g| g.numel() * 4))
        .sum();
    StepMemory {
        params,
        after_forward,
        peak: memory::peak() - before,
        grads: g,
        seconds,
    }
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let tok = tfs_gpt::vocab::gpt2().map_err(|m| ctx.fail(m))?;
    let vocab = Vocab::Gpt2(tok);
    let mut p = Preset::get("gpt2-124m").expect("preset");
    if ctx.quick {
        p.quick(); // the context is set below, quick or not
    }
    let (b, t) = (4, 256);
    let steps = ctx.size(8, 2);
    let ids = vocab.encode(&text).map_err(|m| ctx.fail(m))?;
    let n_tokens = ids.len();
    p.model.block_size = t;
    p.train.batch_size = b;
    p.train.grad_accum = 1;
    p.train.max_iters = steps;
    p.train.lr_decay_iters = steps;
    p.train.warmup = 2;
    p.train.eval_iters = 1;
    p.train.sample_interval = 0;
    let split = Split::new(ids.clone(), t).map_err(|m| ctx.fail(m))?;
    let data = Data {
        train: &split.train,
        val: &split.val,
        vocab: vocab.clone(),
        default_order: Order::Sequential,
    };
    let pb = ctx.progress(3, "training steps, then memory at T=256 and T=1024");
    let peak_flops = measured_peak_flops();
    let fma_peak = fp32_peak_flops();
    let r = tfs_gpt::train::run(&data, &p, ctx.seed, &RunOptions::default()).map_err(|m| ctx.fail(m))?;
    pb.inc(1);
    let timed = &r.step_seconds[1.min(r.step_seconds.len() - 1)..];
    let tps = (timed.len() * b * t) as f64 / timed.iter().sum::<f64>();
    let fpt = flops_per_token(&p.model, r.parameters);
    let mfu = tps * fpt / peak_flops;
    let n = r.parameters;
    let m256 = step_memory(&p, &split.train, b, t, ctx.seed);
    pb.inc(1);
    // The full context once: 4 windows of 1024 tokens.
    let t_full = ctx.size(1024, 64);
    let mut p_full = p.clone();
    p_full.model.block_size = t_full;
    let m1024 = step_memory(&p_full, &split.train, b, t_full, ctx.seed);
    pb.finish_and_clear();
    let mb = |x: usize| x as f64 / 1e6;
    let opt_bytes = 8 * n;
    let rows = |m: &StepMemory, tt: usize| {
        let act = m.after_forward - m.params;
        // This model's own parameter count (the position table grows with T).
        let n = m.params / 4;
        let opt_bytes = 8 * n;
        vec![
            vec![format!("T = {tt}: weights"), format!("{:.0}", mb(m.params)), format!("{:.0}", mb(4 * n))],
            vec![format!("T = {tt}: gradients"), format!("{:.0}", mb(m.grads)), format!("{:.0}", mb(4 * n))],
            vec![format!("T = {tt}: AdamW moments"), format!("{:.0}", mb(opt_bytes)), format!("{:.0}", mb(8 * n))],
            vec![
                format!("T = {tt}: activations kept by the forward pass"),
                format!("{:.0}", mb(act)),
                format!("{:.0}", mb(activation_estimate(&p.model, b, tt))),
            ],
            vec![
                format!("T = {tt}: peak of tensors during the step (+ moments)"),
                format!("{:.0}", mb(m.peak + opt_bytes)),
                format!("{:.0}", mb(16 * n + activation_estimate(&p.model, b, tt) + 4 * b * tt * p.model.vocab_size)),
            ],
        ]
    };
    // Buffers ops keep beside their input tensors (plain vectors, not counted by tfs-tensor):
    // attention probabilities, ∂L/∂logits from the fused cross-entropy, dropout masks.
    let side = |tt: usize| {
        let c = &p.model;
        4 * (c.n_layer * b * c.n_head * tt * tt + b * tt * c.vocab_size + (2 * c.n_layer + 1) * b * tt * c.n_embd)
    };
    let per_layer = |m: &StepMemory, tt: usize| {
        let c = &p.model;
        (m.after_forward - m.params) as f64 / 4.0 - (b * tt * c.vocab_size) as f64
    } / (b * tt * p.model.n_embd * p.model.n_layer) as f64;
    let mut mem_rows = rows(&m256, t);
    mem_rows.push(vec![format!("T = {t}: kept beside the tensors (sizes by formula)"), format!("{:.0}", mb(side(t))), "—".into()]);
    mem_rows.extend(rows(&m1024, t_full));
    mem_rows.push(vec![format!("T = {t_full}: kept beside the tensors (sizes by formula)"), format!("{:.0}", mb(side(t_full))), "—".into()]);
    ctx.md(&format!(
        "GPT-2 Small with a {t}-position table ({n} parameters; 124,439,808 with GPT-2's 1024 positions), fp32, on Tiny Shakespeare's {n_tokens} GPT-2 tokens. {steps} steps at batch {b} × context {t} \
         (dropout 0.1, AdamW, clipping): **{tps:.0} tokens/s** over the steps after the first, {:.2} s per step; {:.2} GFLOP per token; \
         **MFU {:.1}%** of the measured fp32 peak ({:.0} GFLOP/s: the FMA units flat out), and {:.1}% of our best GEMM rate \
         ({:.0} GFLOP/s for 1024³). Final training-batch loss {:.3} (from ln 50257 = 10.82).",
        timed.iter().sum::<f64>() / timed.len() as f64,
        fpt / 1e9,
        100.0 * tps * fpt / fma_peak,
        fma_peak / 1e9,
        100.0 * mfu,
        peak_flops / 1e9,
        r.losses.last().copied().unwrap_or(f64::NAN)
    ));
    ctx.md(&format!(
        "Memory, measured by tfs-tensor's allocation counter (the AdamW moments are plain vectors of 2 × {n} floats), beside the \
         usual estimate: 16 bytes per parameter for fp32 AdamW training, plus activations estimated as 16·B·T·C floats per \
         layer (what a pre-norm block keeps for its backward: the two layer norms' inputs and outputs 4C, q/k/v 3C, the \
         attention output C, the MLP's hidden layer before and after GELU 8C; not counted: dropout masks and per-row \
         statistics) plus the logits (B·T·V); the peak adds the logits' gradient (B·T·V) made at the start of the backward \
         pass. Peak resident memory of the \
         whole experiment (the T = {t_full} step included): **{:.0} MB**. One forward+backward took {:.1} s at T = {t} and {:.1} s at T = {t_full}.",
        peak_rss_mb(),
        m256.seconds,
        m1024.seconds
    ));
    let fpt_full = flops_per_token(&p_full.model, n);
    let tps_full = (b * t_full) as f64 / m1024.seconds;
    ctx.md(&format!(
        "At the full context ({b} × {t_full} tokens) one forward and backward pass (no optimizer step) takes {:.1} s: {tps_full:.0} tokens/s, \
         {:.2} GFLOP per token, MFU {:.1}% of the fp32 peak — lower than at {t}, most likely because of the attention (not profiled here): its \
         work and the T×T probabilities it writes and reads grow with T, and it runs far below the GEMM's rate.",
        m1024.seconds,
        fpt_full / 1e9,
        100.0 * tps_full * fpt_full / fma_peak
    ));
    ctx.table(&["what", "measured (MB)", "estimate (MB)"], &mem_rows);
    ctx.md(&format!(
        "The activation tensors are {:.1}·B·T·C floats per layer beside the logits, against the 16 of the estimate: every op of \
         the framework keeps its input tensors alive until the backward pass reaches it, also those its backward never reads (the \
         residual sums, dropout's input, the head-layout copies of q, k and v). Beside them, not in the tensor count, the ops keep \
         the attention probabilities (B·H·T² floats per layer — quadratic in the context: the flash-style attention of Phase 9 \
         removes them), ∂L/∂logits from the fused cross-entropy (B·T·V) and dropout's masks; the \"kept beside\" rows give their \
         sizes by formula, and the peak resident memory above includes them. Freeing what no backward reads, and recomputing \
         activations, are the levers left; at T = {t} the 16N of weights, gradients and moments is the larger part anyway.",
        per_layer(&m256, t)
    ));
    // Projection from the measured rate.
    let chin = 20.0 * n as f64;
    let days = |tokens: f64, rate: f64| tokens / rate / 86400.0;
    let gpus = [("NVIDIA A100 (bf16 dense 312 TFLOP/s)", 312e12), ("NVIDIA H100 SXM (bf16 dense 989 TFLOP/s)", 989e12)];
    let assumed_mfu = 0.4;
    let mut proj = vec![vec![
        "this machine, fp32 (measured)".to_string(),
        format!("{tps:.0}"),
        format!("{:.0}", days(chin, tps)),
        format!("{:.0}", days(2e9, tps)),
        format!("{:.0}", days(10e9, tps)),
    ]];
    for (name, peak) in gpus {
        let rate = peak * assumed_mfu / fpt;
        proj.push(vec![
            format!("{name} at {:.0}% MFU (assumed)", 100.0 * assumed_mfu),
            format!("{rate:.0}"),
            format!("{:.2}", days(chin, rate)),
            format!("{:.2}", days(2e9, rate)),
            format!("{:.2}", days(10e9, rate)),
        ]);
    }
    ctx.md(&format!(
        "What a real run would take at these rates (context {t}; Chinchilla's 20 tokens per parameter is {:.1}B tokens):",
        chin / 1e9
    ));
    ctx.table(&["where", "tokens/s", "days for 20 tokens/param", "days for 2B tokens", "days for 10B tokens"], &proj);
    LineChart::new("GPT-2 124M: seconds per training step (B = 4, T = 256)", "step", "seconds")
        .legend(LegendPosition::UpperRight)
        .series(Series::new("forward + backward + AdamW", r.step_seconds.iter().enumerate().map(|(i, s)| ((i + 1) as f64, *s)).collect()).with_markers())
        .draw(&ctx.figure("step_seconds.svg"))?;
    ctx.set("setup", json!({"model": p.model.to_json(), "parameters": n, "batch": b, "ctx": t, "steps": steps, "tokens": n_tokens,
        "threads": tfs_math::threads(), "full_ctx": t_full}));
    ctx.set("result", json!({
        "tokens_per_s": tps, "step_seconds": r.step_seconds, "flops_per_token": fpt, "fp32_peak_flops": fma_peak, "mfu": tps * fpt / fma_peak,
        "gemm_1024_flops": peak_flops, "mfu_vs_gemm": mfu,
        "losses": r.losses, "peak_rss_mb": peak_rss_mb(),
        "memory_t256": {"params": m256.params, "grads": m256.grads, "adam": opt_bytes, "after_forward": m256.after_forward, "peak": m256.peak, "seconds": m256.seconds},
        "full_ctx_tokens_per_s": (b * t_full) as f64 / m1024.seconds,
        "memory_full": {"params": m1024.params, "grads": m1024.grads, "adam": opt_bytes, "after_forward": m1024.after_forward, "peak": m1024.peak, "seconds": m1024.seconds},
    }));
    Ok(())
}

/// Activation bytes kept for the backward pass: 16·B·T·C floats per layer plus the logits.
fn activation_estimate(c: &tfs_gpt::GptConfig, b: usize, t: usize) -> usize {
    4 * (16 * b * t * c.n_embd * c.n_layer + b * t * c.vocab_size)
}

