//! Training a character-level GPT: the loop of `tfs gpt train`.
//!
//! ```text
//!   for it in 0..max_iters:
//!       η ← warmup + cosine(it)                  AdamW, decay on matrices only
//!       (x, y) ← B random windows of T + 1 characters from the training split
//!       L ← mean CE(model(x), y);  g ← ∇L;  clip ‖g‖ to 1;  step
//!       every eval_interval: mean loss over fixed, seeded train and validation batches
//!       every sample_interval (and after the last step): a sample written to samples.txt
//! ```
//!
//! Reported losses are what nanoGPT's `estimate_loss` reports: the mean cross-entropy (nats)
//! over `eval_iters` batches drawn once from a fixed seed, in evaluation mode. The final model is
//! saved as a checkpoint directory; `log.jsonl` holds one line per step.

use crate::checkpoint;
use crate::config::Preset;
use crate::data::{batch, CharVocab, Split};
use crate::model::Gpt;
use crate::sample::{generate, Sampling};
use crate::vocab::Vocab;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Instant;
use tfs_math::Rng;
use tfs_tensor::log::JsonLog;
use tfs_tensor::nn::Module;
use tfs_tensor::no_grad;
use tfs_tensor::optim::{clip_grad_norm, groups_decay_matrices, AdamW, Optimizer};
use tfs_tensor::schedule::Schedule;

/// What a run produced.
#[derive(Clone, Debug, Default)]
pub struct TrainReport {
    pub iterations: usize,
    pub wall_seconds: f64,
    pub tokens_per_s: f64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub parameters: usize,
    /// Training loss of every step.
    pub losses: Vec<f64>,
    /// (step, train estimate, validation estimate) at every evaluation.
    pub evals: Vec<(usize, f64, f64)>,
    /// (step, text) of every sample taken.
    pub samples: Vec<(usize, String)>,
}

/// Fixed batches for loss estimates.
fn fixed_batches(
    ids: &[usize],
    n: usize,
    b: usize,
    t: usize,
    seed: u64,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| batch(ids, b, t, &mut rng)).collect()
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

/// 200 characters after a newline at temperature 1, in evaluation mode.
fn sample(model: &mut Gpt, vocab: &Vocab, rng: &mut Rng) -> String {
    let prompt = vocab.encode("\n").unwrap_or_else(|_| vec![0]);
    model.set_training(false);
    let s = vocab.decode(&generate(model, &prompt, 200, &Sampling::default(), rng));
    model.set_training(true);
    s
}

/// Trains `preset` on `text` from `seed`. With `out`, writes `log.jsonl`, `samples.txt` and the
/// checkpoint `out/checkpoint/`. `progress` shows a bar on stderr.
pub fn train(
    text: &str,
    preset: &Preset,
    seed: u64,
    out: Option<&Path>,
    progress: bool,
) -> Result<TrainReport, String> {
    let vocab = Vocab::Char(CharVocab::from_text(text));
    let mut cfg = preset.model;
    cfg.vocab_size = vocab.len();
    let tc = &preset.train;
    let (b, t) = (tc.batch_size, cfg.block_size);
    let ids = vocab
        .encode(text)
        .expect("every character is in its own vocabulary");
    let split = Split::new(ids, t)?;
    let mut model = Gpt::new(cfg, &mut Rng::new(seed));
    let params = model.parameters();
    let mut opt = AdamW::new(tc.lr, &groups_decay_matrices(&params, tc.weight_decay))
        .betas(tc.beta1, tc.beta2);
    let sched = Schedule::WarmupCosine {
        lr: tc.lr,
        min_lr: tc.min_lr,
        warmup: tc.warmup,
        total: tc.lr_decay_iters,
    };
    let eval_n = tc.eval_iters.max(1);
    let (train_eval, val_eval) = (
        fixed_batches(&split.train, eval_n, b, t, seed ^ 0x7EA1),
        fixed_batches(&split.val, eval_n, b, t, seed ^ 0x7A11),
    );
    let mut log = match out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            Some(
                JsonLog::create(&dir.join("log.jsonl"))
                    .map_err(|e| format!("{}: {e}", dir.join("log.jsonl").display()))?,
            )
        }
        None => None,
    };
    let pb = if progress {
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
    let mut rng = Rng::new(seed.wrapping_add(1));
    let mut sample_rng = Rng::new(seed.wrapping_add(2));
    let mut rep = TrainReport {
        parameters: params.iter().map(|(_, p)| p.numel()).sum(),
        ..TrainReport::default()
    };
    let t0 = Instant::now();
    for it in 0..tc.max_iters {
        if tc.sample_interval > 0 && it % tc.sample_interval == 0 {
            rep.samples
                .push((it, sample(&mut model, &vocab, &mut sample_rng)));
        }
        opt.set_lr(sched.at(it));
        let (x, y) = batch(&split.train, b, t, &mut rng);
        let loss = model.loss(&x, &y, b, t);
        let l = loss.item() as f64;
        if !l.is_finite() {
            return Err(format!(
                "the loss became {l} at iteration {it}; nothing was saved"
            ));
        }
        let grads = loss.backward();
        drop(loss);
        let norm = clip_grad_norm(&params, &grads, tc.grad_clip);
        opt.step(&params, &grads);
        rep.losses.push(l);
        let secs = t0.elapsed().as_secs_f64();
        let tps = ((it + 1) * b * t) as f64 / secs;
        if let Some(log) = log.as_mut() {
            let _ = log.log(
                it,
                &[
                    ("loss", l),
                    ("lr", sched.at(it) as f64),
                    ("grad_norm", norm as f64),
                    ("tokens_per_s", tps),
                ],
            );
        }
        let last = it + 1 == tc.max_iters;
        if (tc.eval_interval > 0 && (it + 1) % tc.eval_interval == 0) || last {
            let (tr, va) = (
                estimate(&mut model, &train_eval, b, t),
                estimate(&mut model, &val_eval, b, t),
            );
            rep.evals.push((it + 1, tr, va));
            pb.println(format!(
                "iter {:>6}: train loss {tr:.4}, val loss {va:.4}",
                it + 1
            ));
        }
        pb.set_message(format!("loss {l:.4}, {tps:.0} tok/s"));
        pb.inc(1);
    }
    pb.finish_and_clear();
    if tc.sample_interval > 0 {
        rep.samples
            .push((tc.max_iters, sample(&mut model, &vocab, &mut sample_rng)));
    }
    rep.iterations = tc.max_iters;
    rep.wall_seconds = t0.elapsed().as_secs_f64();
    rep.tokens_per_s = (tc.max_iters * b * t) as f64 / rep.wall_seconds.max(1e-9);
    let (tr, va) = rep
        .evals
        .last()
        .map_or((f64::NAN, f64::NAN), |e| (e.1, e.2));
    rep.train_loss = tr;
    rep.val_loss = va;
    if let Some(dir) = out {
        let text: String = rep
            .samples
            .iter()
            .map(|(s, txt)| format!("=== iteration {s} ===\n{txt}\n\n"))
            .collect();
        std::fs::write(dir.join("samples.txt"), text)
            .map_err(|e| format!("{}: {e}", dir.join("samples.txt").display()))?;
        checkpoint::save(&dir.join("checkpoint"), &model, &vocab).map_err(|e| e.to_string())?;
    }
    Ok(rep)
}
