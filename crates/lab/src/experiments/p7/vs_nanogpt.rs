//! `p7-vs-nanogpt`: our GPT beside nanoGPT — the choices each makes (nanoGPT's from its public
//! `model.py`, `train.py`, `config/train_shakespeare_char.py` and README), and nanoGPT's CPU
//! "baby" Shakespeare run trained here twice in one session: by tfs-gpt, and by the same model and
//! recipe in PyTorch (`bench/peers/torch_gpt.py`, written after nanoGPT's model). nanoGPT itself
//! is not run: it is not installable from a package registry, and the peer script is the same
//! computation in the same framework.
//!
//! The peer runs only when `python3` can import torch; otherwise the summary says so.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::{json, Value};
use tfs_gpt::Preset;

pub(crate) const DESCRIPTION: &str =
    "our GPT beside nanoGPT: the choices of each, and the baby run side by side with PyTorch";

/// (choice, nanoGPT, ours, what it changes).
const CHOICES: [[&str; 4]; 16] = [
    ["architecture", "decoder-only, pre-norm, learned positions, tied output layer", "the same", "—"],
    ["biases in linear layers and layer norms", "`bias=True` in `GPTConfig`, but `train.py` sets `bias = False` (\"a bit better and faster\"), so its Shakespeare runs train without biases", "`bias: true` (GPT-2's) in every preset; `--set bias=false` gives nanoGPT's", "ours and the PyTorch peer below keep the biases (11C per layer + C: 0.7% more parameters for baby)"],
    ["activation", "`nn.GELU()` (exact, erf)", "GELU tanh form (GPT-2's `gelu_new`)", "differ by at most 4.7·10⁻⁴; the tanh form is what GPT-2's weights were trained with"],
    ["attention kernel", "`F.scaled_dot_product_attention(is_causal=True)` (flash on GPU)", "our fused causal sdpa (tfs-tensor), heads spread over the threads", "both avoid a materialised mask"],
    ["dropout", "on embeddings, attention probabilities and both residual branches", "on embeddings and both residual branches; none on attention probabilities", "baby uses 0, so no difference here"],
    ["init", "N(0, 0.02); residual projections N(0, 0.02/√(2L)); zero biases", "the same", "—"],
    ["vocabulary (GPT-2)", "padded to 50304 (a multiple of 64) for GPU speed", "50257 exactly", "padding pays on GPUs"],
    ["optimizer", "AdamW, decay 0.1 on ≥2-D tensors only; fused kernel on CUDA only", "AdamW, decay on matrices only; our fused AVX-512 kernel on CPU", "same update"],
    ["schedule", "linear warmup `lr·(it+1)/(warmup+1)`, cosine to `min_lr`", "linear warmup `lr·(it+1)/warmup`, cosine to `min_lr`", "a step's difference in the warmup"],
    ["gradient clipping", "1.0", "1.0", "—"],
    ["`torch.compile`", "on by default; the README's CPU run turns it off", "no graph compiler: kernels fused by hand", "—"],
    ["precision", "bf16/fp16 autocast on GPU; fp32 on CPU", "fp32", "same on CPU"],
    ["data", "`uint16` memmap, random windows", "random windows of ids (char text) or memory-mapped u16 shards (Phase 8)", "—"],
    ["loss estimates", "`eval_iters` fresh random batches per estimate", "`eval_iters` batches drawn once from a fixed seed", "ours compares evaluations without sampling noise"],
    ["baby run (README)", "block 64, batch 12, 4/4/128, 2000 iterations, eval_iters 20, dropout 0; val ≈ 1.88 in about 3 minutes on the author's CPU", "preset `baby`: the same sizes and recipe, with biases", "the row measured below"],
    ["shakespeare-char", "6/6/384, block 256, batch 64, dropout 0.2, 5000 iterations; val 1.4697 on one A100 in ≈ 3 min", "preset `shakespeare-char`: the same", "too slow for 2 cores (see `tfs bench gpt`)"],
];

fn peer(ctx: &Ctx, iters: usize) -> Option<Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/peers/torch_gpt.py");
    let data = ctx.data_dir.to_string_lossy().to_string();
    let out = std::process::Command::new("python3")
        .args([script, "--preset", "baby", "--iters", &iters.to_string(), "--history", "--data-dir", &data])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(out.stdout.trim_ascii()).ok()
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let mut p = Preset::get("baby").expect("preset");
    let iters = ctx.size(2000, 6);
    p.train.max_iters = iters;
    p.train.lr_decay_iters = iters;
    p.train.sample_interval = 0;
    if ctx.quick {
        p.quick();
        p.train.eval_iters = 1;
        p.train.eval_interval = 3;
    }
    let pb = ctx.progress(2, "ours, then PyTorch");
    let r = tfs_gpt::train::train(&text, &p, ctx.seed, None, false).map_err(|m| ctx.fail(m))?;
    pb.inc(1);
    let torch = if ctx.quick { None } else { peer(ctx, iters) };
    pb.finish_and_clear();
    let rows: Vec<Vec<String>> = CHOICES.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect();
    ctx.md("nanoGPT's side is read from its public code and README (model.py, train.py, config/train_shakespeare_char.py); ours from tfs-gpt.");
    ctx.table(&["choice", "nanoGPT", "ours", "what it changes"], &rows);
    let ours_curve: Vec<(f64, f64)> = r.eval_wall.iter().zip(&r.evals).map(|(s, e)| (*s, e.2)).collect();
    let mut chart = LineChart::new("baby GPT: validation loss against wall-clock time (2 cores)", "seconds", "validation cross-entropy (nats per character)")
        .legend(LegendPosition::UpperRight)
        .series(Series::new("ours (tfs-gpt)", ours_curve).with_markers());
    let mut side = vec![vec![
        "ours (tfs-gpt)".to_string(),
        format!("{:.1}", r.wall_seconds),
        format!("{:.0}", r.tokens_per_s),
        format!("{:.3}", r.train_loss),
        format!("{:.3}", r.val_loss),
    ]];
    let mut result = json!({"ours": {"wall_seconds": r.wall_seconds, "tokens_per_s": r.tokens_per_s, "train_loss": r.train_loss, "val_loss": r.val_loss,
        "evals": r.evals.iter().zip(&r.eval_wall).map(|(e, s)| json!([e.0, s, e.1, e.2])).collect::<Vec<_>>()}});
    match &torch {
        Some(t) => {
            let f = |k: &str| t[k].as_f64().unwrap_or(f64::NAN);
            let curve: Vec<(f64, f64)> = t["evals"]
                .as_array()
                .map(|a| a.iter().filter_map(|e| Some((e[1].as_f64()?, e[3].as_f64()?))).collect())
                .unwrap_or_default();
            chart = chart.series(Series::new(format!("PyTorch ({})", t["impl"].as_str().unwrap_or("?")), curve).dashed().with_markers());
            side.push(vec![
                t["impl"].as_str().unwrap_or("pytorch").to_string(),
                format!("{:.1}", f("wall_seconds")),
                format!("{:.0}", f("tokens_per_s")),
                format!("{:.3}", f("train_loss")),
                format!("{:.3}", f("val_loss")),
            ]);
            result["pytorch"] = t.clone();
            result["wall_ratio_ours_over_pytorch"] = json!(r.wall_seconds / f("wall_seconds"));
        }
        None => result["pytorch"] = Value::Null,
    }
    chart.draw(&ctx.figure("val_vs_seconds.svg"))?;
    ctx.set("setup", json!({"preset": "baby", "iterations": iters, "model": p.model.to_json(), "batch": p.train.batch_size, "eval_iters": p.train.eval_iters}));
    ctx.set("result", result);
    ctx.md(&format!(
        "The baby run ({iters} iterations, evaluations every {} steps over {} fixed batches, inside the timed wall clock), run one after the other in this session:",
        p.train.eval_interval, p.train.eval_iters
    ));
    ctx.table(&["implementation", "wall seconds", "characters/s", "train loss", "validation loss"], &side);
    match &torch {
        Some(t) => ctx.md(&format!(
            "Ours takes {:.2}× PyTorch's wall time for the same recipe (the roadmap's target is 0.40×). nanoGPT's README reports a validation loss of about 1.88 for this run.",
            r.wall_seconds / t["wall_seconds"].as_f64().unwrap_or(f64::NAN)
        )),
        None => ctx.md("PyTorch was not run (python3 with torch was not found, or this is the quick run)."),
    }
    Ok(())
}
