//! The registry: one module per experiment, named after its id.

use crate::Experiment;

mod p0_cross_entropy;
mod p0_entropy_kl;
mod p0_gradient_epsilon;
mod p0_matmul_speed;
mod p0_softmax_temperature;
mod p1_activations;
mod p1_init;
mod p1_mnist_mlp;
mod p1_optimizers;
mod p1_perceptron_gates;
mod p1_xor_mlp;
mod p2_cell_comparison;
pub(crate) mod p2_char_rnn;
mod p2_long_range;
pub mod p2_seq2seq_reverse;
mod p2_vanishing_gradients;
mod p3_one_hot_vs_embedding;
mod p3_positional_encoding;
mod p3_tokenizer_comparison;
mod p3_word2vec;
mod p4_attention_heatmaps;
mod p4_luong_variants;
mod p4_scaling;
mod p4_self_attention;
mod p4_seq2seq_attention;

/// Every experiment, in roadmap order.
pub fn all() -> Vec<Experiment> {
    vec![
        p0_matmul_speed::EXPERIMENT,
        p0_gradient_epsilon::EXPERIMENT,
        p0_softmax_temperature::EXPERIMENT,
        p0_cross_entropy::EXPERIMENT,
        p0_entropy_kl::EXPERIMENT,
        p1_perceptron_gates::EXPERIMENT,
        p1_xor_mlp::EXPERIMENT,
        p1_activations::EXPERIMENT,
        p1_mnist_mlp::EXPERIMENT,
        p1_optimizers::EXPERIMENT,
        p1_init::EXPERIMENT,
        p2_char_rnn::EXPERIMENT,
        p2_vanishing_gradients::EXPERIMENT,
        p2_long_range::EXPERIMENT,
        p2_cell_comparison::EXPERIMENT,
        p2_seq2seq_reverse::EXPERIMENT,
        p3_tokenizer_comparison::EXPERIMENT,
        p3_word2vec::EXPERIMENT,
        p3_positional_encoding::EXPERIMENT,
        p3_one_hot_vs_embedding::EXPERIMENT,
        p4_seq2seq_attention::EXPERIMENT,
        p4_attention_heatmaps::EXPERIMENT,
        p4_luong_variants::EXPERIMENT,
        p4_scaling::EXPERIMENT,
        p4_self_attention::EXPERIMENT,
    ]
}
