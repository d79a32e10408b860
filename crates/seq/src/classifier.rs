//! A sequence classifier: a recurrent cell reads the whole sequence and a linear head classifies
//! its final hidden state. The loss sits at the last step only, so every earlier step is trained
//! purely by gradient that travels back through the recurrence — the setting where vanishing
//! gradients show (`p2-vanishing-gradients`, `p2-long-range`).
//!
//! ```text
//!   s_t = cell(onehot(x_t), s_{t−1});   logits = h_T W_y + b_y;   L = mean_b CE(logits_b, y_b)
//! ```

use crate::bptt::{backward_seq, forward_seq};
use crate::cell::{gemm, Cell, OutGrad, SeqInput};
use crate::CellKind;
use ndarray::{Array2, Axis, NdFloat};
use tfs_math::loss::cross_entropy_batch_into;
use tfs_math::Rng;
use tfs_nn::Grads;
use tfs_nn::Init;

/// A cell and a head `w_y: (H, C)`, `b_y: (1, C)` over C classes; inputs are one-hot over `vocab`.
pub struct SeqClassifier<F> {
    pub cell: Box<dyn Cell<F>>,
    pub w_y: Array2<F>,
    pub b_y: Array2<F>,
    pub vocab: usize,
}

/// Loss, gradients, predictions and the per-step gradient norms of one batch.
pub struct ClassifierStep<F> {
    pub loss: f64,
    /// Named like the parameters (`cell.*`, `w_y`, `b_y`).
    pub grads: Grads<F>,
    pub predictions: Vec<usize>,
    /// ‖∂L/∂h_t‖ for t = 1 … T.
    pub dh_norms: Vec<f64>,
}

impl<F: NdFloat> SeqClassifier<F> {
    pub fn new(kind: CellKind, vocab: usize, hidden: usize, classes: usize, rng: &mut Rng) -> Self {
        SeqClassifier {
            cell: kind.build(vocab, hidden, rng),
            w_y: Init::XavierUniform.matrix(hidden, classes, rng),
            b_y: Array2::zeros((1, classes)),
            vocab,
        }
    }

    /// `inputs[t]`: the B ids at step t; `labels`: (B,).
    pub fn loss_and_grads(&self, inputs: &[Vec<usize>], labels: &[usize]) -> ClassifierStep<F> {
        let b = labels.len();
        let cache = forward_seq(
            &*self.cell,
            &SeqInput::Ids {
                ids: inputs,
                vocab: self.vocab,
            },
            Array2::zeros((b, self.cell.state_size())).view(),
        );
        let h = self.cell.hidden_size();
        let h_t = cache.final_state().slice(ndarray::s![.., ..h]).to_owned();
        let logits = gemm(&h_t.view(), &self.w_y.view()) + &self.b_y;
        let predictions = logits
            .outer_iter()
            .map(|r| tfs_math::argmax(r.iter().copied()))
            .collect();
        let mut dlogits = Array2::zeros(logits.dim());
        let loss = cross_entropy_batch_into(logits.view(), labels, dlogits.view_mut());
        let dh_last = gemm(&dlogits.view(), &self.w_y.t());
        let mut grads = Grads::zeros_like(self);
        let bp = backward_seq(
            &*self.cell,
            &*cache,
            OutGrad::Last(dh_last.view()),
            None,
            grads.group_mut("cell"),
        );
        grads
            .mat_mut("w_y")
            .assign(&gemm(&h_t.t(), &dlogits.view()));
        grads
            .mat_mut("b_y")
            .assign(&dlogits.sum_axis(Axis(0)).insert_axis(Axis(0)));
        ClassifierStep {
            loss: loss.to_f64().unwrap_or(f64::NAN),
            grads,
            predictions,
            dh_norms: bp.dh_norms,
        }
    }
}

// Parameters: `cell.*`, then the head `w_y`, `b_y`.
tfs_nn::impl_params!(SeqClassifier {
    modules: [cell],
    w_y,
    b_y
});
