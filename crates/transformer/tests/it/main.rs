//! Integration tests of tfs-transformer: every backward against finite differences (f64), the
//! batched attention against Phase 4's loop reference, layer norm and the whole model against
//! PyTorch through committed fixtures, padding and shapes pinned.

mod fixture;
mod layers;
mod model;
mod ops;
mod train;

use ndarray::Array2;
use tfs_math::Rng;

pub fn mat(rng: &mut Rng, r: usize, c: usize) -> Array2<f64> {
    Array2::from_shape_vec((r, c), rng.normal_vec(r * c, 1.0)).unwrap()
}

/// Central differences with ε = 1e-5 on losses of size ~1-10 carry ~1e-10 of rounding noise and
/// O(ε²) ≈ 1e-10 of truncation error; gradients below the floor 1e-4 are compared by absolute
/// error, so a relative tolerance of 1e-6 leaves three orders of margin for a correct backward
/// while any real mistake (a missing term, a transpose) shows at 1e-2 or more.
pub fn check() -> tfs_math::GradCheck {
    tfs_math::GradCheck {
        floor: 1e-4,
        ..Default::default()
    }
}

pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
