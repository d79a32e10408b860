//! The training loop of `tfs gpt train`, for Phase 7's character models and Phase 8's GPT-2.
//!
//! Three files: this one is the loop; [`resume`] reads a checkpoint's training state back (and
//! trims what an interrupted run logged after it); [`report`] writes everything a run leaves
//! (the log, samples, checkpoints, the progress bar, the MFU peak) — the one place that will
//! know which process writes when several train together.
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

pub mod dpo;
pub mod dpo_data;
mod report;
mod resume;

pub use report::{flops_per_token, fp32_peak_flops, measured_peak_flops};

use crate::checkpoint;
use crate::config::Preset;
use crate::data::{CharVocab, Cursor, Order, Split, TokenSource};
use crate::model::Gpt;
use crate::vocab::Vocab;
use std::path::Path;
use std::time::Instant;
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::optim::{groups_decay_matrices, AdamW};
use tfs_tensor::schedule::Schedule;
use tfs_tensor::train::{StepError, Trainer};
use tfs_tensor::{no_grad, Grads, ParamStore};

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

/// The tokens of a run, owned (what [`Data`] borrows): a prepared dataset or a text.
pub enum Dataset {
    /// Token shards made by `tfs gpt prepare`, read in order by default.
    Shards(crate::shards::Prepared),
    /// A text trained on by its characters, split 90/10, random windows by default.
    Text { vocab: Vocab, split: Split },
}

impl Dataset {
    /// `path` as a run's data: a folder is a prepared dataset (`tfs gpt prepare`); a file is a
    /// text, trained on by characters. Errors name the path.
    pub fn open(path: &Path, block_size: usize) -> Result<Dataset, String> {
        if path.is_dir() {
            return crate::shards::open(path)
                .map(Dataset::Shards)
                .map_err(|e| e.to_string());
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Dataset::text(&text, block_size)
    }

    /// The characters of `text`.
    pub fn text(text: &str, block_size: usize) -> Result<Dataset, String> {
        let (vocab, split) = text_data(text, block_size)?;
        Ok(Dataset::Text { vocab, split })
    }

    /// The borrowed view a run trains on.
    pub fn data(&self) -> Data<'_> {
        match self {
            Dataset::Shards(d) => Data {
                train: &d.train,
                val: &d.val,
                vocab: d.vocab.clone(),
                default_order: Order::Sequential,
            },
            Dataset::Text { vocab, split } => Data {
                train: &split.train,
                val: &split.val,
                vocab: vocab.clone(),
                default_order: Order::Random,
            },
        }
    }
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
    let recipe = resume::recipe_json(preset, order, seed, data);
    // Every parameter a window of one flat buffer (tfs_tensor::ParamStore): one call each for
    // the update, the norm and clipping.
    let (mut model, store) =
        ParamStore::build(|| Gpt::new(cfg, &mut Rng::new(seed)), |m| m.parameters());
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
        .accumulate(accum)
        .with_store(store);
    let eval_n = tc.eval_iters.max(1);
    let (train_eval, val_eval) = (
        fixed_batches(data.train, eval_n, b, t, seed ^ 0x7EA1),
        fixed_batches(data.val, eval_n, b, t, seed ^ 0x7A11),
    );
    let mut st = resume::State {
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
            st = resume::load_training(ck, &mut model, &data.vocab, &mut trainer.opt, &recipe)?;
            last_saved = Some(st.step);
        }
    }
    let start = st.step;
    let mut log = report::open_log(opts.out, start)?;
    let pb = report::progress(opts.progress, tc.max_iters, start);
    let parameters: usize = params.iter().map(|(_, p)| p.numel()).sum();
    let mut rep = TrainReport {
        parameters,
        start_step: start,
        flops_per_token: report::flops_per_token(&cfg, parameters),
        peak_flops: if opts.out.is_some() || opts.progress {
            report::fp32_peak_flops()
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
            let s = report::sample(&mut model, &data.vocab, &mut st.sample_rng);
            report::append_sample(opts.out, it, &s)?;
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
                layer_norms = report::grad_norms_by_layer(&params, g, cfg.n_layer);
            }
        };
        let stats = match trainer.step_with(&params, lr, micro, inspect) {
            Ok(s) => s,
            Err(e) => {
                pb.finish_and_clear();
                let saved = report::last_good(last_saved, &ck_dir);
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
            let line = report::StepLine {
                loss: l,
                lr,
                grad_norm: norm,
                tokens_per_s: tps,
                mfu,
                eval,
                layer_norms: &layer_norms,
            };
            report::log_step(log, it, &line);
        }
        if let Some(ck) = ck_dir.as_deref() {
            if tc.checkpoint_every > 0 && st.step.is_multiple_of(tc.checkpoint_every) && !last {
                report::save_training(ck, &model, &data.vocab, &trainer.opt, &st, &recipe)?;
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
        let s = report::sample(&mut model, &data.vocab, &mut st.sample_rng);
        report::append_sample(opts.out, tc.max_iters, &s)?;
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
        report::save_training(ck, &model, &data.vocab, &trainer.opt, &st, &recipe)?;
    }
    Ok(rep)
}
