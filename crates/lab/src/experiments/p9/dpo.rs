//! `p9-dpo`: simplified DPO (Rafailov et al., 2023) on the `baby` GPT with a preference anyone
//! can check: **a completion with fewer letters 'e' (either case) is better**.
//!
//! 1. The SFT stand-in: `baby` trained on Tiny Shakespeare's characters (1000 steps).
//! 2. Pairs: prompts are random 16-character windows of the training split (held-out prompts: of
//!    the validation split). The SFT model samples 4 completions of 48 characters per prompt at
//!    temperature 1; the one with the fewest e's is `chosen`, the one with the most `rejected`
//!    (prompts whose 4 completions tie give no pair).
//! 3. DPO (`tfs_gpt::dpo::train`) from the SFT weights against a frozen copy of them, β = 0.1,
//!    AdamW at a constant learning rate, 16 pairs per step for 120 steps (5 passes over the
//!    pairs), at three learning rates: 3e-6, 1e-5 (the main one) and 1e-4 (the tuning, shown
//!    rather than hidden). Every 10 steps: held-out preference accuracy, implicit reward
//!    margin, and the exact KL(π‖π_ref) per character over the held-out pairs' completion
//!    positions.
//! 4. The rule's rate on fresh samples: 2 completions per held-out prompt from the same seed,
//!    before (SFT) and after DPO: e's per 100 characters; and what it cost: the validation loss on
//!    Tiny Shakespeare, and the KL measured along the policy's own samples.

use crate::figures::labelled_scatter;
use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use std::time::Instant;
use tfs_gpt::dpo::{self, e_score, sample_completions, DpoConfig, DpoData, KlProbe};
use tfs_gpt::dpo_data::PairSetup;
use tfs_gpt::sample::Sampling;
use tfs_gpt::{Gpt, Preset};
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::no_grad;

pub(crate) const DESCRIPTION: &str =
    "simplified DPO on the baby GPT (prefer fewer 'e's): held-out preference accuracy, reward margin and KL to the reference vs step; the rule's rate before and after";

/// e's per 100 characters of `texts`.
fn e_rate(texts: &[String]) -> f64 {
    let n: usize = texts.iter().map(|t| t.chars().count()).sum();
    let e: f64 = texts.iter().map(|t| -e_score(t)).sum();
    100.0 * e / n.max(1) as f64
}

/// Mean next-character loss over fixed windows of `ids` (the cost of DPO to language modelling).
fn text_loss(m: &Gpt, ids: &[usize], batches: usize, seed: u64) -> f64 {
    let (b, t) = (8, m.cfg.block_size);
    let mut rng = Rng::new(seed);
    no_grad(|| {
        (0..batches).map(|_| {
            let (x, y) = tfs_gpt::data::batch(ids, b, t, &mut rng);
            m.loss(&x, &y, b, t).item() as f64
        }).sum::<f64>() / batches as f64
    })
}

fn load(ctx: &Ctx, dir: &std::path::Path) -> Result<(Gpt, tfs_gpt::Vocab), LabError> {
    let (mut m, v) = tfs_gpt::checkpoint::load(dir).map_err(|e| ctx.fail(e))?;
    m.set_training(false);
    Ok((m, v))
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let text = ctx.tiny_shakespeare()?;
    let mut p = Preset::get("baby").expect("preset");
    let iters = ctx.size(1000, 4);
    p.train.max_iters = iters;
    p.train.lr_decay_iters = iters;
    p.train.sample_interval = 0;
    p.train.eval_iters = ctx.size(20, 1);
    if ctx.quick {
        p.quick();
    }
    let (prompt_len, n_new, k) = ctx.size((16, 48, 4), (4, 8, 2));
    let (n_train, n_held, n_fresh) = ctx.size((384, 64, 2), (12, 4, 1));
    let (steps, lrs) = ctx.size((120, vec![3e-6f32, 1e-5, 1e-4]), (3, vec![1e-5f32]));
    let beta = 0.1f32;

    // 1. The SFT stand-in.
    let t0 = Instant::now();
    let pb = ctx.progress(1, "SFT model (progress on the next line)");
    let run_dir = ctx.dir().join("sft");
    let sft = tfs_gpt::train::train(&text, &p, ctx.seed, Some(&run_dir), !ctx.quick).map_err(|m| ctx.fail(m))?;
    pb.finish_and_clear();
    let sft_seconds = t0.elapsed().as_secs_f64();
    let ck = run_dir.join("checkpoint");
    let (reference, vocab) = load(ctx, &ck)?;
    let (_, split) = tfs_gpt::train::text_data(&text, p.model.block_size).map_err(|m| ctx.fail(m))?;
    let decode = |ids: &[usize]| vocab.decode(ids);
    let score = |ids: &[usize]| e_score(&vocab.decode(ids));

    // 2. Pairs, from training-split prompts and (held out) validation-split prompts.
    let t1 = Instant::now();
    let pb = ctx.progress(1, "sampling preference pairs");
    let mut rng = Rng::new(ctx.seed ^ 0xD9F0);
    let setup = PairSetup { prompt_len, completion_len: n_new, samples_per_prompt: k, train_prompts: n_train, heldout_prompts: n_held };
    let prep = tfs_gpt::dpo_data::prepare(&reference, &split.train, &split.val, &setup, &score, &mut rng).map_err(|m| ctx.fail(m))?;
    let (pairs, held, held_prompts, probe) = (prep.pairs, prep.held_out, prep.heldout_prompts, prep.probe);
    let s = Sampling::default();
    pb.finish_and_clear();
    let pair_seconds = t1.elapsed().as_secs_f64();
    let mean = |xs: &mut dyn Iterator<Item = f64>| {
        let v: Vec<f64> = xs.collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let (chosen_e, rejected_e) = (
        mean(&mut pairs.iter().map(|p| -p.chosen_score)),
        mean(&mut pairs.iter().map(|p| -p.rejected_score)),
    );
    let data = DpoData { pairs: &pairs, held_out: &held, probe: &probe };

    // Fresh samples: n_fresh per held-out prompt, the same seed before and after.
    let fresh_prompts: Vec<Vec<usize>> = held_prompts.iter().flat_map(|p| std::iter::repeat_n(p.clone(), n_fresh)).collect();
    let fresh_seed = ctx.seed ^ 0xF4E5;
    let fresh = |m: &Gpt| sample_completions(m, &fresh_prompts, n_new, &s, &mut Rng::new(fresh_seed));
    let texts = |cs: &[Vec<usize>]| cs.iter().map(|c| decode(c)).collect::<Vec<String>>();
    let before = fresh(&reference);
    let before_rate = e_rate(&texts(&before));
    let own_kl = |m: &Gpt, cs: &[Vec<usize>]| {
        KlProbe::new(&reference, fresh_prompts.iter().cloned().zip(cs.iter().cloned()).collect()).kl(m)
    };
    let loss_seed = ctx.seed ^ 0x1055;
    let val_batches = ctx.size(20, 1);
    let sft_val = text_loss(&reference, &split.val, val_batches, loss_seed);
    let text_rate = e_rate(std::slice::from_ref(&text));

    // 3. DPO at each learning rate, from the same SFT weights.
    let mut arms = Vec::new();
    for &lr in &lrs {
        let (mut policy, _) = load(ctx, &ck)?;
        let cfg = DpoConfig { beta, lr, steps, batch_pairs: 16, eval_every: ctx.size(10, 1), grad_clip: 1.0, seed: ctx.seed };
        let log = ctx.dir().join(format!("log-lr{lr:e}.jsonl"));
        let rep = dpo::train(&mut policy, &reference, &data, &cfg, Some(&log), !ctx.quick).map_err(|m| ctx.fail(m))?;
        let after = fresh(&policy);
        let rate = e_rate(&texts(&after));
        let kl_own = own_kl(&policy, &after);
        let val = text_loss(&policy, &split.val, val_batches, loss_seed);
        arms.push((lr, rep, after, rate, kl_own, val));
    }
    let _ = std::fs::remove_dir_all(&run_dir);

    // Figures: held-out accuracy, margin and KL against the step, one line per learning rate.
    let series = |f: &dyn Fn(&dpo::Eval) -> f64, rep: &dpo::DpoReport| rep.evals.iter().map(|e| (e.step as f64, f(e))).collect::<Vec<_>>();
    let label = |lr: f32| format!("lr {lr:e}");
    for (file, title, yl, f) in [
        ("accuracy.svg", "held-out preference accuracy (pairs with margin > 0)", "accuracy", &(|e: &dpo::Eval| e.metrics.accuracy) as &dyn Fn(&dpo::Eval) -> f64),
        ("margin.svg", "held-out reward margin, chosen − rejected", "mean margin (nats)", &|e: &dpo::Eval| e.metrics.margin),
        ("kl.svg", "KL(π‖π_ref) per character on the held-out completions", "KL (nats per character)", &|e: &dpo::Eval| e.kl),
    ] {
        // Margin and KL span orders of magnitude across the learning rates: log axes, without
        // step 0 (exactly 0 there, since π = π_ref).
        let log = file != "accuracy.svg";
        let mut c = LineChart::new(&format!("DPO, fewer 'e's, β = {beta}: {title}"), "DPO step", yl);
        c = if log { c.log_y() } else { c }.legend(LegendPosition::LowerRight);
        for (lr, rep, ..) in &arms {
            let pts: Vec<(f64, f64)> = series(f, rep).into_iter().filter(|p| !log || p.1 > 0.0).collect();
            c = c.series(Series::new(label(*lr), pts).with_markers());
        }
        c.draw(&ctx.figure(file))?;
    }
    // The main learning rate's rewards: the chosen and rejected completions separately.
    let main = arms.iter().position(|a| a.0 == 1e-5).unwrap_or(0);
    let mr = &arms[main].1;
    LineChart::new(&format!("DPO, {}: mean implicit reward β·log(π/π_ref) on held-out pairs", label(lrs[main])), "DPO step", "reward (nats)")
        .legend(LegendPosition::UpperLeft)
        .series(Series::new("chosen (fewer e's)", series(&|e| e.metrics.reward_chosen, mr)).with_markers())
        .series(Series::new("rejected (more e's)", series(&|e| e.metrics.reward_rejected, mr)).with_markers())
        .series(Series::new("margin", series(&|e| e.metrics.margin, mr)).dashed())
        .draw(&ctx.figure("rewards.svg"))?;
    let mut pts = vec![(0.0, before_rate, "SFT (reference)".to_string())];
    pts.extend(arms.iter().map(|(lr, _, _, rate, kl, _)| (*kl, *rate, label(*lr))));
    labelled_scatter(
        &ctx.figure("rule_vs_kl.svg"),
        "fresh samples from held-out prompts: the rule's rate against the KL paid for it",
        ("KL(π‖π_ref) per character along the policy's own samples (nats)", "e's per 100 characters"),
        &pts,
    )?;

    // results.json and summary.md.
    let arm_json: Vec<_> = arms.iter().map(|(lr, rep, after, rate, kl_own, val)| {
        let last = rep.evals.last().copied().expect("an evaluation after the last step");
        json!({"lr": lr, "steps": steps, "dpo_seconds": rep.wall_seconds,
               "evals": rep.evals.iter().map(|e| json!({"step": e.step, "loss": e.metrics.loss, "accuracy": e.metrics.accuracy,
                    "margin": e.metrics.margin, "reward_chosen": e.metrics.reward_chosen, "reward_rejected": e.metrics.reward_rejected, "kl": e.kl})).collect::<Vec<_>>(),
               "final": {"heldout_accuracy": last.metrics.accuracy, "heldout_margin": last.metrics.margin, "heldout_loss": last.metrics.loss, "kl_heldout": last.kl,
                         "kl_own_samples_per_char": kl_own, "e_per_100_fresh": rate, "val_loss": val,
                         "train_batch_accuracy_last10": mean(&mut rep.steps.iter().rev().take(10).map(|m| m.accuracy))},
               "fresh_samples": texts(after)})
    }).collect();
    ctx.set("setup", json!({"sft": {"preset": "baby", "iterations": iters, "val_loss": sft.val_loss, "seconds": sft_seconds},
        "rule": "fewer letters 'e' (either case) in the completion is preferred", "prompt_chars": prompt_len, "completion_chars": n_new,
        "samples_per_prompt": k, "train_prompts": n_train, "train_pairs": pairs.len(), "heldout_prompts": n_held, "heldout_pairs": held.len(),
        "pair_seconds": pair_seconds, "beta": beta, "batch_pairs": 16, "steps": steps, "kl_positions": probe.positions(),
        "fresh_samples": fresh_prompts.len()}));
    ctx.set("before", json!({"e_per_100_fresh": before_rate, "e_per_100_training_text": text_rate, "val_loss": sft_val,
        "chosen_e_mean": chosen_e, "rejected_e_mean": rejected_e, "fresh_samples": texts(&before)}));
    ctx.set("arms", json!(arm_json));

    ctx.md(&format!(
        "**Rule:** a completion with fewer letters 'e' (either case) is preferred. The SFT stand-in is `baby` after {iters} steps \
         (validation loss {:.3}). Prompts are {prompt_len}-character windows of Tiny Shakespeare (training split for the {} training pairs, \
         validation split for the {} held-out pairs); the SFT model samples {k} completions of {n_new} characters per prompt at temperature 1, \
         the fewest-e one is chosen and the most-e one rejected ({} of {n_train} and {} of {n_held} prompts gave a pair). Chosen completions \
         have {chosen_e:.2} e's on average, rejected {rejected_e:.2}. DPO: β = {beta}, 16 pairs per step, {steps} steps of AdamW at a constant \
         learning rate (no weight decay), against a frozen copy of the SFT weights; the KL is exact (all {} characters at each of {} \
         held-out completion positions).",
        sft.val_loss, pairs.len(), held.len(), pairs.len(), held.len(), vocab.len(), probe.positions()
    ));
    let mut rows = vec![vec!["SFT (reference)".into(), "0 (ties)".into(), "0".into(), "0".into(), "0".into(),
        format!("{before_rate:.2}"), format!("{sft_val:.3}")]];
    for (lr, rep, _, rate, kl_own, val) in &arms {
        let last = rep.evals.last().expect("eval");
        rows.push(vec![format!("DPO {}", label(*lr)), format!("{:.2}", last.metrics.accuracy), format!("{:.3}", last.metrics.margin),
            format!("{:.4}", last.kl), format!("{kl_own:.4}"), format!("{rate:.2}"), format!("{val:.3}")]);
    }
    let dpo_secs: Vec<String> = arms.iter().map(|a| format!("{:.0}", a.1.wall_seconds)).collect();
    ctx.md(&format!(
        "Each DPO run: {steps} steps, {} s. Columns: preference accuracy and implicit reward margin on the held-out pairs; KL to the \
         reference per character, on the held-out completions and along the policy's own samples; e's per 100 characters of fresh samples.",
        dpo_secs.join(" / ")
    ));
    ctx.table(&["model", "accuracy", "margin (nats)", "KL held-out", "KL own samples", "e's / 100 chars", "validation loss"], &rows);
    ctx.md(&format!(
        "Fresh samples: {} completions ({n_fresh} per held-out prompt, the same seed for every model). Tiny Shakespeare itself has \
         {text_rate:.2} e's per 100 characters.",
        fresh_prompts.len()
    ));
    // The reading, from the numbers of this run.
    let (_, mrep, _, mrate, mkl_own, mval) = &arms[main];
    let (first, last) = (mrep.evals.get(1).copied().unwrap_or(mrep.evals[0]), *mrep.evals.last().expect("eval"));
    let mut reading = format!(
        "**Reading.** At {} the held-out preference accuracy is {:.2} after {} steps and {:.2} after {}, and the margin grows from \
         {:.3} to {:.3} nats while the KL to the reference on the held-out completions grows from {:.4} to {:.4} nats per character \
         (accuracy starts at 0 only because π = π_ref makes every margin exactly 0, a tie). On fresh samples the rule's rate goes \
         from {before_rate:.2} to {mrate:.2} e's per 100 characters ({:+.0}%), at a KL of {mkl_own:.4} nats per character along the \
         policy's own samples ({:.2} nats per {n_new}-character completion) and a validation loss of {mval:.3} against the SFT model's \
         {sft_val:.3}.",
        label(lrs[main]), first.metrics.accuracy, first.step, last.metrics.accuracy, last.step, first.metrics.margin, last.metrics.margin,
        first.kl, last.kl, 100.0 * (mrate - before_rate) / before_rate.max(1e-9), mkl_own * n_new as f64
    );
    if last.metrics.reward_chosen < 0.0 {
        reading.push_str(&format!(
            " Both implicit rewards fall (chosen {:.3}, rejected {:.3}): DPO widens the gap by lowering the rejected completions' \
             probability faster than the chosen ones', not by raising the chosen ones — the loss sees only the difference.",
            last.metrics.reward_chosen, last.metrics.reward_rejected
        ));
    }
    if let Some((lr, rep, _, rate, kl, val)) = arms.iter().min_by(|a, b| a.0.total_cmp(&b.0)).filter(|a| a.0 != lrs[main]) {
        let l = rep.evals.last().expect("eval");
        reading.push_str(&format!(
            " At {} (smaller steps) accuracy is {:.2} with a margin of {:.3}; the rate goes to {rate:.2} at a KL of {kl:.4} per character \
             along its own samples and a validation loss of {val:.3}.",
            label(*lr), l.metrics.accuracy, l.metrics.margin
        ));
    }
    if let Some((lr, rep, _, rate, kl, val)) = arms.iter().max_by(|a, b| a.0.total_cmp(&b.0)).filter(|a| a.0 != lrs[main]) {
        let l = rep.evals.last().expect("eval");
        reading.push_str(&format!(
            " At {} the margin reaches {:.3} and the rate {rate:.2}, but the KL is {:.4} per character on the held-out completions \
             ({kl:.4} on its own samples) and the validation loss {val:.3}: {}",
            label(*lr), l.metrics.margin, l.kl,
            if *val > sft_val + 0.3 { "the margin keeps rising while the text stops being Shakespeare — over-optimisation of a \
                 proxy, which is what β and a small learning rate (or few steps) are there to prevent." } else { "a higher price in KL for the same direction." }
        ));
    }
    ctx.md(&reading);
    ctx.md(
        "What this does and does not show: the rule is a property of single characters, the easiest kind of preference for a \
         character-level model (lowering one letter's probability everywhere satisfies most of it), so the rate moving is a check \
         that the pipeline works — pairs, loss, gradient, reference — not evidence that DPO teaches a small model subtle preferences. \
         The price is measured rather than assumed: the KL and the validation loss say how far each run moved from the SFT model.",
    );
    ctx.md(&format!("A few fresh samples, before (SFT) and after DPO at {} (prompt in brackets):", label(lrs[main])));
    let after_main = &arms[main].2;
    let mut shown = String::new();
    for i in 0..fresh_prompts.len().min(3 * n_fresh) {
        let pr = decode(&fresh_prompts[i]).replace('\n', "⏎");
        shown.push_str(&format!("[{pr}]\n  before: {}\n  after:  {}\n", decode(&before[i]).replace('\n', "⏎"), decode(&after_main[i]).replace('\n', "⏎")));
    }
    ctx.md(&format!("```text\n{}```", shown));
    Ok(())
}
