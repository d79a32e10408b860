use ndarray::{Array2, Ix2};
use tfs_math::{GradCheck, Rng};
use tfs_nn::params::{gradcheck, WithInputs};
use tfs_nn::Params;
use tfs_seq::{Cell, CellKind};

fn arr(v: &[f64], r: usize, c: usize) -> Array2<f64> {
    Array2::from_shape_vec((r, c), v.to_vec()).unwrap()
}

/// One step of each cell: L = Σ R ⊙ s_t for a fixed random R. Checks every parameter, the input
/// and the previous state.
#[test]
fn one_step_backward_matches_finite_differences() {
    for (k, kind) in CellKind::ALL.into_iter().enumerate() {
        let mut rng = Rng::new(k as u64);
        let (b, i, h) = (3, 4, 5);
        let mut cell: Box<dyn Cell<f64>> = kind.build(i, h, &mut rng);
        // Non-zero biases so every term is exercised.
        cell.visit_mut(&mut |_, mut p| p.mapv_inplace(|v| v + 0.1));
        let s = cell.state_size();
        let x = arr(&rng.normal_vec(b * i, 1.0), b, i);
        let s_prev = arr(&rng.normal_vec(b * s, 0.5), b, s);
        let r = arr(&rng.normal_vec(b * s, 1.0), b, s);
        let mut w = WithInputs::new(&mut *cell, vec![("x", x), ("s_prev", s_prev)]);
        let report = gradcheck(&GradCheck::default(), &mut w, |w| {
            let (x, s_prev) = (w.input::<Ix2>("x"), w.input::<Ix2>("s_prev"));
            let (st, cache) = w.model.forward(x.view(), s_prev.view());
            let loss = (&st * &r).sum();
            let mut grads = w.model.zero_grads();
            let (dx, ds) = w.model.backward(r.view(), &cache, &mut grads);
            let mut g = grads.nest("model");
            g.insert("x", dx.into_dyn());
            g.insert("s_prev", ds.into_dyn());
            (loss, g)
        });
        assert_eq!(report.checked, cell.num_params() + b * i + b * s);
        report.assert_below(1e-6);
    }
}

#[test]
fn lstm_forget_bias_starts_at_one_and_state_is_h_and_c() {
    let mut rng = Rng::new(1);
    let cell = tfs_seq::lstm::Lstm::<f64>::new(3, 4, &mut rng);
    assert!(cell.b.iter().skip(4).take(4).all(|&v| v == 1.0));
    assert!(cell.b.iter().take(4).all(|&v| v == 0.0));
    assert_eq!(Cell::state_size(&cell), 8);
}

#[test]
#[should_panic(expected = "LSTM: state is (2, 4), expected (B, S) = (2, 8)")]
fn wrong_state_shape_names_the_shapes() {
    let mut rng = Rng::new(2);
    let cell = tfs_seq::lstm::Lstm::<f64>::new(3, 4, &mut rng);
    cell.forward(Array2::zeros((2, 3)).view(), Array2::zeros((2, 4)).view());
}

/// The fused LSTM kernel against the step-by-step reference: outputs, final state, every weight
/// gradient, input gradients and the initial-state gradient, for id and dense inputs and every
/// kind of output gradient, on shapes with T = 1, B = 1 and odd sizes. In f64 (the generic loop)
/// to 1e-12, and in f32, where the gates go through the vectorised `tfs_kernels::fused::lstm`
/// kernel (σ and tanh from a polynomial exp, ~3e-7 each), to 1e-4.
#[test]
fn fused_lstm_equals_the_reference() {
    fused_lstm_against_reference::<f64>(1e-12);
    fused_lstm_against_reference::<f32>(1e-4);
}

fn fused_lstm_against_reference<F: ndarray::NdFloat>(tol: f64) {
    use tfs_nn::Grads;
    use tfs_seq::bptt::{backprop_steps, backward_seq, forward_seq, unroll};
    use tfs_seq::cell::{OutGrad, SeqCache, SeqInput};
    use tfs_seq::lstm::Lstm;
    let close = |a: &Array2<F>, b: &Array2<F>, what: &str| {
        assert_eq!(a.dim(), b.dim(), "{what}");
        let d = (a - b)
            .iter()
            .fold(0.0f64, |m, v| m.max(v.to_f64().unwrap().abs()));
        assert!(d < tol, "{what}: max difference {d}");
    };
    let arr = |v: &[f64], r, c| arr(v, r, c).mapv(|x| F::from(x).unwrap());
    let mut rng = Rng::new(40);
    for &(t_len, b, i, h) in &[(1, 1, 3, 2), (4, 3, 5, 7), (6, 2, 4, 1), (5, 3, 6, 33)] {
        let mut cell = Lstm::<F>::new(i, h, &mut rng);
        cell.b.mapv_inplace(|v| v + F::from(0.2).unwrap());
        let ids: Vec<Vec<usize>> = (0..t_len)
            .map(|_| (0..b).map(|_| rng.below(i)).collect())
            .collect();
        let dense: Vec<Array2<F>> = (0..t_len)
            .map(|_| arr(&rng.normal_vec(b * i, 1.0), b, i))
            .collect();
        let s0 = arr(&rng.normal_vec(b * 2 * h, 0.5), b, 2 * h);
        let dh_all = arr(&rng.normal_vec(t_len * b * h, 1.0), t_len * b, h);
        let dh_last = arr(&rng.normal_vec(b * h, 1.0), b, h);
        let ds_last = arr(&rng.normal_vec(b * 2 * h, 1.0), b, 2 * h);
        for input in [
            SeqInput::Ids {
                ids: &ids,
                vocab: i,
            },
            SeqInput::Dense(&dense),
        ] {
            let fused = forward_seq(&cell, &input, s0.view());
            let reference = unroll(&cell, &input.dense(), s0.view());
            close(
                &fused.hidden_all(h),
                &reference.hidden_all(h),
                "hidden states",
            );
            close(
                &fused.final_state(),
                &SeqCache::final_state(&reference),
                "final state",
            );
            for (name, mk) in [("all", 0), ("last", 1), ("nothing", 2)] {
                let out = |k| match k {
                    0 => OutGrad::All(dh_all.view()),
                    1 => OutGrad::Last(dh_last.view()),
                    _ => OutGrad::Nothing,
                };
                let (mut g1, mut g2): (Grads<F>, Grads<F>) = (cell.zero_grads(), cell.zero_grads());
                let a = backward_seq(&cell, &*fused, out(mk), Some(ds_last.view()), &mut g1);
                let r = backprop_steps(&cell, &reference, out(mk), Some(ds_last.view()), &mut g2);
                for n in cell.param_names() {
                    let (x, y) = (g1.get(&n), g2.get(&n));
                    let d = (x - y)
                        .iter()
                        .fold(0.0f64, |m, v| m.max(v.to_f64().unwrap().abs()));
                    assert!(d < tol, "weight gradient {n} ({name}): max difference {d}");
                }
                close(&a.ds0, &r.ds0, &format!("initial-state gradient ({name})"));
                for (x, y) in a.dh_norms.iter().zip(&r.dh_norms) {
                    assert!((x - y).abs() < tol * (1.0 + y.abs()));
                }
                if let SeqInput::Dense(_) = input {
                    for (x, y) in a.dxs.iter().zip(&r.dxs) {
                        close(x, y, "input gradient");
                    }
                }
            }
        }
    }
}
