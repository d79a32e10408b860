//! What a training run writes: the JSON-lines log, samples, checkpoints, the progress bar, and
//! the numbers its lines carry (FLOPs per token, the device's peak, per-layer gradient norms).
//! Everything a run leaves on disk or on the terminal goes through here.

use super::resume::{rng_json, State};
use crate::checkpoint::{self, TensorMap};
use crate::config::GptConfig;
use crate::model::Gpt;
use crate::sample::{generate, Sampling};
use crate::vocab::Vocab;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;
use tfs_math::Rng;
use tfs_tensor::log::JsonLog;
use tfs_tensor::nn::Module;
use tfs_tensor::optim::AdamW;
use tfs_tensor::{no_grad, Grads, Tensor};

/// 200 tokens after a newline at temperature 1, in evaluation mode.
pub(super) fn sample(model: &mut Gpt, vocab: &Vocab, rng: &mut Rng) -> String {
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
pub(super) fn grad_norms_by_layer(
    params: &[(String, Tensor)],
    grads: &Grads,
    n_layer: usize,
) -> Vec<f64> {
    let mut sq = vec![0.0f64; n_layer];
    for (name, p) in params {
        let Some(rest) = name.strip_prefix("transformer.h.") else {
            continue;
        };
        let Some(i) = rest.split('.').next().and_then(|i| i.parse::<usize>().ok()) else {
            continue;
        };
        if let (Some(g), true) = (grads.get(p), i < n_layer) {
            sq[i] += tfs_tensor::backend::sum_squares(g.view().src());
        }
    }
    sq.into_iter().map(f64::sqrt).collect()
}

pub(super) fn save_training(
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

pub(super) fn append_sample(out: Option<&Path>, step: usize, text: &str) -> Result<(), String> {
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
pub(super) fn last_good(last_saved: Option<usize>, ck_dir: &Option<std::path::PathBuf>) -> String {
    match (last_saved, ck_dir) {
        (Some(s), Some(d)) => format!(
            " (the last good checkpoint, step {s}, is in {})",
            d.display()
        ),
        _ => " before any checkpoint was written".into(),
    }
}

/// The log of a run in `out` (None without one): created, or when resuming at `start > 0`
/// trimmed to the steps before it and appended to (samples likewise).
pub(super) fn open_log(out: Option<&Path>, start: usize) -> Result<Option<JsonLog>, String> {
    let Some(dir) = out else { return Ok(None) };
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (lp, sp) = (dir.join("log.jsonl"), dir.join("samples.txt"));
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    Ok(Some(if start > 0 {
        super::resume::truncate_log(&lp, start).map_err(|e| io(&lp, e))?;
        super::resume::truncate_samples(&sp, start).map_err(|e| io(&sp, e))?;
        JsonLog::append(&lp).map_err(|e| io(&lp, e))?
    } else {
        let _ = std::fs::remove_file(&sp);
        JsonLog::create(&lp).map_err(|e| io(&lp, e))?
    }))
}

/// The progress bar of a run of `len` steps from `start` (hidden unless `show`).
pub(super) fn progress(show: bool, len: usize, start: usize) -> ProgressBar {
    let pb = if show {
        ProgressBar::new(len as u64)
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
    pb
}

/// One step's line of the log.
pub(super) struct StepLine<'a> {
    pub loss: f64,
    pub lr: f32,
    pub grad_norm: f32,
    pub tokens_per_s: f64,
    pub mfu: f64,
    /// (train estimate, validation loss) at an evaluation.
    pub eval: Option<(f64, f64)>,
    pub layer_norms: &'a [f64],
}

/// Writes step `it`'s line (a failed write is not worth stopping a run for).
pub(super) fn log_step(log: &mut JsonLog, it: usize, s: &StepLine) {
    let mut fields: Vec<(String, f64)> = vec![
        ("loss".into(), s.loss),
        ("lr".into(), s.lr as f64),
        ("grad_norm".into(), s.grad_norm as f64),
        ("tokens_per_s".into(), s.tokens_per_s),
        ("mfu".into(), s.mfu),
    ];
    if let Some((tr, va)) = s.eval {
        fields.push(("train_estimate".into(), tr));
        fields.push(("val_loss".into(), va));
        fields.push(("val_perplexity".into(), va.exp()));
    }
    for (i, n) in s.layer_norms.iter().enumerate() {
        fields.push((format!("grad_norm_h{i}"), *n));
    }
    let f: Vec<(&str, f64)> = fields.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let _ = log.log(it, &f);
}
