//! The model's sizes and switches, and the named presets.
//!
//! | preset | layers | heads | width | context | batch | vocabulary | parameters |
//! |---|---|---|---|---|---|---|---|
//! | `baby` | 4 | 4 | 128 | 64 | 12 | characters | 0.81M |
//! | `shakespeare-char` | 6 | 6 | 384 | 256 | 64 | characters | 10.8M |
//! | `1m` | 4 | 4 | 128 | 128 | 32 | characters | 0.82M |
//! | `10m` | 6 | 6 | 384 | 128 | 32 | characters | 10.7M |
//! | `50m` | 8 | 8 | 704 | 128 | 16 | characters | 47.8M |
//! | `gpt2-124m` | 12 | 12 | 768 | 1024 | 8 × 64 accumulated | 50257 (GPT-2 BPE) | 124.4M |
//!
//! Parameters (65 characters): V·C + T·C + L·(12C² + 13C) + 2C with biases, embeddings included.
//!
//! `baby` is nanoGPT's CPU Shakespeare run (its README's "baby GPT"): AdamW lr 1e-3, betas
//! 0.9/0.99, weight decay 0.1 on matrices, 100 warmup steps, cosine to 1e-4 over 2000
//! iterations, clipping at 1, dropout 0.
//!
//! `gpt2-124m` is GPT-2 Small's pretraining recipe (Phase 8): ≈ 0.5M tokens per step
//! (8 windows of 1024 × 64 accumulated micro-batches), AdamW lr 6e-4 with betas 0.9/0.95 and
//! decay 0.1 on matrices, 700 warmup steps then cosine to 10% of the peak over 19 073 steps
//! (10B tokens), clipping at 1, dropout 0.1.

use serde_json::{json, Value};

/// The architecture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GptConfig {
    pub n_layer: usize,
    pub n_head: usize,
    pub n_embd: usize,
    pub block_size: usize,
    pub vocab_size: usize,
    pub dropout: f32,
    /// Biases in the linear layers and layer norms (GPT-2: yes).
    pub bias: bool,
}

/// How to train it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub max_iters: usize,
    pub lr: f32,
    pub min_lr: f32,
    pub warmup: usize,
    /// Cosine decay ends here (usually `max_iters`).
    pub lr_decay_iters: usize,
    pub beta1: f32,
    pub beta2: f32,
    pub weight_decay: f32,
    pub grad_clip: f32,
    pub eval_interval: usize,
    pub eval_iters: usize,
    pub sample_interval: usize,
    /// Micro-batches per optimizer step (their gradients are averaged): the step sees
    /// `batch_size · grad_accum` windows.
    pub grad_accum: usize,
    /// Save a resumable checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: usize,
    /// How the training tokens are walked; None: random windows for a text, sequential for
    /// prepared shards.
    pub data_order: Option<crate::data::Order>,
}

/// A preset: the model and its recipe.
#[derive(Clone, Debug, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub model: GptConfig,
    pub train: TrainConfig,
}

/// Every preset's name.
pub const PRESETS: [&str; 6] = ["baby", "shakespeare-char", "1m", "10m", "50m", "gpt2-124m"];

fn char_model(n_layer: usize, n_head: usize, n_embd: usize, block_size: usize) -> GptConfig {
    GptConfig {
        n_layer,
        n_head,
        n_embd,
        block_size,
        vocab_size: 65,
        dropout: 0.0,
        bias: true,
    }
}

fn recipe(batch_size: usize, max_iters: usize, lr: f32, beta2: f32) -> TrainConfig {
    TrainConfig {
        batch_size,
        max_iters,
        lr,
        min_lr: lr / 10.0,
        warmup: 100,
        lr_decay_iters: max_iters,
        beta1: 0.9,
        beta2,
        weight_decay: 0.1,
        grad_clip: 1.0,
        eval_interval: 250,
        eval_iters: 20,
        sample_interval: 500,
        grad_accum: 1,
        checkpoint_every: 0,
        data_order: None,
    }
}

impl Preset {
    /// The preset called `name` (None for an unknown name; see [`PRESETS`]).
    pub fn get(name: &str) -> Option<Preset> {
        let (model, train) = match name {
            "baby" => (char_model(4, 4, 128, 64), recipe(12, 2000, 1e-3, 0.99)),
            "shakespeare-char" => (
                GptConfig {
                    dropout: 0.2,
                    ..char_model(6, 6, 384, 256)
                },
                recipe(64, 5000, 1e-3, 0.99),
            ),
            "1m" => (char_model(4, 4, 128, 128), recipe(32, 2000, 1e-3, 0.99)),
            "10m" => (char_model(6, 6, 384, 128), recipe(32, 2000, 6e-4, 0.99)),
            "50m" => (char_model(8, 8, 704, 128), recipe(16, 2000, 3e-4, 0.95)),
            "gpt2-124m" => (
                GptConfig {
                    n_layer: 12,
                    n_head: 12,
                    n_embd: 768,
                    block_size: 1024,
                    vocab_size: 50257,
                    dropout: 0.1,
                    bias: true,
                },
                // GPT-2 Small's recipe at ~0.5M tokens per step: 8 × 1024 tokens × 64
                // micro-batches; 10B tokens ≈ 19 000 steps.
                TrainConfig {
                    grad_accum: 64,
                    warmup: 700,
                    eval_interval: 500,
                    sample_interval: 2000,
                    checkpoint_every: 1000,
                    ..recipe(8, 19073, 6e-4, 0.95)
                },
            ),
            _ => return None,
        };
        let name = PRESETS.iter().find(|&&p| p == name)?;
        Some(Preset { name, model, train })
    }

    /// Applies one `key=value` override (model or training key). Errors name the key; whether
    /// the sizes fit together is checked by [`Preset::validate`] once every override is applied
    /// (so `n_embd` and `n_head` can change in either order).
    pub fn set(&mut self, kv: &str) -> Result<(), String> {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--set {kv}: expected key=value"))?;
        let bad = |what: &str| format!("--set {k}={v}: {what}");
        let us = || {
            v.trim()
                .parse::<usize>()
                .map_err(|_| bad("expected a whole number"))
        };
        let fl = || {
            v.trim()
                .parse::<f32>()
                .map_err(|_| bad("expected a number"))
        };
        let (m, t) = (&mut self.model, &mut self.train);
        match k.trim() {
            "n_layer" => m.n_layer = us()?,
            "n_head" => m.n_head = us()?,
            "n_embd" => m.n_embd = us()?,
            "block_size" => m.block_size = us()?,
            "dropout" => m.dropout = fl()?,
            "bias" => {
                m.bias = v
                    .trim()
                    .parse::<bool>()
                    .map_err(|_| bad("expected true or false"))?
            }
            "batch_size" => t.batch_size = us()?,
            "max_iters" => t.max_iters = us()?,
            "lr" | "learning_rate" => t.lr = fl()?,
            "min_lr" => t.min_lr = fl()?,
            "warmup" | "warmup_iters" => t.warmup = us()?,
            "lr_decay_iters" => t.lr_decay_iters = us()?,
            "beta1" => t.beta1 = fl()?,
            "beta2" => t.beta2 = fl()?,
            "weight_decay" => t.weight_decay = fl()?,
            "grad_clip" => t.grad_clip = fl()?,
            "eval_interval" => t.eval_interval = us()?,
            "eval_iters" => t.eval_iters = us()?,
            "sample_interval" => t.sample_interval = us()?,
            "grad_accum" | "gradient_accumulation_steps" => t.grad_accum = us()?,
            "checkpoint_every" => t.checkpoint_every = us()?,
            "data_order" => {
                t.data_order = Some(
                    crate::data::Order::parse(v.trim())
                        .ok_or_else(|| bad("expected random or sequential"))?,
                )
            }
            other => return Err(format!("--set {other}: unknown key")),
        }
        Ok(())
    }

    /// Checks the sizes fit together.
    pub fn validate(&self) -> Result<(), String> {
        let m = &self.model;
        let t = &self.train;
        if m.n_layer == 0
            || m.n_head == 0
            || m.n_embd == 0
            || m.block_size == 0
            || m.vocab_size == 0
        {
            return Err(
                "n_layer, n_head, n_embd, block_size and the vocabulary must be at least 1".into(),
            );
        }
        if !m.n_embd.is_multiple_of(m.n_head) {
            return Err(format!(
                "n_embd {} is not divisible by n_head {}",
                m.n_embd, m.n_head
            ));
        }
        if !(0.0..1.0).contains(&m.dropout) {
            return Err(format!("dropout {} must be in [0, 1)", m.dropout));
        }
        if t.batch_size == 0 || t.grad_accum == 0 || t.lr.is_nan() || t.lr <= 0.0 {
            return Err("batch_size and grad_accum must be at least 1 and lr positive".into());
        }
        Ok(())
    }
}

impl GptConfig {
    pub fn to_json(&self) -> Value {
        json!({"n_layer": self.n_layer, "n_head": self.n_head, "n_embd": self.n_embd, "block_size": self.block_size,
               "vocab_size": self.vocab_size, "dropout": self.dropout, "bias": self.bias})
    }

    /// Reads [`GptConfig::to_json`]'s output; errors name the missing or wrong key.
    pub fn from_json(v: &Value) -> Result<GptConfig, String> {
        let n = |k: &str| {
            v[k].as_u64()
                .map(|x| x as usize)
                .ok_or_else(|| format!("config: '{k}' missing or not a whole number"))
        };
        let c = GptConfig {
            n_layer: n("n_layer")?,
            n_head: n("n_head")?,
            n_embd: n("n_embd")?,
            block_size: n("block_size")?,
            vocab_size: n("vocab_size")?,
            dropout: v["dropout"].as_f64().ok_or("config: 'dropout' missing")? as f32,
            bias: v["bias"].as_bool().ok_or("config: 'bias' missing")?,
        };
        Preset {
            name: "checkpoint",
            model: c,
            train: recipe(1, 1, 1e-3, 0.99),
        }
        .validate()?;
        Ok(c)
    }
}
