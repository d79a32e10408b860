use crate::{arr2, check};
use ndarray::Array3;
use ndarray::{Ix2, Ix3};
use tfs_attention::scorer::{Score, ScoreKind};
use tfs_attention::seq2seq_attn::{AttnSeq2Seq, Style};
use tfs_math::Rng;
use tfs_nn::params::{gradcheck, WithInputs};
use tfs_nn::{Grads, Params};
use tfs_seq::tasks::{reverse_pair, REVERSE_VOCAB};
use tfs_seq::CellKind;

/// One attention step, L = Σ R ⊙ context, checked for the parameters, the query and the keys.
#[test]
fn every_score_backward_matches_finite_differences() {
    for kind in [ScoreKind::Dot, ScoreKind::General, ScoreKind::Additive] {
        let mut rng = Rng::new(1);
        let (b, l, h) = (2, 5, 3);
        let mut score: Score<f64> = Score::new(kind, h, 4, &mut rng);
        let r = arr2(&rng.normal_vec(b * h, 1.0), b, h);
        let q = arr2(&rng.normal_vec(b * h, 1.0), b, h);
        let keys_h = Array3::from_shape_vec((b, l, h), rng.normal_vec(b * l * h, 1.0)).unwrap();
        let mut w = WithInputs::new(
            &mut score,
            vec![("q", q.into_dyn()), ("keys", keys_h.into_dyn())],
        );
        gradcheck(&check(), &mut w, |w| {
            let q = w.input::<Ix2>("q");
            let mut keys = w.model.keys(w.input::<Ix3>("keys"));
            let (c, cache) = w.model.forward(q.view(), &keys);
            let loss = (&c * &r).sum();
            let mut grads = Grads::zeros_like(&*w.model);
            let dq = w.model.backward(r.view(), &cache, &mut keys, &mut grads);
            w.model.finish_keys(&mut keys, &mut grads);
            let mut g = grads.nest("model");
            g.insert("q", dq.into_dyn());
            g.insert("keys", keys.dh.into_dyn());
            (loss, g)
        })
        .assert_below(1e-6);
    }
}

#[test]
fn attention_weights_are_a_distribution() {
    let mut rng = Rng::new(2);
    let score: Score<f64> = Score::new(ScoreKind::Additive, 3, 4, &mut rng);
    let keys = score.keys(crate::arr3(&mut rng, (2, 6, 3)));
    let (_, c) = score.forward(arr2(&rng.normal_vec(6, 1.0), 2, 3).view(), &keys);
    for row in c.weights.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-12 && row.iter().all(|&w| w > 0.0));
    }
}

/// The whole encoder-decoder with attention: every parameter of encoder, decoder, score, Luong's
/// combination layer and the head.
#[test]
fn attention_seq2seq_backward_matches_finite_differences() {
    let configs = [
        (CellKind::Lstm, Style::Bahdanau, ScoreKind::Additive),
        (CellKind::Gru, Style::Luong, ScoreKind::Dot),
        (CellKind::Lstm, Style::Luong, ScoreKind::General),
        (CellKind::Rnn, Style::Luong, ScoreKind::Additive),
    ];
    for (i, (cell, style, score)) in configs.into_iter().enumerate() {
        let mut rng = Rng::new(10 + i as u64);
        let mut m: AttnSeq2Seq<f64> =
            AttnSeq2Seq::new(cell, style, score, REVERSE_VOCAB, 3, &mut rng);
        let batch = vec![reverse_pair(3, &mut rng), reverse_pair(3, &mut rng)];
        let report = gradcheck(&check(), &mut m, |m| m.loss_and_grads(&batch));
        assert_eq!(report.checked, m.num_params(), "{style:?} {score:?}");
        report.assert_below(1e-6);
    }
}
