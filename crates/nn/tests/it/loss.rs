use ndarray::Array2;
use tfs_math::{gradcheck, Rng};
use tfs_nn::loss::*;

fn arr(v: &[f64]) -> Array2<f64> {
    Array2::from_shape_vec((2, v.len() / 2), v.to_vec()).unwrap()
}

#[test]
fn mse_and_bce_gradients_check() {
    let mut rng = Rng::new(1);
    let y = arr(&[0.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
    let pred = rng.normal_vec(6, 1.0);
    gradcheck(&[pred], |p| {
        let (l, g) = mse(arr(&p[0]).view(), y.view());
        (l, vec![g.into_raw_vec_and_offset().0])
    })
    .assert_below(1e-7);
    let probs: Vec<f64> = (0..6).map(|_| rng.uniform_range(0.05, 0.95)).collect();
    gradcheck(&[probs], |p| {
        let (l, g) = bce(arr(&p[0]).view(), y.view());
        (l, vec![g.into_raw_vec_and_offset().0])
    })
    .assert_below(1e-7);
    let z = rng.normal_vec(6, 3.0);
    gradcheck(&[z], |p| {
        let (l, g) = bce_with_logits(arr(&p[0]).view(), y.view());
        (l, vec![g.into_raw_vec_and_offset().0])
    })
    .assert_below(1e-7);
}

#[test]
fn bce_with_logits_equals_bce_of_sigmoid_and_is_stable() {
    let z = arr(&[-3.0, 0.0, 2.0, 5.0]);
    let y = arr(&[0.0, 1.0, 1.0, 0.0]);
    let p = z.mapv(|v| 1.0 / (1.0 + (-v).exp()));
    assert!((bce_with_logits(z.view(), y.view()).0 - bce(p.view(), y.view()).0).abs() < 1e-12);
    let (l, _) = bce_with_logits(arr(&[1000.0, -1000.0]).view(), arr(&[0.0, 1.0]).view());
    assert!((l - 1000.0).abs() < 1e-9, "{l}");
    assert_eq!(mse(arr(&[1.0, 3.0]).view(), arr(&[0.0, 1.0]).view()).0, 2.5);
}

#[test]
fn f32_cross_entropy_matches_the_f64_reference() {
    let mut rng = Rng::new(2);
    let z64 = Array2::from_shape_vec((5, 7), rng.normal_vec(35, 3.0)).unwrap();
    let t = [0, 6, 3, 3, 1];
    let (l64, g64) = cross_entropy_batch(z64.view(), &t);
    let (l32, g32) = cross_entropy_batch(z64.mapv(|v| v as f32).view(), &t);
    assert!((l64 - l32 as f64).abs() < 1e-5);
    for (a, b) in g64.iter().zip(g32.iter()) {
        assert!((a - *b as f64).abs() < 1e-6);
    }
}
