//! The data of a DPO run, from a text's ids and the SFT model (used by `tfs gpt dpo` and the lab's
//! `p9-dpo`):
//!
//! ```text
//!   training prompts:  n random windows of `prompt_len` ids of the training split
//!   held-out prompts:  m random windows of the validation split (never trained on)
//!   pairs:             k completions of `completion_len` ids per prompt from the SFT model at
//!                      temperature 1; best vs worst under the rule (dpo::build_pairs)
//!   KL probe:          every completion position of the held-out pairs (chosen and rejected)
//! ```
//!
//! All draws come from one generator, in that order, so a seed reproduces the pairs. The rule is
//! the caller's (`dpo::e_score` in both callers). Left out: prompts from a separate prompt file,
//! and pairs labelled by anything other than a scoring function.

use crate::dpo::{build_pairs, KlProbe, Pair};
use crate::model::Gpt;
use crate::sample::Sampling;
use tfs_math::Rng;

/// How many prompts and completions, and how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairSetup {
    pub prompt_len: usize,
    pub completion_len: usize,
    /// Completions sampled per prompt (at least 2).
    pub samples_per_prompt: usize,
    pub train_prompts: usize,
    pub heldout_prompts: usize,
}

impl PairSetup {
    /// Errors (for input from outside) when the sizes cannot work for `model` and the splits.
    pub fn check(&self, model: &Gpt, train_len: usize, val_len: usize) -> Result<(), String> {
        let s = self;
        if s.prompt_len == 0 || s.completion_len == 0 || s.samples_per_prompt < 2 {
            return Err(format!(
                "prompts and completions need at least one token and 2 samples per prompt (got {}, {} and {})",
                s.prompt_len, s.completion_len, s.samples_per_prompt
            ));
        }
        if s.prompt_len + s.completion_len - 1 > model.cfg.block_size {
            return Err(format!(
                "a prompt of {} and a completion of {} tokens do not fit the model's context of {} (prompt + completion − 1 must)",
                s.prompt_len, s.completion_len, model.cfg.block_size
            ));
        }
        if s.train_prompts == 0 || s.heldout_prompts == 0 {
            return Err("DPO needs at least one training and one held-out prompt".into());
        }
        if train_len <= s.prompt_len || val_len <= s.prompt_len {
            return Err(format!(
                "the text's splits ({train_len} and {val_len} tokens) are too short for prompts of {}",
                s.prompt_len
            ));
        }
        Ok(())
    }
}

/// What [`prepare`] built.
pub struct Prepared {
    pub pairs: Vec<Pair>,
    pub held_out: Vec<Pair>,
    /// The held-out prompts, also those that gave no pair (for fresh samples).
    pub heldout_prompts: Vec<Vec<usize>>,
    pub probe: KlProbe,
}

/// `n` random windows of `len` ids from `ids` (needs `ids.len() > len`).
pub fn windows(ids: &[usize], n: usize, len: usize, rng: &mut Rng) -> Vec<Vec<usize>> {
    (0..n)
        .map(|_| {
            let s = rng.below(ids.len() - len);
            ids[s..s + len].to_vec()
        })
        .collect()
}

/// Prompts, pairs and the KL probe (see the module doc) from `sft`, which is also the reference.
pub fn prepare(
    sft: &Gpt,
    train: &[usize],
    val: &[usize],
    setup: &PairSetup,
    score: &dyn Fn(&[usize]) -> f64,
    rng: &mut Rng,
) -> Result<Prepared, String> {
    setup.check(sft, train.len(), val.len())?;
    let (len, n, k) = (
        setup.prompt_len,
        setup.completion_len,
        setup.samples_per_prompt,
    );
    let train_prompts = windows(train, setup.train_prompts, len, rng);
    let heldout_prompts = windows(val, setup.heldout_prompts, len, rng);
    let s = Sampling::default();
    let pairs = build_pairs(sft, &train_prompts, n, k, &s, score, rng);
    let held_out = build_pairs(sft, &heldout_prompts, n, k, &s, score, rng);
    if pairs.is_empty() || held_out.is_empty() {
        return Err(format!(
            "the rule told no completions apart: {} training and {} held-out pairs (more prompts or longer completions?)",
            pairs.len(),
            held_out.len()
        ));
    }
    let probe = KlProbe::new(
        sft,
        held_out
            .iter()
            .flat_map(|p| {
                [
                    (p.prompt.clone(), p.chosen.clone()),
                    (p.prompt.clone(), p.rejected.clone()),
                ]
            })
            .collect(),
    );
    Ok(Prepared {
        pairs,
        held_out,
        heldout_prompts,
        probe,
    })
}
