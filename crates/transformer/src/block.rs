//! Encoder and decoder blocks: sublayers wrapped in residual connections and layer norms, with
//! pre-norm and post-norm as a switch.
//!
//! ```text
//!   post-norm (Vaswani et al., 2017)        pre-norm (Xiong et al., 2020; GPT-2)
//!   x ← LN(x + Sublayer(x))                 x ← x + Sublayer(LN(x))
//!
//!   encoder block:  self-attention (padding mask on the source) → FFN
//!   decoder block:  masked self-attention (causal + padding) → cross-attention (queries from
//!                   the decoder, keys/values from the encoder's output, padding mask on the
//!                   source) → FFN
//! ```
//!
//! Backward of one sublayer, given δy:
//!
//! ```text
//!   post-norm:  δs = LN-backward(δy);   δx = δs (residual) + Sublayer-backward(δs)
//!   pre-norm:   δx = δy (residual) + LN-backward(Sublayer-backward(δy))
//! ```
//!
//! The residual path hands δy to the block's input unchanged: in pre-norm it reaches the
//! embeddings through nothing but additions, which is why pre-norm trains without warmup and
//! post-norm (every path through a layer norm) needs it. `p5-ablations` switches residuals and
//! norms off (`residual: false`, [`Norm::None`]) to show what each one buys.
//!
//! Names inside a block: `self_attn.*`, `cross_attn.*` (decoder), `ffn.*`, `ln1.*`, `ln2.*`,
//! `ln3.*` (decoder), where the layer norm `lnK` belongs to the K-th sublayer.
//!
//! Left out: dropout, layer drop, the sandwich / DeepNorm variants.

use crate::attention::{Mha, MhaCache};
use crate::ffn::{Ffn, FfnCache};
use crate::layernorm::{LayerNorm, LnCache};
use ndarray::{Array2, ArrayView2, ArrayViewD, ArrayViewMutD, NdFloat};
use tfs_attention::sdpa::Mask;
use tfs_math::Rng;
use tfs_nn::params::{visit_in, visit_in_mut};
use tfs_nn::{Activation, Grads, Params};

/// Where the layer norms sit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// `LN(x + f(x))`: the original transformer.
    Post,
    /// `x + f(LN(x))`, plus a final layer norm after each stack.
    Pre,
    /// No layer norm at all (an ablation).
    None,
}

/// What a block is made of.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockConfig {
    pub d: usize,
    pub heads: usize,
    pub ffn: usize,
    pub act: Activation,
    pub norm: Norm,
    /// Residual connections around each sublayer (false: an ablation).
    pub residual: bool,
}

/// The part of a sublayer around its function: the optional layer norm and the residual.
pub(crate) struct Wrap<'a, F> {
    pub ln: Option<&'a LayerNorm<F>>,
    pub cfg: &'a BlockConfig,
}

impl<F: NdFloat> Wrap<'_, F> {
    // ANCHOR: wrap
    /// The sublayer's input: `LN(x)` in pre-norm, else `x`.
    pub fn enter(&self, x: ArrayView2<F>) -> (Array2<F>, Option<LnCache<F>>) {
        match (self.cfg.norm, self.ln) {
            (Norm::Pre, Some(ln)) => {
                let (y, c) = ln.forward(x);
                (y, Some(c))
            }
            _ => (x.to_owned(), None),
        }
    }

    /// The block's stream after the sublayer: `x + f` (or `f`), then `LN` in post-norm.
    pub fn leave(&self, x: ArrayView2<F>, f: Array2<F>) -> (Array2<F>, Option<LnCache<F>>) {
        let s = if self.cfg.residual { f + x } else { f };
        match (self.cfg.norm, self.ln) {
            (Norm::Post, Some(ln)) => {
                let (y, c) = ln.forward(s.view());
                (y, Some(c))
            }
            _ => (s, None),
        }
    }
    // ANCHOR_END: wrap

    /// Backward of [`Wrap::leave`]: `(δx from the residual, δf)`.
    pub fn leave_back(
        &self,
        dy: Array2<F>,
        c: &Option<LnCache<F>>,
        g: &mut Grads<F>,
        name: &str,
    ) -> (Option<Array2<F>>, Array2<F>) {
        let ds = match (self.ln, c) {
            (Some(ln), Some(c)) => ln.backward(dy.view(), c, g.group_mut(name)),
            _ => dy,
        };
        (self.cfg.residual.then(|| ds.clone()), ds)
    }

    /// Backward of [`Wrap::enter`]: δx from the gradient of the sublayer's input.
    pub fn enter_back(
        &self,
        dn: Array2<F>,
        c: &Option<LnCache<F>>,
        g: &mut Grads<F>,
        name: &str,
    ) -> Array2<F> {
        match (self.ln, c) {
            (Some(ln), Some(c)) => ln.backward(dn.view(), c, g.group_mut(name)),
            _ => dn,
        }
    }
}

fn norm_if<F: NdFloat>(cfg: &BlockConfig) -> Option<LayerNorm<F>> {
    (cfg.norm != Norm::None).then(|| LayerNorm::new(cfg.d))
}

/// Caches of one wrapped sublayer: the entering and leaving layer-norm caches.
#[derive(Clone, Debug)]
pub struct WrapCache<F> {
    enter: Option<LnCache<F>>,
    leave: Option<LnCache<F>>,
}

/// One encoder block.
#[derive(Clone, Debug)]
pub struct EncoderLayer<F> {
    pub self_attn: Mha<F>,
    pub ffn: Ffn<F>,
    pub ln1: Option<LayerNorm<F>>,
    pub ln2: Option<LayerNorm<F>>,
    pub cfg: BlockConfig,
}

/// What an encoder block's backward needs.
#[derive(Clone, Debug)]
pub struct EncoderCache<F> {
    pub attn: MhaCache<F>,
    pub ffn: FfnCache<F>,
    w1: WrapCache<F>,
    w2: WrapCache<F>,
}

impl<F: NdFloat> EncoderLayer<F> {
    pub fn new(cfg: BlockConfig, rng: &mut Rng) -> Self {
        EncoderLayer {
            self_attn: Mha::new(cfg.d, cfg.heads, rng),
            ffn: Ffn::new(cfg.d, cfg.ffn, cfg.act, rng),
            ln1: norm_if(&cfg),
            ln2: norm_if(&cfg),
            cfg,
        }
    }

    fn wrap<'a>(&'a self, ln: &'a Option<LayerNorm<F>>) -> Wrap<'a, F> {
        Wrap {
            ln: ln.as_ref(),
            cfg: &self.cfg,
        }
    }

    /// `x: (B·Ts, D)` → `(B·Ts, D)`; `mask` is the source's padding mask.
    pub fn forward(&self, x: ArrayView2<F>, b: usize, mask: &Mask) -> (Array2<F>, EncoderCache<F>) {
        let (wa, wf) = (self.wrap(&self.ln1), self.wrap(&self.ln2));
        let (n1, e1) = wa.enter(x);
        let (a, attn) = self.self_attn.forward(n1.view(), n1.view(), b, mask);
        let (x1, l1) = wa.leave(x, a);
        let (n2, e2) = wf.enter(x1.view());
        let (f, ffn) = self.ffn.forward(n2.view());
        let (y, l2) = wf.leave(x1.view(), f);
        let w1 = WrapCache {
            enter: e1,
            leave: l1,
        };
        let w2 = WrapCache {
            enter: e2,
            leave: l2,
        };
        (y, EncoderCache { attn, ffn, w1, w2 })
    }

    /// `δx`, adding this block's gradients into `g` (the block's own subtree).
    pub fn backward(&self, dy: Array2<F>, c: &EncoderCache<F>, g: &mut Grads<F>) -> Array2<F> {
        let (wa, wf) = (self.wrap(&self.ln1), self.wrap(&self.ln2));
        let (res, df) = wf.leave_back(dy, &c.w2.leave, g, "ln2");
        let dn2 = self.ffn.backward(df.view(), &c.ffn, g.group_mut("ffn"));
        let mut dx1 = wf.enter_back(dn2, &c.w2.enter, g, "ln2");
        if let Some(r) = res {
            dx1 += &r;
        }
        let (res, da) = wa.leave_back(dx1, &c.w1.leave, g, "ln1");
        let (dq, dkv) = self
            .self_attn
            .backward(da.view(), &c.attn, g.group_mut("self_attn"));
        let mut dx = wa.enter_back(dq + &dkv, &c.w1.enter, g, "ln1");
        if let Some(r) = res {
            dx += &r;
        }
        dx
    }
}

/// One decoder block.
#[derive(Clone, Debug)]
pub struct DecoderLayer<F> {
    pub self_attn: Mha<F>,
    pub cross_attn: Mha<F>,
    pub ffn: Ffn<F>,
    pub ln1: Option<LayerNorm<F>>,
    pub ln2: Option<LayerNorm<F>>,
    pub ln3: Option<LayerNorm<F>>,
    pub cfg: BlockConfig,
}

/// What a decoder block's backward needs.
#[derive(Clone, Debug)]
pub struct DecoderCache<F> {
    pub self_attn: MhaCache<F>,
    pub cross_attn: MhaCache<F>,
    pub ffn: FfnCache<F>,
    w: [WrapCache<F>; 3],
}

impl<F: NdFloat> DecoderLayer<F> {
    pub fn new(cfg: BlockConfig, rng: &mut Rng) -> Self {
        DecoderLayer {
            self_attn: Mha::new(cfg.d, cfg.heads, rng),
            cross_attn: Mha::new(cfg.d, cfg.heads, rng),
            ffn: Ffn::new(cfg.d, cfg.ffn, cfg.act, rng),
            ln1: norm_if(&cfg),
            ln2: norm_if(&cfg),
            ln3: norm_if(&cfg),
            cfg,
        }
    }

    fn wrap<'a>(&'a self, ln: &'a Option<LayerNorm<F>>) -> Wrap<'a, F> {
        Wrap {
            ln: ln.as_ref(),
            cfg: &self.cfg,
        }
    }

    /// `x: (B·Tt, D)`, encoder output `mem: (B·Ts, D)` → `(B·Tt, D)`.
    pub fn forward(
        &self,
        x: ArrayView2<F>,
        mem: ArrayView2<F>,
        b: usize,
        self_mask: &Mask,
        mem_mask: &Mask,
    ) -> (Array2<F>, DecoderCache<F>) {
        let w = [
            self.wrap(&self.ln1),
            self.wrap(&self.ln2),
            self.wrap(&self.ln3),
        ];
        let (n1, e1) = w[0].enter(x);
        let (a, self_attn) = self.self_attn.forward(n1.view(), n1.view(), b, self_mask);
        let (x1, l1) = w[0].leave(x, a);
        let (n2, e2) = w[1].enter(x1.view());
        let (cr, cross_attn) = self.cross_attn.forward(n2.view(), mem, b, mem_mask);
        let (x2, l2) = w[1].leave(x1.view(), cr);
        let (n3, e3) = w[2].enter(x2.view());
        let (f, ffn) = self.ffn.forward(n3.view());
        let (y, l3) = w[2].leave(x2.view(), f);
        let wc = [
            WrapCache {
                enter: e1,
                leave: l1,
            },
            WrapCache {
                enter: e2,
                leave: l2,
            },
            WrapCache {
                enter: e3,
                leave: l3,
            },
        ];
        (
            y,
            DecoderCache {
                self_attn,
                cross_attn,
                ffn,
                w: wc,
            },
        )
    }

    /// `(δx, δmem)`, adding this block's gradients into `g`.
    pub fn backward(
        &self,
        dy: Array2<F>,
        c: &DecoderCache<F>,
        g: &mut Grads<F>,
    ) -> (Array2<F>, Array2<F>) {
        let w = [
            self.wrap(&self.ln1),
            self.wrap(&self.ln2),
            self.wrap(&self.ln3),
        ];
        // ANCHOR: decoder_backward
        let (res, df) = w[2].leave_back(dy, &c.w[2].leave, g, "ln3");
        let dn3 = self.ffn.backward(df.view(), &c.ffn, g.group_mut("ffn"));
        let mut dx2 = w[2].enter_back(dn3, &c.w[2].enter, g, "ln3");
        if let Some(r) = res {
            dx2 += &r;
        }
        let (res, dc) = w[1].leave_back(dx2, &c.w[1].leave, g, "ln2");
        let (dn2, dmem) =
            self.cross_attn
                .backward(dc.view(), &c.cross_attn, g.group_mut("cross_attn"));
        let mut dx1 = w[1].enter_back(dn2, &c.w[1].enter, g, "ln2");
        if let Some(r) = res {
            dx1 += &r;
        }
        let (res, da) = w[0].leave_back(dx1, &c.w[0].leave, g, "ln1");
        let (dq, dkv) = self
            .self_attn
            .backward(da.view(), &c.self_attn, g.group_mut("self_attn"));
        let mut dx = w[0].enter_back(dq + &dkv, &c.w[0].enter, g, "ln1");
        if let Some(r) = res {
            dx += &r;
        }
        (dx, dmem)
        // ANCHOR_END: decoder_backward
    }
}

fn visit_ln<F: NdFloat>(
    name: &str,
    ln: &Option<LayerNorm<F>>,
    f: &mut dyn FnMut(&str, ArrayViewD<F>),
) {
    if let Some(ln) = ln {
        visit_in(name, ln, f);
    }
}

fn visit_ln_mut<F: NdFloat>(
    name: &str,
    ln: &mut Option<LayerNorm<F>>,
    f: &mut dyn FnMut(&str, ArrayViewMutD<F>),
) {
    if let Some(ln) = ln {
        visit_in_mut(name, ln, f);
    }
}

impl<F: NdFloat> Params<F> for EncoderLayer<F> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>)) {
        visit_in("self_attn", &self.self_attn, f);
        visit_ln("ln1", &self.ln1, f);
        visit_in("ffn", &self.ffn, f);
        visit_ln("ln2", &self.ln2, f);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>)) {
        visit_in_mut("self_attn", &mut self.self_attn, f);
        visit_ln_mut("ln1", &mut self.ln1, f);
        visit_in_mut("ffn", &mut self.ffn, f);
        visit_ln_mut("ln2", &mut self.ln2, f);
    }
}

impl<F: NdFloat> Params<F> for DecoderLayer<F> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>)) {
        visit_in("self_attn", &self.self_attn, f);
        visit_ln("ln1", &self.ln1, f);
        visit_in("cross_attn", &self.cross_attn, f);
        visit_ln("ln2", &self.ln2, f);
        visit_in("ffn", &self.ffn, f);
        visit_ln("ln3", &self.ln3, f);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>)) {
        visit_in_mut("self_attn", &mut self.self_attn, f);
        visit_ln_mut("ln1", &mut self.ln1, f);
        visit_in_mut("cross_attn", &mut self.cross_attn, f);
        visit_ln_mut("ln2", &mut self.ln2, f);
        visit_in_mut("ffn", &mut self.ffn, f);
        visit_ln_mut("ln3", &mut self.ln3, f);
    }
}
