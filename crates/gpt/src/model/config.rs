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

/// Where positions enter the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pos {
    /// A learned table `wpe: (block_size, C)` added to the token embeddings (GPT-2).
    Learned,
    /// Rotary embeddings (RoFormer; LLaMA): q and k rotated by their position inside attention.
    Rope,
}

/// The normalisation before attention, before the MLP and at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// `(x − μ)/σ · γ + β` (GPT-2).
    LayerNorm,
    /// `x / rms(x) · γ`: no centring, no β (LLaMA).
    RmsNorm,
}

/// The feed-forward block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mlp {
    /// `W₂ GELU(W₁ x)`, hidden 4C (GPT-2).
    Gelu,
    /// `W₂ (SiLU(W₁ x) ⊙ W₃ x)`, hidden ⌈8C/3⌉ rounded up to a multiple of 8 so the parameters
    /// match GELU's 4C (LLaMA).
    SwiGlu,
}

/// Which attention kernel computes `softmax(q kᵀ/√d) v`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttnKernel {
    /// Materialises the (T, T) attention weights and keeps them for backward.
    Naive,
    /// Tiled, online softmax: never stores (T, T) (FlashAttention).
    Flash,
}

/// The architecture. GPT-2 is [`GptConfig::default`]'s switches; a LLaMA-style model is the same
/// code with `pos = Rope, norm = RmsNorm, mlp = SwiGlu, bias = false` (and `n_kv_head < n_head`
/// for grouped-query attention).
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
    pub pos: Pos,
    /// RoPE's base θ: pair i of a head rotates by `pos · θ^(−2i/d)`.
    pub rope_theta: f32,
    pub norm: Norm,
    pub mlp: Mlp,
    /// Key/value heads: `n_head` is multi-head attention, 1 is multi-query, between is
    /// grouped-query (must divide `n_head`).
    pub n_kv_head: usize,
    /// Sliding-window attention (Mistral): each position sees its last `window` positions; 0 is
    /// full causal attention.
    pub window: usize,
    /// Mixture of experts: 0 is a dense MLP; otherwise every block's MLP is `n_expert` expert
    /// MLPs of which a router picks `top_k` per token.
    pub n_expert: usize,
    pub top_k: usize,
    /// Weight of the load-balancing loss `E · Σₑ fₑ·Pₑ` (Switch Transformer) in the training loss.
    pub moe_aux: f32,
    pub attn: AttnKernel,
}

impl Default for GptConfig {
    /// The baby model's sizes with GPT-2's switches.
    fn default() -> GptConfig {
        GptConfig {
            n_layer: 4,
            n_head: 4,
            n_embd: 128,
            block_size: 64,
            vocab_size: 65,
            dropout: 0.0,
            bias: true,
            pos: Pos::Learned,
            rope_theta: 10000.0,
            norm: Norm::LayerNorm,
            mlp: Mlp::Gelu,
            n_kv_head: 4,
            window: 0,
            n_expert: 0,
            top_k: 2,
            moe_aux: 0.01,
            attn: AttnKernel::Naive,
        }
    }
}

impl GptConfig {
    /// The MLP's hidden width: 4C for GELU, ⌈8C/3⌉ up to a multiple of 8 for SwiGLU (its three
    /// matrices then hold as many parameters as GELU's two).
    pub fn ffn_hidden(&self) -> usize {
        match self.mlp {
            Mlp::Gelu => 4 * self.n_embd,
            Mlp::SwiGlu => (8 * self.n_embd).div_ceil(3).div_ceil(8) * 8,
        }
    }

    /// Width of one head.
    pub fn head_size(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// True when every switch is GPT-2's (the only architecture Hugging Face's GPT-2 holds).
    pub fn is_gpt2(&self) -> bool {
        let d = GptConfig::default();
        self.pos == d.pos
            && self.norm == d.norm
            && self.mlp == d.mlp
            && self.n_kv_head == self.n_head
            && self.window == 0
            && self.n_expert == 0
    }
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
    /// Whether `n_kv_head` was set by [`Preset::set`]: until it is, it follows `n_head`
    /// (multi-head attention stays multi-head when the head count changes).
    pub kv_heads_set: bool,
}

/// Every preset's name.
pub const PRESETS: [&str; 6] = ["baby", "shakespeare-char", "1m", "10m", "50m", "gpt2-124m"];

fn char_model(n_layer: usize, n_head: usize, n_embd: usize, block_size: usize) -> GptConfig {
    GptConfig {
        n_layer,
        n_head,
        n_embd,
        block_size,
        n_kv_head: n_head,
        ..GptConfig::default()
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
                    n_kv_head: 12,
                    ..GptConfig::default()
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
        Some(Preset {
            name,
            model,
            train,
            kv_heads_set: false,
        })
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
        let word = |choices: &[&str]| {
            let w = v.trim();
            choices
                .iter()
                .position(|c| *c == w)
                .ok_or_else(|| bad(&format!("expected one of {}", choices.join(", "))))
        };
        match k.trim() {
            "n_layer" => m.n_layer = us()?,
            "n_head" => {
                m.n_head = us()?;
                if !self.kv_heads_set {
                    m.n_kv_head = m.n_head;
                }
            }
            "n_kv_head" => {
                m.n_kv_head = us()?;
                self.kv_heads_set = true;
            }
            "pos" => m.pos = [Pos::Learned, Pos::Rope][word(&["learned", "rope"])?],
            "rope_theta" => m.rope_theta = fl()?,
            "norm" => m.norm = [Norm::LayerNorm, Norm::RmsNorm][word(&["layernorm", "rmsnorm"])?],
            "mlp" => m.mlp = [Mlp::Gelu, Mlp::SwiGlu][word(&["gelu", "swiglu"])?],
            "window" => m.window = us()?,
            "n_expert" => m.n_expert = us()?,
            "top_k" => m.top_k = us()?,
            "moe_aux" => m.moe_aux = fl()?,
            "attn" => m.attn = [AttnKernel::Naive, AttnKernel::Flash][word(&["naive", "flash"])?],
            "llama" => {
                // Every LLaMA switch at once, or every GPT-2 one back (GQA and the window stay
                // as they are).
                let on = word(&["true", "false"])? == 0;
                m.pos = if on { Pos::Rope } else { Pos::Learned };
                m.norm = if on { Norm::RmsNorm } else { Norm::LayerNorm };
                m.mlp = if on { Mlp::SwiGlu } else { Mlp::Gelu };
                m.bias = !on;
            }
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
    /// The preset shrunk to seconds for `--quick` runs and tests: one layer 32 wide with 2 heads
    /// (kv heads kept at most 2, so grouped-query switches stay valid), a context of at most 16;
    /// every other switch is kept. The one shrink every quick experiment starts from.
    pub fn quick(&mut self) {
        let m = &mut self.model;
        m.n_layer = 1;
        m.n_embd = 32;
        m.n_head = 2;
        m.n_kv_head = m.n_kv_head.clamp(1, 2);
        m.block_size = m.block_size.min(16);
    }

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
        if m.n_kv_head == 0 || !m.n_head.is_multiple_of(m.n_kv_head) {
            return Err(format!(
                "n_kv_head {} must divide n_head {}",
                m.n_kv_head, m.n_head
            ));
        }
        if m.pos == Pos::Rope && !(m.n_embd / m.n_head).is_multiple_of(2) {
            return Err(format!(
                "RoPE rotates pairs: the head size {} must be even",
                m.n_embd / m.n_head
            ));
        }
        if m.n_expert > 0 && (m.top_k == 0 || m.top_k > m.n_expert) {
            return Err(format!(
                "top_k {} must be in 1..={} (n_expert)",
                m.top_k, m.n_expert
            ));
        }
        if m.rope_theta.is_nan() || m.rope_theta <= 1.0 || m.moe_aux.is_nan() || m.moe_aux < 0.0 {
            return Err("rope_theta must exceed 1 and moe_aux be at least 0".into());
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
               "vocab_size": self.vocab_size, "dropout": self.dropout, "bias": self.bias,
               "pos": match self.pos { Pos::Learned => "learned", Pos::Rope => "rope" },
               "rope_theta": self.rope_theta,
               "norm": match self.norm { Norm::LayerNorm => "layernorm", Norm::RmsNorm => "rmsnorm" },
               "mlp": match self.mlp { Mlp::Gelu => "gelu", Mlp::SwiGlu => "swiglu" },
               "n_kv_head": self.n_kv_head, "window": self.window,
               "n_expert": self.n_expert, "top_k": self.top_k, "moe_aux": self.moe_aux,
               "attn": match self.attn { AttnKernel::Naive => "naive", AttnKernel::Flash => "flash" }})
    }

    /// Reads [`GptConfig::to_json`]'s output; errors name the missing or wrong key. The Phase 9
    /// switches may be absent (checkpoints written before them): GPT-2's are taken.
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
            ..GptConfig::default()
        };
        let mut p = Preset {
            name: "checkpoint",
            model: GptConfig {
                n_kv_head: c.n_head,
                ..c
            },
            train: recipe(1, 1, 1e-3, 0.99),
            kv_heads_set: false,
        };
        for key in [
            "pos",
            "rope_theta",
            "norm",
            "mlp",
            "n_kv_head",
            "window",
            "n_expert",
            "top_k",
            "moe_aux",
            "attn",
        ] {
            let val = match &v[key] {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            p.set(&format!("{key}={val}"))
                .map_err(|e| format!("config: {e}"))?;
        }
        p.validate()?;
        Ok(p.model)
    }
}
