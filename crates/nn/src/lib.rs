//! # tfs-nn — Phase 1: neural networks from a single neuron to recognising digits
//!
//! The [`perceptron`] and its learning rule, [`activation`] functions with derivatives, [`loss`]
//! functions, [`init`]ialisers, a configurable [`mlp`] with hand-written backpropagation,
//! [`optim`]izers behind one trait, the named-parameter trait every model implements
//! ([`params`]), learning-rate [`schedule`]s, a classifier training loop ([`train`]) and the MNIST
//! recipe the experiments and benchmarks share ([`mnist`]). Everything is generic over the float
//! type: f32 to train, f64 for gradient checks.

#![forbid(unsafe_code)]

pub mod activation;
pub mod init;
pub mod loss;
pub mod mlp;
pub mod mnist;
pub mod optim;
pub mod params;
pub mod perceptron;
pub mod schedule;
pub mod train;

pub use activation::Activation;
pub use init::Init;
pub use mlp::{Mlp, Workspace};
pub use optim::{Adam, Momentum, Optimizer, Sgd};
pub use params::{Grads, Params};
