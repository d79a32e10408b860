//! Integration tests of tfs-nn: every backward pass against finite differences.

mod activation;
mod loss;
mod mlp;
mod optim;
mod perceptron;
