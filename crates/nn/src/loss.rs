//! Losses: mean squared error, binary cross-entropy, and categorical cross-entropy from logits.
//!
//! For predictions ŷ and targets y over N elements (means over every element):
//!
//! ```text
//!   MSE       L = (1/N) Σ (ŷ − y)²                         ∂L/∂ŷ = 2(ŷ − y) / N
//!   BCE(p)    L = −(1/N) Σ y ln p + (1 − y) ln(1 − p)      ∂L/∂p = (p − y) / (p(1 − p)) / N
//!   BCE(z)    the same with p = σ(z), computed stably as
//!             L = (1/N) Σ max(z, 0) − z y + ln(1 + e^{−|z|})  ∂L/∂z = (σ(z) − y) / N
//!   CE(z)     categorical, from logits: tfs_math::loss::cross_entropy_batch (softmax − onehot)
//! ```
//!
//! The sigmoid–BCE pair, like the softmax–CE pair, collapses to "prediction minus target": that is
//! why a classifier's head and loss are computed together from logits.
//!
//! Left out: hinge, Huber, focal losses.

use ndarray::{Array2, ArrayView2, NdFloat, Zip};
pub use tfs_math::loss::{cross_entropy_batch, cross_entropy_batch_into};

fn check<F>(pred: &ArrayView2<F>, target: &ArrayView2<F>, op: &str) {
    assert_eq!(
        pred.dim(),
        target.dim(),
        "{op}: prediction is {:?}, target is {:?}; they must match",
        pred.dim(),
        target.dim()
    );
}

fn n_of<F: NdFloat>(a: &ArrayView2<F>) -> F {
    F::from(a.len().max(1)).expect("fits")
}

/// Mean squared error and its gradient with respect to the prediction.
pub fn mse<F: NdFloat>(pred: ArrayView2<F>, target: ArrayView2<F>) -> (F, Array2<F>) {
    check(&pred, &target, "mse");
    let n = n_of(&pred);
    let diff = &pred - &target;
    let loss = diff.iter().fold(F::zero(), |a, &d| a + d * d) / n;
    let two = F::one() + F::one();
    (loss, diff.mapv(|d| two * d / n))
}

/// Binary cross-entropy of probabilities `p` in (0, 1) and its gradient with respect to `p`.
pub fn bce<F: NdFloat>(p: ArrayView2<F>, target: ArrayView2<F>) -> (F, Array2<F>) {
    check(&p, &target, "bce");
    let n = n_of(&p);
    let one = F::one();
    let mut loss = F::zero();
    let mut grad = Array2::zeros(p.dim());
    Zip::from(&mut grad)
        .and(&p)
        .and(&target)
        .for_each(|g, &p, &y| {
            loss -= y * p.ln() + (one - y) * (one - p).ln();
            *g = (p - y) / (p * (one - p)) / n;
        });
    (loss / n, grad)
}

/// Binary cross-entropy of logits `z` (p = σ(z)), stable for any z, and its gradient w.r.t. `z`.
pub fn bce_with_logits<F: NdFloat>(z: ArrayView2<F>, target: ArrayView2<F>) -> (F, Array2<F>) {
    check(&z, &target, "bce_with_logits");
    let n = n_of(&z);
    let (zero, one) = (F::zero(), F::one());
    let mut loss = F::zero();
    let mut grad = Array2::zeros(z.dim());
    Zip::from(&mut grad)
        .and(&z)
        .and(&target)
        .for_each(|g, &z, &y| {
            loss += z.max(zero) - z * y + (one + (-z.abs()).exp()).ln();
            let s = crate::activation::Activation::Sigmoid.f(z);
            *g = (s - y) / n;
        });
    (loss / n, grad)
}
