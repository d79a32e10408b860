//! Simplified DPO (Direct Preference Optimization, Rafailov et al., 2023): teach a trained model
//! to prefer one completion of a prompt over another, with no reward model and no sampling during
//! training, against a frozen copy of itself.
//!
//! ```text
//!   a pair:      prompt x (P ids), chosen completion y_w, rejected completion y_l (K ids each)
//!   the model reads x ++ y[..K−1]; logits z_i at position i predict the id at i + 1, so
//!   log π(y|x)  = Σ_{k<K} log softmax(z_{P+k−1})[y_k]          completion positions only
//!   reward      r(x, y) = β (log π(y|x) − log π_ref(y|x))       implicit: no reward model
//!   margin      h = r(x, y_w) − r(x, y_l)
//!   L           = −(1/N) Σ_pairs log σ(h)                       log σ(h) = log_softmax([0, h])₁
//!   ∂L/∂log π(y_w|x) = −(β/N) σ(−h)     ∂L/∂log π(y_l|x) = +(β/N) σ(−h)
//!   accuracy    = (1/N) Σ_pairs [h > 0]
//!   KL(π‖π_ref) = mean over positions i of Σ_v π(v|ctx_i) (log π(v|ctx_i) − log π_ref(v|ctx_i))
//! ```
//!
//! Why this loss: the policy that maximises E[r] − β·KL(π‖π_ref) is π* ∝ π_ref·exp(r/β), so a
//! reward can be read back from any policy as β log(π/π_ref) up to a term that depends on the
//! prompt alone. In the Bradley-Terry model of preferences, P(y_w ≻ y_l) = σ(r_w − r_l), that
//! term cancels, and maximising the likelihood of the observed preferences is the loss above.
//! σ(−h) weighs each pair by how wrong the policy still is about it; β sets how far from the
//! reference the policy may go for a given gain in margin. When π = π_ref every h is 0 and
//! L = log 2.
//!
//! Here the preference is a rule anyone can check: [`e_score`], **fewer letters 'e'** (either
//! case) in the completion is better. [`build_pairs`] samples completions of each prompt from
//! the SFT model and pairs the best with the worst under a score (ties dropped). The reference
//! is a frozen copy ([`frozen_copy`]) read under `no_grad`; its log-probabilities of every pair
//! are computed once, since it never changes. The KL is exact: at each position the full
//! distribution over the vocabulary (65 characters for Tiny Shakespeare) is summed, not sampled.
//!
//! Everything is built from the framework's ops (log-softmax, index_select on the flattened
//! log-probabilities, a 0/1 matrix product that sums each sequence's picks); autograd gives the
//! backward, which the tests check by finite differences. Left out: the full recipe's SFT on
//! preferred completions first, IPO/KTO and other variants, label smoothing (conservative DPO),
//! and dropout during DPO (both models run in evaluation mode, so log-probabilities are exact).

use crate::model::Gpt;
use crate::sample::{choose, Sampling};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::time::Instant;
use tfs_math::Rng;
use tfs_tensor::log::JsonLog;
use tfs_tensor::nn::Module;
use tfs_tensor::optim::{groups_decay_matrices, AdamW};
use tfs_tensor::schedule::Schedule;
use tfs_tensor::train::{StepError, Trainer};
use tfs_tensor::{no_grad, Tensor};

/// One preference: `chosen` is preferred to `rejected` as a continuation of `prompt`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub prompt: Vec<usize>,
    pub chosen: Vec<usize>,
    pub rejected: Vec<usize>,
    pub chosen_score: f64,
    pub rejected_score: f64,
}

/// The preference rule of the lab's experiment: minus the number of 'e' and 'E' in `text`
/// (higher is better, so fewer e's wins).
pub fn e_score(text: &str) -> f64 {
    -(text
        .chars()
        .filter(|c| c.eq_ignore_ascii_case(&'e'))
        .count() as f64)
}

/// A copy of `model` with its own parameter tensors, in evaluation mode: the frozen reference.
pub fn frozen_copy(model: &Gpt) -> Gpt {
    let mut copy = Gpt::new(model.cfg, &mut Rng::new(0));
    for ((_, mine), (_, theirs)) in copy.parameters().iter().zip(model.parameters()) {
        mine.assign(&theirs.to_vec());
    }
    copy.set_training(false);
    copy
}

/// The ids the model reads for `(prompt, completion)` pairs, right-padded with id 0 to a common
/// length T (causal attention: padding after a position never changes it), and T.
fn padded_inputs(model: &Gpt, seqs: &[(&[usize], &[usize])]) -> (Vec<usize>, usize) {
    let t = seqs
        .iter()
        .map(|(p, c)| p.len() + c.len() - 1)
        .max()
        .unwrap_or(1);
    for (p, c) in seqs {
        assert!(
            !p.is_empty() && !c.is_empty(),
            "dpo: a sequence needs a prompt and a completion (got {} and {} ids)",
            p.len(),
            c.len()
        );
    }
    assert!(
        t <= model.cfg.block_size,
        "dpo: prompt + completion − 1 = {t} ids exceed the context of {}",
        model.cfg.block_size
    );
    let mut idx = Vec::with_capacity(seqs.len() * t);
    for (p, c) in seqs {
        let n = idx.len();
        idx.extend_from_slice(p);
        idx.extend_from_slice(&c[..c.len() - 1]);
        idx.resize(n + t, 0);
    }
    (idx, t)
}

// ANCHOR: logprobs
/// `log π(c|p)` of each `(p, c)` in `seqs`: shape `(S,)`, differentiable in the model's
/// parameters (call under `no_grad` for the reference).
pub fn sequence_logprobs(model: &Gpt, seqs: &[(&[usize], &[usize])]) -> Tensor {
    let (s, v) = (seqs.len(), model.cfg.vocab_size);
    let (idx, t) = padded_inputs(model, seqs);
    // Flat index (row · V + id) of each completion id's log-probability, and which sequence
    // each belongs to (a 0/1 matrix (S, M) whose product with the picks sums them).
    let m: usize = seqs.iter().map(|(_, c)| c.len()).sum();
    let (mut picks, mut seg) = (Vec::with_capacity(m), vec![0.0f32; s * m]);
    for (i, (p, c)) in seqs.iter().enumerate() {
        for (k, &y) in c.iter().enumerate() {
            let row = i * t + p.len() + k - 1;
            seg[i * m + picks.len()] = 1.0;
            picks.push(row * v + y);
        }
    }
    let logp = model
        .forward(&idx, s, t) //                                    (S·T, V)
        .log_softmax()
        .reshape(&[s * t * v, 1])
        .index_select(&picks); //                                   (M, 1)
    Tensor::new(seg, &[s, m]).matmul(&logp).reshape(&[s]) //      (S,)
}
// ANCHOR_END: logprobs

/// Means over a set of pairs (rewards are β·(log π − log π_ref), in nats).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    pub loss: f64,
    /// Fraction of pairs whose margin is > 0 (a tie, as at the start where π = π_ref, is not).
    pub accuracy: f64,
    pub reward_chosen: f64,
    pub reward_rejected: f64,
    pub margin: f64,
}

// ANCHOR: loss
/// The DPO loss (a scalar tensor) of policy log-probabilities `pol_w, pol_l: (N,)` against the
/// reference's `ref_w, ref_l`, and its metrics.
pub fn dpo_loss(
    pol_w: &Tensor,
    pol_l: &Tensor,
    ref_w: &[f32],
    ref_l: &[f32],
    beta: f32,
) -> (Tensor, Metrics) {
    let n = pol_w.numel();
    assert!(
        n > 0 && pol_l.numel() == n && ref_w.len() == n && ref_l.len() == n,
        "dpo_loss: {n} chosen, {} rejected, {} + {} reference log-probabilities",
        pol_l.numel(),
        ref_w.len(),
        ref_l.len()
    );
    let ref_diff: Vec<f32> = ref_w.iter().zip(ref_l).map(|(w, l)| l - w).collect();
    let h = pol_w
        .sub(pol_l)
        .add(&Tensor::new(ref_diff, &[n]))
        .scale(beta); //                                             (N,)
    let log_sig = Tensor::cat(&[Tensor::zeros(&[n, 1]), h.reshape(&[n, 1])], 1)
        .log_softmax()
        .narrow(1, 1, 1); //                                        (N, 1)
    let loss = log_sig.mean_all().neg();
    // The metrics in f64 from the same numbers.
    let (pw, pl) = (pol_w.to_vec(), pol_l.to_vec());
    let b = beta as f64;
    let mut m = Metrics {
        loss: loss.item() as f64,
        ..Metrics::default()
    };
    let mut wins = 0usize;
    for i in 0..n {
        let rw = b * (pw[i] as f64 - ref_w[i] as f64);
        let rl = b * (pl[i] as f64 - ref_l[i] as f64);
        m.reward_chosen += rw / n as f64;
        m.reward_rejected += rl / n as f64;
        m.margin += (rw - rl) / n as f64;
        wins += usize::from(rw - rl > 0.0);
    }
    m.accuracy = wins as f64 / n as f64;
    (loss, m)
}
// ANCHOR_END: loss

/// Log-probabilities `(log π(y_w|x), log π(y_l|x))` of each pair, `chunk` pairs per forward,
/// under `no_grad`.
pub fn pair_logprobs(model: &Gpt, pairs: &[Pair], chunk: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut w, mut l) = (Vec::new(), Vec::new());
    no_grad(|| {
        for ps in pairs.chunks(chunk.max(1)) {
            let lp = sequence_logprobs(model, &pair_seqs(ps)).to_vec();
            w.extend_from_slice(&lp[..ps.len()]);
            l.extend_from_slice(&lp[ps.len()..]);
        }
    });
    (w, l)
}

/// The chosen sequences of `ps`, then the rejected ones.
fn pair_seqs(ps: &[Pair]) -> Vec<(&[usize], &[usize])> {
    ps.iter()
        .map(|p| (&p.prompt[..], &p.chosen[..]))
        .chain(ps.iter().map(|p| (&p.prompt[..], &p.rejected[..])))
        .collect()
}

/// The metrics of `policy` on `pairs` (no gradient), against precomputed reference
/// log-probabilities.
pub fn evaluate(
    policy: &Gpt,
    pairs: &[Pair],
    reference: &(Vec<f32>, Vec<f32>),
    beta: f32,
) -> Metrics {
    let (w, l) = pair_logprobs(policy, pairs, 32);
    let n = w.len();
    no_grad(|| {
        dpo_loss(
            &Tensor::new(w, &[n]),
            &Tensor::new(l, &[n]),
            &reference.0,
            &reference.1,
            beta,
        )
        .1
    })
}

/// Log-softmax rows `(M, V)` of `model` at every position that predicts a completion id of
/// `seqs` (in order), under `no_grad`.
fn completion_log_dists(model: &Gpt, seqs: &[(&[usize], &[usize])]) -> Vec<f32> {
    let v = model.cfg.vocab_size;
    let mut out = Vec::new();
    no_grad(|| {
        for chunk in seqs.chunks(32) {
            let (idx, t) = padded_inputs(model, chunk);
            let lp = model.forward(&idx, chunk.len(), t).log_softmax();
            let d = lp.data();
            for (i, (p, c)) in chunk.iter().enumerate() {
                let first = i * t + p.len() - 1;
                out.extend_from_slice(&d[first * v..(first + c.len()) * v]);
            }
        }
    });
    out
}

/// Fixed contexts on which `KL(π‖π_ref)` is measured exactly: every position that predicts a
/// completion id of the given sequences, with the reference's distributions there.
pub struct KlProbe {
    seqs: Vec<(Vec<usize>, Vec<usize>)>,
    ref_logp: Vec<f32>,
    v: usize,
}

impl KlProbe {
    pub fn new(reference: &Gpt, seqs: Vec<(Vec<usize>, Vec<usize>)>) -> KlProbe {
        let ref_logp = completion_log_dists(reference, &borrow(&seqs));
        KlProbe {
            seqs,
            ref_logp,
            v: reference.cfg.vocab_size,
        }
    }

    /// Number of positions averaged over.
    pub fn positions(&self) -> usize {
        self.ref_logp.len() / self.v
    }

    /// Mean over the positions of `Σ_v π(v) (log π(v) − log π_ref(v))` (nats).
    pub fn kl(&self, policy: &Gpt) -> f64 {
        let lp = completion_log_dists(policy, &borrow(&self.seqs));
        let total: f64 = lp
            .chunks(self.v)
            .zip(self.ref_logp.chunks(self.v))
            .map(|(p, q)| {
                p.iter()
                    .zip(q)
                    .map(|(&a, &b)| (a as f64).exp() * (a as f64 - b as f64))
                    .sum::<f64>()
            })
            .sum();
        total / self.positions().max(1) as f64
    }
}

fn borrow(seqs: &[(Vec<usize>, Vec<usize>)]) -> Vec<(&[usize], &[usize])> {
    seqs.iter().map(|(p, c)| (&p[..], &c[..])).collect()
}

// ANCHOR: sample
/// `n` ids sampled after each prompt, all prompts at once (`chunk` rows per forward); each row
/// reads its own last position (rows are right-padded, which causal attention ignores). Needs
/// `prompt.len() + n − 1 ≤ block_size`: no sliding window.
pub fn sample_completions(
    model: &Gpt,
    prompts: &[Vec<usize>],
    n: usize,
    s: &Sampling,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    let v = model.cfg.vocab_size;
    let mut out = Vec::with_capacity(prompts.len());
    no_grad(|| {
        for chunk in prompts.chunks(64) {
            let mut rows: Vec<Vec<usize>> = chunk.to_vec();
            for _ in 0..n {
                let t = rows.iter().map(Vec::len).max().unwrap_or(1);
                assert!(
                    t <= model.cfg.block_size && rows.iter().all(|r| !r.is_empty()),
                    "sample_completions: rows of up to {t} ids for a context of {} (prompts must be non-empty)",
                    model.cfg.block_size
                );
                let mut idx = Vec::with_capacity(rows.len() * t);
                for r in &rows {
                    let k = idx.len();
                    idx.extend_from_slice(r);
                    idx.resize(k + t, 0);
                }
                let z = model.forward(&idx, rows.len(), t);
                let d = z.data();
                for (i, r) in rows.iter_mut().enumerate() {
                    let at = i * t + r.len() - 1;
                    r.push(choose(&d[at * v..(at + 1) * v], s, rng));
                }
            }
            out.extend(rows.iter().zip(chunk).map(|(r, p)| r[p.len()..].to_vec()));
        }
    });
    out
}
// ANCHOR_END: sample

/// Preference pairs from `sft`: `k ≥ 2` completions of `n` ids for each prompt (sampled with
/// `s`), scored by `score`; the best becomes `chosen` and the worst `rejected` (the first of
/// equals). Prompts whose completions all score the same give no pair.
pub fn build_pairs(
    sft: &Gpt,
    prompts: &[Vec<usize>],
    n: usize,
    k: usize,
    s: &Sampling,
    score: &dyn Fn(&[usize]) -> f64,
    rng: &mut Rng,
) -> Vec<Pair> {
    assert!(
        k >= 2,
        "build_pairs: {k} completions per prompt cannot make a pair"
    );
    let repeated: Vec<Vec<usize>> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.clone(), k))
        .collect();
    let completions = sample_completions(sft, &repeated, n, s, rng);
    let mut pairs = Vec::new();
    for (p, group) in prompts.iter().zip(completions.chunks(k)) {
        let scores: Vec<f64> = group.iter().map(|c| score(c)).collect();
        let (mut best, mut worst) = (0, 0);
        for (i, &sc) in scores.iter().enumerate() {
            if sc > scores[best] {
                best = i;
            }
            if sc < scores[worst] {
                worst = i;
            }
        }
        if scores[best] > scores[worst] {
            pairs.push(Pair {
                prompt: p.clone(),
                chosen: group[best].clone(),
                rejected: group[worst].clone(),
                chosen_score: scores[best],
                rejected_score: scores[worst],
            });
        }
    }
    pairs
}

/// The settings of a DPO run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DpoConfig {
    /// β: the strength of the pull toward the reference.
    pub beta: f32,
    /// AdamW's learning rate (constant; no weight decay, so nothing pulls toward zero).
    pub lr: f32,
    pub steps: usize,
    /// Pairs per step (drawn without replacement within each pass over the pairs).
    pub batch_pairs: usize,
    /// Held-out metrics and KL every this many steps (and before the first and after the last).
    pub eval_every: usize,
    pub grad_clip: f32,
    pub seed: u64,
}

impl Default for DpoConfig {
    fn default() -> Self {
        DpoConfig {
            beta: 0.1,
            lr: 1e-4,
            steps: 200,
            batch_pairs: 16,
            eval_every: 10,
            grad_clip: 1.0,
            seed: 0,
        }
    }
}

/// One held-out evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    /// Optimizer steps taken before it.
    pub step: usize,
    pub metrics: Metrics,
    /// KL(π‖π_ref) per position (nats) on the probe's contexts.
    pub kl: f64,
}

/// What a DPO run produced.
#[derive(Clone, Debug, Default)]
pub struct DpoReport {
    /// The training batch's metrics at every step (before its update).
    pub steps: Vec<Metrics>,
    pub evals: Vec<Eval>,
    pub wall_seconds: f64,
}

/// What DPO trains and evaluates on.
pub struct DpoData<'a> {
    pub pairs: &'a [Pair],
    /// Pairs never trained on: the accuracy and margin reported at evaluations.
    pub held_out: &'a [Pair],
    /// Where the KL to the reference is measured.
    pub probe: &'a KlProbe,
}

/// Trains `policy` with the DPO loss on `data.pairs` against `reference` (see the module doc),
/// and evaluates it on the held-out pairs and the KL probe along the way. With `log`, writes one
/// JSON line per step (the batch's metrics, the gradient norm, and at evaluations the held-out
/// metrics and KL).
pub fn train(
    policy: &mut Gpt,
    reference: &Gpt,
    data: &DpoData,
    cfg: &DpoConfig,
    log: Option<&Path>,
    progress: bool,
) -> Result<DpoReport, String> {
    let (pairs, held_out, probe) = (data.pairs, data.held_out, data.probe);
    if pairs.is_empty() || held_out.is_empty() {
        return Err(format!(
            "DPO needs training and held-out pairs ({} and {})",
            pairs.len(),
            held_out.len()
        ));
    }
    if reference.is_training() && reference.cfg.dropout > 0.0 {
        return Err(
            "the reference is in training mode with dropout: its log-probabilities would be random \
             (set_training(false) first; frozen_copy does)"
                .into(),
        );
    }
    let t0 = Instant::now();
    policy.set_training(false);
    let ref_train = pair_logprobs(reference, pairs, 32);
    let ref_held = pair_logprobs(reference, held_out, 32);
    let params = policy.parameters();
    let opt = AdamW::new(cfg.lr, &groups_decay_matrices(&params, 0.0));
    let mut trainer = Trainer::new(opt, Schedule::Constant(cfg.lr)).clip(cfg.grad_clip);
    let mut log = match log {
        Some(p) => Some(JsonLog::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => None,
    };
    let pb = if progress {
        ProgressBar::new(cfg.steps as u64)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} DPO {msg} [{elapsed_precise}]")
            .expect("template"),
    );
    let mut rng = Rng::new(cfg.seed);
    let mut order: Vec<usize> = Vec::new();
    let mut rep = DpoReport::default();
    let held = |policy: &Gpt, step: usize| Eval {
        step,
        metrics: evaluate(policy, held_out, &ref_held, cfg.beta),
        kl: probe.kl(policy),
    };
    rep.evals.push(held(policy, 0));
    for step in 0..cfg.steps {
        // ANCHOR: step
        // A new shuffled pass starts when the current one cannot fill a whole batch (the rest of
        // it is dropped), so no batch holds a pair twice.
        let want = cfg.batch_pairs.min(pairs.len());
        if order.len() < want {
            order = (0..pairs.len()).collect();
            rng.shuffle(&mut order);
        }
        let batch: Vec<usize> = order.split_off(order.len() - want);
        let ps: Vec<Pair> = batch.iter().map(|&i| pairs[i].clone()).collect();
        let n = ps.len();
        let mut metrics = None;
        let micro = |_| {
            let lp = sequence_logprobs(policy, &pair_seqs(&ps)); //      (2N,): chosen, rejected
            let pick = |r: &Vec<f32>| batch.iter().map(|&i| r[i]).collect::<Vec<f32>>();
            let (loss, m) = dpo_loss(
                &lp.narrow(0, 0, n),
                &lp.narrow(0, n, n),
                &pick(&ref_train.0),
                &pick(&ref_train.1),
                cfg.beta,
            );
            metrics = Some(m);
            Ok(loss)
        };
        let norm = match trainer.step_with(&params, cfg.lr, micro, |_| {}) {
            Ok(s) => s.grad_norm,
            Err(e) => {
                pb.finish_and_clear();
                return Err(match e {
                    StepError::Loss { value, .. } => {
                        format!("the DPO loss became {value} at step {step}")
                    }
                    StepError::Norm(n) => {
                        format!("the DPO gradient norm became {n} at step {step}")
                    }
                    StepError::Micro(m) => m,
                });
            }
        };
        let m = metrics.expect("one micro-batch ran");
        // ANCHOR_END: step
        rep.steps.push(m);
        let ev = ((step + 1) % cfg.eval_every.max(1) == 0 || step + 1 == cfg.steps)
            .then(|| held(policy, step + 1));
        if let Some(l) = log.as_mut() {
            let mut f = vec![
                ("loss", m.loss),
                ("accuracy", m.accuracy),
                ("reward_chosen", m.reward_chosen),
                ("reward_rejected", m.reward_rejected),
                ("margin", m.margin),
                ("grad_norm", norm as f64),
            ];
            if let Some(e) = &ev {
                f.extend([
                    ("heldout_loss", e.metrics.loss),
                    ("heldout_accuracy", e.metrics.accuracy),
                    ("heldout_margin", e.metrics.margin),
                    ("heldout_reward_chosen", e.metrics.reward_chosen),
                    ("heldout_reward_rejected", e.metrics.reward_rejected),
                    ("kl", e.kl),
                ]);
            }
            l.log(step, &f).map_err(|e| format!("DPO log: {e}"))?;
        }
        if let Some(e) = ev {
            pb.set_message(format!(
                "held-out accuracy {:.2}, margin {:.3}, KL {:.4}",
                e.metrics.accuracy, e.metrics.margin, e.kl
            ));
            rep.evals.push(e);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    rep.wall_seconds = t0.elapsed().as_secs_f64();
    Ok(rep)
}
