//! A character-level language model: a recurrent cell reading one-hot characters and a linear
//! softmax head predicting the next one.
//!
//! ```text
//!   x_t = onehot(c_t)             (B, V)
//!   s_t = cell(x_t, s_{t−1})       h_t = first H columns of s_t
//!   logits_t = h_t W_y + b_y       (B, V)
//!   L = mean over b, t of CE(logits_t[b], c_{t+1}[b])
//! ```
//!
//! The head runs once on all T·B hidden states stacked into one matrix (one big GEMM instead of T
//! small ones); its gradient `∂L/∂h_t = δlogits_t W_yᵀ` feeds BPTT.
//!
//! Left out: an embedding layer (one-hot times W_x is the embedding lookup; Phase 3 makes it
//! explicit), multi-layer stacks, dropout.

use crate::bptt::{backward_seq, forward_seq};
use crate::cell::{gemm, Cell, OutGrad, SeqInput};
use crate::CellKind;
use ndarray::{s, Array2, ArrayView2, Axis, NdFloat};
use tfs_math::one_hot;
use tfs_nn::Grads;

use tfs_math::loss::cross_entropy_batch_into;
use tfs_math::Rng;
use tfs_nn::Init;

/// The model: a cell and the head `w_y: (H, V)`, `b_y: (1, V)`.
pub struct CharLm<F> {
    pub cell: Box<dyn Cell<F>>,
    pub w_y: Array2<F>,
    pub b_y: Array2<F>,
}

/// One training chunk's result.
pub struct LmStep<F> {
    /// Mean cross-entropy per character (nats).
    pub loss: f64,
    /// Gradients, named like the parameters (`cell.*`, `w_y`, `b_y`).
    pub grads: Grads<F>,
    /// The final state (carried into the next chunk by truncated BPTT).
    pub state: Array2<F>,
    /// ‖∂L/∂h_t‖ per step.
    pub dh_norms: Vec<f64>,
    /// ∂L/∂s_0, the gradient into the initial state.
    pub ds0: Array2<F>,
}

impl<F: NdFloat> CharLm<F> {
    pub fn new(kind: CellKind, vocab: usize, hidden: usize, rng: &mut Rng) -> Self {
        CharLm {
            cell: kind.build(vocab, hidden, rng),
            w_y: Init::XavierUniform.matrix(hidden, vocab, rng),
            b_y: Array2::zeros((1, vocab)),
        }
    }

    pub fn vocab(&self) -> usize {
        self.w_y.ncols()
    }

    /// A zero state for `batch` sequences.
    pub fn zero_state(&self, batch: usize) -> Array2<F> {
        Array2::zeros((batch, self.cell.state_size()))
    }

    /// Loss and gradients on a chunk. `inputs[t]` and `targets[t]` are the B ids at step t.
    pub fn loss_and_grads(
        &self,
        inputs: &[Vec<usize>],
        targets: &[Vec<usize>],
        s0: ArrayView2<F>,
    ) -> LmStep<F> {
        assert_eq!(
            inputs.len(),
            targets.len(),
            "CharLm: {} input steps, {} target steps",
            inputs.len(),
            targets.len()
        );
        let (t_len, v, h) = (inputs.len(), self.vocab(), self.cell.hidden_size());
        let cache = forward_seq(
            &*self.cell,
            &SeqInput::Ids {
                ids: inputs,
                vocab: v,
            },
            s0,
        );
        let hs = cache.hidden_all(h);
        let mut logits = gemm(&hs.view(), &self.w_y.view());
        logits += &self.b_y;
        let flat_targets: Vec<usize> = targets.iter().flatten().copied().collect();
        let mut dlogits = Array2::zeros(logits.dim());
        let loss = cross_entropy_batch_into(logits.view(), &flat_targets, dlogits.view_mut());
        let mut grads = Grads::zeros_like(self);
        grads.mat_mut("w_y").assign(&gemm(&hs.t(), &dlogits.view()));
        grads
            .mat_mut("b_y")
            .assign(&dlogits.sum_axis(Axis(0)).insert_axis(Axis(0)));
        let dhs = gemm(&dlogits.view(), &self.w_y.t());
        let bp = backward_seq(
            &*self.cell,
            &*cache,
            OutGrad::All(dhs.view()),
            None,
            grads.group_mut("cell"),
        );
        let state = if t_len == 0 {
            s0.to_owned()
        } else {
            cache.final_state()
        };
        LmStep {
            loss: loss.to_f64().unwrap_or(f64::NAN),
            grads,
            state,
            dh_norms: bp.dh_norms,
            ds0: bp.ds0,
        }
    }

    /// Next-character probabilities after one step from `state` on character `id` (batch of 1).
    pub fn step_probs(
        &self,
        id: usize,
        state: &Array2<F>,
        temperature: f64,
    ) -> (Vec<f64>, Array2<F>) {
        let (s, _) = self
            .cell
            .forward(one_hot(&[id], self.vocab()).view(), state.view());
        let h = s.slice(s![.., ..self.cell.hidden_size()]);
        let logits = gemm(&h, &self.w_y.view()) + &self.b_y;
        let z: Vec<f64> = logits
            .iter()
            .map(|v| v.to_f64().unwrap_or(f64::NAN))
            .collect();
        (tfs_math::softmax::softmax_temperature(&z, temperature), s)
    }

    /// Samples `n` characters after reading `prime` (at least one id), at `temperature`.
    pub fn sample(&self, prime: &[usize], n: usize, temperature: f64, rng: &mut Rng) -> Vec<usize> {
        assert!(
            !prime.is_empty(),
            "CharLm::sample needs at least one priming character"
        );
        let mut state = self.zero_state(1);
        let mut probs = Vec::new();
        for &id in prime {
            let (p, s) = self.step_probs(id, &state, temperature);
            probs = p;
            state = s;
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let next = sample_from(&probs, rng);
            out.push(next);
            let (p, s) = self.step_probs(next, &state, temperature);
            probs = p;
            state = s;
        }
        out
    }
}

/// Draws an index from a probability vector.
pub fn sample_from(p: &[f64], rng: &mut Rng) -> usize {
    let u = rng.uniform();
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

// Parameters: `cell.*` (the cell's own names), then the head `w_y`, `b_y`.
tfs_nn::impl_params!(CharLm {
    modules: [cell],
    w_y,
    b_y
});
