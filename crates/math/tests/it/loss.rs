use ndarray::Array2;
use tfs_math::loss::*;
use tfs_math::{gradcheck, Rng};

#[test]
fn known_values() {
    // Uniform logits over V classes: loss ln V.
    assert!((cross_entropy(&[0.0; 10], 3) - 10f64.ln()).abs() < 1e-14);
    // A confident correct prediction costs almost nothing; a confident wrong one a lot.
    assert!(cross_entropy(&[20.0, 0.0], 0) < 1e-8);
    assert!((cross_entropy(&[20.0, 0.0], 1) - 20.0).abs() < 1e-6);
    // Stable on huge logits.
    assert!(cross_entropy(&[1000.0, -1000.0], 1).is_finite());
}

#[test]
fn batch_mean_and_gradient_check() {
    let mut rng = Rng::new(5);
    let (b, v) = (4, 6);
    let targets = [0, 5, 2, 2];
    let z = rng.normal_vec(b * v, 1.5);
    let logits = Array2::from_shape_vec((b, v), z.clone()).unwrap();
    let (loss, dlogits) = cross_entropy_batch(logits.view(), &targets);
    let mean: f64 = (0..b)
        .map(|i| cross_entropy(&z[i * v..(i + 1) * v], targets[i]))
        .sum::<f64>()
        / b as f64;
    assert!((loss - mean).abs() < 1e-14);
    // Each row of the gradient sums to 0 (softmax sums to 1, onehot sums to 1).
    for row in dlogits.rows() {
        assert!(row.sum().abs() < 1e-15);
    }
    gradcheck(&[z], |p| {
        let l = Array2::from_shape_vec((b, v), p[0].clone()).unwrap();
        let (loss, d) = cross_entropy_batch(l.view(), &targets);
        (loss, vec![d.iter().copied().collect()])
    })
    .assert_below(1e-7);
}

#[test]
fn empty_batch_has_zero_loss() {
    let (loss, d) = cross_entropy_batch(Array2::<f64>::zeros((0, 3)).view(), &[]);
    assert_eq!(loss, 0.0);
    assert_eq!(d.dim(), (0, 3));
}

#[test]
#[should_panic(expected = "target 3 out of range for 3 logits")]
fn target_out_of_range_panics_with_the_numbers() {
    cross_entropy(&[0.0; 3], 3);
}
