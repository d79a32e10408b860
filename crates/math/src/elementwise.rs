//! Small functions that several chapters share: the logistic sigmoid, one-hot rows and a row-wise
//! softmax of a matrix. Each has one home, here at the bottom of the house, so that a cell, an
//! activation, word2vec and attention all compute them the same way.
//!
//! ```text
//!   σ(x) = 1 / (1 + e^{−x})  =  e^{x} / (1 + e^{x})          (the second form for x < 0)
//!   onehot(ids)[n, v] = 1 if ids[n] = v else 0                 (N, V)
//!   softmax_rows(E)[i, j] = e^{E[i,j] − m_i} / Σ_k e^{E[i,k] − m_i},  m_i = max_k E[i,k]
//! ```
//!
//! σ is evaluated in the form whose exponent is never positive, so neither tail overflows. A row
//! of the softmax whose every entry is −∞ (every position masked) becomes all zeros rather than NaN.
//!
//! Left out: vectorised versions (tfs-kernels holds the fast ones).

use ndarray::{Array2, NdFloat};

/// The logistic sigmoid, stable in both tails.
pub fn sigmoid<F: NdFloat>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

/// One-hot rows for `ids`: `(N, V)`. Panics on an id outside the vocabulary.
pub fn one_hot<F: NdFloat>(ids: &[usize], vocab: usize) -> Array2<F> {
    let mut x = Array2::zeros((ids.len(), vocab));
    for (r, &i) in ids.iter().enumerate() {
        assert!(
            i < vocab,
            "one_hot: id {i} out of range for vocabulary {vocab}"
        );
        x[[r, i]] = F::one();
    }
    x
}

/// Row-wise stable softmax of `e: (R, C)`; a fully masked (all −∞) row gives zeros.
pub fn softmax_rows<F: NdFloat>(e: &Array2<F>) -> Array2<F> {
    let mut out = e.clone();
    for mut row in out.rows_mut() {
        let m = row.iter().fold(F::neg_infinity(), |a, &x| a.max(x));
        if m == F::neg_infinity() {
            row.fill(F::zero());
            continue;
        }
        row.mapv_inplace(|x| (x - m).exp());
        let sum = row.sum();
        row.mapv_inplace(|x| x / sum);
    }
    out
}
