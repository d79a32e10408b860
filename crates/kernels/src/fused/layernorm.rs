//! Layer normalisation over the last dimension, forward and backward.
//!
//! Forward, per row x of length c: μ = Σx/c, σ² = Σ(x − μ)²/c, r = 1/√(σ² + ε),
//! x̂ = (x − μ)·r, y = x̂ ⊙ γ + β. It saves μ and r per row for the backward.
//! Backward, with g = dy ⊙ γ: dx = r·(g − mean(g) − x̂·mean(g ⊙ x̂)) (overwriting dx), and
//! dγ += Σ_rows dy ⊙ x̂, dβ += Σ_rows dy (accumulated, so several calls can add into them).
//!
//! The variance uses two passes (mean first), not E(x²) − μ², which cancels badly when |μ| ≫ σ.
//! The fast version does the same arithmetic, vectorised, with each row read from memory once
//! per pass group (it stays in L1 between passes). Left out: RMSNorm, threads.

use super::{simd_fn, use_reference};

/// Shapes: x, y (rows, c); gamma, beta (c); mean, rstd (rows).
#[allow(clippy::too_many_arguments)]
fn check_fwd(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    y: &[f32],
    mean: &[f32],
    rstd: &[f32],
    rows: usize,
    c: usize,
) {
    assert!(
        x.len() == rows * c && y.len() == rows * c && gamma.len() == c && beta.len() == c && mean.len() == rows && rstd.len() == rows,
        "layernorm_forward: rows {rows}, c {c}: x {}, y {} (want rows·c), gamma {}, beta {} (want c), mean {}, rstd {} (want rows)",
        x.len(), y.len(), gamma.len(), beta.len(), mean.len(), rstd.len()
    );
}

/// Reference forward. x (rows, c), gamma (c), beta (c) → y (rows, c), mean (rows), rstd (rows).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward_reference(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    rows: usize,
    c: usize,
) {
    check_fwd(x, gamma, beta, y, mean, rstd, rows, c);
    for r in 0..rows {
        let xr = &x[r * c..(r + 1) * c];
        let mu = xr.iter().sum::<f32>() / c as f32;
        let var = xr.iter().map(|v| (v - mu) * (v - mu)).sum::<f32>() / c as f32;
        let rs = 1.0 / (var + eps).sqrt();
        for j in 0..c {
            y[r * c + j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
        }
        mean[r] = mu;
        rstd[r] = rs;
    }
}

/// Shapes: dy, x, dx (rows, c); gamma, dgamma, dbeta (c); mean, rstd (rows).
#[allow(clippy::too_many_arguments)]
fn check_bwd(
    dy: &[f32],
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dx: &[f32],
    dgamma: &[f32],
    dbeta: &[f32],
    rows: usize,
    c: usize,
) {
    assert!(
        [dy.len(), x.len(), dx.len()].iter().all(|&l| l == rows * c)
            && [gamma.len(), dgamma.len(), dbeta.len()].iter().all(|&l| l == c)
            && mean.len() == rows
            && rstd.len() == rows,
        "layernorm_backward: rows {rows}, c {c}: dy {}, x {}, dx {} (want rows·c), gamma {}, dgamma {}, dbeta {} (want c), mean {}, rstd {} (want rows)",
        dy.len(), x.len(), dx.len(), gamma.len(), dgamma.len(), dbeta.len(), mean.len(), rstd.len()
    );
}

/// Reference backward: dx = ∂L/∂x (overwritten); dgamma, dbeta accumulated.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward_reference(
    dy: &[f32],
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    rows: usize,
    c: usize,
) {
    check_bwd(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, c);
    for r in 0..rows {
        let (mu, rs) = (mean[r], rstd[r]);
        let xhat = |j: usize| (x[r * c + j] - mu) * rs;
        let g = |j: usize| dy[r * c + j] * gamma[j];
        let mean_g = (0..c).map(g).sum::<f32>() / c as f32;
        let mean_gx = (0..c).map(|j| g(j) * xhat(j)).sum::<f32>() / c as f32;
        for j in 0..c {
            dx[r * c + j] = rs * (g(j) - mean_g - xhat(j) * mean_gx);
            dgamma[j] += dy[r * c + j] * xhat(j);
            dbeta[j] += dy[r * c + j];
        }
    }
}

/// Forward (fast path unless `TFS_KERNELS=reference`); same contract as the reference.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_forward(
    x: &[f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
    rows: usize,
    c: usize,
) {
    check_fwd(x, gamma, beta, y, mean, rstd, rows, c);
    if use_reference() {
        return layernorm_forward_reference(x, gamma, beta, eps, y, mean, rstd, rows, c);
    }
    for r in 0..rows {
        let (mu, rs) = forward_row(
            &x[r * c..(r + 1) * c],
            gamma,
            beta,
            eps,
            &mut y[r * c..(r + 1) * c],
        );
        mean[r] = mu;
        rstd[r] = rs;
    }
}

/// Backward (fast path unless `TFS_KERNELS=reference`); same contract as the reference.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_backward(
    dy: &[f32],
    x: &[f32],
    gamma: &[f32],
    mean: &[f32],
    rstd: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
    rows: usize,
    c: usize,
) {
    check_bwd(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, c);
    if use_reference() {
        return layernorm_backward_reference(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, c);
    }
    for r in 0..rows {
        let s = r * c..(r + 1) * c;
        backward_row(
            &dy[s.clone()],
            &x[s.clone()],
            gamma,
            mean[r],
            rstd[r],
            &mut dx[s],
            dgamma,
            dbeta,
        );
    }
}

/// Σ_j f(xs[0][j], …, xs[K−1][j]) over j < xs[0].len() (every slice at least that long), with
/// 16 independent partial sums so that it vectorises.
#[inline(always)]
fn sum16<const K: usize>(xs: [&[f32]; K], f: impl Fn([f32; K]) -> f32) -> f32 {
    let n = xs[0].len();
    let full = n / 16 * 16;
    let mut acc = [0.0f32; 16];
    for j in (0..full).step_by(16) {
        let chunks: [&[f32]; K] = std::array::from_fn(|k| &xs[k][j..j + 16]);
        for (i, a) in acc.iter_mut().enumerate() {
            *a += f(std::array::from_fn(|k| chunks[k][i]));
        }
    }
    let tail: f32 = (full..n)
        .map(|j| f(std::array::from_fn(|k| xs[k][j])))
        .sum();
    acc.iter().sum::<f32>() + tail
}

simd_fn!(fn forward_row(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, y: &mut [f32]) -> (f32, f32) = forward_row_body);
simd_fn!(fn backward_row(dy: &[f32], x: &[f32], gamma: &[f32], mu: f32, rs: f32, dx: &mut [f32], dgamma: &mut [f32], dbeta: &mut [f32]) = backward_row_body);

#[inline(always)]
fn forward_row_body(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, y: &mut [f32]) -> (f32, f32) {
    let c = x.len();
    let mu = sum16([x], |[x]| x) / c as f32;
    let var = sum16([x], |[x]| (x - mu) * (x - mu)) / c as f32;
    let rs = 1.0 / (var + eps).sqrt();
    for (((y, &x), &g), &b) in y.iter_mut().zip(x).zip(gamma).zip(beta) {
        *y = (x - mu) * rs * g + b;
    }
    (mu, rs)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward_row_body(
    dy: &[f32],
    x: &[f32],
    gamma: &[f32],
    mu: f32,
    rs: f32,
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let c = x.len() as f32;
    let mean_g = sum16([dy, gamma], |[dy, g]| dy * g) / c;
    let mean_gx = sum16([dy, gamma, x], |[dy, g, x]| dy * g * (x - mu) * rs) / c;
    let outs = dx.iter_mut().zip(dgamma.iter_mut()).zip(dbeta.iter_mut());
    for (((dx, dg), db), ((&x, &dy), &g)) in outs.zip(x.iter().zip(dy).zip(gamma)) {
        let xhat = (x - mu) * rs;
        *dx = rs * (dy * g - mean_g - xhat * mean_gx);
        *dg += dy * xhat;
        *db += dy;
    }
}
