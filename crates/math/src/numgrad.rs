//! Numerical derivatives by central differences: the definition of the derivative, computed.
//!
//! For f: R → R, the central difference
//!
//! ```text
//!     f'(x) ≈ (f(x + ε) − f(x − ε)) / 2ε
//! ```
//!
//! has truncation error `ε² f'''(x) / 6` (the even Taylor terms cancel, so it is O(ε²), against
//! O(ε) for the one-sided difference). But each f value carries a rounding error of about
//! `u·|f(x)|` (u = 2⁻⁵³ ≈ 1.1e-16 in f64), and dividing by 2ε amplifies it to `u·|f| / ε`.
//! The total `ε²·|f'''|/6 + u·|f|/ε` is smallest near `ε ≈ (3u·|f|/|f'''|)^(1/3) ≈ 1e-5`: too large
//! an ε and the curve's bending spoils the estimate, too small and rounding does. Experiment
//! `p0-gradient-epsilon` draws this V.
//!
//! For f: Rⁿ → R the gradient is the vector of partial derivatives, each by perturbing one
//! coordinate: `∂f/∂x_i ≈ (f(x + ε e_i) − f(x − ε e_i)) / 2ε`, 2n evaluations of f.
//!
//! Left out: Richardson extrapolation and complex-step derivatives (more accurate, but not needed
//! for checking gradients).

/// The default step: near the optimum of the error trade-off above for smooth f of size ~1 in f64.
pub const DEFAULT_EPS: f64 = 1e-5;

/// `f'(x)` by the central difference with step `eps`.
pub fn numerical_derivative(f: impl Fn(f64) -> f64, x: f64, eps: f64) -> f64 {
    (f(x + eps) - f(x - eps)) / (2.0 * eps)
}

/// `∇f(x)` for `f: Rⁿ → R`, one central difference per coordinate.
pub fn numerical_gradient(mut f: impl FnMut(&[f64]) -> f64, x: &[f64], eps: f64) -> Vec<f64> {
    let mut xp = x.to_vec();
    (0..x.len())
        .map(|i| {
            let orig = xp[i];
            xp[i] = orig + eps;
            let fp = f(&xp);
            xp[i] = orig - eps;
            let fm = f(&xp);
            xp[i] = orig;
            (fp - fm) / (2.0 * eps)
        })
        .collect()
}
