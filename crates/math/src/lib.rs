//! # tfs-math — Phase 0: the math you actually need
//!
//! Pure-Rust vectors and matrices ([`linalg`]), numerical derivatives ([`numgrad`]), the gradient
//! checker every later backward pass is tested with ([`gradcheck`]), softmax ([`softmax`]),
//! cross-entropy ([`loss`]), entropy and KL divergence ([`info`]), and the project's one seeded
//! random number generator ([`Rng`]).

pub mod gradcheck;
pub mod info;
pub mod linalg;
pub mod loss;
pub mod numgrad;
mod rng;
pub mod softmax;

pub use gradcheck::{gradcheck, GradCheck, GradCheckReport};
pub use rng::Rng;
