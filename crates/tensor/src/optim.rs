//! Optimizers over named parameters: SGD (with momentum, optionally Nesterov) and AdamW with
//! parameter groups; gradient clipping by global norm.
//!
//! ```text
//!   SGD + momentum μ:  v ← μ v + g;   θ ← θ − η (nesterov ? g + μ v : v)
//!   AdamW (per group decay λ):  θ ← θ − ηλθ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
//!                               θ ← θ − η (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)   (tfs-kernels, fused)
//!   clipping: n = √(Σ_all g²);  if n > c:  g ← g · c/n
//! ```
//!
//! State (momenta, moments) is kept per parameter name, so the order in which a model lists its
//! parameters does not matter. The usual groups for transformers, [`groups_decay_matrices`]:
//! weight decay on matrices (weights, embeddings), none on biases and norm gains — decaying a
//! gain towards 0 would fight the normalisation it scales.

use crate::autograd::Grads;
use crate::backend::{self, AdamWHyper};
use crate::storage::Storage;
use crate::tensor::{no_grad, Tensor};
use std::collections::HashMap;

/// The named parameters a model exposes (see [`crate::nn::Module::parameters`]).
pub type Named = [(String, Tensor)];

/// Updates parameters from their gradients.
pub trait Optimizer {
    /// One update of every parameter that has a gradient.
    fn step(&mut self, params: &Named, grads: &Grads);
    fn set_lr(&mut self, lr: f32);
    fn lr(&self) -> f32;
}

/// Global L2 norm of the gradients of `params`, and (if it exceeds `max`) the gradients scaled
/// down to norm `max`. Returns the norm before clipping.
pub fn clip_grad_norm(params: &Named, grads: &Grads, max: f32) -> f32 {
    let mut sq = 0.0f64;
    for (_, p) in params {
        if let Some(g) = grads.get(p) {
            sq += backend::sum_squares(&g.storage());
        }
    }
    let norm = sq.sqrt() as f32;
    if norm > max && norm.is_finite() {
        let s = max / norm;
        for (_, p) in params {
            if let Some(g) = grads.get(p) {
                backend::scale(&mut g.storage_mut(), s);
            }
        }
    }
    norm
}

/// Stochastic gradient descent, with optional (Nesterov) momentum.
pub struct Sgd {
    pub lr: f32,
    pub momentum: f32,
    pub nesterov: bool,
    velocity: HashMap<String, Storage>,
}

impl Sgd {
    pub fn new(lr: f32, momentum: f32, nesterov: bool) -> Sgd {
        Sgd {
            lr,
            momentum,
            nesterov,
            velocity: HashMap::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &Named, grads: &Grads) {
        no_grad(|| {
            for (name, p) in params {
                let Some(g) = grads.get(p) else { continue };
                let (g, mut w) = (g.storage(), p.storage_mut());
                let v = (self.momentum != 0.0).then(|| {
                    self.velocity
                        .entry(name.clone())
                        .or_insert_with(|| backend::full(g.device(), g.len(), 0.0))
                });
                backend::sgd(&mut w, &g, v, self.lr, self.momentum, self.nesterov);
            }
        })
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn lr(&self) -> f32 {
        self.lr
    }
}

/// A set of parameters (by name) sharing a weight decay.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub names: Vec<String>,
    pub weight_decay: f32,
}

/// Two groups: matrices (2 or more axes) decay by `weight_decay`; biases and norm gains do not.
pub fn groups_decay_matrices(params: &Named, weight_decay: f32) -> Vec<Group> {
    let (mats, rest): (Vec<_>, Vec<_>) = params.iter().partition(|(_, p)| p.dims() >= 2);
    vec![
        Group {
            names: mats.into_iter().map(|(n, _)| n.clone()).collect(),
            weight_decay,
        },
        Group {
            names: rest.into_iter().map(|(n, _)| n.clone()).collect(),
            weight_decay: 0.0,
        },
    ]
}

/// One group holding every parameter: decay on all of them (Phase 5's recipe).
pub fn groups_decay_all(params: &Named, weight_decay: f32) -> Vec<Group> {
    vec![Group {
        names: params.iter().map(|(n, _)| n.clone()).collect(),
        weight_decay,
    }]
}

/// AdamW (Loshchilov & Hutter, 2019) with per-group weight decay.
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    decay: HashMap<String, f32>,
    t: u32,
    moments: HashMap<String, (Storage, Storage)>,
}

impl AdamW {
    /// AdamW with β = (0.9, 0.999), ε = 1e-8 and the given groups; a parameter in no group
    /// gets no decay.
    pub fn new(lr: f32, groups: &[Group]) -> AdamW {
        let decay = groups
            .iter()
            .flat_map(|g| g.names.iter().map(move |n| (n.clone(), g.weight_decay)))
            .collect();
        AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            decay,
            t: 0,
            moments: HashMap::new(),
        }
    }

    pub fn betas(mut self, beta1: f32, beta2: f32) -> AdamW {
        (self.beta1, self.beta2) = (beta1, beta2);
        self
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        self.t
    }

    /// Sets the step count and every parameter's moments (a checkpoint's state, see
    /// [`AdamW::moments`]); parameters not in `moments` start from zero again.
    pub fn set_state(&mut self, steps: u32, moments: HashMap<String, (Vec<f32>, Vec<f32>)>) {
        self.t = steps;
        self.moments = moments
            .into_iter()
            .map(|(n, (m, v))| (n, (Storage::cpu(m), Storage::cpu(v))))
            .collect();
    }

    /// Names of the parameters that have moments, sorted.
    pub fn moment_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.moments.keys().cloned().collect();
        v.sort();
        v
    }

    /// The first and second moments of `name`, read back to the host (None before its first
    /// step).
    pub fn moments(&self, name: &str) -> Option<(Vec<f32>, Vec<f32>)> {
        self.moments
            .get(name)
            .map(|(m, v)| (backend::to_host_f32(m), backend::to_host_f32(v)))
    }
}

impl Optimizer for AdamW {
    /// One update of every parameter with a gradient, in one backend call (the CPU cuts all
    /// the elements into one range per kernel thread).
    fn step(&mut self, params: &Named, grads: &Grads) {
        self.t += 1;
        let live: Vec<(&String, &Tensor, Tensor)> = params
            .iter()
            .filter_map(|(name, p)| grads.get(p).map(|g| (name, p, g.clone())))
            .collect();
        let (mut names, mut ids) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for (name, p, g) in &live {
            // Every parameter is borrowed for writing at once below, so each must appear once.
            assert!(
                names.insert(name.as_str()) && ids.insert(p.id()),
                "AdamW: parameter '{name}' is listed twice (by name or as the same tensor)"
            );
            assert_eq!(
                g.numel(),
                p.numel(),
                "AdamW: gradient of '{name}' has {} values for {} parameters",
                g.numel(),
                p.numel()
            );
            let n = g.numel();
            let dev = p.device();
            self.moments
                .entry((*name).clone())
                .or_insert_with(|| (backend::full(dev, n, 0.0), backend::full(dev, n, 0.0)));
        }
        let mut moments: HashMap<&String, &mut (Storage, Storage)> =
            self.moments.iter_mut().collect();
        let mut pds: Vec<_> = live.iter().map(|(_, p, _)| p.storage_mut()).collect();
        let gds: Vec<_> = live.iter().map(|(_, _, g)| g.storage()).collect();
        let mut items = Vec::with_capacity(live.len());
        for (((name, _, _), pd), g) in live.iter().zip(pds.iter_mut()).zip(&gds) {
            let h = AdamWHyper {
                lr: self.lr,
                beta1: self.beta1,
                beta2: self.beta2,
                eps: self.eps,
                weight_decay: self.decay.get(*name).copied().unwrap_or(0.0),
            };
            let (m, v) = moments
                .remove(name)
                .expect("moments made above, one per name");
            assert!(
                m.len() == pd.len() && v.len() == pd.len(),
                "AdamW: moments of '{name}' have {} and {} values for {} parameters",
                m.len(),
                v.len(),
                pd.len()
            );
            items.push((&mut **pd, &**g, &mut *m, &mut *v, h));
        }
        backend::adamw(items, self.t);
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn lr(&self) -> f32 {
        self.lr
    }
}
