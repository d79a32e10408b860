//! Mini-batch training of a classifier: shuffle, gather a batch, forward, backward, step.
//!
//! Each epoch visits the training set in a fresh random order (seeded), in batches of `batch`
//! rows; a final incomplete batch is dropped (the order changes every epoch, so every example is
//! still seen). The learning rate is set from `schedule(step)` before each step.
//!
//! Left out: early stopping, validation splits (the experiments hold out their own).

use crate::mlp::{Mlp, Workspace};
use crate::optim::Optimizer;
use ndarray::{Array2, ArrayView2, Axis, NdFloat};
use tfs_math::Rng;

/// What one epoch measured.
#[derive(Clone, Debug)]
pub struct EpochStats {
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    pub seconds: f64,
}

/// Trains `mlp` for `epochs` epochs on `x: (N, D)`, `y: (N,)`. Calls `on_epoch` after each epoch
/// and `on_step(step, loss)` after each step.
#[allow(clippy::too_many_arguments)]
pub fn train_classifier<F: NdFloat>(
    mlp: &mut Mlp<F>,
    opt: &mut dyn Optimizer<F>,
    schedule: &dyn Fn(usize) -> f64,
    x: ArrayView2<F>,
    y: &[usize],
    batch: usize,
    epochs: usize,
    rng: &mut Rng,
    on_step: &mut dyn FnMut(usize, f64),
    on_epoch: &mut dyn FnMut(&EpochStats, &Mlp<F>),
) {
    let (n, d) = x.dim();
    assert_eq!(
        y.len(),
        n,
        "train_classifier: {n} inputs but {} labels",
        y.len()
    );
    assert!(
        batch > 0 && batch <= n,
        "train_classifier: batch {batch} must be in 1..={n}"
    );
    let mut order: Vec<usize> = (0..n).collect();
    let mut xb = Array2::<F>::zeros((batch, d));
    let mut yb = vec![0usize; batch];
    let mut ws = Workspace::default();
    let mut grads = mlp.zero_grads();
    let mut step = 0;
    for epoch in 1..=epochs {
        let start = std::time::Instant::now();
        rng.shuffle(&mut order);
        let mut total = 0.0;
        let steps = n / batch;
        for chunk in order.chunks_exact(batch) {
            for (r, &i) in chunk.iter().enumerate() {
                xb.row_mut(r).assign(&x.row(i));
                yb[r] = y[i];
            }
            opt.set_lr(schedule(step));
            let loss = mlp
                .loss_and_grads(xb.view(), &yb, &mut ws, &mut grads)
                .to_f64()
                .unwrap_or(f64::NAN);
            opt.step(mlp, &grads);
            total += loss;
            on_step(step, loss);
            step += 1;
        }
        let stats = EpochStats {
            epoch,
            train_loss: total / steps as f64,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&stats, mlp);
    }
}

/// Predicted classes of `x: (N, D)`, evaluated in chunks of 1000 rows.
pub fn predict_all<F: NdFloat>(mlp: &Mlp<F>, x: ArrayView2<F>) -> Vec<usize> {
    x.axis_chunks_iter(Axis(0), 1000)
        .flat_map(|c| mlp.predict(c))
        .collect()
}

/// Fraction of rows of `x` whose predicted class is `y`.
pub fn accuracy<F: NdFloat>(mlp: &Mlp<F>, x: ArrayView2<F>, y: &[usize]) -> f64 {
    let p = predict_all(mlp, x);
    p.iter().zip(y).filter(|(a, b)| a == b).count() as f64 / y.len().max(1) as f64
}

/// (exact-match rate, per-token accuracy) of predicted sequences against wanted ones: a sequence
/// counts as exact when it equals its target; per-token accuracy compares position by position
/// (a missing position is wrong). Shared by the seq2seq trainers of Phases 2, 4 and 5.
pub fn sequence_accuracy<'a>(
    preds: &[Vec<usize>],
    wants: impl IntoIterator<Item = &'a [usize]>,
) -> (f64, f64) {
    let (mut n, mut exact, mut right, mut total) = (0, 0, 0, 0);
    for (p, want) in preds.iter().zip(wants) {
        n += 1;
        exact += usize::from(p[..] == want[..]);
        right += want
            .iter()
            .enumerate()
            .filter(|(i, w)| p.get(*i) == Some(w))
            .count();
        total += want.len();
    }
    (
        exact as f64 / n.max(1) as f64,
        right as f64 / total.max(1) as f64,
    )
}
