//! Optimizers: how a gradient becomes a step, behind one small trait.
//!
//! For parameters θ, gradient g = ∂L/∂θ, learning rate η (per step t = 1, 2, …):
//!
//! ```text
//!   SGD         θ ← θ − η g
//!   momentum    v ← μ v + g;            θ ← θ − η v                (heavy ball)
//!   Nesterov    v ← μ v + g;            θ ← θ − η (g + μ v)        (look-ahead form)
//!   Adam        m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²
//!               m̂ = m / (1 − β₁ᵗ);      v̂ = v / (1 − β₂ᵗ);        θ ← θ − η m̂ / (√v̂ + ε)
//!   AdamW       Adam, plus decoupled weight decay θ ← θ − η λ θ (Loshchilov & Hutter, 2019)
//! ```
//!
//! Momentum averages gradients over ~1/(1 − μ) steps, damping zig-zags across a ravine. Adam
//! (Kingma & Ba, 2015) divides by a running RMS of each coordinate's gradient, so every parameter
//! moves at about η per step whatever its gradient's scale; the bias corrections undo the zero
//! start of m and v. AdamW applies weight decay to θ directly instead of adding λθ to g, where
//! Adam's normalisation would scale it away.
//!
//! A step takes the model (its parameters visited by name, [`crate::params::Params`]) and its
//! gradients ([`crate::params::Grads`]); optimizer state (momentum, Adam's moments) is kept per
//! parameter name, so it follows a tensor, never a position in a list.
//!
//! Left out: RMSprop and Adagrad (Adam subsumes them for our purposes), AMSGrad, Lion.

use crate::params::{Grads, Params};
use ndarray::{ArrayD, ArrayViewMutD, NdFloat, Zip};
use std::collections::HashMap;

/// An optimizer updates parameters in place from their gradients.
pub trait Optimizer<F: NdFloat> {
    /// One step: every parameter of `model` moves by its gradient of the same name in `grads`.
    fn step(&mut self, model: &mut dyn Params<F>, grads: &Grads<F>);
    /// The learning rate used by the next step (schedules set it before each step).
    fn set_lr(&mut self, lr: f64);
    fn name(&self) -> String;
}

fn f<F: NdFloat>(x: f64) -> F {
    F::from(x).expect("fits")
}

/// An update of one named parameter from its gradient.
type Update<'a, F> = dyn FnMut(&str, ArrayViewMutD<F>, &ArrayD<F>) + 'a;

/// Calls `update(name, param, grad)` for every parameter, checking that its gradient exists and
/// has its shape.
fn for_each_pair<F: NdFloat>(model: &mut dyn Params<F>, grads: &Grads<F>, update: &mut Update<F>) {
    model.visit_mut(&mut |name, p| {
        let g = grads.get(name);
        assert_eq!(
            p.shape(),
            g.shape(),
            "optimizer: '{name}' has shape {:?}, its gradient {:?}",
            p.shape(),
            g.shape()
        );
        update(name, p, g);
    });
}

/// The zeroed state buffer of parameter `name`, made on first use.
fn state<'a, F: NdFloat>(
    map: &'a mut HashMap<String, ArrayD<F>>,
    name: &str,
    like: &ArrayD<F>,
) -> &'a mut ArrayD<F> {
    // Looked up by &str first: no String is built on the steps after the first.
    if !map.contains_key(name) {
        map.insert(name.to_string(), ArrayD::zeros(like.raw_dim()));
    }
    map.get_mut(name).expect("inserted above")
}

/// Plain stochastic gradient descent.
pub struct Sgd {
    pub lr: f64,
}

impl<F: NdFloat> Optimizer<F> for Sgd {
    fn step(&mut self, model: &mut dyn Params<F>, grads: &Grads<F>) {
        let lr: F = f(self.lr);
        for_each_pair(model, grads, &mut |_, p, g| {
            Zip::from(p).and(g).for_each(|p, &g| *p -= lr * g);
        });
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn name(&self) -> String {
        "SGD".into()
    }
}

/// SGD with (heavy-ball or Nesterov) momentum.
pub struct Momentum<F> {
    pub lr: f64,
    pub mu: f64,
    pub nesterov: bool,
    v: HashMap<String, ArrayD<F>>,
}

impl<F: NdFloat> Momentum<F> {
    pub fn new(lr: f64, mu: f64, nesterov: bool) -> Self {
        Momentum {
            lr,
            mu,
            nesterov,
            v: HashMap::new(),
        }
    }
}

impl<F: NdFloat> Optimizer<F> for Momentum<F> {
    fn step(&mut self, model: &mut dyn Params<F>, grads: &Grads<F>) {
        let (lr, mu): (F, F) = (f(self.lr), f(self.mu));
        let nesterov = self.nesterov;
        let vs = &mut self.v;
        for_each_pair(model, grads, &mut |name, p, g| {
            let v = state(vs, name, g);
            Zip::from(p).and(g).and(v).for_each(|p, &g, v| {
                *v = mu * *v + g;
                let d = if nesterov { g + mu * *v } else { *v };
                *p -= lr * d;
            });
        });
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn name(&self) -> String {
        if self.nesterov {
            "Nesterov momentum".into()
        } else {
            "momentum".into()
        }
    }
}

/// Adam, and AdamW when `weight_decay > 0`.
pub struct Adam<F> {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay λ (AdamW); 0 gives Adam.
    pub weight_decay: f64,
    t: i32,
    m: HashMap<String, ArrayD<F>>,
    v: HashMap<String, ArrayD<F>>,
}

impl<F: NdFloat> Adam<F> {
    /// Adam with the paper's defaults β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(lr: f64) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            t: 0,
            m: HashMap::new(),
            v: HashMap::new(),
        }
    }

    /// AdamW: Adam with decoupled weight decay λ.
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Adam {
            weight_decay,
            ..Adam::new(lr)
        }
    }
}

impl<F: NdFloat> Optimizer<F> for Adam<F> {
    fn step(&mut self, model: &mut dyn Params<F>, grads: &Grads<F>) {
        self.t += 1;
        let (b1, b2): (F, F) = (f(self.beta1), f(self.beta2));
        let one = F::one();
        let c1: F = f(1.0 / (1.0 - self.beta1.powi(self.t)));
        let c2: F = f(1.0 / (1.0 - self.beta2.powi(self.t)));
        let (lr, eps): (F, F) = (f(self.lr), f(self.eps));
        let decay: F = f(1.0 - self.lr * self.weight_decay);
        let (ms, vs) = (&mut self.m, &mut self.v);
        for_each_pair(model, grads, &mut |name, p, g| {
            let m = state(ms, name, g);
            let v = state(vs, name, g);
            Zip::from(p).and(g).and(m).and(v).for_each(|p, &g, m, v| {
                *m = b1 * *m + (one - b1) * g;
                *v = b2 * *v + (one - b2) * g * g;
                let mhat = *m * c1;
                let vhat = *v * c2;
                *p = *p * decay - lr * mhat / (vhat.sqrt() + eps);
            });
        });
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn name(&self) -> String {
        if self.weight_decay > 0.0 {
            "AdamW".into()
        } else {
            "Adam".into()
        }
    }
}

pub use crate::params::clip_grad_norm;

/// Clips the gradients' global norm to `clip` (if given) and takes one optimizer step.
/// Returns the norm before clipping.
pub fn clip_and_step<F: NdFloat>(
    opt: &mut dyn Optimizer<F>,
    model: &mut dyn Params<F>,
    grads: &mut Grads<F>,
    clip: Option<f64>,
) -> f64 {
    let norm = clip_grad_norm(grads, clip.unwrap_or(f64::INFINITY));
    opt.step(model, grads);
    norm
}
