//! The training loop every framework model shares: schedule, forward, backward, clip, step.
//!
//! ```text
//!   for t in 0..steps:  η ← schedule(t);  L ← loss(t);  g ← ∇L;  clip g to norm c;  θ ← AdamW(θ, g)
//! ```
//!
//! The caller supplies `loss(t)`, which draws batch t and runs the model forward: the loop knows
//! neither the model nor the data. A non-finite loss stops training at that step (recorded in
//! the log) before it can poison the weights.

use crate::optim::{
    clip_grad_norm, groups_decay_all, groups_decay_matrices, AdamW, Named, Optimizer,
};
use crate::schedule::Schedule;
use crate::tensor::Tensor;
use std::time::Instant;

/// Optimizer and schedule settings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    pub steps: usize,
    pub lr: f32,
    pub warmup: usize,
    pub min_lr: f32,
    pub weight_decay: f32,
    /// Decay every parameter (Phase 5's recipe) rather than matrices only.
    pub decay_all: bool,
    pub clip: Option<f32>,
    pub betas: (f32, f32),
}

impl Recipe {
    /// Phase 5's recipe: AdamW 1e-3 (β 0.9/0.999), warmup 100, cosine to 1e-5, decay 0.01 on every
    /// parameter, clipping at 1.
    pub fn phase5(steps: usize) -> Recipe {
        Recipe {
            steps,
            lr: 1e-3,
            warmup: 100,
            min_lr: 1e-5,
            weight_decay: 0.01,
            decay_all: true,
            clip: Some(1.0),
            betas: (0.9, 0.999),
        }
    }

    pub fn schedule(&self) -> Schedule {
        Schedule::WarmupCosine {
            lr: self.lr,
            min_lr: self.min_lr,
            warmup: self.warmup,
            total: self.steps,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug, Default)]
pub struct TrainLog {
    pub losses: Vec<f64>,
    /// Global gradient norm before clipping, per step.
    pub grad_norms: Vec<f64>,
    pub seconds: f64,
    pub diverged_at: Option<usize>,
}

/// Trains `params` for `r.steps` steps on the losses `loss(t)` returns.
pub fn fit(params: &Named, r: &Recipe, mut loss: impl FnMut(usize) -> Tensor) -> TrainLog {
    let groups = if r.decay_all {
        groups_decay_all(params, r.weight_decay)
    } else {
        groups_decay_matrices(params, r.weight_decay)
    };
    let mut opt = AdamW::new(r.lr, &groups).betas(r.betas.0, r.betas.1);
    let sched = r.schedule();
    let mut log = TrainLog::default();
    let t0 = Instant::now();
    for step in 0..r.steps {
        opt.set_lr(sched.at(step));
        let l = loss(step);
        let value = l.item() as f64;
        if !value.is_finite() {
            log.diverged_at = Some(step);
            break;
        }
        let grads = l.backward();
        drop(l);
        let norm = clip_grad_norm(params, &grads, r.clip.unwrap_or(f32::INFINITY));
        opt.step(params, &grads);
        log.losses.push(value);
        log.grad_norms.push(norm as f64);
    }
    log.seconds = t0.elapsed().as_secs_f64();
    log
}
