//! GPT: a decoder-only transformer (Radford et al., 2018, 2019) on the Phase 6 framework, and
//! the Phase 9 switches that turn it into a LLaMA-style model.
//!
//! ```text
//!   x⁰ = wte[idx] (+ wpe[0..T] with learned positions)  (B, T, C)
//!   block:  x ← x + Drop(attn(Norm₁(x)))                  pre-norm, causal self-attention
//!           x ← x + Drop(mlp(Norm₂(x)))
//!   attn:   q, k, v = split(c_attn(x))   q: H heads, k and v: Hkv heads (GQA when Hkv < H)
//!           (RoPE: q, k ← R(pos) q, R(pos) k)  → sdpa(causal or sliding window) → merge → c_proj
//!   mlp:    GELU:   c_proj(GELU_tanh(c_fc x))                  hidden 4C
//!           SwiGLU: c_proj(SiLU(W₁x) ⊙ W₃x), c_fc = [W₁; W₃]   hidden ≈ 8C/3 (LLaMA)
//!           MoE:    Σ_{e ∈ top-k(router x)} gₑ(x) · expertₑ(x)  gates renormalised over the top k
//!                   (k > 1), the router's probability itself (k = 1)
//!   Norm:   LayerNorm (GPT-2) or RMSNorm x/rms(x)·γ (LLaMA)
//!   logits = Norm_f(x) wteᵀ                              (B·T, V)      weight tying: the output
//!                                                                    layer is the embedding
//!   L = mean over positions of −log softmax(logits)[next token]  (+ moe_aux · load-balancing loss)
//! ```
//!
//! Names follow nanoGPT / Hugging Face GPT-2 (`transformer.h.3.attn.c_attn.weight`), so that
//! Phase 8 can load and save GPT-2 weights by name (HF's Conv1D stores `(in, out)`; ours is
//! `(out, in)` like `nn.Linear`, so import transposes). Initialisation is GPT-2's: N(0, 0.02) for
//! weights and embeddings, N(0, 0.02/√(2·n_layer)) for the two projections that write into the
//! residual stream (so the stream's variance does not grow with depth), zero biases, unit gains.
//!
//! Generation with a [`KvCache`]: the keys and values of past positions are kept per layer, so
//! each new token costs one row through every layer instead of the whole window
//! ([`Gpt::forward_cached`]).

pub mod config;
pub mod sample;
pub mod vocab;

use crate::config::{AttnKernel, GptConfig, Mlp, Norm, Pos};
use std::cell::{Cell, RefCell};
use tfs_math::Rng;
use tfs_tensor::nn::{join, normal, Dropout, LayerNorm, Linear, Module, RmsNorm};
use tfs_tensor::{attention, sdpa_packed, AttnMask, Tensor};

/// A linear layer with GPT-2's init: N(0, std²) weight, zero bias.
fn linear(n_in: usize, n_out: usize, bias: bool, std: f64, rng: &mut Rng) -> Linear {
    Linear {
        weight: Tensor::var(normal(n_in * n_out, std, rng), &[n_out, n_in]),
        bias: bias.then(|| Tensor::var(vec![0.0; n_out], &[n_out])),
    }
}

/// The normalisation layer of a [`Norm`] switch.
pub enum NormLayer {
    /// Layer norm, with or without its bias (`false` keeps β at 0 and out of the parameters).
    Layer(LayerNorm, bool),
    Rms(RmsNorm),
}

impl NormLayer {
    fn new(c: usize, cfg: &GptConfig) -> NormLayer {
        match cfg.norm {
            Norm::LayerNorm => NormLayer::Layer(LayerNorm::new(c), cfg.bias),
            Norm::RmsNorm => NormLayer::Rms(RmsNorm::new(c)),
        }
    }
    pub fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            NormLayer::Layer(ln, _) => ln.forward(x),
            NormLayer::Rms(n) => n.forward(x),
        }
    }
    /// The gain γ.
    pub fn weight(&self) -> &Tensor {
        match self {
            NormLayer::Layer(ln, _) => &ln.weight,
            NormLayer::Rms(n) => &n.weight,
        }
    }
    /// β, when the layer has one.
    pub fn bias(&self) -> Option<&Tensor> {
        match self {
            NormLayer::Layer(ln, true) => Some(&ln.bias),
            _ => None,
        }
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join(prefix, "weight"), self.weight());
        if let Some(b) = self.bias() {
            f(&join(prefix, "bias"), b);
        }
    }
}

/// A feed-forward network: GELU (`c_proj(GELU(c_fc x))`) or SwiGLU (`c_fc` holds W₁ above W₃).
pub struct Ffn {
    pub c_fc: Linear,
    pub c_proj: Linear,
    pub kind: Mlp,
}

impl Ffn {
    fn new(c: &GptConfig, rng: &mut Rng) -> Ffn {
        let (d, hid) = (c.n_embd, c.ffn_hidden());
        let resid_std = 0.02 / (2.0 * c.n_layer as f64).sqrt();
        let rows = if c.mlp == Mlp::SwiGlu { 2 * hid } else { hid };
        Ffn {
            c_fc: linear(d, rows, c.bias, 0.02, rng),
            c_proj: linear(hid, d, c.bias, resid_std, rng),
            kind: c.mlp,
        }
    }

    // ANCHOR: ffn
    fn forward(&self, x: &Tensor) -> Tensor {
        let h = self.c_fc.forward(x);
        let a = match self.kind {
            Mlp::Gelu => h.gelu(),
            Mlp::SwiGlu => {
                let hid = h.dim(-1) / 2;
                h.narrow(-1, 0, hid).silu().mul(&h.narrow(-1, hid, hid))
            }
        };
        self.c_proj.forward(&a)
    }
    // ANCHOR_END: ffn

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.c_fc.visit(&join(prefix, "c_fc"), f);
        self.c_proj.visit(&join(prefix, "c_proj"), f);
    }
}

/// A mixture of experts (Shazeer et al., 2017; Switch Transformer; Mixtral): a router scores the
/// `E` experts for each token, the `top_k` best run, and their outputs are summed weighted by the
/// router's probabilities renormalised over those `k`:
///
/// ```text
///   p = softmax(W_r x)                       (E)   per token
///   y = Σ_{e ∈ topk(p)} (pₑ / Σ_{topk} p) · FFNₑ(x)     k > 1 (Mixtral)
///   y = pₑ · FFNₑ(x),  e = argmax p                     k = 1 (Switch: the gate stays pₑ, so
///                                                     the router is trained by the loss)
///   aux = E · Σₑ fₑ · Pₑ    fₑ = share of the N·k routings that went to e (a count, no gradient)
///                           Pₑ = mean over tokens of pₑ (differentiable)
/// ```
///
/// `aux` is 1 when the load is uniform and grows as the router favours a few experts; adding
/// `moe_aux · aux` to the loss keeps every expert in use. Compute per token is `k` FFNs whatever
/// `E` is: parameters grow with E, FLOPs do not.
pub struct Moe {
    pub router: Linear,
    pub experts: Vec<Ffn>,
    pub top_k: usize,
    /// Tokens each expert received in the last forward pass (for utilisation plots).
    pub load: RefCell<Vec<usize>>,
}

impl Moe {
    fn new(c: &GptConfig, rng: &mut Rng) -> Moe {
        Moe {
            router: linear(c.n_embd, c.n_expert, false, 0.02, rng),
            experts: (0..c.n_expert).map(|_| Ffn::new(c, rng)).collect(),
            top_k: c.top_k,
            load: RefCell::new(vec![0; c.n_expert]),
        }
    }

    /// `x: (N, C)` → (`(N, C)`, the load-balancing loss).
    fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let (n, e, k) = (x.dim(0), self.experts.len(), self.top_k);
        // (N, E); each token's k best experts (the choice itself has no gradient). The routing
        // is decided on the host: the probabilities are read back once per layer.
        let probs = self.router.forward(x).softmax();
        let mut chosen = Vec::with_capacity(n * k);
        {
            let p = probs.to_vec();
            for row in p.chunks_exact(e) {
                let mut order: Vec<usize> = (0..e).collect();
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
                chosen.extend_from_slice(&order[..k]);
            }
        }
        // Gates: the chosen probabilities, renormalised per token when k > 1. With k = 1 the
        // renormalised gate would be exactly 1 and the router would learn nothing from the
        // loss, so top-1 keeps the raw probability (Switch Transformer).
        let flat: Vec<usize> = chosen
            .iter()
            .enumerate()
            .map(|(j, &ex)| (j / k) * e + ex)
            .collect();
        let picked = probs.reshape(&[n * e, 1]).index_select(&flat);
        let gates = if k == 1 {
            picked
        } else {
            let picked = picked.reshape(&[n, k]);
            picked.div(&picked.sum(-1, true)).reshape(&[n * k, 1])
        };
        let mut load = vec![0usize; e];
        let mut y: Option<Tensor> = None;
        for (ex, ffn) in self.experts.iter().enumerate() {
            let slots: Vec<usize> = (0..n * k).filter(|&j| chosen[j] == ex).collect();
            load[ex] = slots.len();
            if slots.is_empty() {
                continue;
            }
            let rows: Vec<usize> = slots.iter().map(|j| j / k).collect();
            let out = ffn
                .forward(&x.index_select(&rows))
                .mul(&gates.index_select(&slots))
                .index_add(&rows, n);
            y = Some(match y {
                Some(acc) => acc.add(&out),
                None => out,
            });
        }
        let f: Vec<f32> = load.iter().map(|&c| c as f32 / (n * k) as f32).collect();
        let aux = probs
            .mean(0, false)
            .mul(&Tensor::new(f, &[e]))
            .sum_all()
            .scale(e as f32);
        *self.load.borrow_mut() = load;
        (y.expect("every token goes to some expert"), aux)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.router.visit(&join(prefix, "router"), f);
        for (i, ex) in self.experts.iter().enumerate() {
            ex.visit(&join(prefix, &format!("experts.{i}")), f);
        }
    }
}

/// The block's feed-forward part: one FFN, or a mixture of them.
pub enum MlpLayer {
    Dense(Ffn),
    Moe(Moe),
}

/// One layer's cached keys and values, `(1, Hkv, len, hs)` each.
#[derive(Default)]
struct LayerCache {
    k: Option<Tensor>,
    v: Option<Tensor>,
}

/// The keys and values of every layer for the positions generated so far (batch 1).
pub struct KvCache {
    layers: Vec<LayerCache>,
    len: usize,
}

impl KvCache {
    pub fn new(cfg: &GptConfig) -> KvCache {
        KvCache {
            layers: (0..cfg.n_layer).map(|_| LayerCache::default()).collect(),
            len: 0,
        }
    }
    /// Positions held.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Bytes of keys and values held: `2 · n_layer · Hkv · len · hs · 4`.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|l| [&l.k, &l.v])
            .map(|t| t.as_ref().map_or(0, |t| 4 * t.numel()))
            .sum()
    }
    /// Forgets every position.
    pub fn clear(&mut self) {
        self.layers
            .iter_mut()
            .for_each(|l| *l = LayerCache::default());
        self.len = 0;
    }
}

pub struct Block {
    pub ln_1: NormLayer,
    pub c_attn: Linear,
    pub attn_proj: Linear,
    pub ln_2: NormLayer,
    pub mlp: MlpLayer,
    cfg: GptConfig,
    drop: Dropout,
}

impl Block {
    fn new(c: &GptConfig, rng: &mut Rng) -> Block {
        let (d, std) = (c.n_embd, 0.02);
        let resid_std = std / (2.0 * c.n_layer as f64).sqrt();
        let kv = c.n_kv_head * c.head_size();
        Block {
            ln_1: NormLayer::new(d, c),
            c_attn: linear(d, d + 2 * kv, c.bias, std, rng),
            attn_proj: linear(d, d, c.bias, resid_std, rng),
            ln_2: NormLayer::new(d, c),
            mlp: if c.n_expert > 0 {
                MlpLayer::Moe(Moe::new(c, rng))
            } else {
                MlpLayer::Dense(Ffn::new(c, rng))
            },
            cfg: *c,
            drop: Dropout::new(c.dropout, rng),
        }
    }

    // ANCHOR: block
    /// Causal self-attention of `x: (B, T, C)` at positions `start..start + T`; with a cache,
    /// the new keys and values join the cached ones (batch 1).
    fn attn(&self, x: &Tensor, start: usize, cache: Option<&mut LayerCache>) -> Tensor {
        let (b, t, c) = (x.dim(0), x.dim(1), x.dim(2));
        let cfg = &self.cfg;
        let (h, hkv, hs) = (cfg.n_head, cfg.n_kv_head, cfg.head_size());
        let qkv = self.c_attn.forward(x); // (B, T, C + 2·Hkv·hs): q, then k, then v
        let mask = match cfg.window {
            0 => AttnMask::Causal,
            w => AttnMask::SlidingWindow(w),
        };
        // Training and evaluation without RoPE: attention reads the heads straight out of qkv
        // and writes them side by side (`sdpa_packed`, tested equal to the route below).
        if cache.is_none() && cfg.pos != Pos::Rope && cfg.attn == AttnKernel::Naive {
            return self.attn_proj.forward(&sdpa_packed(&qkv, h, hkv, &mask));
        }
        // (B, T, n·hs) → (B, n, T, hs)
        let heads = |from: usize, n: usize| {
            qkv.narrow(2, from, n * hs)
                .reshape(&[b, t, n, hs])
                .transpose(1, 2)
        };
        let (mut q, mut k, mut v) = (heads(0, h), heads(c, hkv), heads(c + hkv * hs, hkv));
        if cfg.pos == Pos::Rope {
            q = q.rope(start, cfg.rope_theta);
            k = k.rope(start, cfg.rope_theta);
        }
        if let Some(lc) = cache {
            if let (Some(pk), Some(pv)) = (&lc.k, &lc.v) {
                k = Tensor::cat(&[pk.clone(), k], 2);
                v = Tensor::cat(&[pv.clone(), v], 2);
            }
            lc.k = Some(k.clone());
            lc.v = Some(v.clone());
        }
        let kernel = match cfg.attn {
            AttnKernel::Naive => tfs_tensor::AttnKernel::Naive,
            AttnKernel::Flash => tfs_tensor::AttnKernel::Flash,
        };
        let y = attention(&q, &k, &v, &mask, Some(kernel));
        self.attn_proj
            .forward(&y.transpose(1, 2).reshape(&[b, t, c]))
    }

    /// The block, and its load-balancing loss when the MLP is a mixture of experts.
    fn forward(
        &self,
        x: &Tensor,
        start: usize,
        cache: Option<&mut LayerCache>,
    ) -> (Tensor, Option<Tensor>) {
        let x = x.add(
            &self
                .drop
                .forward(&self.attn(&self.ln_1.forward(x), start, cache)),
        );
        let hn = self.ln_2.forward(&x);
        let (m, aux) = match &self.mlp {
            MlpLayer::Dense(f) => (f.forward(&hn), None),
            MlpLayer::Moe(moe) => {
                let (b, t, c) = (hn.dim(0), hn.dim(1), hn.dim(2));
                let (y, aux) = moe.forward(&hn.reshape(&[b * t, c]));
                (y.reshape(&[b, t, c]), Some(aux))
            }
        };
        (x.add(&self.drop.forward(&m)), aux)
    }
    // ANCHOR_END: block
}

impl Module for Block {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.ln_1.visit(&join(prefix, "ln_1"), f);
        self.c_attn.visit(&join(prefix, "attn.c_attn"), f);
        self.attn_proj.visit(&join(prefix, "attn.c_proj"), f);
        self.ln_2.visit(&join(prefix, "ln_2"), f);
        match &self.mlp {
            MlpLayer::Dense(ffn) => ffn.visit(&join(prefix, "mlp"), f),
            MlpLayer::Moe(moe) => moe.visit(&join(prefix, "mlp"), f),
        }
    }
    fn set_training(&mut self, t: bool) {
        self.drop.set_training(t);
    }
}

/// The GPT model.
pub struct Gpt {
    pub cfg: GptConfig,
    pub wte: Tensor,
    /// Learned positions; None with RoPE.
    pub wpe: Option<Tensor>,
    pub h: Vec<Block>,
    pub ln_f: NormLayer,
    drop: Dropout,
    training: Cell<bool>,
    /// The mixture-of-experts load-balancing loss of the last forward pass (summed over layers),
    /// detached: read back only when asked ([`Gpt::moe_aux_loss`]), not on every forward.
    aux_value: RefCell<Option<Tensor>>,
}

impl Gpt {
    pub fn new(cfg: GptConfig, rng: &mut Rng) -> Gpt {
        let (v, c, t) = (cfg.vocab_size, cfg.n_embd, cfg.block_size);
        Gpt {
            wte: Tensor::var(normal(v * c, 0.02, rng), &[v, c]),
            wpe: (cfg.pos == Pos::Learned).then(|| Tensor::var(normal(t * c, 0.02, rng), &[t, c])),
            h: (0..cfg.n_layer).map(|_| Block::new(&cfg, rng)).collect(),
            ln_f: NormLayer::new(c, &cfg),
            drop: Dropout::new(cfg.dropout, rng),
            training: Cell::new(true),
            aux_value: RefCell::new(None),
            cfg,
        }
    }

    /// Logits `(B·T, V)` for positions `start..start + T`, and the experts' load-balancing loss
    /// summed over layers (None when dense). Only its value is kept on the model: the tensor (and
    /// the graph behind it) goes to the caller.
    fn run(
        &self,
        idx: &[usize],
        b: usize,
        t: usize,
        mut cache: Option<&mut KvCache>,
    ) -> (Tensor, Option<Tensor>) {
        let start = cache.as_ref().map_or(0, |c| c.len);
        let tok = self.wte.embedding(idx, &[b, t]);
        let x = match &self.wpe {
            Some(wpe) => tok.add(&wpe.narrow(0, start, t)),
            None => tok,
        };
        let mut x = self.drop.forward(&x);
        let mut aux: Option<Tensor> = None;
        for (i, blk) in self.h.iter().enumerate() {
            let lc = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            let (y, a) = blk.forward(&x, start, lc);
            x = y;
            if let Some(a) = a {
                aux = Some(match aux {
                    Some(s) => s.add(&a),
                    None => a,
                });
            }
        }
        if let Some(c) = cache {
            c.len += t;
        }
        *self.aux_value.borrow_mut() = aux.as_ref().map(Tensor::detach);
        let x = self.ln_f.forward(&x).reshape(&[b * t, self.cfg.n_embd]);
        (x.linear(&self.wte, None), aux)
    }

    /// Logits `(B·T, V)` of token ids `idx: (B, T)` (row-major), T ≤ block_size with learned
    /// positions (RoPE has no table, so it also runs on longer windows than it was trained on).
    pub fn forward(&self, idx: &[usize], b: usize, t: usize) -> Tensor {
        self.check_window(idx, b, t);
        self.run(idx, b, t, None).0
    }

    fn check_window(&self, idx: &[usize], b: usize, t: usize) {
        assert!(
            t >= 1 && (self.wpe.is_none() || t <= self.cfg.block_size) && idx.len() == b * t,
            "Gpt::forward: {} ids for (B, T) = ({b}, {t}); T must be in 1..={}",
            idx.len(),
            self.cfg.block_size
        );
    }

    /// Logits `(T, V)` of the new ids `idx` (batch 1) placed after the `cache.len()` positions
    /// already in `cache`, whose keys and values are reused; the new ones are added to it.
    /// Equal to the rows of [`Gpt::forward`] over the whole sequence (tested). Panics past
    /// `block_size` with learned positions (there is no row of `wpe` for them).
    pub fn forward_cached(&self, idx: &[usize], cache: &mut KvCache) -> Tensor {
        let t = idx.len();
        assert!(
            t >= 1 && (self.wpe.is_none() || cache.len + t <= self.cfg.block_size),
            "Gpt::forward_cached: {} cached + {t} new positions; learned positions stop at {}",
            cache.len,
            self.cfg.block_size
        );
        self.run(idx, 1, t, Some(cache)).0
    }

    /// Mean cross-entropy of predicting `targets: (B, T)` from `idx: (B, T)`. In training mode
    /// a mixture of experts adds `moe_aux ·` its load-balancing loss (the objective); in
    /// evaluation mode it is the cross-entropy alone.
    pub fn loss(&self, idx: &[usize], targets: &[usize], b: usize, t: usize) -> Tensor {
        self.check_window(idx, b, t);
        let (logits, aux) = self.run(idx, b, t, None);
        let ce = logits.cross_entropy(targets);
        match aux {
            Some(aux) if self.is_training() && self.cfg.moe_aux > 0.0 => {
                ce.add(&aux.scale(self.cfg.moe_aux))
            }
            _ => ce,
        }
    }

    /// Changes the attention window of every layer (0: full causal attention). A model trained
    /// with full attention can be evaluated with a window, e.g. to keep RoPE's query–key
    /// distances inside those seen in training on longer inputs.
    pub fn set_window(&mut self, window: usize) {
        self.cfg.window = window;
        self.h.iter_mut().for_each(|b| b.cfg.window = window);
    }

    /// The load-balancing loss of the last forward pass, summed over layers (None when dense).
    pub fn moe_aux_loss(&self) -> Option<f32> {
        self.aux_value.borrow().as_ref().map(Tensor::item)
    }

    /// Tokens each expert of each layer received in the last forward pass (empty when dense).
    pub fn expert_load(&self) -> Vec<Vec<usize>> {
        self.h
            .iter()
            .filter_map(|b| match &b.mlp {
                MlpLayer::Moe(m) => Some(m.load.borrow().clone()),
                MlpLayer::Dense(_) => None,
            })
            .collect()
    }

    pub fn is_training(&self) -> bool {
        self.training.get()
    }

    /// The dropout generators' states, embedding dropout first then each block's (a checkpoint
    /// needs them to resume bit for bit).
    pub fn rng_states(&self) -> Vec<[u64; 4]> {
        std::iter::once(&self.drop)
            .chain(self.h.iter().map(|b| &b.drop))
            .map(Dropout::rng_state)
            .collect()
    }

    /// Restores [`Gpt::rng_states`]; errors when the count does not match the model.
    pub fn set_rng_states(&self, states: &[[u64; 4]]) -> Result<(), String> {
        if states.len() != self.h.len() + 1 {
            return Err(format!(
                "{} dropout generator states for a model with {}",
                states.len(),
                self.h.len() + 1
            ));
        }
        std::iter::once(&self.drop)
            .chain(self.h.iter().map(|b| &b.drop))
            .zip(states)
            .for_each(|(d, &s)| d.set_rng_state(s));
        Ok(())
    }
}

impl Module for Gpt {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join(prefix, "transformer.wte.weight"), &self.wte);
        if let Some(wpe) = &self.wpe {
            f(&join(prefix, "transformer.wpe.weight"), wpe);
        }
        for (i, b) in self.h.iter().enumerate() {
            b.visit(&join(prefix, &format!("transformer.h.{i}")), f);
        }
        self.ln_f.visit(&join(prefix, "transformer.ln_f"), f);
    }
    fn set_training(&mut self, t: bool) {
        self.training.set(t);
        self.drop.set_training(t);
        self.h.iter_mut().for_each(|b| b.set_training(t));
    }
}
