use tfs_math::numgrad::*;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-12)
}

#[test]
fn derivative_of_x_squared() {
    for x in [-3.0, -0.5, 0.7, 2.0] {
        let d = numerical_derivative(|x| x * x, x, DEFAULT_EPS);
        assert!(rel(d, 2.0 * x) < 1e-8, "x={x}: {d}");
    }
}

#[test]
fn derivative_of_sin() {
    for x in [-2.0, 0.0, 0.3, 1.4] {
        let d = numerical_derivative(f64::sin, x, DEFAULT_EPS);
        assert!(rel(d, f64::cos(x)) < 1e-8, "x={x}: {d}");
    }
}

#[test]
fn chain_rule_sin_of_x_squared() {
    // d/dx sin(x²) = cos(x²) · 2x
    for x in [-1.3, 0.4, 0.9, 2.2] {
        let numeric = numerical_derivative(|x| (x * x).sin(), x, DEFAULT_EPS);
        let analytic = (x * x).cos() * 2.0 * x;
        assert!(
            rel(numeric, analytic) < 1e-6,
            "x={x}: {numeric} vs {analytic}"
        );
    }
}

#[test]
fn gradient_of_a_function_of_a_vector() {
    // f(x) = Σ x_i² + x_0 x_1 → ∇f = 2x + (x_1, x_0, 0)
    let f = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>() + x[0] * x[1];
    let x = [0.5, -1.5, 2.0];
    let g = numerical_gradient(f, &x, DEFAULT_EPS);
    let want = [2.0 * 0.5 - 1.5, 2.0 * -1.5 + 0.5, 4.0];
    for (a, b) in g.iter().zip(want) {
        assert!(rel(*a, b) < 1e-8, "{g:?} vs {want:?}");
    }
    assert!(numerical_gradient(|_| 1.0, &[], DEFAULT_EPS).is_empty());
}

#[test]
fn error_is_a_v_in_epsilon() {
    // Large ε: truncation dominates; tiny ε: round-off dominates; the middle is best.
    let err = |eps: f64| (numerical_derivative(f64::exp, 1.0, eps) - 1f64.exp()).abs();
    assert!(err(1e-5) < err(1e-1));
    assert!(err(1e-5) < err(1e-13));
}
