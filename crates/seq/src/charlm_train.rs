//! Character-level language modelling on Tiny Shakespeare, shared by `p2-char-rnn`,
//! `p2-cell-comparison` and `tfs bench lstm`.
//!
//! The text is cut into B parallel tracks; each training step reads the next `seq_len` characters
//! of every track and carries the recurrent state over from the previous step (truncated BPTT
//! with k = seq_len: gradients stop at window boundaries, the state does not).
//!
//! Left out: reading the text (the caller loads it with `tfs_data`, which owns the data-missing
//! and fetch behaviour), shuffling windows, learning-rate schedules.

use crate::{CellKind, CharLm};
use ndarray::Array2;
use std::collections::BTreeSet;
use std::time::Instant;
use tfs_math::Rng;
use tfs_nn::optim::clip_and_step;
use tfs_nn::Adam;

/// A text too short for a recipe's context: each of the B tracks needs one window of `seq_len`
/// inputs plus the target after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooShort {
    /// "training" or "held-out".
    pub part: &'static str,
    /// Characters of that part.
    pub have: usize,
    pub batch: usize,
    pub seq_len: usize,
}

impl TooShort {
    /// Characters needed: `batch × seq_len + 1`.
    pub fn need(&self) -> usize {
        self.batch * self.seq_len + 1
    }
}

impl std::fmt::Display for TooShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "text too short for the context: the {} text has {} characters, {} tracks × {} + 1 = {} needed",
            self.part,
            self.have,
            self.batch,
            self.seq_len,
            self.need()
        )
    }
}

impl std::error::Error for TooShort {}

/// The characters of a text, sorted, and the text as ids.
pub struct Corpus {
    pub chars: Vec<char>,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
}

impl Corpus {
    /// The first `limit` characters of `text`, the last `val_fraction` of them held out.
    pub fn new(text: &str, limit: usize, val_fraction: f64) -> Self {
        let text: Vec<char> = text.chars().take(limit).collect();
        let chars: Vec<char> = text
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let ids: Vec<usize> = text
            .iter()
            .map(|c| chars.binary_search(c).expect("in vocabulary"))
            .collect();
        let split = ((1.0 - val_fraction) * ids.len() as f64) as usize;
        Corpus {
            chars,
            train: ids[..split].to_vec(),
            val: ids[split..].to_vec(),
        }
    }

    /// Whether the text is long enough for `r`: at least one window per track of the training
    /// text, and of the held-out text when there is one (it is evaluated with min(B, 8) tracks).
    pub fn check(&self, r: &LmRecipe) -> Result<(), TooShort> {
        let fits = |part, have: usize, batch: usize| {
            let e = TooShort {
                part,
                have,
                batch,
                seq_len: r.seq_len,
            };
            if have < e.need() {
                Err(e)
            } else {
                Ok(())
            }
        };
        fits("training", self.train.len(), r.batch)?;
        if !self.val.is_empty() {
            fits("held-out", self.val.len(), r.batch.min(8))?;
        }
        Ok(())
    }

    pub fn decode(&self, ids: &[usize]) -> String {
        ids.iter().map(|&i| self.chars[i]).collect()
    }
}

/// Training sizes.
#[derive(Clone, Debug)]
pub struct LmRecipe {
    pub hidden: usize,
    pub seq_len: usize,
    pub batch: usize,
    pub steps: usize,
    pub lr: f64,
    pub clip: f64,
    /// Evaluate validation loss (and sample) every this many steps.
    pub eval_every: usize,
}

/// `(inputs, targets)` of one window: `inputs[t][b]` for B tracks starting at `starts`.
fn window(
    ids: &[usize],
    starts: &[usize],
    offset: usize,
    len: usize,
) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    let at = |t: usize| {
        starts
            .iter()
            .map(|&s| ids[s + offset + t])
            .collect::<Vec<_>>()
    };
    ((0..len).map(at).collect(), (1..=len).map(at).collect())
}

/// Mean validation loss over the whole held-out text, B tracks, state carried.
pub fn val_loss(lm: &CharLm<f32>, val: &[usize], batch: usize, seq_len: usize) -> f64 {
    if val.len() <= batch * seq_len {
        return f64::NAN; // too little held-out text for one window
    }
    let track = (val.len() - 1) / batch;
    let windows = track / seq_len;
    if windows == 0 {
        return f64::NAN;
    }
    let starts: Vec<usize> = (0..batch).map(|b| b * track).collect();
    let mut state = lm.zero_state(batch);
    let mut total = 0.0;
    for w in 0..windows {
        let (x, y) = window(val, &starts, w * seq_len, seq_len);
        let st = lm.loss_and_grads(&x, &y, state.view());
        total += st.loss;
        state = st.state;
    }
    total / windows as f64
}

/// What a training run measured.
pub struct LmRun {
    pub model: CharLm<f32>,
    /// (step, training loss)
    pub train_curve: Vec<(usize, f64)>,
    /// (step, validation loss)
    pub val_curve: Vec<(usize, f64)>,
    /// (step, sample text)
    pub samples: Vec<(usize, String)>,
    /// Seconds spent in training steps (evaluation excluded).
    pub train_seconds: f64,
    pub tokens_trained: usize,
}

/// Trains a char-LM of `kind` with `recipe`. `on_step` is called after every step. A corpus too
/// short for the recipe ([`Corpus::check`]) is an error; without held-out text nothing is evaluated.
pub fn train_char_lm(
    kind: CellKind,
    corpus: &Corpus,
    r: &LmRecipe,
    seed: u64,
    sample_len: usize,
    on_step: &mut dyn FnMut(usize),
) -> Result<LmRun, TooShort> {
    corpus.check(r)?;
    let mut rng = Rng::new(seed);
    let mut lm: CharLm<f32> = CharLm::new(kind, corpus.chars.len(), r.hidden, &mut rng);
    let mut opt = Adam::new(r.lr);
    let track = (corpus.train.len() - 1) / r.batch;
    let windows = (track / r.seq_len).max(1);
    let starts: Vec<usize> = (0..r.batch).map(|b| b * track).collect();
    let mut state: Array2<f32> = lm.zero_state(r.batch);
    let (mut train_curve, mut val_curve, mut samples) = (Vec::new(), Vec::new(), Vec::new());
    let mut secs = 0.0;
    let mut sample_rng = Rng::new(seed ^ 0x5a3);
    for step in 1..=r.steps {
        let w = (step - 1) % windows;
        if w == 0 {
            state = lm.zero_state(r.batch); // a new pass over the text
        }
        let t0 = Instant::now();
        let (x, y) = window(&corpus.train, &starts, w * r.seq_len, r.seq_len);
        let mut st = lm.loss_and_grads(&x, &y, state.view());
        clip_and_step(&mut opt, &mut lm, &mut st.grads, Some(r.clip));
        state = st.state;
        secs += t0.elapsed().as_secs_f64();
        train_curve.push((step, st.loss));
        if step % r.eval_every == 0 || step == r.steps {
            if !corpus.val.is_empty() {
                val_curve.push((step, val_loss(&lm, &corpus.val, r.batch.min(8), r.seq_len)));
            }
            if sample_len > 0 {
                let prime = [corpus.train[0]];
                let text = corpus.decode(&lm.sample(&prime, sample_len, 0.8, &mut sample_rng));
                samples.push((step, text));
            }
        }
        on_step(step);
    }
    Ok(LmRun {
        model: lm,
        train_curve,
        val_curve,
        samples,
        train_seconds: secs,
        tokens_trained: r.steps * r.batch * r.seq_len,
    })
}

/// Mean of the last `n` values of a curve.
pub fn tail_mean(curve: &[(usize, f64)], n: usize) -> f64 {
    let tail = &curve[curve.len().saturating_sub(n)..];
    tail.iter().map(|p| p.1).sum::<f64>() / tail.len().max(1) as f64
}
