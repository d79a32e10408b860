//! One training step for every framework model ([`Trainer`]), and the loop built on it ([`fit`]).
//!
//! ```text
//!   step t:  η ← schedule(t)
//!            g ← Σᵢ ∇(Lᵢ / A)            over the A micro-batches Lᵢ = micro(i)   (gradient accumulation)
//!            g ← comm(g)                  the processes' gradients made one (no-op for one process)
//!            n ← ‖g‖;  clip g to norm c;  θ ← AdamW(θ, g; η)
//! ```
//!
//! The caller supplies `micro(i)`, which draws micro-batch i and runs the model forward: the
//! step knows neither the model nor the data. A non-finite loss stops the step before its
//! backward, a non-finite gradient norm before the update, so neither can poison the weights;
//! the caller says what that means for its run (a log entry, an error naming the last good
//! checkpoint). `gpt train`, `gpt dpo`, [`fit`] and the transformer benchmark all step through
//! here, so an all-reduce or fp32 master weights are added once.

use crate::autograd::Grads;
use crate::optim::{
    clip_grad_norm, groups_decay_all, groups_decay_matrices, AdamW, Named, Optimizer,
};
use crate::schedule::Schedule;
use crate::store::ParamStore;
use crate::tensor::Tensor;
use std::time::Instant;

/// How the gradients of several processes become one before the update (data parallelism).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Comm {
    /// One process: nothing to exchange.
    #[default]
    Local,
}

impl Comm {
    /// Makes `grads` the mean over every process's gradients (one process: unchanged).
    pub fn reduce(&self, _params: &Named, _grads: &mut Grads) {
        match self {
            Comm::Local => {}
        }
    }
    /// This process's index among [`Comm::size`].
    pub fn rank(&self) -> usize {
        0
    }
    /// Processes training together.
    pub fn size(&self) -> usize {
        1
    }
}

/// Why a step stopped before its update.
#[derive(Clone, Debug, PartialEq)]
pub enum StepError {
    /// Micro-batch `micro`'s loss was not finite (nothing was differentiated or updated).
    Loss { micro: usize, value: f64 },
    /// The gradient norm was not finite (nothing was updated).
    Norm(f32),
    /// The caller's `micro` failed with this message.
    Micro(String),
}

/// What a step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mean of the micro-batches' losses.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
    pub lr: f32,
}

/// The training step: optimizer, schedule, clipping, accumulation and the communication hook.
pub struct Trainer {
    pub opt: AdamW,
    pub schedule: Schedule,
    /// Clip the global gradient norm to this (None: measure it only).
    pub clip: Option<f32>,
    /// Micro-batches per step (gradient accumulation), at least 1.
    pub accum: usize,
    pub comm: Comm,
    /// The model's flat store, when it was built in one: gradients go to its flat buffer, and
    /// the norm, clipping and the update are one call each over it.
    pub store: Option<ParamStore>,
}

impl Trainer {
    /// A trainer over `opt` with a schedule, one micro-batch per step, no clipping, one process.
    pub fn new(opt: AdamW, schedule: Schedule) -> Trainer {
        Trainer {
            opt,
            schedule,
            clip: None,
            accum: 1,
            comm: Comm::Local,
            store: None,
        }
    }

    /// Steps a model built in `store` (see [`ParamStore`]); the optimizer's moments are made
    /// flat now, beside the parameters, before any activation exists.
    pub fn with_store(mut self, store: ParamStore) -> Trainer {
        self.opt.prepare_flat(&store);
        self.store = Some(store);
        self
    }

    /// Clipping at `c`.
    pub fn clip(mut self, c: f32) -> Trainer {
        self.clip = Some(c);
        self
    }

    /// `a` micro-batches per step.
    pub fn accumulate(mut self, a: usize) -> Trainer {
        self.accum = a.max(1);
        self
    }

    /// Step `step` at the schedule's learning rate.
    pub fn step(
        &mut self,
        params: &Named,
        step: usize,
        micro: impl FnMut(usize) -> Result<Tensor, String>,
    ) -> Result<StepStats, StepError> {
        let lr = self.schedule.at(step);
        self.step_with(params, lr, micro, |_| {})
    }

    /// One step at learning rate `lr`; `inspect` sees the summed gradients before clipping
    /// (per-layer norms for a log).
    pub fn step_with(
        &mut self,
        params: &Named,
        lr: f32,
        mut micro: impl FnMut(usize) -> Result<Tensor, String>,
        inspect: impl FnOnce(&Grads),
    ) -> Result<StepStats, StepError> {
        // ANCHOR: step
        self.opt.set_lr(lr);
        let accum = self.accum.max(1);
        if let Some(s) = &self.store {
            s.zero_grad();
        }
        let mut grads: Option<Grads> = None;
        let mut loss = 0.0f64;
        for i in 0..accum {
            let l = micro(i).map_err(StepError::Micro)?;
            let li = l.item() as f64;
            if !li.is_finite() {
                return Err(StepError::Loss {
                    micro: i,
                    value: li,
                });
            }
            loss += li / accum as f64;
            let l = if accum > 1 {
                l.scale(1.0 / accum as f32)
            } else {
                l
            };
            let g = match &self.store {
                Some(s) => l.backward_to(s),
                None => l.backward(),
            };
            drop(l);
            match grads.as_mut() {
                Some(acc) => acc.accumulate(g),
                None => grads = Some(g),
            }
        }
        let mut grads = grads.expect("at least one micro-batch");
        if let Some(s) = &self.store {
            let mut flat = s.grads_of(params);
            flat.accumulate(grads);
            grads = flat;
        }
        self.comm.reduce(params, &mut grads);
        inspect(&grads);
        let norm = clip_grad_norm(params, &grads, self.clip.unwrap_or(f32::INFINITY));
        if !norm.is_finite() {
            return Err(StepError::Norm(norm));
        }
        self.opt.step(params, &grads);
        // ANCHOR_END: step
        drop(grads);
        Ok(StepStats {
            loss,
            grad_norm: norm,
            lr,
        })
    }
}

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

impl Recipe {
    /// The trainer of this recipe over `params`: AdamW with its groups and betas, warmup +
    /// cosine, clipping.
    pub fn trainer(&self, params: &Named) -> Trainer {
        let groups = if self.decay_all {
            groups_decay_all(params, self.weight_decay)
        } else {
            groups_decay_matrices(params, self.weight_decay)
        };
        let opt = AdamW::new(self.lr, &groups).betas(self.betas.0, self.betas.1);
        Trainer {
            clip: self.clip,
            ..Trainer::new(opt, self.schedule())
        }
    }
}

/// Trains `params` for `r.steps` steps on the losses `loss(t)` returns.
pub fn fit(params: &Named, r: &Recipe, mut loss: impl FnMut(usize) -> Tensor) -> TrainLog {
    let mut trainer = r.trainer(params);
    let mut log = TrainLog::default();
    let t0 = Instant::now();
    for step in 0..r.steps {
        match trainer.step(params, step, |_| Ok(loss(step))) {
            Ok(s) => {
                log.losses.push(s.loss);
                log.grad_norms.push(s.grad_norm as f64);
            }
            Err(_) => {
                log.diverged_at = Some(step);
                break;
            }
        }
    }
    log.seconds = t0.elapsed().as_secs_f64();
    log
}
