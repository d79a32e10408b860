//! Softmax and log-softmax: turning scores (logits) into probabilities.
//!
//! ```text
//!     softmax(z)_i = e^{z_i} / Σ_j e^{z_j}
//! ```
//!
//! Every output is positive and they sum to 1. The naive formula overflows: e^{1000} is infinity
//! in f64 (the largest finite exponent is about 709), and ∞/∞ is NaN. Softmax is unchanged when a
//! constant is subtracted from every logit, `e^{z_i − c} / Σ e^{z_j − c} = e^{z_i} / Σ e^{z_j}`, so
//! the stable version subtracts `c = max_j z_j`: the largest exponent becomes e⁰ = 1, no overflow,
//! and the sum is at least 1, so no division by zero.
//!
//! Log-softmax is what a loss needs, and computing `ln(softmax)` directly loses what underflowed
//! to 0. Instead `log_softmax(z)_i = z_i − c − ln Σ_j e^{z_j − c}` (the log-sum-exp trick).
//!
//! Temperature: `softmax(z / T)`. T → 0 sharpens toward the argmax (one-hot), T = 1 is the model's
//! distribution, T → ∞ flattens toward uniform. Sampling in Phase 7 uses exactly this.
//!
//! The Jacobian, for the backward pass: `∂s_i/∂z_j = s_i (δ_ij − s_j)`.
//!
//! Left out: softmax over axes of n-d arrays (later phases apply these per row).

/// The textbook formula, for showing why it fails: overflows to NaN for logits above ~709.
pub fn softmax_naive(z: &[f64]) -> Vec<f64> {
    let exps: Vec<f64> = z.iter().map(|v| v.exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// `max_j z_j`, or 0 for an empty slice.
fn max_or_zero(z: &[f64]) -> f64 {
    if z.is_empty() {
        0.0
    } else {
        z.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    }
}

/// `ln Σ_j e^{z_j}`, computed stably as `c + ln Σ_j e^{z_j − c}` with `c = max z`.
pub fn logsumexp(z: &[f64]) -> f64 {
    let c = max_or_zero(z);
    if c == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    c + z.iter().map(|v| (v - c).exp()).sum::<f64>().ln()
}

/// Numerically stable softmax (subtracts the max logit first).
pub fn softmax(z: &[f64]) -> Vec<f64> {
    let c = max_or_zero(z);
    let exps: Vec<f64> = z.iter().map(|v| (v - c).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}

/// `ln softmax(z)`, stable: `z_i − logsumexp(z)`.
pub fn log_softmax(z: &[f64]) -> Vec<f64> {
    let lse = logsumexp(z);
    z.iter().map(|v| v - lse).collect()
}

/// `softmax(z / T)` for temperature `T > 0`.
pub fn softmax_temperature(z: &[f64], temperature: f64) -> Vec<f64> {
    assert!(
        temperature > 0.0,
        "softmax_temperature: temperature must be > 0, got {temperature}"
    );
    let scaled: Vec<f64> = z.iter().map(|v| v / temperature).collect();
    softmax(&scaled)
}
