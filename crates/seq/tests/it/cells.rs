use ndarray::Array2;
use tfs_math::{gradcheck, Rng};
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
        for p in cell.params_mut() {
            p.mapv_inplace(|v| v + 0.1);
        }
        let s = cell.state_size();
        let x = rng.normal_vec(b * i, 1.0);
        let s_prev = rng.normal_vec(b * s, 0.5);
        let r = arr(&rng.normal_vec(b * s, 1.0), b, s);
        let n_params = cell.params().len();
        let mut init: Vec<Vec<f64>> = cell
            .params()
            .iter()
            .map(|p| p.iter().copied().collect())
            .collect();
        init.push(x);
        init.push(s_prev);
        let report = gradcheck(&init, |p| {
            for (dst, src) in cell.params_mut().into_iter().zip(p) {
                dst.as_slice_mut().unwrap().copy_from_slice(src);
            }
            let (x, sp) = (arr(&p[n_params], b, i), arr(&p[n_params + 1], b, s));
            let (st, cache) = cell.forward(x.view(), sp.view());
            let loss = (&st * &r).sum();
            let mut grads = cell.zero_grads();
            let (dx, ds) = cell.backward(r.view(), &cache, &mut grads);
            let mut g: Vec<Vec<f64>> = grads.iter().map(|g| g.iter().copied().collect()).collect();
            g.push(dx.iter().copied().collect());
            g.push(ds.iter().copied().collect());
            (loss, g)
        });
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
/// kind of output gradient, on shapes with T = 1, B = 1 and odd sizes.
#[test]
fn fused_lstm_equals_the_reference() {
    use tfs_seq::bptt::{backprop_steps, unroll, OutGrad, SeqInput};
    use tfs_seq::lstm::Lstm;
    let close = |a: &Array2<f64>, b: &Array2<f64>, what: &str| {
        assert_eq!(a.dim(), b.dim(), "{what}");
        let d = (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(d < 1e-12, "{what}: max difference {d}");
    };
    let mut rng = Rng::new(40);
    for &(t_len, b, i, h) in &[(1, 1, 3, 2), (4, 3, 5, 7), (6, 2, 4, 1)] {
        let mut cell = Lstm::<f64>::new(i, h, &mut rng);
        cell.b.mapv_inplace(|v| v + 0.2);
        let ids: Vec<Vec<usize>> = (0..t_len)
            .map(|_| (0..b).map(|_| rng.below(i)).collect())
            .collect();
        let dense: Vec<Array2<f64>> = (0..t_len)
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
            let fused = cell.forward_seq(&input, s0.view());
            let reference = unroll(&cell, &input.dense(), s0.view());
            let hs_ref = tfs_seq::bptt::SeqCache::Steps(reference);
            close(&fused.hidden_all(h), &hs_ref.hidden_all(h), "hidden states");
            close(&fused.final_state(), &hs_ref.final_state(), "final state");
            let tfs_seq::bptt::SeqCache::Steps(reference) = hs_ref else {
                unreachable!()
            };
            for (name, mk) in [("all", 0), ("last", 1), ("nothing", 2)] {
                let out = |k| match k {
                    0 => OutGrad::All(dh_all.view()),
                    1 => OutGrad::Last(dh_last.view()),
                    _ => OutGrad::Nothing,
                };
                let (mut g1, mut g2) = (cell.zero_grads(), cell.zero_grads());
                let a = cell.backward_seq(&fused, out(mk), Some(ds_last.view()), &mut g1);
                let r = backprop_steps(&cell, &reference, out(mk), Some(ds_last.view()), &mut g2);
                for (x, y) in g1.iter().zip(&g2) {
                    close(x, y, &format!("weight gradient ({name})"));
                }
                close(&a.ds0, &r.ds0, &format!("initial-state gradient ({name})"));
                for (x, y) in a.dh_norms.iter().zip(&r.dh_norms) {
                    assert!((x - y).abs() < 1e-12);
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
