//! The registry: one module per experiment, grouped by phase on disk (`p0/matmul_speed.rs` is the
//! experiment `p0-matmul-speed`).
//!
//! Every experiment is named once, in the `registry!` list at the bottom: its id and phase are
//! derived from its place in the list (phase module `p0`, module `matmul_speed`, id
//! `p0-matmul-speed`), and each module gives only its `DESCRIPTION` and its `run` function. The
//! ids are built at compile time by `const fn`s, so a typo cannot make two names disagree.

use crate::Experiment;

/// The bytes of the id `{phase}-{name}` with every `_` of `name` written `-`; `N` is the id's length.
const fn id_bytes<const N: usize>(phase: &str, name: &str) -> [u8; N] {
    let (p, n) = (phase.as_bytes(), name.as_bytes());
    assert!(N == p.len() + 1 + n.len(), "id length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < p.len() {
        out[i] = p[i];
        i += 1;
    }
    out[i] = b'-';
    let mut j = 0;
    while j < n.len() {
        out[i + 1 + j] = if n[j] == b'_' { b'-' } else { n[j] };
        j += 1;
    }
    out
}

/// The number of a phase module's name: `p0` → 0.
const fn phase_number(phase: &str) -> u32 {
    let p = phase.as_bytes();
    assert!(p.len() >= 2 && p[0] == b'p', "phase modules are named pN");
    let (mut k, mut v) = (1, 0);
    while k < p.len() {
        assert!(p[k].is_ascii_digit(), "phase modules are named pN");
        v = v * 10 + (p[k] - b'0') as u32;
        k += 1;
    }
    v
}

/// Declares the phase modules and their experiment modules, and [`ALL`], in the listed order.
macro_rules! registry {
    ($($phase:ident { $($name:ident),* $(,)? })*) => {
        $(mod $phase {
            $(pub(super) mod $name;)*
        })*

        /// Every experiment, in roadmap order.
        pub const ALL: &[Experiment] = &[$($({
            const PHASE: &str = stringify!($phase);
            const NAME: &str = stringify!($name);
            const ID: [u8; PHASE.len() + 1 + NAME.len()] = id_bytes(PHASE, NAME);
            Experiment {
                id: match std::str::from_utf8(&ID) {
                    Ok(id) => id,
                    Err(_) => panic!("module names are ASCII"),
                },
                phase: phase_number(PHASE),
                description: $phase::$name::DESCRIPTION,
                run: $phase::$name::run,
            }
        }),*),*];
    };
}

registry! {
    p0 { matmul_speed, dot_product, gradient_epsilon, softmax_temperature, cross_entropy, entropy_kl }
    p1 { perceptron_gates, xor_mlp, activations, mnist_mlp, optimizers, init }
    p2 { char_rnn, vanishing_gradients, long_range, gating, cell_comparison, seq2seq_reverse }
    p3 { tokenizer_comparison, word2vec, positional_encoding, one_hot_vs_embedding }
    p4 { seq2seq_attention, attention_heatmaps, luong_variants, qkv_example, scaling, self_attention }
    p5 { shapes, toy_translation, vs_rnn, ablations, attention_maps }
    p6 { autograd_graph, hand_vs_framework, autograd_overhead, training_infra, cpu_scaling }
    p7 { shakespeare, sampling, scaling, vs_nanogpt }
    p8 { pipeline, ablations, gpt2_124m }
    p9 { llama_vs_gpt2, rope_extrapolation, kv_cache, gqa, moe, flash_attention, dpo }
}

/// Every experiment, in roadmap order.
pub fn all() -> Vec<Experiment> {
    ALL.to_vec()
}
