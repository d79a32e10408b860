//! Beam search: keep the `k` most probable partial outputs instead of one.
//!
//! ```text
//!   score(y₁ … y_t) = Σ_s log p(y_s | y_<s, source)          (a sum of log-probabilities ≤ 0)
//!   step: every alive beam × every next token → candidates; the best k that do not end in EOS
//!         stay alive, those that end in EOS are finished
//!   stop: when no beam is alive, or the best finished score ≥ the best alive score (adding a
//!         token can only lower a score, so no alive beam can overtake it), or at max_len
//! ```
//!
//! Greedy decoding is beam search with k = 1 (a test holds them equal). A wider beam can recover
//! from a first token that looked best but leads to a poor sequence, at k times the decoder work.
//! The encoder runs once; the k beams are decoded as one batch over a k-fold copy of the memory,
//! each step re-reading the whole prefix (no key/value cache).
//!
//! Left out: length normalisation and coverage penalties, batched beam search over many sources.

use crate::model::Transformer;
use ndarray::{Array2, Axis, NdFloat};

/// One hypothesis: its tokens (without BOS and EOS) and its summed log-probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    pub tokens: Vec<usize>,
    pub log_prob: f64,
}

impl<F: NdFloat> Transformer<F> {
    /// The best hypothesis of a beam search of width `beam` over at most `max_len` tokens.
    pub fn beam_search(
        &self,
        src: &[usize],
        bos: usize,
        eos: usize,
        beam: usize,
        max_len: usize,
    ) -> Hypothesis {
        assert!(beam > 0, "beam_search: the beam width must be at least 1");
        assert!(!src.is_empty(), "beam_search: empty source");
        let ts = src.len();
        let (mem, _, _) = self.encode(src, &[ts], ts);
        let mut alive = vec![Hypothesis {
            tokens: Vec::new(),
            log_prob: 0.0,
        }];
        let mut finished: Vec<Hypothesis> = Vec::new();
        for t in 1..=max_len.min(self.cfg.max_len) {
            let k = alive.len();
            // The memory of every alive beam: (k·Ts, D).
            let mem_k = ndarray::concatenate(Axis(0), &vec![mem.view(); k]).expect("same widths");
            let mut tgt_in = vec![bos; k * t];
            for (i, h) in alive.iter().enumerate() {
                tgt_in[i * t + 1..(i + 1) * t].copy_from_slice(&h.tokens);
            }
            let (z, _, _, _) = self.decode(&tgt_in, &vec![t; k], t, mem_k.view(), &vec![ts; k]);
            let mut cands: Vec<(f64, usize, usize)> = Vec::with_capacity(k * z.ncols());
            for (i, h) in alive.iter().enumerate() {
                for (v, lp) in log_softmax_row(&z, i * t + t - 1).into_iter().enumerate() {
                    cands.push((h.log_prob + lp, i, v));
                }
            }
            cands.sort_by(|a, b| b.0.total_cmp(&a.0));
            let mut next = Vec::with_capacity(beam);
            for &(score, i, v) in &cands {
                if next.len() == beam {
                    break;
                }
                let mut tokens = alive[i].tokens.clone();
                if v == eos {
                    finished.push(Hypothesis {
                        tokens,
                        log_prob: score,
                    });
                } else {
                    tokens.push(v);
                    next.push(Hypothesis {
                        tokens,
                        log_prob: score,
                    });
                }
            }
            alive = next;
            let best_done = finished
                .iter()
                .map(|h| h.log_prob)
                .fold(f64::NEG_INFINITY, f64::max);
            let best_alive = alive
                .iter()
                .map(|h| h.log_prob)
                .fold(f64::NEG_INFINITY, f64::max);
            if alive.is_empty() || best_done >= best_alive {
                break;
            }
        }
        finished
            .into_iter()
            .chain(alive)
            .max_by(|a, b| a.log_prob.total_cmp(&b.log_prob))
            .expect("at least one hypothesis")
    }
}

/// `log softmax` of row `r` of `z`, in f64.
fn log_softmax_row<F: NdFloat>(z: &Array2<F>, r: usize) -> Vec<f64> {
    let row: Vec<f64> = z
        .row(r)
        .iter()
        .map(|x| x.to_f64().unwrap_or(f64::NAN))
        .collect();
    tfs_math::softmax::log_softmax(&row)
}
