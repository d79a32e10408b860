use crate::{arr2, check};
use ndarray::Array3;
use tfs_attention::scorer::{Score, ScoreKind};
use tfs_attention::seq2seq_attn::{AttnSeq2Seq, Style};
use tfs_math::Rng;
use tfs_seq::tasks::{reverse_pair, REVERSE_VOCAB};
use tfs_seq::{CellKind, Model};

/// One attention step, L = Σ R ⊙ context, checked for the parameters, the query and the keys.
#[test]
fn every_score_backward_matches_finite_differences() {
    for kind in [ScoreKind::Dot, ScoreKind::General, ScoreKind::Additive] {
        let mut rng = Rng::new(1);
        let (b, l, h) = (2, 5, 3);
        let mut score: Score<f64> = Score::new(kind, h, 4, &mut rng);
        let r = arr2(&rng.normal_vec(b * h, 1.0), b, h);
        let mut init: Vec<Vec<f64>> = score
            .params()
            .iter()
            .map(|p| p.iter().copied().collect())
            .collect();
        let np = init.len();
        init.push(rng.normal_vec(b * h, 1.0));
        init.push(rng.normal_vec(b * l * h, 1.0));
        check()
            .run(&init, |p| {
                for (dst, src) in score.params_mut().into_iter().zip(p) {
                    dst.as_slice_mut().unwrap().copy_from_slice(src);
                }
                let q = arr2(&p[np], b, h);
                let mut keys =
                    score.keys(Array3::from_shape_vec((b, l, h), p[np + 1].clone()).unwrap());
                let (c, cache) = score.forward(q.view(), &keys);
                let loss = (&c * &r).sum();
                let mut grads: Vec<_> = score
                    .params()
                    .iter()
                    .map(|p| ndarray::Array2::zeros(p.dim()))
                    .collect();
                let dq = score.backward(r.view(), &cache, &mut keys, &mut grads);
                score.finish_keys(&mut keys, &mut grads);
                let mut g: Vec<Vec<f64>> =
                    grads.iter().map(|g| g.iter().copied().collect()).collect();
                g.push(dq.iter().copied().collect());
                g.push(keys.dh.iter().copied().collect());
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
        let init: Vec<Vec<f64>> = m
            .params()
            .iter()
            .map(|p| p.iter().copied().collect())
            .collect();
        let report = check().run(&init, |p| {
            for (dst, src) in m.params_mut().into_iter().zip(p) {
                dst.as_slice_mut().unwrap().copy_from_slice(src);
            }
            let (l, g) = m.loss_and_grads(&batch);
            (l, g.iter().map(|g| g.iter().copied().collect()).collect())
        });
        assert_eq!(report.checked, m.num_params(), "{style:?} {score:?}");
        report.assert_below(1e-6);
    }
}
