//! The encoder-decoder transformer (Vaswani et al., 2017): embeddings and positions, a stack of
//! encoder blocks, a stack of decoder blocks, a linear map to the target vocabulary, softmax
//! cross-entropy; forward and the whole backward by hand.
//!
//! ```text
//!   X⁰ = E_src[src] · √D + PE            (B·Ts, D)     src: (B, Ts) token ids
//!   M  = Encoderᴺ(X⁰)  [→ LN in pre-norm] (B·Ts, D)     the "memory" the decoder reads
//!   Y⁰ = E_tgt[tgt_in] · √D + PE         (B·Tt, D)     tgt_in = BOS, y₁ … y_{T−1} (teacher forcing)
//!   H  = Decoderᴺ(Y⁰, M) [→ LN in pre-norm]
//!   Z  = H W_out + b_out                 (B·Tt, V_tgt)  (tied: W_out = E_tgtᵀ)
//!   L  = mean over the non-padding target positions of −log softmax(Z)[y]
//! ```
//!
//! Backward: `δZ = (softmax(Z) − onehot(y)) / n` on real positions, 0 on padding; `δH = δZ W_outᵀ`
//! (`δW_out = Hᵀ δZ`, or with tying `δE_tgt += δZᵀ H`); the decoder stack backwards, each block
//! returning δ of its input and of the memory M (its cross-attention's keys and values), which
//! are summed over blocks; then the encoder stack from `δM`; the embeddings scatter-add
//! `√D · δX⁰`. The positional encodings are fixed, so they get no gradient.
//!
//! Parameter names (`tfs_nn::Params`), in visiting order:
//!
//! ```text
//!   src_emb.weight (V_src, D)  tgt_emb.weight (V_tgt, D)
//!   enc.{i}.self_attn.{w_q,b_q,w_k,b_k,w_v,b_v,w_o,b_o}  enc.{i}.ln1.{gamma,beta}
//!   enc.{i}.ffn.{w1,b1,w2,b2}  enc.{i}.ln2.*             enc_norm.* (pre-norm only)
//!   dec.{i}.self_attn.*  dec.{i}.ln1.*  dec.{i}.cross_attn.*  dec.{i}.ln2.*  dec.{i}.ffn.*  dec.{i}.ln3.*
//!   dec_norm.* (pre-norm only)   out.w (D, V_tgt) (absent when tied)   out.b (V_tgt)
//! ```
//!
//! Padding: every sequence of a batch has its own length; padded key positions are masked out of
//! every attention (source padding in the encoder and in cross-attention, causal + padding in
//! the decoder) and padded target positions are left out of the loss, so a padded batch gives
//! each sequence exactly the outputs it would get alone (a test checks it).
//!
//! Left out: dropout, label smoothing (beam search is in `decode.rs`), key/value caching during
//! decoding (each step re-runs the decoder over the prefix), shared source/target embeddings.

use crate::block::{BlockConfig, DecoderCache, DecoderLayer, EncoderCache, EncoderLayer, Norm};
use crate::ffn::affine_backward_named;
use crate::layernorm::{LayerNorm, LnCache};
use crate::ops::matmul_into;
use crate::tasks::Example;
use ndarray::{s, Array1, Array2, ArrayView2, ArrayViewD, ArrayViewMutD, Axis, NdFloat};
use tfs_attention::sdpa::Mask;
use tfs_embeddings::Embedding;
use tfs_math::Rng;
use tfs_nn::params::{visit_in, visit_in_mut};
use tfs_nn::{Activation, Grads, Init, Params};

/// The model's sizes and switches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    pub src_vocab: usize,
    pub tgt_vocab: usize,
    pub d: usize,
    pub heads: usize,
    /// The FFN's inner width.
    pub ffn: usize,
    pub enc_layers: usize,
    pub dec_layers: usize,
    pub act: Activation,
    pub norm: Norm,
    pub residual: bool,
    /// Tie the output projection to the target embedding (`W_out = E_tgtᵀ`).
    pub tie: bool,
    /// The longest sequence the positional table covers.
    pub max_len: usize,
}

impl Config {
    /// A small model for the toy tasks: D = 64, 4 heads, FFN 256, 2 + 2 layers, post-norm.
    pub fn small(src_vocab: usize, tgt_vocab: usize) -> Self {
        Config {
            src_vocab,
            tgt_vocab,
            d: 64,
            heads: 4,
            ffn: 256,
            enc_layers: 2,
            dec_layers: 2,
            act: Activation::Relu,
            norm: Norm::Post,
            residual: true,
            tie: false,
            max_len: 128,
        }
    }

    pub fn block(&self) -> BlockConfig {
        BlockConfig {
            d: self.d,
            heads: self.heads,
            ffn: self.ffn,
            act: self.act,
            norm: self.norm,
            residual: self.residual,
        }
    }
}

/// A padded batch for teacher forcing. Ids are `(B, T)` row-major; padding positions hold 0.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub b: usize,
    pub ts: usize,
    pub tt: usize,
    pub src: Vec<usize>,
    pub src_len: Vec<usize>,
    /// BOS followed by the target without its last token.
    pub tgt_in: Vec<usize>,
    /// The target (ending in EOS).
    pub tgt_out: Vec<usize>,
    pub tgt_len: Vec<usize>,
}

impl Batch {
    /// Pads `examples` to their longest source and target.
    pub fn new(examples: &[Example], bos: usize) -> Self {
        let b = examples.len();
        assert!(b > 0, "Batch::new: no examples");
        let ts = examples.iter().map(|e| e.src.len()).max().unwrap_or(0);
        let tt = examples.iter().map(|e| e.tgt.len()).max().unwrap_or(0);
        assert!(ts > 0 && tt > 0, "Batch::new: empty source or target");
        let (mut src, mut tgt_in, mut tgt_out) =
            (vec![0; b * ts], vec![0; b * tt], vec![0; b * tt]);
        for (i, e) in examples.iter().enumerate() {
            src[i * ts..i * ts + e.src.len()].copy_from_slice(&e.src);
            tgt_out[i * tt..i * tt + e.tgt.len()].copy_from_slice(&e.tgt);
            tgt_in[i * tt] = bos;
            tgt_in[i * tt + 1..i * tt + e.tgt.len()].copy_from_slice(&e.tgt[..e.tgt.len() - 1]);
        }
        Batch {
            b,
            ts,
            tt,
            src,
            src_len: examples.iter().map(|e| e.src.len()).collect(),
            tgt_in,
            tgt_out,
            tgt_len: examples.iter().map(|e| e.tgt.len()).collect(),
        }
    }
}

/// The encoder-decoder transformer.
#[derive(Clone, Debug)]
pub struct Transformer<F> {
    pub cfg: Config,
    pub src_emb: Embedding<F>,
    pub tgt_emb: Embedding<F>,
    pub enc: Vec<EncoderLayer<F>>,
    pub enc_norm: Option<LayerNorm<F>>,
    pub dec: Vec<DecoderLayer<F>>,
    pub dec_norm: Option<LayerNorm<F>>,
    /// `out.w: (D, V_tgt)`, `None` when tied.
    pub out_w: Option<Array2<F>>,
    /// `out.b: (V_tgt)`.
    pub out_b: Array1<F>,
    /// Sinusoidal positions `(max_len, D)` (fixed, not a parameter).
    pe: Array2<F>,
}

/// Everything backward needs, and what figures read (attention weights).
#[derive(Clone, Debug)]
pub struct ModelCache<F> {
    pub enc: Vec<EncoderCache<F>>,
    enc_norm: Option<LnCache<F>>,
    pub dec: Vec<DecoderCache<F>>,
    dec_norm: Option<LnCache<F>>,
    h: Array2<F>,
}

impl<F: NdFloat> Transformer<F> {
    /// Embeddings N(0, 1/D) (so that `√D · E` has unit entries), Xavier-uniform weights, zero biases.
    pub fn new(cfg: Config, rng: &mut Rng) -> Self {
        let scale = F::from(1.0 / (cfg.d as f64).sqrt()).expect("fits");
        let mut emb = |v| {
            let mut e = Embedding::new(v, cfg.d, rng);
            e.weight.mapv_inplace(|x| x * scale);
            e
        };
        let (src_emb, tgt_emb) = (emb(cfg.src_vocab), emb(cfg.tgt_vocab));
        let bc = cfg.block();
        let enc = (0..cfg.enc_layers)
            .map(|_| EncoderLayer::new(bc, rng))
            .collect();
        let dec = (0..cfg.dec_layers)
            .map(|_| DecoderLayer::new(bc, rng))
            .collect();
        let pre = (cfg.norm == Norm::Pre).then(|| LayerNorm::new(cfg.d));
        Transformer {
            cfg,
            src_emb,
            tgt_emb,
            enc,
            enc_norm: pre.clone(),
            dec,
            dec_norm: pre,
            out_w: (!cfg.tie).then(|| Init::XavierUniform.matrix(cfg.d, cfg.tgt_vocab, rng)),
            out_b: Array1::zeros(cfg.tgt_vocab),
            pe: tfs_embeddings::positional::sinusoidal(cfg.max_len, cfg.d)
                .mapv(|x| F::from(x).expect("fits")),
        }
    }

    /// `√D · E[ids] + PE`: `(B·T, D)` for ids `(B, T)`.
    pub(crate) fn embed(&self, emb: &Embedding<F>, ids: &[usize], t: usize) -> Array2<F> {
        assert!(
            t <= self.cfg.max_len,
            "Transformer: sequence of {t} positions, the positional table has {}",
            self.cfg.max_len
        );
        let sd = F::from((self.cfg.d as f64).sqrt()).expect("fits");
        let mut x = emb.forward(ids) * sd;
        for mut blk in x.axis_chunks_iter_mut(Axis(0), t) {
            blk += &self.pe.slice(s![..t, ..]);
        }
        x
    }

    /// The memory `M: (B·Ts, D)` of a padded source `(B, Ts)`.
    pub fn encode(
        &self,
        src: &[usize],
        src_len: &[usize],
        ts: usize,
    ) -> (Array2<F>, Vec<EncoderCache<F>>, Option<LnCache<F>>) {
        let b = src_len.len();
        assert_eq!(
            src.len(),
            b * ts,
            "encode: {} ids for (B, Ts) = ({b}, {ts})",
            src.len()
        );
        let mask = Mask::Padding(src_len.to_vec());
        let mut x = self.embed(&self.src_emb, src, ts);
        let mut caches = Vec::with_capacity(self.enc.len());
        for layer in &self.enc {
            let (y, c) = layer.forward(x.view(), b, &mask);
            caches.push(c);
            x = y;
        }
        let nc = self.enc_norm.as_ref().map(|ln| {
            let (y, c) = ln.forward(x.view());
            x = y;
            c
        });
        (x, caches, nc)
    }

    /// Logits `Z: (B·Tt, V_tgt)` of the decoder on `tgt_in (B, Tt)` reading the memory.
    #[allow(clippy::type_complexity)]
    pub fn decode(
        &self,
        tgt_in: &[usize],
        tgt_len: &[usize],
        tt: usize,
        mem: ArrayView2<F>,
        src_len: &[usize],
    ) -> (
        Array2<F>,
        Vec<DecoderCache<F>>,
        Option<LnCache<F>>,
        Array2<F>,
    ) {
        let b = tgt_len.len();
        assert_eq!(
            tgt_in.len(),
            b * tt,
            "decode: {} ids for (B, Tt) = ({b}, {tt})",
            tgt_in.len()
        );
        let (self_mask, mem_mask) = (
            Mask::CausalPadding(tgt_len.to_vec()),
            Mask::Padding(src_len.to_vec()),
        );
        let mut y = self.embed(&self.tgt_emb, tgt_in, tt);
        let mut caches = Vec::with_capacity(self.dec.len());
        for layer in &self.dec {
            let (o, c) = layer.forward(y.view(), mem, b, &self_mask, &mem_mask);
            caches.push(c);
            y = o;
        }
        let nc = self.dec_norm.as_ref().map(|ln| {
            let (o, c) = ln.forward(y.view());
            y = o;
            c
        });
        let mut z = Array2::zeros((y.nrows(), self.cfg.tgt_vocab));
        z.rows_mut()
            .into_iter()
            .for_each(|mut r| r.assign(&self.out_b));
        match &self.out_w {
            Some(w) => matmul_into(
                y.view(),
                w.view(),
                z.view_mut(),
                false,
                false,
                F::one(),
                F::one(),
            ),
            None => matmul_into(
                y.view(),
                self.tgt_emb.weight.view(),
                z.view_mut(),
                false,
                true,
                F::one(),
                F::one(),
            ),
        }
        (z, caches, nc, y)
    }

    /// Logits `(B·Tt, V_tgt)` under teacher forcing, and the cache.
    pub fn forward(&self, batch: &Batch) -> (Array2<F>, ModelCache<F>) {
        let (mem, enc, enc_norm) = self.encode(&batch.src, &batch.src_len, batch.ts);
        let (z, dec, dec_norm, h) = self.decode(
            &batch.tgt_in,
            &batch.tgt_len,
            batch.tt,
            mem.view(),
            &batch.src_len,
        );
        (
            z,
            ModelCache {
                enc,
                enc_norm,
                dec,
                dec_norm,
                h,
            },
        )
    }

    /// Mean cross-entropy over the real target positions and its gradient `δZ` (0 on padding).
    pub fn loss(&self, z: ArrayView2<F>, batch: &Batch) -> (f64, Array2<F>) {
        let n: usize = batch.tgt_len.iter().sum();
        let inv_n = F::one() / F::from(n.max(1)).expect("fits");
        let mut dz = Array2::zeros(z.dim());
        let mut loss = 0.0;
        for (r, (zr, mut dr)) in z.rows().into_iter().zip(dz.rows_mut()).enumerate() {
            let (bi, t) = (r / batch.tt, r % batch.tt);
            if t >= batch.tgt_len[bi] {
                continue;
            }
            let y = batch.tgt_out[r];
            let m = zr.fold(F::neg_infinity(), |a, &x| a.max(x));
            let sum = zr.fold(F::zero(), |a, &x| a + (x - m).exp());
            loss += (m + sum.ln() - zr[y]).to_f64().expect("finite");
            for (d, &x) in dr.iter_mut().zip(zr) {
                *d = (x - m).exp() / sum * inv_n;
            }
            dr[y] -= inv_n;
        }
        (loss / n.max(1) as f64, dz)
    }

    /// The gradients of every named parameter, given `δZ`.
    pub fn backward(&self, dz: ArrayView2<F>, batch: &Batch, c: &ModelCache<F>) -> Grads<F> {
        let mut g = Grads::zeros_like(self);
        let mut dy = match &self.out_w {
            Some(w) => {
                affine_backward_named(c.h.view(), dz, w.view(), g.group_mut("out"), "w", "b")
            }
            None => {
                {
                    let mut db = g.vec_mut("out.b");
                    db += &dz.sum_axis(Axis(0));
                }
                let e = &self.tgt_emb.weight;
                matmul_into(
                    dz,
                    c.h.view(),
                    g.mat_mut("tgt_emb.weight"),
                    true,
                    false,
                    F::one(),
                    F::one(),
                );
                let mut dh = Array2::zeros(c.h.dim());
                matmul_into(
                    dz,
                    e.view(),
                    dh.view_mut(),
                    false,
                    false,
                    F::one(),
                    F::zero(),
                );
                dh
            }
        };
        if let (Some(ln), Some(lc)) = (&self.dec_norm, &c.dec_norm) {
            dy = ln.backward(dy.view(), lc, g.group_mut("dec_norm"));
        }
        // ANCHOR: backward
        let mut dmem = Array2::zeros((batch.b * batch.ts, self.cfg.d));
        for (i, (layer, lc)) in self.dec.iter().zip(&c.dec).enumerate().rev() {
            let (dx, dm) = layer.backward(dy, lc, g.group_mut(&format!("dec.{i}")));
            dmem += &dm;
            dy = dx;
        }
        let sd = F::from((self.cfg.d as f64).sqrt()).expect("fits");
        self.tgt_emb
            .backward(&batch.tgt_in, (dy * sd).view(), g.group_mut("tgt_emb"));
        if let (Some(ln), Some(lc)) = (&self.enc_norm, &c.enc_norm) {
            dmem = ln.backward(dmem.view(), lc, g.group_mut("enc_norm"));
        }
        for (i, (layer, lc)) in self.enc.iter().zip(&c.enc).enumerate().rev() {
            dmem = layer.backward(dmem, lc, g.group_mut(&format!("enc.{i}")));
        }
        self.src_emb
            .backward(&batch.src, (dmem * sd).view(), g.group_mut("src_emb"));
        // ANCHOR_END: backward
        g
    }

    /// Forward, loss and backward on one batch: `(loss, gradients)`.
    pub fn loss_and_grads(&self, batch: &Batch) -> (f64, Grads<F>) {
        let (z, c) = self.forward(batch);
        let (loss, dz) = self.loss(z.view(), batch);
        (loss, self.backward(dz.view(), batch, &c))
    }

    /// Greedy autoregressive decoding: each source's output up to (without) `eos`, at most
    /// `max_len` tokens. The encoder runs once; the decoder re-reads the whole prefix each step.
    pub fn greedy(
        &self,
        srcs: &[&[usize]],
        bos: usize,
        eos: usize,
        max_len: usize,
    ) -> Vec<Vec<usize>> {
        let b = srcs.len();
        if b == 0 {
            return Vec::new();
        }
        let ts = srcs.iter().map(|s| s.len()).max().unwrap_or(0);
        let mut src = vec![0; b * ts];
        for (i, s) in srcs.iter().enumerate() {
            src[i * ts..i * ts + s.len()].copy_from_slice(s);
        }
        let src_len: Vec<usize> = srcs.iter().map(|s| s.len()).collect();
        let (mem, _, _) = self.encode(&src, &src_len, ts);
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); b];
        let mut done = vec![false; b];
        for t in 1..=max_len.min(self.cfg.max_len) {
            let mut tgt_in = vec![0; b * t];
            for (i, o) in out.iter().enumerate() {
                tgt_in[i * t] = bos;
                for (k, &tok) in o.iter().take(t - 1).enumerate() {
                    tgt_in[i * t + 1 + k] = tok;
                }
            }
            let (z, _, _, _) = self.decode(&tgt_in, &vec![t; b], t, mem.view(), &src_len);
            for i in 0..b {
                if done[i] {
                    continue;
                }
                let next = tfs_math::argmax(z.row(i * t + t - 1).iter().copied());
                if next == eos {
                    done[i] = true;
                } else {
                    out[i].push(next);
                }
            }
            if done.iter().all(|&d| d) {
                break;
            }
        }
        out
    }
}

impl<F: NdFloat> Params<F> for Transformer<F> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>)) {
        visit_in("src_emb", &self.src_emb, f);
        visit_in("tgt_emb", &self.tgt_emb, f);
        for (i, l) in self.enc.iter().enumerate() {
            visit_in(&format!("enc.{i}"), l, f);
        }
        if let Some(ln) = &self.enc_norm {
            visit_in("enc_norm", ln, f);
        }
        for (i, l) in self.dec.iter().enumerate() {
            visit_in(&format!("dec.{i}"), l, f);
        }
        if let Some(ln) = &self.dec_norm {
            visit_in("dec_norm", ln, f);
        }
        if let Some(w) = &self.out_w {
            f("out.w", w.view().into_dyn());
        }
        f("out.b", self.out_b.view().into_dyn());
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>)) {
        visit_in_mut("src_emb", &mut self.src_emb, f);
        visit_in_mut("tgt_emb", &mut self.tgt_emb, f);
        for (i, l) in self.enc.iter_mut().enumerate() {
            visit_in_mut(&format!("enc.{i}"), l, f);
        }
        if let Some(ln) = &mut self.enc_norm {
            visit_in_mut("enc_norm", ln, f);
        }
        for (i, l) in self.dec.iter_mut().enumerate() {
            visit_in_mut(&format!("dec.{i}"), l, f);
        }
        if let Some(ln) = &mut self.dec_norm {
            visit_in_mut("dec_norm", ln, f);
        }
        if let Some(w) = &mut self.out_w {
            f("out.w", w.view_mut().into_dyn());
        }
        f("out.b", self.out_b.view_mut().into_dyn());
    }
}
