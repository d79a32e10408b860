//! The embedding layer: a learned vector per token id.
//!
//! ```text
//!   forward:   out[n, :] = W[ids[n], :]                     W: (V, D), out: (N, D)
//!   backward:  ∂L/∂W[v, :] = Σ_{n : ids[n] = v} ∂L/∂out[n, :]   (scatter-add)
//! ```
//!
//! A lookup is the product of a one-hot matrix with W: `onehot(ids) · W` selects rows, so an
//! embedding layer is a linear layer whose input is one-hot — computed without the zeros. Its
//! gradient is that linear layer's `onehot(ids)ᵀ · ∂L/∂out`, which adds each output row's gradient
//! into the row it came from; a token seen twice in a batch collects two contributions.
//!
//! Left out: padding index, max-norm renormalisation, sparse gradients.

use ndarray::{Array2, ArrayView2, NdFloat};
use tfs_math::Rng;
use tfs_nn::Grads;

/// `weight: (V, D)`.
#[derive(Clone, Debug)]
pub struct Embedding<F> {
    pub weight: Array2<F>,
}

impl<F: NdFloat> Embedding<F> {
    /// N(0, 1) entries, the usual initialisation (scaled by the model that uses it if needed).
    pub fn new(vocab: usize, dim: usize, rng: &mut Rng) -> Self {
        Embedding {
            weight: Array2::from_shape_simple_fn((vocab, dim), || {
                F::from(rng.normal()).expect("fits")
            }),
        }
    }

    /// Rows of W for `ids` → `(N, D)`.
    pub fn forward(&self, ids: &[usize]) -> Array2<F> {
        let v = self.weight.nrows();
        if let Some(&bad) = ids.iter().find(|&&i| i >= v) {
            panic!("Embedding: id {bad} out of range for a vocabulary of {v}");
        }
        self.weight.select(ndarray::Axis(0), ids)
    }

    /// Adds `onehot(ids)ᵀ · dout` into the gradient `weight: (V, D)` of `grads`.
    pub fn backward(&self, ids: &[usize], dout: ArrayView2<F>, grads: &mut Grads<F>) {
        assert_eq!(
            dout.dim(),
            (ids.len(), self.weight.ncols()),
            "Embedding::backward: dout is {:?}, expected (N, D) = ({}, {})",
            dout.dim(),
            ids.len(),
            self.weight.ncols()
        );
        let mut dweight = grads.mat_mut("weight");
        for (n, &id) in ids.iter().enumerate() {
            let mut row = dweight.row_mut(id);
            row += &dout.row(n);
        }
    }
}

tfs_nn::impl_params!(Embedding { weight });

/// The one-hot matrix `(N, V)` of `ids`, for showing that `onehot · W` is the lookup.
pub use tfs_math::one_hot;
