//! Modules: layers that own named parameters and compose.
//!
//! A [`Module`] lists its parameters by dotted name (`"enc.0.self_attn.q.weight"`, the naming of
//! PyTorch's `named_parameters`), which optimizers, clipping, checkpoints and weight import use;
//! `set_training` switches dropout between training and evaluation. The layers here mirror
//! `torch.nn`: [`Linear`] keeps its weight as `(out, in)`, [`LayerNorm`] its gain as `weight`.
//!
//! [`attention`]: multi-head attention (self, cross, causal). [`transformer`]: FFN, encoder and
//! decoder blocks, and the encoder-decoder transformer of Phase 5.

pub mod attention;
pub mod transformer;

use crate::tensor::Tensor;
use std::cell::{Cell, RefCell};
use tfs_math::Rng;

/// A layer or model with named parameters.
pub trait Module {
    /// Calls `f(name, parameter)` for every parameter, names prefixed by `prefix` (`""` at the top).
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor));

    /// Training (dropout on) or evaluation mode, for this module and its children.
    fn set_training(&mut self, _training: bool) {}

    /// Every parameter with its full name, in visiting order.
    fn parameters(&self) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        self.visit("", &mut |n, t| v.push((n.to_string(), t.clone())));
        v
    }

    /// Number of scalar parameters.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|(_, t)| t.numel()).sum()
    }
}

/// `prefix.name`, or `name` at the top.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Uniform(−a, a) values, a = √(6/(fan_in + fan_out)) (Glorot & Bengio, 2010).
pub fn xavier_uniform(fan_in: usize, fan_out: usize, n: usize, rng: &mut Rng) -> Vec<f32> {
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    rng.uniform_vec_f32(n, -a, a)
}

/// Normal(0, std²) values.
pub fn normal(n: usize, std: f64, rng: &mut Rng) -> Vec<f32> {
    rng.normal_vec(n, std)
        .into_iter()
        .map(|v| v as f32)
        .collect()
}

/// `y = x Wᵀ + b`, `W: (out, in)`; parameters `weight`, `bias`.
pub struct Linear {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
}

impl Linear {
    /// Xavier-uniform weight, zero bias.
    pub fn new(n_in: usize, n_out: usize, bias: bool, rng: &mut Rng) -> Linear {
        Linear {
            weight: Tensor::var(
                xavier_uniform(n_in, n_out, n_in * n_out, rng),
                &[n_out, n_in],
            ),
            bias: bias.then(|| Tensor::var(vec![0.0; n_out], &[n_out])),
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, self.bias.as_ref())
    }
}

impl Module for Linear {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join(prefix, "bias"), b);
        }
    }
}

/// A table of `(V, C)` vectors looked up by id; parameter `weight`.
pub struct Embedding {
    pub weight: Tensor,
}

impl Embedding {
    /// Entries N(0, std²).
    pub fn new(vocab: usize, dim: usize, std: f64, rng: &mut Rng) -> Embedding {
        Embedding {
            weight: Tensor::var(normal(vocab * dim, std, rng), &[vocab, dim]),
        }
    }
    /// `(shape…, C)` for ids laid out as `shape`.
    pub fn forward(&self, ids: &[usize], shape: &[usize]) -> Tensor {
        self.weight.embedding(ids, shape)
    }
}

impl Module for Embedding {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join(prefix, "weight"), &self.weight);
    }
}

/// Layer norm over the last axis; parameters `weight` (γ, ones) and `bias` (β, zeros).
pub struct LayerNorm {
    pub weight: Tensor,
    pub bias: Tensor,
    pub eps: f32,
}

impl LayerNorm {
    pub fn new(dim: usize) -> LayerNorm {
        LayerNorm {
            weight: Tensor::var(vec![1.0; dim], &[dim]),
            bias: Tensor::var(vec![0.0; dim], &[dim]),
            eps: 1e-5,
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.layer_norm(&self.weight, &self.bias, self.eps)
    }
}

impl Module for LayerNorm {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join(prefix, "weight"), &self.weight);
        f(&join(prefix, "bias"), &self.bias);
    }
}

/// RMS norm over the last axis (Zhang & Sennrich, 2019; LLaMA); parameter `weight` (γ, ones).
pub struct RmsNorm {
    pub weight: Tensor,
    pub eps: f32,
}

impl RmsNorm {
    pub fn new(dim: usize) -> RmsNorm {
        RmsNorm {
            weight: Tensor::var(vec![1.0; dim], &[dim]),
            eps: 1e-5,
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.rms_norm(&self.weight, self.eps)
    }
}

impl Module for RmsNorm {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join(prefix, "weight"), &self.weight);
    }
}

/// Dropout with probability `p` in training mode, the identity in evaluation mode. Its masks come
/// from its own seeded generator, so a run is reproducible from its seed.
pub struct Dropout {
    pub p: f32,
    training: Cell<bool>,
    rng: RefCell<Rng>,
}

impl Dropout {
    pub fn new(p: f32, rng: &mut Rng) -> Dropout {
        Dropout {
            p,
            training: Cell::new(true),
            rng: RefCell::new(rng.fork()),
        }
    }
    /// The state of its mask generator (for checkpoints that resume bit for bit).
    pub fn rng_state(&self) -> [u64; 4] {
        self.rng.borrow().state()
    }
    pub fn set_rng_state(&self, s: [u64; 4]) {
        *self.rng.borrow_mut() = Rng::from_state(s);
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        if !self.training.get() || self.p == 0.0 {
            return x.clone();
        }
        x.dropout(self.p, &mut self.rng.borrow_mut())
    }
}

impl Module for Dropout {
    fn visit(&self, _: &str, _: &mut dyn FnMut(&str, &Tensor)) {}
    fn set_training(&mut self, training: bool) {
        self.training.set(training);
    }
}
