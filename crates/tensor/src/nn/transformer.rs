//! The encoder-decoder transformer of Phase 5, rebuilt from framework ops: no backward is
//! written here — autograd derives it — and `tests/it/equal.rs` proves it equal, outputs and
//! gradients, to the hand-written one.
//!
//! ```text
//!   X⁰ = √D · E_src[src] + PE        M = Encoderᴺ(X⁰) (→ LN if pre-norm)
//!   Y⁰ = √D · E_tgt[tgt_in] + PE     H = Decoderᴺ(Y⁰, M) (→ LN if pre-norm)
//!   Z  = H W_outᵀ + b_out (tied: W_out = E_tgt)        L = mean CE over non-padding targets
//!   sublayer, post-norm: x ← LN(x + Drop(f(x)))      pre-norm: x ← x + Drop(f(LN(x)))
//!   encoder block: self-attention (padding) → FFN
//!   decoder block: self-attention (causal + padding) → cross-attention (padding) → FFN
//! ```
//!
//! Names: `src_emb.weight`, `tgt_emb.weight`, `enc.{i}.{self_attn,ln1,ffn,ln2}.*`,
//! `dec.{i}.{self_attn,ln1,cross_attn,ln2,ffn,ln3}.*`, `enc_norm.*`/`dec_norm.*` (pre-norm),
//! `out.weight (V, D)` (absent when tied), `out.bias`; inside: `q/k/v/o.{weight,bias}`,
//! `fc1/fc2.{weight,bias}`, `lnK.{weight,bias}`. [`phase5_name`] maps each to Phase 5's name.

use super::attention::MultiHeadAttention;
use super::{join, Dropout, Embedding, LayerNorm, Linear, Module};
use crate::ops::attention::AttnMask;
use crate::ops::nn::IGNORE;
use crate::tensor::Tensor;
use std::sync::Arc;
use tfs_math::Rng;

/// The FFN's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Relu,
    /// GELU, tanh form.
    Gelu,
    /// GELU, exact (erf).
    GeluErf,
}

impl Act {
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Act::Relu => x.relu(),
            Act::Gelu => x.gelu(),
            Act::GeluErf => x.gelu_erf(),
        }
    }
}

/// Where the layer norms sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    Post,
    Pre,
    None,
}

/// Sizes and switches (Phase 5's `Config`, plus dropout).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    pub src_vocab: usize,
    pub tgt_vocab: usize,
    pub d: usize,
    pub heads: usize,
    pub ffn: usize,
    pub enc_layers: usize,
    pub dec_layers: usize,
    pub act: Act,
    pub norm: Norm,
    pub residual: bool,
    pub tie: bool,
    pub max_len: usize,
    pub dropout: f32,
}

/// `fc2(act(fc1(x)))`.
pub struct Ffn {
    pub fc1: Linear,
    pub fc2: Linear,
    pub act: Act,
}

impl Ffn {
    pub fn new(d: usize, inner: usize, act: Act, rng: &mut Rng) -> Ffn {
        Ffn {
            fc1: Linear::new(d, inner, true, rng),
            fc2: Linear::new(inner, d, true, rng),
            act,
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        self.fc2.forward(&self.act.apply(&self.fc1.forward(x)))
    }
}

impl Module for Ffn {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.fc1.visit(&join(prefix, "fc1"), f);
        self.fc2.visit(&join(prefix, "fc2"), f);
    }
}

// ANCHOR: sublayer
/// One residual sublayer's wrapping: `LN(x + Drop(f(x)))` or `x + Drop(f(LN(x)))`.
fn sublayer(
    x: &Tensor,
    ln: Option<&LayerNorm>,
    cfg: &Config,
    drop: &Dropout,
    f: impl FnOnce(&Tensor) -> Tensor,
) -> Tensor {
    let pre = cfg.norm == Norm::Pre;
    let inp = match (pre, ln) {
        (true, Some(ln)) => ln.forward(x),
        _ => x.clone(),
    };
    let y = drop.forward(&f(&inp));
    let s = if cfg.residual { x.add(&y) } else { y };
    match (cfg.norm, ln) {
        (Norm::Post, Some(ln)) => ln.forward(&s),
        _ => s,
    }
}

// ANCHOR_END: sublayer

fn layer_norm(cfg: &Config) -> Option<LayerNorm> {
    (cfg.norm != Norm::None).then(|| LayerNorm::new(cfg.d))
}

fn visit_opt(ln: &Option<LayerNorm>, prefix: &str, name: &str, f: &mut dyn FnMut(&str, &Tensor)) {
    if let Some(ln) = ln {
        ln.visit(&join(prefix, name), f);
    }
}

pub struct EncoderBlock {
    pub self_attn: MultiHeadAttention,
    pub ln1: Option<LayerNorm>,
    pub ffn: Ffn,
    pub ln2: Option<LayerNorm>,
    drop: Dropout,
    cfg: Config,
}

impl EncoderBlock {
    pub fn new(cfg: &Config, rng: &mut Rng) -> EncoderBlock {
        EncoderBlock {
            self_attn: MultiHeadAttention::new(cfg.d, cfg.heads, rng),
            ln1: layer_norm(cfg),
            ffn: Ffn::new(cfg.d, cfg.ffn, cfg.act, rng),
            ln2: layer_norm(cfg),
            drop: Dropout::new(cfg.dropout, rng),
            cfg: *cfg,
        }
    }
    /// `x: (B, T, D)` with the source's padding mask.
    pub fn forward(&self, x: &Tensor, mask: &AttnMask) -> Tensor {
        let c = &self.cfg;
        let x = sublayer(x, self.ln1.as_ref(), c, &self.drop, |z| {
            self.self_attn.forward(z, z, mask)
        });
        sublayer(&x, self.ln2.as_ref(), c, &self.drop, |z| {
            self.ffn.forward(z)
        })
    }
}

impl Module for EncoderBlock {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.self_attn.visit(&join(prefix, "self_attn"), f);
        visit_opt(&self.ln1, prefix, "ln1", f);
        self.ffn.visit(&join(prefix, "ffn"), f);
        visit_opt(&self.ln2, prefix, "ln2", f);
    }
    fn set_training(&mut self, t: bool) {
        self.drop.set_training(t);
    }
}

pub struct DecoderBlock {
    pub self_attn: MultiHeadAttention,
    pub ln1: Option<LayerNorm>,
    pub cross_attn: MultiHeadAttention,
    pub ln2: Option<LayerNorm>,
    pub ffn: Ffn,
    pub ln3: Option<LayerNorm>,
    drop: Dropout,
    cfg: Config,
}

impl DecoderBlock {
    pub fn new(cfg: &Config, rng: &mut Rng) -> DecoderBlock {
        DecoderBlock {
            self_attn: MultiHeadAttention::new(cfg.d, cfg.heads, rng),
            ln1: layer_norm(cfg),
            cross_attn: MultiHeadAttention::new(cfg.d, cfg.heads, rng),
            ln2: layer_norm(cfg),
            ffn: Ffn::new(cfg.d, cfg.ffn, cfg.act, rng),
            ln3: layer_norm(cfg),
            drop: Dropout::new(cfg.dropout, rng),
            cfg: *cfg,
        }
    }
    /// `y: (B, Tt, D)` reading the memory `m: (B, Ts, D)`.
    pub fn forward(
        &self,
        y: &Tensor,
        m: &Tensor,
        self_mask: &AttnMask,
        mem_mask: &AttnMask,
    ) -> Tensor {
        let c = &self.cfg;
        let y = sublayer(y, self.ln1.as_ref(), c, &self.drop, |z| {
            self.self_attn.forward(z, z, self_mask)
        });
        let y = sublayer(&y, self.ln2.as_ref(), c, &self.drop, |z| {
            self.cross_attn.forward(z, m, mem_mask)
        });
        sublayer(&y, self.ln3.as_ref(), c, &self.drop, |z| {
            self.ffn.forward(z)
        })
    }
}

impl Module for DecoderBlock {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.self_attn.visit(&join(prefix, "self_attn"), f);
        visit_opt(&self.ln1, prefix, "ln1", f);
        self.cross_attn.visit(&join(prefix, "cross_attn"), f);
        visit_opt(&self.ln2, prefix, "ln2", f);
        self.ffn.visit(&join(prefix, "ffn"), f);
        visit_opt(&self.ln3, prefix, "ln3", f);
    }
    fn set_training(&mut self, t: bool) {
        self.drop.set_training(t);
    }
}

/// A padded batch for teacher forcing: ids `(B, T)` row-major, padding positions hold 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Seq2SeqBatch {
    pub b: usize,
    pub ts: usize,
    pub tt: usize,
    pub src: Vec<usize>,
    pub src_len: Vec<usize>,
    pub tgt_in: Vec<usize>,
    pub tgt_out: Vec<usize>,
    pub tgt_len: Vec<usize>,
}

/// The sinusoidal table `(T, D)`: `pe[t, 2i] = sin(t / 10000^(2i/D))`, `pe[t, 2i+1] = cos(…)`.
pub fn sinusoidal(t: usize, d: usize) -> Vec<f32> {
    let mut pe = vec![0.0f32; t * d];
    for p in 0..t {
        for k in 0..d {
            let angle = p as f64 / 10000f64.powf((2 * (k / 2)) as f64 / d as f64);
            pe[p * d + k] = if k % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    pe
}

pub struct Transformer {
    pub cfg: Config,
    pub src_emb: Embedding,
    pub tgt_emb: Embedding,
    pub enc: Vec<EncoderBlock>,
    pub enc_norm: Option<LayerNorm>,
    pub dec: Vec<DecoderBlock>,
    pub dec_norm: Option<LayerNorm>,
    /// `(V_tgt, D)`, None when tied to `tgt_emb`.
    pub out_w: Option<Tensor>,
    pub out_b: Tensor,
    drop: Dropout,
    pe: Tensor,
}

impl Transformer {
    /// Embeddings N(0, 1/D), Xavier-uniform weights, zero biases (Phase 5's initialisation).
    pub fn new(cfg: Config, rng: &mut Rng) -> Transformer {
        let std = 1.0 / (cfg.d as f64).sqrt();
        let src_emb = Embedding::new(cfg.src_vocab, cfg.d, std, rng);
        let tgt_emb = Embedding::new(cfg.tgt_vocab, cfg.d, std, rng);
        let enc = (0..cfg.enc_layers)
            .map(|_| EncoderBlock::new(&cfg, rng))
            .collect();
        let dec = (0..cfg.dec_layers)
            .map(|_| DecoderBlock::new(&cfg, rng))
            .collect();
        let pre = || (cfg.norm == Norm::Pre).then(|| LayerNorm::new(cfg.d));
        let out_w = (!cfg.tie).then(|| {
            let w = super::xavier_uniform(cfg.d, cfg.tgt_vocab, cfg.d * cfg.tgt_vocab, rng);
            Tensor::var(w, &[cfg.tgt_vocab, cfg.d])
        });
        Transformer {
            src_emb,
            tgt_emb,
            enc,
            enc_norm: pre(),
            dec,
            dec_norm: pre(),
            out_w,
            out_b: Tensor::var(vec![0.0; cfg.tgt_vocab], &[cfg.tgt_vocab]),
            drop: Dropout::new(cfg.dropout, rng),
            pe: Tensor::new(sinusoidal(cfg.max_len, cfg.d), &[cfg.max_len, cfg.d]),
            cfg,
        }
    }

    /// `Drop(√D · E[ids] + PE)`: `(B, T, D)`.
    fn embed(&self, emb: &Embedding, ids: &[usize], b: usize, t: usize) -> Tensor {
        assert!(
            t <= self.cfg.max_len,
            "Transformer: {t} positions, the table has {}",
            self.cfg.max_len
        );
        let x = emb.forward(ids, &[b, t]).scale((self.cfg.d as f32).sqrt());
        let pe = self.pe.narrow(0, 0, t);
        self.drop.forward(&x.add(&pe))
    }

    /// The memory `(B, Ts, D)`.
    pub fn encode(&self, src: &[usize], src_len: &[usize], ts: usize) -> Tensor {
        let b = src_len.len();
        let mask = AttnMask::Padding(Arc::from(src_len));
        let mut x = self.embed(&self.src_emb, src, b, ts);
        for blk in &self.enc {
            x = blk.forward(&x, &mask);
        }
        self.enc_norm
            .as_ref()
            .map_or(x.clone(), |ln| ln.forward(&x))
    }

    /// Logits `(B·Tt, V_tgt)`.
    pub fn decode(
        &self,
        tgt_in: &[usize],
        tgt_len: &[usize],
        tt: usize,
        mem: &Tensor,
        src_len: &[usize],
    ) -> Tensor {
        let b = tgt_len.len();
        let self_mask = AttnMask::CausalPadding(Arc::from(tgt_len));
        let mem_mask = AttnMask::Padding(Arc::from(src_len));
        let mut y = self.embed(&self.tgt_emb, tgt_in, b, tt);
        for blk in &self.dec {
            y = blk.forward(&y, mem, &self_mask, &mem_mask);
        }
        let y = self
            .dec_norm
            .as_ref()
            .map_or(y.clone(), |ln| ln.forward(&y));
        let w = self.out_w.as_ref().unwrap_or(&self.tgt_emb.weight);
        y.reshape(&[b * tt, self.cfg.d])
            .linear(w, Some(&self.out_b))
    }

    /// Logits `(B·Tt, V_tgt)` under teacher forcing.
    pub fn forward(&self, batch: &Seq2SeqBatch) -> Tensor {
        let mem = self.encode(&batch.src, &batch.src_len, batch.ts);
        self.decode(
            &batch.tgt_in,
            &batch.tgt_len,
            batch.tt,
            &mem,
            &batch.src_len,
        )
    }

    /// Mean cross-entropy over the non-padding target positions.
    pub fn loss(&self, batch: &Seq2SeqBatch) -> Tensor {
        let logits = self.forward(batch);
        let targets: Vec<usize> = (0..batch.b * batch.tt)
            .map(|i| {
                if i % batch.tt < batch.tgt_len[i / batch.tt] {
                    batch.tgt_out[i]
                } else {
                    IGNORE
                }
            })
            .collect();
        logits.cross_entropy(&targets)
    }
}

impl Module for Transformer {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.src_emb.visit(&join(prefix, "src_emb"), f);
        self.tgt_emb.visit(&join(prefix, "tgt_emb"), f);
        for (i, b) in self.enc.iter().enumerate() {
            b.visit(&join(prefix, &format!("enc.{i}")), f);
        }
        visit_opt(&self.enc_norm, prefix, "enc_norm", f);
        for (i, b) in self.dec.iter().enumerate() {
            b.visit(&join(prefix, &format!("dec.{i}")), f);
        }
        visit_opt(&self.dec_norm, prefix, "dec_norm", f);
        if let Some(w) = &self.out_w {
            f(&join(prefix, "out.weight"), w);
        }
        f(&join(prefix, "out.bias"), &self.out_b);
    }
    fn set_training(&mut self, t: bool) {
        self.drop.set_training(t);
        self.enc.iter_mut().for_each(|b| b.set_training(t));
        self.dec.iter_mut().for_each(|b| b.set_training(t));
    }
}

/// Phase 5's name for a framework parameter, and whether the framework stores it transposed
/// (`x Wᵀ` with `W: (out, in)` here, `x W` with `W: (in, out)` in Phase 5):
/// `enc.0.self_attn.q.weight` ↔ `enc.0.self_attn.w_q` (transposed), `….q.bias` ↔ `….b_q`,
/// `ffn.fc1.weight` ↔ `ffn.w1`, `ln1.weight`/`bias` ↔ `ln1.gamma`/`beta`, `out.weight` ↔ `out.w`.
pub fn phase5_name(name: &str) -> (String, bool) {
    let (head, leaf) = name.rsplit_once('.').unwrap_or(("", name));
    let (prefix, module) = head
        .rsplit_once('.')
        .map_or((None, head), |(p, m)| (Some(p), m));
    let w = leaf == "weight";
    let (local, transposed) = match module {
        "q" | "k" | "v" | "o" => (format!("{}_{module}", if w { "w" } else { "b" }), w),
        "fc1" | "fc2" => (format!("{}{}", if w { "w" } else { "b" }, &module[2..]), w),
        "out" => return ((if w { "out.w" } else { "out.b" }).into(), w),
        "src_emb" | "tgt_emb" => return (name.into(), false),
        ln => (format!("{ln}.{}", if w { "gamma" } else { "beta" }), false),
    };
    (
        prefix.map_or(local.clone(), |p| format!("{p}.{local}")),
        transposed,
    )
}
