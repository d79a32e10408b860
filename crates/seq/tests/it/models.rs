use ndarray::{Array2, Ix2};
use tfs_math::{GradCheck, Rng};
use tfs_nn::optim::clip_and_step;
use tfs_nn::params::{Params, WithInputs};
use tfs_nn::{Adam, Grads};
use tfs_seq::seq2seq::Seq2Seq;
use tfs_seq::tasks::{reverse_pair, reverse_test_set, REVERSE_VOCAB};
use tfs_seq::{CellKind, CharLm};

/// The loss is ~2 nats, so central differences carry ~u·L/ε ≈ 3e-11 of rounding noise; the
/// floor makes gradients smaller than 1e-4 count by absolute error (≤ 1e-10 at tolerance 1e-6).
fn gradcheck<P, L>(model: &mut P, f: L) -> tfs_math::GradCheckReport
where
    P: Params<f64> + ?Sized,
    L: FnMut(&P) -> (f64, Grads<f64>),
{
    let opts = GradCheck {
        floor: 1e-4,
        ..GradCheck::default()
    };
    tfs_nn::params::gradcheck(&opts, model, f)
}

/// Full BPTT through a char-LM over 5 steps: every weight, bias and the initial state.
#[test]
fn bptt_matches_finite_differences_for_every_cell() {
    for (k, kind) in CellKind::ALL.into_iter().enumerate() {
        let mut rng = Rng::new(10 + k as u64);
        let (v, h, b, t) = (5, 4, 2, 5);
        let mut lm: CharLm<f64> = CharLm::new(kind, v, h, &mut rng);
        let np = lm.num_params();
        let inputs: Vec<Vec<usize>> = (0..t)
            .map(|_| (0..b).map(|_| rng.below(v)).collect())
            .collect();
        let targets: Vec<Vec<usize>> = (0..t)
            .map(|_| (0..b).map(|_| rng.below(v)).collect())
            .collect();
        let s = lm.cell.state_size();
        let s0 = Array2::from_shape_vec((b, s), rng.normal_vec(b * s, 0.5)).unwrap();
        let mut w = WithInputs::new(&mut lm, vec![("s0", s0)]);
        let report = gradcheck(&mut w, |w| {
            let s0 = w.input::<Ix2>("s0");
            let step = w.model.loss_and_grads(&inputs, &targets, s0.view());
            let mut g = step.grads.nest("model");
            g.insert("s0", step.ds0.into_dyn());
            (step.loss, g)
        });
        assert_eq!(report.checked, np + b * s);
        report.assert_below(1e-6);
    }
}

#[test]
fn seq2seq_backward_matches_finite_differences() {
    for kind in [CellKind::Lstm, CellKind::Gru] {
        let mut rng = Rng::new(20);
        let mut m: Seq2Seq<f64> = Seq2Seq::new(kind, REVERSE_VOCAB, 4, &mut rng);
        let batch = vec![reverse_pair(3, &mut rng), reverse_pair(3, &mut rng)];
        gradcheck(&mut m, |m| m.loss_and_grads(&batch)).assert_below(1e-6);
    }
}

#[test]
fn truncated_chunks_carry_the_state_exactly() {
    // Forward values over two chunks with the state carried equal one pass over the whole.
    let mut rng = Rng::new(3);
    let lm: CharLm<f64> = CharLm::new(CellKind::Lstm, 6, 5, &mut rng);
    let ids: Vec<Vec<usize>> = (0..9).map(|_| vec![rng.below(6), rng.below(6)]).collect();
    let (inp, tgt) = (&ids[..8], &ids[1..]);
    let whole = lm.loss_and_grads(inp, tgt, lm.zero_state(2).view());
    let a = lm.loss_and_grads(&inp[..4], &tgt[..4], lm.zero_state(2).view());
    let b = lm.loss_and_grads(&inp[4..], &tgt[4..], a.state.view());
    assert!(((a.loss + b.loss) / 2.0 - whole.loss).abs() < 1e-12);
    assert!((&b.state - &whole.state).iter().all(|d| d.abs() < 1e-12));
}

#[test]
fn sampling_is_seeded_and_cold_sampling_is_greedy() {
    let mut rng = Rng::new(4);
    let lm: CharLm<f64> = CharLm::new(CellKind::Gru, 7, 8, &mut rng);
    let a = lm.sample(&[1, 2], 20, 1.0, &mut Rng::new(9));
    let b = lm.sample(&[1, 2], 20, 1.0, &mut Rng::new(9));
    assert_eq!(a, b);
    // At T → 0 every draw is the argmax, so two different seeds agree.
    let c = lm.sample(&[1, 2], 20, 1e-4, &mut Rng::new(1));
    let d = lm.sample(&[1, 2], 20, 1e-4, &mut Rng::new(2));
    assert_eq!(c, d);
}

#[test]
fn learns_to_reverse_short_sequences_and_beam_agrees_with_greedy_at_width_one() {
    let mut rng = Rng::new(5);
    let mut m: Seq2Seq<f32> = Seq2Seq::new(CellKind::Lstm, REVERSE_VOCAB, 32, &mut rng);
    let mut opt = Adam::new(1e-2);
    for _ in 0..400 {
        let batch: Vec<_> = (0..32).map(|_| reverse_pair(3, &mut rng)).collect();
        let (_, mut g) = m.loss_and_grads(&batch);
        clip_and_step(&mut opt, &mut m, &mut g, Some(5.0));
    }
    let test = &reverse_test_set(&[3], 50, 0)[0].1;
    let srcs: Vec<&[usize]> = test.iter().map(|p| p.src.as_slice()).collect();
    let greedy = m.greedy(&srcs, 8);
    let right = greedy
        .iter()
        .zip(test)
        .filter(|(g, p)| g[..] == p.tgt[..p.tgt.len() - 1])
        .count();
    assert!(right >= 45, "only {right}/50 reversed exactly");
    for (p, g) in test.iter().zip(&greedy).take(10) {
        assert_eq!(&m.beam(&p.src, 1, 8), g);
    }
}

#[test]
fn the_reversal_split_is_fixed_by_its_seed() {
    let a = reverse_test_set(&[4, 8], 3, 1);
    assert_eq!(a, reverse_test_set(&[4, 8], 3, 1));
    let p = &a[1].1[0];
    assert_eq!(p.src.len(), 8);
    let mut r = p.src.clone();
    r.reverse();
    r.push(tfs_seq::tasks::EOS);
    assert_eq!(p.tgt, r);
}

#[test]
fn classifier_backward_matches_finite_differences() {
    use tfs_seq::classifier::SeqClassifier;
    for kind in CellKind::ALL {
        let mut rng = Rng::new(30);
        let mut m: SeqClassifier<f64> = SeqClassifier::new(kind, 5, 4, 3, &mut rng);
        let inputs: Vec<Vec<usize>> = (0..6).map(|_| vec![rng.below(5), rng.below(5)]).collect();
        let labels = [2, 0];
        gradcheck(&mut m, |m| {
            let st = m.loss_and_grads(&inputs, &labels);
            (st.loss, st.grads)
        })
        .assert_below(1e-6);
    }
}

#[test]
fn models_name_their_parameters_by_module() {
    let mut rng = Rng::new(6);
    let lm: CharLm<f32> = CharLm::new(CellKind::Lstm, 5, 3, &mut rng);
    assert_eq!(
        lm.param_names(),
        ["cell.w_x", "cell.w_h", "cell.b", "w_y", "b_y"]
    );
    let m: Seq2Seq<f32> = Seq2Seq::new(CellKind::Gru, 5, 3, &mut rng);
    let names = m.param_names();
    assert_eq!(names[0], "encoder.w_x");
    assert_eq!(names[4], "decoder.w_x");
    assert_eq!(names.len(), 10);
}

#[test]
fn a_text_too_short_for_the_context_is_an_error_not_a_panic() {
    use tfs_seq::charlm_train::{train_char_lm, Corpus, LmRecipe};
    let r = LmRecipe {
        hidden: 4,
        seq_len: 8,
        batch: 2,
        steps: 2,
        lr: 1e-3,
        clip: 5.0,
        eval_every: 1,
    };
    // It used to index out of range (charlm.rs) for any text under B × T + 1 characters.
    for text in ["", "a", "abcdefghijklmnop"] {
        let corpus = Corpus::new(text, usize::MAX, 0.0);
        let e = train_char_lm(tfs_seq::CellKind::Lstm, &corpus, &r, 0, 0, &mut |_| {})
            .err()
            .expect("too short");
        assert_eq!((e.part, e.need()), ("training", 17));
        assert!(e.to_string().contains("too short for the context"), "{e}");
    }
    // Exactly enough training text, but held-out text too short to evaluate: an error too
    // (it made NaN validation losses and "no finite y values to plot").
    let text: String = "abcdefghijklmnopq".repeat(2);
    let corpus = Corpus::new(&text, usize::MAX, 0.3);
    let e = corpus.check(&r).unwrap_err();
    assert_eq!(e.part, "held-out");
    let corpus = Corpus::new(&text[..17], usize::MAX, 0.0);
    let run = train_char_lm(tfs_seq::CellKind::Lstm, &corpus, &r, 0, 0, &mut |_| {}).unwrap();
    assert_eq!(run.train_curve.len(), 2);
    assert!(run.val_curve.is_empty());
}
