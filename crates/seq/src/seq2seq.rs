//! Sequence to sequence (Sutskever et al., 2014; Cho et al., 2014): an encoder reads the source,
//! its final state is the *only* thing the decoder sees of it, and the decoder generates the target.
//!
//! ```text
//!   encoder:  s_t = enc(onehot(src_t), s_{t−1}),  s_0 = 0;   context = s_L
//!   decoder:  d_0 = context;  d_t = dec(onehot(y_{t−1}), d_{t−1}),  y_{−1} = BOS
//!             p(y_t | y_<t, src) = softmax(h(d_t) W_y + b_y)
//! ```
//!
//! Training uses teacher forcing: the decoder reads the true previous token, not its own guess, so
//! every step trains in parallel on correct prefixes. Backward runs BPTT through the decoder; the
//! gradient that reaches d_0 is the gradient of the context, and flows on into the encoder's BPTT.
//!
//! Decoding: greedy takes the argmax at every step; beam search keeps the `width` most likely
//! prefixes (by summed log-probability), expanding each by every token and keeping the best
//! `width` again, and returns the best hypothesis that ended with EOS.
//!
//! The fixed-size context is the bottleneck: everything about a source of any length must pass
//! through one state vector. `p2-seq2seq-reverse` measures where that breaks; Phase 4 adds attention.
//!
//! Left out: bidirectional encoders, scheduled sampling, length normalisation in beam search.

use crate::bptt::{backward_seq, forward_seq};
use crate::cell::{gemm, Cell, OutGrad, SeqInput};
use crate::tasks::{Pair, BOS, EOS};
use crate::CellKind;
use ndarray::{s, Array2, Axis, NdFloat};
use tfs_math::loss::cross_entropy_batch_into;
use tfs_math::one_hot;
use tfs_math::softmax::log_softmax;
use tfs_math::Rng;
use tfs_nn::Grads;
use tfs_nn::Init;

/// Encoder and decoder cells of one kind and size, and the output head `w_y: (H, V)`, `b_y: (1, V)`.
pub struct Seq2Seq<F> {
    pub encoder: Box<dyn Cell<F>>,
    pub decoder: Box<dyn Cell<F>>,
    pub w_y: Array2<F>,
    pub b_y: Array2<F>,
}

/// Step-major ids: `out[t][b] = seqs[b][t]`. All sequences must have one length.
pub fn by_step(seqs: &[&[usize]]) -> Vec<Vec<usize>> {
    let len = seqs.first().map_or(0, |s| s.len());
    assert!(
        seqs.iter().all(|s| s.len() == len),
        "a batch's sequences must share one length"
    );
    (0..len)
        .map(|t| seqs.iter().map(|s| s[t]).collect())
        .collect()
}

impl<F: NdFloat> Seq2Seq<F> {
    pub fn new(kind: CellKind, vocab: usize, hidden: usize, rng: &mut Rng) -> Self {
        Seq2Seq {
            encoder: kind.build(vocab, hidden, rng),
            decoder: kind.build(vocab, hidden, rng),
            w_y: Init::XavierUniform.matrix(hidden, vocab, rng),
            b_y: Array2::zeros((1, vocab)),
        }
    }

    fn vocab(&self) -> usize {
        self.w_y.ncols()
    }

    fn logits(&self, state: &Array2<F>) -> Array2<F> {
        let h = state.slice(s![.., ..self.decoder.hidden_size()]);
        gemm(&h, &self.w_y.view()) + &self.b_y
    }

    /// The context (encoder's final state) for a batch of equal-length sources: `(B, S)`.
    pub fn encode(&self, srcs: &[&[usize]]) -> Array2<F> {
        let steps = by_step(srcs);
        let s0 = Array2::zeros((srcs.len(), self.encoder.state_size()));
        if steps.is_empty() {
            return s0;
        }
        forward_seq(
            &*self.encoder,
            &SeqInput::Ids {
                ids: &steps,
                vocab: self.vocab(),
            },
            s0.view(),
        )
        .final_state()
    }

    /// Mean cross-entropy per target token with teacher forcing, and gradients named like the
    /// parameters. All pairs must share source and target lengths.
    pub fn loss_and_grads(&self, batch: &[Pair]) -> (f64, Grads<F>) {
        let v = self.vocab();
        let b = batch.len();
        let srcs: Vec<&[usize]> = batch.iter().map(|p| p.src.as_slice()).collect();
        let tgts: Vec<&[usize]> = batch.iter().map(|p| p.tgt.as_slice()).collect();
        let src_steps = by_step(&srcs);
        let tgt_steps = by_step(&tgts);
        let s0 = Array2::zeros((b, self.encoder.state_size()));
        let enc = forward_seq(
            &*self.encoder,
            &SeqInput::Ids {
                ids: &src_steps,
                vocab: v,
            },
            s0.view(),
        );
        let context = enc.final_state();
        // Decoder inputs: BOS, then the target shifted right.
        let mut dec_ids = vec![vec![BOS; b]];
        dec_ids.extend(tgt_steps[..tgt_steps.len() - 1].iter().cloned());
        let dec = forward_seq(
            &*self.decoder,
            &SeqInput::Ids {
                ids: &dec_ids,
                vocab: v,
            },
            context.view(),
        );
        let hs = dec.hidden_all(self.decoder.hidden_size());
        let logits = gemm(&hs.view(), &self.w_y.view()) + &self.b_y;
        let flat: Vec<usize> = tgt_steps.iter().flatten().copied().collect();
        let mut dlogits = Array2::zeros(logits.dim());
        let loss = cross_entropy_batch_into(logits.view(), &flat, dlogits.view_mut());
        let dhs = gemm(&dlogits.view(), &self.w_y.t());
        let mut grads = Grads::zeros_like(self);
        let dec_bp = backward_seq(
            &*self.decoder,
            &*dec,
            OutGrad::All(dhs.view()),
            None,
            grads.group_mut("decoder"),
        );
        backward_seq(
            &*self.encoder,
            &*enc,
            OutGrad::Nothing,
            Some(dec_bp.ds0.view()),
            grads.group_mut("encoder"),
        );
        grads.mat_mut("w_y").assign(&gemm(&hs.t(), &dlogits.view()));
        grads
            .mat_mut("b_y")
            .assign(&dlogits.sum_axis(Axis(0)).insert_axis(Axis(0)));
        (loss.to_f64().unwrap_or(f64::NAN), grads)
    }

    /// Greedy decoding of a batch of equal-length sources, at most `max_len` tokens each; the
    /// returned sequences stop before EOS.
    pub fn greedy(&self, srcs: &[&[usize]], max_len: usize) -> Vec<Vec<usize>> {
        let b = srcs.len();
        let mut state = self.encode(srcs);
        let mut tokens = vec![BOS; b];
        let mut out = vec![Vec::new(); b];
        let mut done = vec![false; b];
        for _ in 0..max_len {
            let (s, _) = self
                .decoder
                .forward(one_hot(&tokens, self.vocab()).view(), state.view());
            let logits = self.logits(&s);
            for (r, row) in logits.outer_iter().enumerate() {
                let best = tfs_math::argmax(row.iter().copied());
                tokens[r] = best;
                if !done[r] {
                    if best == EOS {
                        done[r] = true;
                    } else {
                        out[r].push(best);
                    }
                }
            }
            state = s;
            if done.iter().all(|&d| d) {
                break;
            }
        }
        out
    }

    /// Beam search of width `width` for one source; returns the best finished hypothesis
    /// (without EOS), or the best unfinished one after `max_len` steps.
    pub fn beam(&self, src: &[usize], width: usize, max_len: usize) -> Vec<usize> {
        assert!(width > 0, "beam: width must be at least 1");
        let context = self.encode(&[src]);
        // Alive hypotheses: (tokens, log-prob); their states stacked as rows.
        let mut alive: Vec<(Vec<usize>, f64)> = vec![(Vec::new(), 0.0)];
        let mut states = context;
        let mut finished: Vec<(Vec<usize>, f64)> = Vec::new();
        for _ in 0..max_len {
            let last: Vec<usize> = alive
                .iter()
                .map(|(t, _)| *t.last().unwrap_or(&BOS))
                .collect();
            let (s, _) = self
                .decoder
                .forward(one_hot(&last, self.vocab()).view(), states.view());
            let logits = self.logits(&s);
            let mut cands: Vec<(usize, usize, f64)> = Vec::new(); // (hyp, token, score)
            for (hi, row) in logits.outer_iter().enumerate() {
                let z: Vec<f64> = row.iter().map(|v| v.to_f64().unwrap_or(f64::NAN)).collect();
                for (tok, lp) in log_softmax(&z).into_iter().enumerate() {
                    cands.push((hi, tok, alive[hi].1 + lp));
                }
            }
            cands.sort_by(|a, b| b.2.total_cmp(&a.2));
            let mut next = Vec::new();
            let mut rows = Vec::new();
            for (hi, tok, score) in cands {
                if next.len() == width {
                    break;
                }
                if tok == EOS {
                    finished.push((alive[hi].0.clone(), score));
                } else if tok != BOS {
                    let mut t = alive[hi].0.clone();
                    t.push(tok);
                    next.push((t, score));
                    rows.push(hi);
                }
            }
            let best_finished = finished
                .iter()
                .map(|f| f.1)
                .fold(f64::NEG_INFINITY, f64::max);
            // Scores only fall as hypotheses grow: stop when no alive one can beat a finished one.
            if next.is_empty() || next.iter().all(|h| h.1 <= best_finished) {
                break;
            }
            states = s.select(Axis(0), &rows);
            alive = next;
        }
        finished.extend(alive);
        finished
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|h| h.0)
            .unwrap_or_default()
    }
}

// Parameters: `encoder.*`, `decoder.*`, then the head `w_y`, `b_y`.
tfs_nn::impl_params!(Seq2Seq {
    modules: [encoder, decoder],
    w_y,
    b_y
});
