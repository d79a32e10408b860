//! Integration tests of tfs-math (one test binary per crate, to keep link time down).

mod gradcheck;
mod info;
mod linalg;
mod loss;
mod numgrad;
mod rng;
mod softmax;
