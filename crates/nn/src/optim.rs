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
//! Parameters and gradients are passed as flat slices, one per tensor, in the same order every
//! step; optimizer state is kept per tensor index.
//!
//! Left out: RMSprop and Adagrad (Adam subsumes them for our purposes), AMSGrad, Lion.

use ndarray::NdFloat;

/// An optimizer updates parameters in place from their gradients.
pub trait Optimizer<F: NdFloat> {
    /// One step. `params[i]` and `grads[i]` are the same tensor's values and gradient.
    fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]);
    /// The learning rate used by the next step (schedules set it before each step).
    fn set_lr(&mut self, lr: f64);
    fn name(&self) -> String;
}

fn f<F: NdFloat>(x: f64) -> F {
    F::from(x).expect("fits")
}

fn check<F>(params: &[&mut [F]], grads: &[&[F]]) {
    assert_eq!(
        params.len(),
        grads.len(),
        "optimizer: {} parameter tensors, {} gradients",
        params.len(),
        grads.len()
    );
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        assert_eq!(
            p.len(),
            g.len(),
            "optimizer: tensor {i} has {} values, its gradient {}",
            p.len(),
            g.len()
        );
    }
}

/// Zeroed state buffers shaped like the parameters, made on the first step.
fn ensure_state<F: NdFloat>(state: &mut Vec<Vec<F>>, params: &[&mut [F]]) {
    if state.len() != params.len() {
        *state = params.iter().map(|p| vec![F::zero(); p.len()]).collect();
    }
}

/// Plain stochastic gradient descent.
pub struct Sgd {
    pub lr: f64,
}

impl<F: NdFloat> Optimizer<F> for Sgd {
    fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]) {
        check(params, grads);
        let lr: F = f(self.lr);
        for (p, g) in params.iter_mut().zip(grads) {
            for (p, &g) in p.iter_mut().zip(g.iter()) {
                *p -= lr * g;
            }
        }
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
    v: Vec<Vec<F>>,
}

impl<F: NdFloat> Momentum<F> {
    pub fn new(lr: f64, mu: f64, nesterov: bool) -> Self {
        Momentum {
            lr,
            mu,
            nesterov,
            v: Vec::new(),
        }
    }
}

impl<F: NdFloat> Optimizer<F> for Momentum<F> {
    fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]) {
        check(params, grads);
        ensure_state(&mut self.v, params);
        let (lr, mu): (F, F) = (f(self.lr), f(self.mu));
        for ((p, g), v) in params.iter_mut().zip(grads).zip(&mut self.v) {
            for ((p, &g), v) in p.iter_mut().zip(g.iter()).zip(v.iter_mut()) {
                *v = mu * *v + g;
                let d = if self.nesterov { g + mu * *v } else { *v };
                *p -= lr * d;
            }
        }
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
    m: Vec<Vec<F>>,
    v: Vec<Vec<F>>,
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
            m: Vec::new(),
            v: Vec::new(),
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
    fn step(&mut self, params: &mut [&mut [F]], grads: &[&[F]]) {
        check(params, grads);
        ensure_state(&mut self.m, params);
        ensure_state(&mut self.v, params);
        self.t += 1;
        let (b1, b2): (F, F) = (f(self.beta1), f(self.beta2));
        let one = F::one();
        let c1: F = f(1.0 / (1.0 - self.beta1.powi(self.t)));
        let c2: F = f(1.0 / (1.0 - self.beta2.powi(self.t)));
        let (lr, eps): (F, F) = (f(self.lr), f(self.eps));
        let decay: F = f(1.0 - self.lr * self.weight_decay);
        for (((p, g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            for (((p, &g), m), v) in p
                .iter_mut()
                .zip(g.iter())
                .zip(m.iter_mut())
                .zip(v.iter_mut())
            {
                *m = b1 * *m + (one - b1) * g;
                *v = b2 * *v + (one - b2) * g * g;
                let mhat = *m * c1;
                let vhat = *v * c2;
                *p = *p * decay - lr * mhat / (vhat.sqrt() + eps);
            }
        }
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

/// Scales all gradients together so that their global L2 norm is at most `max_norm`
/// (Pascanu et al., 2013): `g ← g · min(1, max_norm / ‖g‖)`. Returns the norm before clipping.
/// The direction of the step is kept; only its length is capped, which tames the rare exploding
/// gradient of a recurrent network without changing ordinary steps.
pub fn clip_grad_norm<F: NdFloat>(grads: &mut [&mut [F]], max_norm: f64) -> f64 {
    let norm = grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|&v| {
            let v = v.to_f64().unwrap_or(f64::NAN);
            v * v
        })
        .sum::<f64>()
        .sqrt();
    if norm > max_norm && norm.is_finite() {
        let scale: F = f(max_norm / norm);
        for g in grads.iter_mut() {
            for v in g.iter_mut() {
                *v *= scale;
            }
        }
    }
    norm
}
