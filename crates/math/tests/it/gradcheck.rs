use tfs_math::loss::{cross_entropy, cross_entropy_grad};
use tfs_math::{gradcheck, GradCheck, Rng};

/// L(W, x) = Σ_i tanh((W x)_i) for W: (2, 3), x: (3,). Analytic gradients:
/// ∂L/∂W_ij = (1 − tanh²(a_i)) x_j, ∂L/∂x_j = Σ_i (1 − tanh²(a_i)) W_ij.
fn tanh_layer(p: &[Vec<f64>], plant_bug: bool) -> (f64, Vec<Vec<f64>>) {
    let (w, x) = (&p[0], &p[1]);
    let mut loss = 0.0;
    let mut dw = vec![0.0; 6];
    let mut dx = vec![0.0; 3];
    for i in 0..2 {
        let a: f64 = (0..3).map(|j| w[i * 3 + j] * x[j]).sum();
        let t = a.tanh();
        loss += t;
        let da = 1.0 - t * t;
        for j in 0..3 {
            dw[i * 3 + j] = da * x[j];
            dx[j] += da * w[i * 3 + j];
        }
    }
    if plant_bug {
        dw[4] *= 1.05; // a 5% error in one coordinate
    }
    (loss, vec![dw, dx])
}

fn params() -> Vec<Vec<f64>> {
    let mut rng = Rng::new(7);
    vec![rng.normal_vec(6, 1.0), rng.normal_vec(3, 1.0)]
}

#[test]
fn passes_a_correct_gradient() {
    let report = gradcheck(&params(), |p| tanh_layer(p, false));
    assert_eq!(report.checked, 9);
    report.assert_below(1e-7);
}

#[test]
fn catches_a_planted_wrong_gradient_and_names_it() {
    let report = gradcheck(&params(), |p| tanh_layer(p, true));
    assert!(report.max_rel_err > 1e-2, "{report:?}");
    let worst = report.worst.unwrap();
    assert_eq!((worst.tensor, worst.index), (0, 4));
}

#[test]
#[should_panic(expected = "gradcheck failed")]
fn assert_below_panics_on_a_wrong_gradient() {
    gradcheck(&params(), |p| tanh_layer(p, true)).assert_below(1e-6);
}

#[test]
fn catches_a_nan_gradient() {
    let report = gradcheck(&params(), |p| {
        let (l, mut g) = tanh_layer(p, false);
        g[1][2] = f64::NAN;
        (l, g)
    });
    assert!(report.max_rel_err.is_infinite());
    assert_eq!(report.worst.unwrap().index, 2);
}

#[test]
fn sampling_checks_at_most_k_per_tensor() {
    let opts = GradCheck {
        max_per_tensor: Some(2),
        ..GradCheck::default()
    };
    let report = opts.run(&params(), |p| tanh_layer(p, false));
    assert_eq!(report.checked, 4);
    report.assert_below(1e-7);
}

#[test]
fn cross_entropy_gradient_is_softmax_minus_onehot() {
    let mut rng = Rng::new(11);
    for v in [1, 2, 5, 10] {
        for y in [0, v - 1] {
            let z = rng.normal_vec(v, 2.0);
            gradcheck(&[z], |p| {
                (cross_entropy(&p[0], y), vec![cross_entropy_grad(&p[0], y)])
            })
            .assert_below(1e-7);
        }
    }
}
