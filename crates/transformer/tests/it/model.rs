use crate::check;
use tfs_math::Rng;
use tfs_nn::params::gradcheck;
use tfs_nn::{Activation, Params};
use tfs_transformer::trace::shape_trace;
use tfs_transformer::{Batch, Config, Example, Norm, Transformer};

pub fn tiny(norm: Norm, tie: bool) -> Config {
    Config {
        src_vocab: 7,
        tgt_vocab: 6,
        d: 8,
        heads: 2,
        ffn: 12,
        enc_layers: 2,
        dec_layers: 2,
        act: Activation::Gelu,
        norm,
        residual: true,
        tie,
        max_len: 16,
    }
}

/// Two examples of different source and target lengths: padding in both streams.
pub fn tiny_batch() -> Batch {
    let ex = [
        Example {
            src: vec![1, 4, 2, 6],
            tgt: vec![3, 0, 5],
        },
        Example {
            src: vec![5, 3],
            tgt: vec![2, 2, 1, 0, 5],
        },
    ];
    Batch::new(&ex, 4)
}

fn check_model(cfg: Config, tol: f64) {
    let mut m: Transformer<f64> = Transformer::new(cfg, &mut Rng::new(7));
    let batch = tiny_batch();
    gradcheck(&check(), &mut m, |m| m.loss_and_grads(&batch)).assert_below(tol);
}

#[test]
fn whole_model_backward_matches_finite_differences_post_norm() {
    check_model(tiny(Norm::Post, false), 1e-6);
}

#[test]
fn whole_model_backward_matches_finite_differences_pre_norm_tied() {
    check_model(tiny(Norm::Pre, true), 1e-6);
}

#[test]
fn whole_model_backward_matches_finite_differences_without_norms_or_residuals() {
    check_model(
        Config {
            residual: false,
            ..tiny(Norm::Post, false)
        },
        1e-6,
    );
    // Without layer norm the activations grow through the residual stream (loss ≈ 11.7 here), so
    // the loss is more curved and central differences carry more O(ε²) truncation error:
    // measured 6.7e-4 at ε = 1e-4 and 6.7e-6 at ε = 1e-5 (exactly the ε² ratio, so it is the
    // difference formula's error, not the backward's). Tolerance 2e-5 at ε = 1e-5.
    check_model(tiny(Norm::None, false), 2e-5);
}

#[test]
fn a_padded_batch_gives_each_sequence_its_own_outputs() {
    let m: Transformer<f64> = Transformer::new(tiny(Norm::Post, false), &mut Rng::new(8));
    let batch = tiny_batch();
    let (z, _) = m.forward(&batch);
    for (i, e) in [(0, vec![1, 4, 2, 6]), (1, vec![5, 3])] {
        let tgt = [vec![3, 0, 5], vec![2, 2, 1, 0, 5]][i].clone();
        let alone = Batch::new(
            &[Example {
                src: e,
                tgt: tgt.clone(),
            }],
            4,
        );
        let (za, _) = m.forward(&alone);
        for t in 0..tgt.len() {
            for v in 0..6 {
                let d = (z[[i * batch.tt + t, v]] - za[[t, v]]).abs();
                assert!(
                    d < 1e-12,
                    "example {i} position {t}: padded batch differs by {d}"
                );
            }
        }
    }
}

#[test]
fn parameter_names_follow_the_documented_scheme() {
    let m: Transformer<f32> = Transformer::new(tiny(Norm::Pre, true), &mut Rng::new(0));
    let names = m.param_names();
    for want in [
        "src_emb.weight",
        "tgt_emb.weight",
        "enc.0.self_attn.w_q",
        "enc.0.ln1.gamma",
        "enc.1.ffn.w1",
        "enc_norm.beta",
        "dec.1.cross_attn.b_o",
        "dec.0.ffn.w1",
        "dec.0.ln3.gamma",
        "dec_norm.gamma",
        "out.b",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "missing {want} in {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n == "out.w"),
        "tied model has no out.w"
    );
    let untied: Transformer<f32> = Transformer::new(tiny(Norm::Post, false), &mut Rng::new(0));
    let names = untied.param_names();
    assert!(names.iter().any(|n| n == "out.w"));
    assert!(
        !names.iter().any(|n| n.starts_with("enc_norm")),
        "post-norm has no final norm"
    );
}

#[test]
fn the_shape_trace_names_every_layer() {
    let m: Transformer<f64> = Transformer::new(tiny(Norm::Post, false), &mut Rng::new(0));
    let rows = shape_trace(&m, &tiny_batch());
    let get = |n: &str| {
        rows.iter()
            .find(|r| r.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
            .shape
            .clone()
    };
    assert_eq!(get("src ids"), [2, 4]);
    assert_eq!(get("src_emb·√D + PE"), [2, 4, 8]);
    assert_eq!(get("enc.0.self_attn Q, K, V"), [2, 2, 4, 4]);
    assert_eq!(get("enc.1.self_attn weights"), [2, 2, 4, 4]);
    assert_eq!(get("enc.0.ffn hidden"), [2, 4, 12]);
    assert_eq!(get("memory (encoder output)"), [2, 4, 8]);
    assert_eq!(get("dec.0.self_attn weights (causal)"), [2, 2, 5, 5]);
    assert_eq!(get("dec.1.cross_attn weights"), [2, 2, 5, 4]);
    assert_eq!(get("dec.1 output"), [2, 5, 8]);
    assert_eq!(get("logits"), [2, 5, 6]);
    assert_eq!(rows.len(), 2 + 4 * 2 + 3 + 4 * 2 + 2);
}

#[test]
fn batch_shifts_the_target_behind_bos() {
    let b = tiny_batch();
    assert_eq!((b.b, b.ts, b.tt), (2, 4, 5));
    assert_eq!(&b.tgt_in[..5], &[4, 3, 0, 0, 0]);
    assert_eq!(&b.tgt_in[5..], &[4, 2, 2, 1, 0]);
    assert_eq!(&b.tgt_out[..3], &[3, 0, 5]);
    assert_eq!(b.src_len, [4, 2]);
}

#[test]
fn beam_search_of_width_one_is_greedy() {
    let m: Transformer<f64> = Transformer::new(tiny(Norm::Post, false), &mut Rng::new(9));
    for src in [vec![1, 2, 3], vec![6], vec![0, 5, 5, 2, 4]] {
        let greedy = m.greedy(&[src.as_slice()], 4, 5, 8).remove(0);
        assert_eq!(
            m.beam_search(&src, 4, 5, 1, 8).tokens,
            greedy,
            "source {src:?}"
        );
    }
}

/// The score beam search reports is the model's own log-likelihood of what it returns.
#[test]
fn beam_search_scores_are_the_models_log_likelihood() {
    let m: Transformer<f64> = Transformer::new(tiny(Norm::Pre, true), &mut Rng::new(10));
    for beam in [1, 3] {
        let h = m.beam_search(&[2, 6, 1], 4, 5, beam, 8);
        let mut tgt = h.tokens.clone();
        tgt.push(5);
        let n = tgt.len();
        let batch = Batch::new(
            &[Example {
                src: vec![2, 6, 1],
                tgt,
            }],
            4,
        );
        let (z, _) = m.forward(&batch);
        let (loss, _) = m.loss(z.view(), &batch);
        assert!(
            (h.log_prob + loss * n as f64).abs() < 1e-9,
            "beam {beam}: {} vs {}",
            h.log_prob,
            -loss * n as f64
        );
    }
}
