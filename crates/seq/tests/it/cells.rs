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
