//! Integration tests of tfs-attention: every backward against finite differences, every batched
//! kernel against its loop reference, masks exact.

mod mha;
mod scorer;
mod sdpa;

use ndarray::{Array2, Array3};
use tfs_math::Rng;

pub fn arr3(rng: &mut Rng, d: (usize, usize, usize)) -> Array3<f64> {
    Array3::from_shape_vec(d, rng.normal_vec(d.0 * d.1 * d.2, 1.0)).unwrap()
}

pub fn arr2(v: &[f64], r: usize, c: usize) -> Array2<f64> {
    Array2::from_shape_vec((r, c), v.to_vec()).unwrap()
}

/// The loss is ~1-10, so central differences carry ~1e-10 of rounding noise; gradients below the
/// floor count by absolute error.
pub fn check() -> tfs_math::GradCheck {
    tfs_math::GradCheck {
        floor: 1e-4,
        ..Default::default()
    }
}
