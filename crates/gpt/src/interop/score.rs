//! How well a model predicts a text: `tfs gpt score`.
//!
//! ```text
//!   ids = encode(text)                          N tokens
//!   windows start at s = 0, T, 2T, …  (T = block_size), while s < N − 1:
//!       inputs  ids[s .. min(s+T, N−1)]          at most T tokens
//!       targets ids[s+1 .. min(s+T, N−1)+1]      the next token of each input
//!   mean_loss  = (1 / (N−1)) Σ −log softmax(logits)[target]      nats per predicted token
//!   perplexity = exp(mean_loss)
//! ```
//!
//! Non-overlapping windows: every token after the first is predicted exactly once, and the
//! context restarts at each window, so a token early in a window sees little of what came
//! before. That is the cheapest rule (one forward pass per T tokens) and the one transformers'
//! perplexity guide calls `stride = max_length`; a sliding window would give a lower (better)
//! loss at T times the cost. The first token is not predicted (nothing precedes it; no
//! `<|endoftext|>` is prepended). The log-softmax is taken in f64 from the f32 logits.
//!
//! `tokens` in the result is N − 1, the number of predictions the mean is over.

use crate::model::Gpt;
use crate::vocab::Vocab;
use tfs_tensor::no_grad;

/// The score of one text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Score {
    /// Predicted tokens (the text's token count minus one).
    pub tokens: usize,
    /// Mean next-token cross-entropy, nats per token.
    pub mean_loss: f64,
    /// exp(mean_loss).
    pub perplexity: f64,
}

/// The score of `text` (see the module header); an error if it encodes to fewer than two tokens
/// or has characters a character vocabulary lacks.
pub fn score(model: &Gpt, vocab: &Vocab, text: &str) -> Result<Score, String> {
    let ids = vocab.encode(text)?;
    if ids.len() < 2 {
        return Err(format!(
            "{} token(s): at least two are needed to predict one",
            ids.len()
        ));
    }
    if let Some(&bad) = ids.iter().find(|&&i| i >= model.cfg.vocab_size) {
        return Err(format!(
            "token {bad} is outside the model's {} ids",
            model.cfg.vocab_size
        ));
    }
    Ok(score_ids(model, &ids))
}

/// The score of token ids `ids` (at least two, each < vocab_size).
pub fn score_ids(model: &Gpt, ids: &[usize]) -> Score {
    assert!(ids.len() >= 2, "score_ids: {} ids, need 2", ids.len());
    let (v, bs) = (model.cfg.vocab_size, model.cfg.block_size);
    let mut total = 0.0f64;
    no_grad(|| {
        for s in (0..ids.len() - 1).step_by(bs) {
            let t = bs.min(ids.len() - 1 - s);
            let logits = model.forward(&ids[s..s + t], 1, t).to_vec(); // (t, V)
            for (row, &target) in logits.chunks_exact(v).zip(&ids[s + 1..s + t + 1]) {
                let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
                let sum: f64 = row.iter().map(|&z| (z as f64 - m).exp()).sum();
                total += m + sum.ln() - row[target] as f64;
            }
        }
    });
    let mean_loss = total / (ids.len() - 1) as f64;
    Score {
        tokens: ids.len() - 1,
        mean_loss,
        perplexity: mean_loss.exp(),
    }
}
