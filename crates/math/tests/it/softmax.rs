use tfs_math::softmax::*;
use tfs_math::Rng;

#[test]
fn naive_overflows_where_stable_does_not() {
    let z = [1000.0, 1001.0];
    let naive = softmax_naive(&z);
    assert!(naive.iter().any(|p| !p.is_finite()), "naive gave {naive:?}");
    let s = softmax(&z);
    assert!(s.iter().all(|p| p.is_finite() && *p > 0.0));
    // softmax([0, 1]) = [1/(1+e), e/(1+e)]
    let e = std::f64::consts::E;
    assert!((s[0] - 1.0 / (1.0 + e)).abs() < 1e-15);
    assert!((s[1] - e / (1.0 + e)).abs() < 1e-15);
}

#[test]
fn outputs_are_positive_and_sum_to_one() {
    let mut rng = Rng::new(3);
    for n in [1, 2, 10, 1000] {
        for scale in [1e-3, 1.0, 100.0] {
            let z = rng.normal_vec(n, scale);
            let s = softmax(&z);
            assert!(s.iter().all(|p| *p >= 0.0));
            assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }
    assert!(softmax(&[]).is_empty());
}

#[test]
fn agrees_with_naive_where_naive_is_safe() {
    let z = [0.1, -2.0, 3.5, 0.0];
    for (a, b) in softmax(&z).iter().zip(softmax_naive(&z)) {
        assert!((a - b).abs() < 1e-15);
    }
}

#[test]
fn log_softmax_is_stable_and_consistent() {
    let z = [-1000.0, 0.0, 1000.0];
    let ls = log_softmax(&z);
    assert!(ls.iter().all(|v| v.is_finite()), "{ls:?}");
    assert!((ls[0] - (-2000.0)).abs() < 1e-9);
    let z = [0.3, 1.2, -0.7];
    for (l, s) in log_softmax(&z).iter().zip(softmax(&z)) {
        assert!((l - s.ln()).abs() < 1e-14);
    }
    assert!((logsumexp(&[0.0, 0.0]) - 2f64.ln()).abs() < 1e-15);
}

#[test]
fn temperature_sharpens_and_flattens() {
    let z = [1.0, 2.0, 4.0];
    let cold = softmax_temperature(&z, 0.1);
    let hot = softmax_temperature(&z, 100.0);
    assert!(cold[2] > 0.999);
    assert!(hot.iter().all(|p| (p - 1.0 / 3.0).abs() < 0.01));
    assert_eq!(softmax_temperature(&z, 1.0), softmax(&z));
}

#[test]
#[should_panic(expected = "temperature must be > 0")]
fn zero_temperature_is_refused() {
    softmax_temperature(&[1.0], 0.0);
}
