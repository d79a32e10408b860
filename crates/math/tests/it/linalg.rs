use ndarray::{Array1, Array2};
use tfs_math::linalg::*;
use tfs_math::Rng;

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    rng.uniform_vec_f32(n, -1.0, 1.0)
}

fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}: element {i}: {x} vs {y}"
        );
    }
}

const SIZES: [usize; 6] = [0, 1, 2, 3, 7, 17];

#[test]
fn matmuls_match_ndarray_on_odd_shapes() {
    let mut rng = Rng::new(1);
    for &m in &SIZES {
        for &k in &SIZES {
            for &n in &SIZES {
                let a = random(&mut rng, m * k);
                let b = random(&mut rng, k * n);
                let na = Array2::from_shape_vec((m, k), a.clone()).unwrap();
                let nb = Array2::from_shape_vec((k, n), b.clone()).unwrap();
                let want: Vec<f32> = na.dot(&nb).iter().copied().collect();
                let what = format!("({m},{k})x({k},{n})");
                assert_close(&matmul_naive(&a, &b, m, k, n), &want, 1e-5, &what);
                assert_close(&matmul_ikj(&a, &b, m, k, n), &want, 1e-5, &what);
            }
        }
    }
}

#[test]
fn matvec_and_dot_match_ndarray() {
    let mut rng = Rng::new(2);
    for &m in &SIZES {
        for &n in &SIZES {
            let a = random(&mut rng, m * n);
            let x = random(&mut rng, n);
            let na = Array2::from_shape_vec((m, n), a.clone()).unwrap();
            let nx = Array1::from_vec(x.clone());
            let want: Vec<f32> = na.dot(&nx).to_vec();
            assert_close(&matvec(&a, m, n, &x), &want, 1e-5, "matvec");
            let y = random(&mut rng, n);
            let want_dot = nx.dot(&Array1::from_vec(y.clone()));
            assert!((dot(&x, &y) - want_dot).abs() < 1e-5);
        }
    }
}

#[test]
fn transpose_matches_ndarray_and_is_an_involution() {
    let mut rng = Rng::new(3);
    for &m in &SIZES {
        for &n in &SIZES {
            let a = random(&mut rng, m * n);
            let na = Array2::from_shape_vec((m, n), a.clone()).unwrap();
            let want: Vec<f32> = na.t().iter().copied().collect();
            let t = transpose(&a, m, n);
            assert_eq!(t, want);
            assert_eq!(transpose(&t, n, m), a);
        }
    }
}

#[test]
fn norms_on_known_vectors() {
    let x = [3.0f32, -4.0];
    assert_eq!(norm_l1(&x), 7.0);
    assert_eq!(norm_l2(&x), 5.0);
    assert_eq!(norm_inf(&x), 4.0);
    assert_eq!(norm_l1(&[]), 0.0);
    assert_eq!(norm_l2(&[]), 0.0);
    assert_eq!(norm_inf(&[]), 0.0);
    // ‖x‖∞ ≤ ‖x‖₂ ≤ ‖x‖₁ for every x.
    let mut rng = Rng::new(4);
    for n in [1, 5, 33] {
        let v = random(&mut rng, n);
        assert!(norm_inf(&v) <= norm_l2(&v) + 1e-6 && norm_l2(&v) <= norm_l1(&v) + 1e-6);
    }
}

#[test]
fn broadcasting_equals_the_explicit_loop() {
    let mut rng = Rng::new(5);
    let (b, n) = (4, 3);
    let x = Array2::from_shape_vec((b, n), random(&mut rng, b * n)).unwrap();
    let bias = Array1::from_vec(random(&mut rng, n));
    let got = broadcast_add_bias(&x, &bias);
    let mut want = x.clone();
    for i in 0..b {
        for j in 0..n {
            want[[i, j]] += bias[j];
        }
    }
    assert_eq!(got, want);
    // (3, 1) + (1, 4) → (3, 4): both operands stretch.
    let col = Array2::from_shape_vec((3, 1), vec![0.0f32, 10.0, 20.0]).unwrap();
    let row = Array2::from_shape_vec((1, 4), vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
    let sum = &col + &row;
    assert_eq!(sum.dim(), (3, 4));
    assert_eq!(sum[[2, 3]], 24.0);
}

#[test]
#[should_panic(expected = "matmul_naive: b has 6 elements, expected (k, n) = (2, 2)")]
fn matmul_shape_mismatch_names_the_shapes() {
    matmul_naive(&[0.0; 4], &[0.0; 6], 2, 2, 2);
}

#[test]
fn argmax_takes_the_first_largest_and_skips_nan() {
    use tfs_math::argmax;
    assert_eq!(argmax([1.0, 3.0, 3.0, 2.0]), 1);
    assert_eq!(argmax([f64::NAN, 1.0, 0.5]), 1);
    assert_eq!(argmax(Vec::<f32>::new()), 0);
    assert_eq!(argmax([f32::NEG_INFINITY, -1.0]), 1);
}
