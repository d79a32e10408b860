//! Weight initialisers: how large the random starting weights should be.
//!
//! A layer `y = x W` with `fan_in` inputs of variance v and weights of variance s² gives outputs of
//! variance `fan_in · s² · v`. To keep activations (forward) and gradients (backward) from
//! shrinking or growing layer after layer, Glorot & Bengio (2010) pick
//! `s² = 2 / (fan_in + fan_out)` (Xavier/Glorot), suited to tanh and sigmoid near 0; He et al.
//! (2015) pick `s² = 2 / fan_in`, since ReLU zeroes half its inputs and halves the variance.
//! Uniform variants use U(−a, a), whose variance is a²/3, so `a = √(3 s²)`.
//! Biases start at zero. `p1-init` shows what happens with too-small and too-large weights.
//!
//! Left out: orthogonal and LSUV initialisation.

use ndarray::{Array2, NdFloat};
use tfs_math::Rng;

/// How to draw a `(fan_in, fan_out)` weight matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    XavierUniform,
    XavierNormal,
    HeNormal,
    HeUniform,
    /// N(0, std²) with a fixed std, to show what a bad scale does.
    Normal(f64),
}

impl Init {
    /// The standard deviation this initialiser gives a `(fan_in, fan_out)` layer.
    pub fn std(&self, fan_in: usize, fan_out: usize) -> f64 {
        match *self {
            Init::XavierUniform | Init::XavierNormal => (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::HeNormal | Init::HeUniform => (2.0 / fan_in as f64).sqrt(),
            Init::Normal(s) => s,
        }
    }

    pub fn name(&self) -> String {
        match self {
            Init::XavierUniform => "Xavier uniform".into(),
            Init::XavierNormal => "Xavier normal".into(),
            Init::HeNormal => "He normal".into(),
            Init::HeUniform => "He uniform".into(),
            Init::Normal(s) => format!("N(0, {s}²)"),
        }
    }

    /// A `(fan_in, fan_out)` matrix drawn from this initialiser.
    pub fn matrix<F: NdFloat>(&self, fan_in: usize, fan_out: usize, rng: &mut Rng) -> Array2<F> {
        let std = self.std(fan_in, fan_out);
        let uniform = matches!(self, Init::XavierUniform | Init::HeUniform);
        let a = (3.0f64).sqrt() * std;
        Array2::from_shape_simple_fn((fan_in, fan_out), || {
            let v = if uniform {
                rng.uniform_range(-a, a)
            } else {
                std * rng.normal()
            };
            F::from(v).expect("fits")
        })
    }
}
