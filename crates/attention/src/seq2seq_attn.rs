//! Seq2seq with attention: at every step the decoder reads a weighted average of *all* the
//! encoder's states instead of only the last one.
//!
//! **Bahdanau** (Bahdanau, Cho & Bengio, 2015): the previous decoder state is the query; the
//! context is an extra input of the decoder cell.
//!
//! ```text
//!   c_t = attend(q = h_{t−1}, keys = encoder states)
//!   s_t = dec([onehot(y_{t−1}); c_t], s_{t−1});   logits_t = h_t W_y + b_y
//! ```
//!
//! **Luong** (Luong, Pham & Manning, 2015): the decoder steps first, and its new state is the
//! query; context and state are combined into an attentional state that feeds the output.
//!
//! ```text
//!   s_t = dec(onehot(y_{t−1}), s_{t−1});   c_t = attend(q = h_t, keys)
//!   h̃_t = tanh([c_t; h_t] W_c);            logits_t = h̃_t W_y + b_y
//! ```
//!
//! Backward runs step by step from the last: the output's gradient, the gradient the next step's
//! query sent back (Bahdanau), and the recurrent gradient meet in each decoder step; the context's
//! gradient goes through the attention's backward into the encoder states, accumulated over all
//! steps, and then through the encoder's BPTT together with the gradient into its final state.
//!
//! Left out: input feeding, bidirectional encoders, padding (batches share one length).

use crate::scorer::{Keys, Score, ScoreKind, StepCache as AttnCache};
use ndarray::{concatenate, s, Array2, Array3, Axis, NdFloat};
use ndarray::{ArrayViewD, ArrayViewMutD};
use tfs_kernels::nd::{gemm, matmul};
use tfs_math::loss::cross_entropy_batch_into;
use tfs_math::one_hot;
use tfs_math::Rng;
use tfs_nn::params::{visit_in, visit_in_mut};
use tfs_nn::Init;
use tfs_nn::{Grads, Params};
use tfs_seq::bptt::{backward_seq, forward_seq};
use tfs_seq::cell::{OutGrad, SeqCache, SeqInput, StepCache};
use tfs_seq::seq2seq::by_step;
use tfs_seq::tasks::{Pair, BOS, EOS};
use tfs_seq::{Cell, CellKind};

/// Where attention sits in the decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Bahdanau,
    Luong,
}

pub struct AttnSeq2Seq<F> {
    pub encoder: Box<dyn Cell<F>>,
    pub decoder: Box<dyn Cell<F>>,
    pub score: Score<F>,
    pub style: Style,
    /// Luong's combination `(2H, H)`; empty for Bahdanau.
    pub w_c: Array2<F>,
    pub w_y: Array2<F>,
    pub b_y: Array2<F>,
    vocab: usize,
}

/// One decoder step's caches.
struct Step<F> {
    dec: StepCache<F>,
    attn: AttnCache<F>,
    /// Luong: [c; h] and h̃; Bahdanau: the output h.
    z: Option<Array2<F>>,
    out: Array2<F>,
}

impl<F: NdFloat> AttnSeq2Seq<F> {
    pub fn new(
        kind: CellKind,
        style: Style,
        score: ScoreKind,
        vocab: usize,
        hidden: usize,
        rng: &mut Rng,
    ) -> Self {
        let dec_in = match style {
            Style::Bahdanau => vocab + hidden,
            Style::Luong => vocab,
        };
        AttnSeq2Seq {
            encoder: kind.build(vocab, hidden, rng),
            decoder: kind.build(dec_in, hidden, rng),
            score: Score::new(score, hidden, hidden, rng),
            style,
            w_c: match style {
                Style::Luong => Init::XavierUniform.matrix(2 * hidden, hidden, rng),
                Style::Bahdanau => Array2::zeros((0, 0)),
            },
            w_y: Init::XavierUniform.matrix(hidden, vocab, rng),
            b_y: Array2::zeros((1, vocab)),
            vocab,
        }
    }

    fn hidden(&self) -> usize {
        self.decoder.hidden_size()
    }

    /// Encodes a batch: the encoder's cache, its states as (B, L, H) keys, and its final state.
    fn encode(&self, srcs: &[&[usize]]) -> (Box<dyn SeqCache<F>>, Keys<F>, Array2<F>) {
        let steps = by_step(srcs);
        let b = srcs.len();
        let s0 = Array2::zeros((b, self.encoder.state_size()));
        let enc = forward_seq(
            &*self.encoder,
            &SeqInput::Ids {
                ids: &steps,
                vocab: self.vocab,
            },
            s0.view(),
        );
        let h_all = enc.hidden_all(self.hidden()); // (L·B, H), step-major
        let l = steps.len();
        let mut h = Array3::zeros((b, l, self.hidden()));
        for i in 0..l {
            h.slice_mut(s![.., i, ..])
                .assign(&h_all.slice(s![i * b..(i + 1) * b, ..]));
        }
        let fin = enc.final_state();
        (enc, self.score.keys(h), fin)
    }

    /// One decoder step from `state` reading token ids `prev`; returns the new state and the cache.
    fn step(&self, prev: &[usize], state: &Array2<F>, keys: &Keys<F>) -> (Array2<F>, Step<F>) {
        let hd = self.hidden();
        let x = one_hot::<F>(prev, self.vocab);
        match self.style {
            Style::Bahdanau => {
                let (c, attn) = self.score.forward(state.slice(s![.., ..hd]), keys);
                let xin = concatenate![Axis(1), x, c];
                let (st, dec) = self.decoder.forward(xin.view(), state.view());
                let out = st.slice(s![.., ..hd]).to_owned();
                (
                    st,
                    Step {
                        dec,
                        attn,
                        z: None,
                        out,
                    },
                )
            }
            Style::Luong => {
                let (st, dec) = self.decoder.forward(x.view(), state.view());
                let h = st.slice(s![.., ..hd]).to_owned();
                let (c, attn) = self.score.forward(h.view(), keys);
                let z = concatenate![Axis(1), c, h];
                let out = matmul(&z, &self.w_c).mapv(|v| v.tanh());
                (
                    st,
                    Step {
                        dec,
                        attn,
                        z: Some(z),
                        out,
                    },
                )
            }
        }
    }

    /// Mean cross-entropy per target token with teacher forcing, and gradients named like the
    /// parameters.
    pub fn loss_and_grads(&self, batch: &[Pair]) -> (f64, Grads<F>) {
        let b = batch.len();
        let hd = self.hidden();
        let srcs: Vec<&[usize]> = batch.iter().map(|p| p.src.as_slice()).collect();
        let tgts: Vec<&[usize]> = batch.iter().map(|p| p.tgt.as_slice()).collect();
        let tgt_steps = by_step(&tgts);
        let (enc, mut keys, mut state) = self.encode(&srcs);
        let mut steps = Vec::with_capacity(tgt_steps.len());
        let mut prev = vec![BOS; b];
        for ids in &tgt_steps {
            let (st, cache) = self.step(&prev, &state, &keys);
            steps.push(cache);
            state = st;
            prev.clone_from(ids);
        }
        let t_len = steps.len();
        let outs: Vec<_> = steps.iter().map(|s| s.out.view()).collect();
        let outs = concatenate(Axis(0), &outs).expect("same width");
        let logits = matmul(&outs, &self.w_y) + &self.b_y;
        let flat: Vec<usize> = tgt_steps.iter().flatten().copied().collect();
        let mut dlogits = Array2::zeros(logits.dim());
        let loss = cross_entropy_batch_into(logits.view(), &flat, dlogits.view_mut());
        let dw_y = matmul(&outs.t(), &dlogits);
        let db_y = dlogits.sum_axis(Axis(0)).insert_axis(Axis(0));
        let douts = matmul(&dlogits, &self.w_y.t());
        let mut dec_grads = self.decoder.zero_grads();
        let mut score_grads = Grads::zeros_like(&self.score);
        let mut dw_c = Array2::zeros(self.w_c.dim());
        let mut ds_next = Array2::zeros((b, self.decoder.state_size()));
        for t in (0..t_len).rev() {
            let st = &steps[t];
            let dout = douts.slice(s![t * b..(t + 1) * b, ..]);
            match self.style {
                Style::Bahdanau => {
                    let mut dh = ds_next.slice_mut(s![.., ..hd]);
                    dh += &dout;
                    let (dx, mut ds_prev) =
                        self.decoder
                            .backward(ds_next.view(), &st.dec, &mut dec_grads);
                    let dc = dx.slice(s![.., self.vocab..]);
                    let dq = self
                        .score
                        .backward(dc, &st.attn, &mut keys, &mut score_grads);
                    let mut dprev_h = ds_prev.slice_mut(s![.., ..hd]);
                    dprev_h += &dq;
                    ds_next = ds_prev;
                }
                Style::Luong => {
                    let z = st.z.as_ref().expect("Luong caches z");
                    let dpre = &dout * &st.out.mapv(|v| F::one() - v * v);
                    gemm(F::one(), &z.t(), &dpre, F::one(), &mut dw_c);
                    let dz = matmul(&dpre, &self.w_c.t());
                    let dq = self.score.backward(
                        dz.slice(s![.., ..hd]),
                        &st.attn,
                        &mut keys,
                        &mut score_grads,
                    );
                    let mut dh = ds_next.slice_mut(s![.., ..hd]);
                    dh += &dz.slice(s![.., hd..]);
                    dh += &dq;
                    let (_, ds_prev) =
                        self.decoder
                            .backward(ds_next.view(), &st.dec, &mut dec_grads);
                    ds_next = ds_prev;
                }
            }
        }
        self.score.finish_keys(&mut keys, &mut score_grads);
        let l = keys.h.dim().1;
        let mut dh_all = Array2::zeros((l * b, hd));
        for i in 0..l {
            dh_all
                .slice_mut(s![i * b..(i + 1) * b, ..])
                .assign(&keys.dh.slice(s![.., i, ..]));
        }
        let mut grads = Grads::zeros_like(self);
        backward_seq(
            &*self.encoder,
            &*enc,
            OutGrad::All(dh_all.view()),
            Some(ds_next.view()),
            grads.group_mut("encoder"),
        );
        grads.assign_group("decoder", &dec_grads);
        grads.assign_group("score", &score_grads);
        if self.style == Style::Luong {
            grads.mat_mut("w_c").assign(&dw_c);
        }
        grads.mat_mut("w_y").assign(&dw_y);
        grads.mat_mut("b_y").assign(&db_y);
        (loss.to_f64().unwrap_or(f64::NAN), grads)
    }

    /// Greedy decoding of equal-length sources; returns the outputs (without EOS) and, per
    /// example, the attention weights of every emitted step: `weights[b][t][i]`.
    pub fn greedy(
        &self,
        srcs: &[&[usize]],
        max_len: usize,
    ) -> (Vec<Vec<usize>>, Vec<Vec<Vec<f64>>>) {
        let b = srcs.len();
        let (_, keys, mut state) = self.encode(srcs);
        let mut prev = vec![BOS; b];
        let mut out = vec![Vec::new(); b];
        let mut weights = vec![Vec::new(); b];
        let mut done = vec![false; b];
        for _ in 0..max_len {
            let (st, cache) = self.step(&prev, &state, &keys);
            let logits = matmul(&cache.out, &self.w_y) + &self.b_y;
            for (r, row) in logits.outer_iter().enumerate() {
                let best = tfs_math::argmax(row.iter().copied());
                prev[r] = best;
                if !done[r] {
                    if best == EOS {
                        done[r] = true;
                    } else {
                        out[r].push(best);
                        weights[r].push(
                            cache
                                .attn
                                .weights
                                .row(r)
                                .iter()
                                .map(|w| w.to_f64().unwrap_or(f64::NAN))
                                .collect(),
                        );
                    }
                }
            }
            state = st;
            if done.iter().all(|&d| d) {
                break;
            }
        }
        (out, weights)
    }
}

/// `encoder.*`, `decoder.*`, `score.*`, `w_c` (Luong only), then the head `w_y`, `b_y`.
impl<F: NdFloat> Params<F> for AttnSeq2Seq<F> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>)) {
        visit_in("encoder", &*self.encoder, f);
        visit_in("decoder", &*self.decoder, f);
        visit_in("score", &self.score, f);
        if self.style == Style::Luong {
            f("w_c", self.w_c.view().into_dyn());
        }
        f("w_y", self.w_y.view().into_dyn());
        f("b_y", self.b_y.view().into_dyn());
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>)) {
        visit_in_mut("encoder", &mut *self.encoder, f);
        visit_in_mut("decoder", &mut *self.decoder, f);
        visit_in_mut("score", &mut self.score, f);
        if self.style == Style::Luong {
            f("w_c", self.w_c.view_mut().into_dyn());
        }
        f("w_y", self.w_y.view_mut().into_dyn());
        f("b_y", self.b_y.view_mut().into_dyn());
    }
}
