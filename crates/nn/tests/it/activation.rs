use tfs_math::numgrad::numerical_derivative;
use tfs_nn::Activation::{self, *};

const SMOOTH: [Activation; 6] = [Sigmoid, Tanh, Gelu, GeluTanh, Silu, Identity];

#[test]
fn derivatives_match_finite_differences() {
    let points = [-4.0, -1.3, -0.2, 0.37, 1.0, 2.5, 6.0];
    for act in SMOOTH.iter().chain(&[Relu, LeakyRelu(0.1)]) {
        for &x in &points {
            let numeric = numerical_derivative(|v| act.f(v), x, 1e-6);
            let analytic = act.df(x);
            let err = (numeric - analytic).abs() / analytic.abs().max(1e-6);
            assert!(
                err < 1e-6,
                "{} at {x}: analytic {analytic}, numeric {numeric}",
                act.name()
            );
        }
    }
}

#[test]
fn known_values() {
    assert_eq!(Sigmoid.f(0.0), 0.5);
    assert_eq!(Sigmoid.df(0.0), 0.25);
    assert_eq!(Step.f(0.0), 1.0);
    assert_eq!(Step.f(-1e-9), 0.0);
    assert_eq!(Relu.f(-3.0), 0.0);
    assert_eq!(LeakyRelu(0.01).f(-2.0), -0.02);
    // GELU(1) = Φ(1) = 0.841344746…
    assert!((Gelu.f(1.0f64) - 0.841_344_746_068_543).abs() < 1e-12);
    assert!(Sigmoid.f(1000.0f64).is_finite() && Sigmoid.f(-1000.0f64) == 0.0);
    assert!(Silu.f(-1000.0f64).abs() < 1e-300);
}

#[test]
fn gelu_tanh_approximation_is_close_to_exact() {
    let worst = (-600..=600)
        .map(|i| {
            let x = i as f64 / 100.0;
            (Gelu.f(x) - GeluTanh.f(x)).abs()
        })
        .fold(0.0, f64::max);
    assert!(worst < 1e-3, "max |GELU − GELU_tanh| = {worst}");
    assert!(worst > 1e-5, "they are not the same function");
}

#[test]
fn works_in_f32() {
    for act in SMOOTH {
        let (a, b) = (act.f(0.7f32) as f64, act.f(0.7f64));
        assert!((a - b).abs() < 1e-6, "{}", act.name());
    }
}
