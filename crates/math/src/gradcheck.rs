//! `gradcheck`: the finite-difference oracle every hand-written backward pass is tested with.
//!
//! A model is a function of its parameter tensors θ = (θ₁, …, θ_p) (with its inputs held fixed)
//! that returns a scalar loss L(θ) and, from its backward pass, the analytic gradients ∂L/∂θ.
//! `gradcheck` perturbs each checked coordinate by ±ε, computes
//!
//! ```text
//!     numeric = (L(θ + ε e_i) − L(θ − ε e_i)) / 2ε
//!     rel_err = |analytic − numeric| / max(|analytic|, |numeric|, floor)
//! ```
//!
//! and reports the largest relative error and where it occurred. The `floor` (default 1e-6) turns
//! the measure into an absolute error for gradients that are essentially zero, where a relative
//! error would only measure rounding noise.
//!
//! Everything runs in f64. A correct backward pass on a smooth function typically gives
//! `rel_err` around 1e-8 to 1e-10; a wrong one gives 1e-2 to 1. Bound at 1e-6 in tests. Near a kink
//! (ReLU at 0, max) the central difference straddles it and disagrees; pick inputs away from kinks.
//!
//! On large tensors, checking every coordinate costs two forward passes each; `max_per_tensor`
//! samples that many coordinates per tensor with the seeded [`crate::Rng`].
//!
//! Left out: complex-step checks, second derivatives.

use crate::Rng;

/// Options of a gradient check.
#[derive(Clone, Debug)]
pub struct GradCheck {
    /// The perturbation ε.
    pub eps: f64,
    /// Denominator floor of the relative error.
    pub floor: f64,
    /// Check at most this many coordinates per tensor (sampled without replacement); `None`: all.
    pub max_per_tensor: Option<usize>,
    /// Seed for the sampling.
    pub seed: u64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck {
            eps: 1e-5,
            floor: 1e-6,
            max_per_tensor: None,
            seed: 0,
        }
    }
}

/// One checked coordinate: tensor `tensor`, flat index `index`.
#[derive(Clone, Debug, PartialEq)]
pub struct Coordinate {
    pub tensor: usize,
    pub index: usize,
    pub analytic: f64,
    pub numeric: f64,
    pub rel_err: f64,
}

/// What a gradient check found.
#[derive(Clone, Debug)]
pub struct GradCheckReport {
    /// Largest relative error over the checked coordinates (0 when none were checked).
    pub max_rel_err: f64,
    /// Where it occurred.
    pub worst: Option<Coordinate>,
    /// How many coordinates were checked.
    pub checked: usize,
    /// The tensors' names, when the caller knows them (`tfs_nn::params::gradcheck` does), so that
    /// a failure names `"cell.w_h"` rather than tensor 3.
    pub tensor_names: Vec<String>,
}

impl GradCheckReport {
    /// Panics, naming the worst coordinate, when the max relative error exceeds `tol`, or when
    /// nothing was checked.
    #[track_caller]
    pub fn assert_below(&self, tol: f64) {
        assert!(self.checked > 0, "gradcheck: no coordinate was checked");
        let name = self
            .worst
            .as_ref()
            .and_then(|w| self.tensor_names.get(w.tensor))
            .map_or(String::new(), |n| format!(" (tensor '{n}')"));
        assert!(
            self.max_rel_err <= tol,
            "gradcheck failed: max relative error {:.3e} > {:.1e} at {:?}{name} ({} coordinates checked)",
            self.max_rel_err,
            tol,
            self.worst,
            self.checked
        );
    }
}

impl GradCheck {
    /// Checks `f` at `params`. `f(θ)` returns `(L(θ), [∂L/∂θ₁, …])` with one gradient per tensor,
    /// each of the same length as its tensor.
    pub fn run<F>(&self, params: &[Vec<f64>], mut f: F) -> GradCheckReport
    where
        F: FnMut(&[Vec<f64>]) -> (f64, Vec<Vec<f64>>),
    {
        let (_, grads) = f(params);
        assert_eq!(
            grads.len(),
            params.len(),
            "gradcheck: f returned {} gradients for {} parameter tensors",
            grads.len(),
            params.len()
        );
        let mut rng = Rng::new(self.seed);
        let mut theta = params.to_vec();
        let mut report = GradCheckReport {
            max_rel_err: 0.0,
            worst: None,
            checked: 0,
            tensor_names: Vec::new(),
        };
        for t in 0..params.len() {
            assert_eq!(
                grads[t].len(),
                params[t].len(),
                "gradcheck: gradient {t} has {} elements, its tensor has {}",
                grads[t].len(),
                params[t].len()
            );
            let mut idx: Vec<usize> = (0..params[t].len()).collect();
            if let Some(k) = self.max_per_tensor {
                rng.shuffle(&mut idx);
                idx.truncate(k);
            }
            for i in idx {
                let orig = theta[t][i];
                theta[t][i] = orig + self.eps;
                let lp = f(&theta).0;
                theta[t][i] = orig - self.eps;
                let lm = f(&theta).0;
                theta[t][i] = orig;
                let numeric = (lp - lm) / (2.0 * self.eps);
                let analytic = grads[t][i];
                let denom = analytic.abs().max(numeric.abs()).max(self.floor);
                let rel_err = (analytic - numeric).abs() / denom;
                report.checked += 1;
                // A NaN error (NaN gradient or loss) counts as infinitely wrong.
                let err = if rel_err.is_nan() {
                    f64::INFINITY
                } else {
                    rel_err
                };
                if err > report.max_rel_err || report.worst.is_none() {
                    report.max_rel_err = err;
                    report.worst = Some(Coordinate {
                        tensor: t,
                        index: i,
                        analytic,
                        numeric,
                        rel_err,
                    });
                }
            }
        }
        report
    }
}

/// `GradCheck::default().run(params, f)`.
pub fn gradcheck<F>(params: &[Vec<f64>], f: F) -> GradCheckReport
where
    F: FnMut(&[Vec<f64>]) -> (f64, Vec<Vec<f64>>),
{
    GradCheck::default().run(params, f)
}
