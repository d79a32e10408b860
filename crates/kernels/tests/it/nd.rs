//! The ndarray bridge against ndarray's own `general_mat_mul`: every layout a model produces
//! (plain, transposed with `.t()`, row and column slices of larger arrays, single rows and
//! columns, empty), α and β, f64 (the fallback), and aliasing views (the fallback).

use crate::TestRng;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2};
use tfs_kernels::nd::{gemm, matmul, operands_overlap, takes_fast_path};

fn random(rng: &mut TestRng, r: usize, c: usize) -> Array2<f32> {
    Array2::from_shape_simple_fn((r, c), || rng.uniform())
}

/// |fast − reference| ≤ 1e-5 · k · max|a| · max|b| elementwise: both sum k products of numbers
/// below 1 in f32 in different orders, each product rounding by ≤ 2⁻²⁴ relative.
fn assert_close(x: &Array2<f32>, y: &Array2<f32>, k: usize, what: &str) {
    assert_eq!(x.dim(), y.dim(), "{what}");
    let tol = 1e-5 * (k.max(1) as f32) + 1e-6;
    for (a, b) in x.iter().zip(y) {
        assert!((a - b).abs() <= tol, "{what}: {a} vs {b} (tol {tol})");
    }
}

fn check(a: ArrayView2<f32>, b: ArrayView2<f32>, alpha: f32, beta: f32, what: &str) {
    let mut rng = TestRng::new(7);
    let c0 = random(&mut rng, a.nrows(), b.ncols());
    let (mut fast, mut reference) = (c0.clone(), c0.clone());
    gemm(alpha, &a, &b, beta, &mut fast);
    general_mat_mul(alpha, &a, &b, beta, &mut reference);
    assert_close(&fast, &reference, a.ncols(), what);
}

#[test]
fn every_layout_a_model_uses_matches_ndarray() {
    let mut rng = TestRng::new(1);
    for &(m, k, n) in &[
        (0, 3, 4),
        (3, 0, 4),
        (1, 1, 1),
        (1, 17, 9),
        (9, 1, 33),
        (37, 65, 19),
        (130, 70, 257),
    ] {
        let a = random(&mut rng, m, k);
        let b = random(&mut rng, k, n);
        let at = random(&mut rng, k, m); // used as at.t(): (m, k)
        let bt = random(&mut rng, n, k);
        for (alpha, beta) in [(1.0, 0.0), (1.0, 1.0), (0.5, -2.0)] {
            check(a.view(), b.view(), alpha, beta, "NN");
            check(at.t(), b.view(), alpha, beta, "TN");
            check(a.view(), bt.t(), alpha, beta, "NT");
            check(at.t(), bt.t(), alpha, beta, "TT");
        }
        assert!(takes_fast_path(
            &a.view(),
            &bt.t(),
            &Array2::zeros((m, n)).view()
        ));
    }
}

#[test]
fn slices_of_larger_arrays_and_slices_into_c() {
    let mut rng = TestRng::new(2);
    let big = random(&mut rng, 40, 50);
    let a = big.slice(s![3..20, 5..30]); // (17, 25), lda = 50
    let b = big.slice(s![10..35, 1..12]); // (25, 11)
    check(a, b, 1.0, 0.0, "row-strided views");
    assert!(!operands_overlap(&a, &b, &Array2::zeros((17, 11)).view()));
    check(
        big.slice(s![5..30, 2..19]).t(),
        b,
        1.0,
        1.0,
        "transposed slice",
    );
    // C a column block of a larger array (as the attention heads write): padding untouched.
    let mut c = random(&mut rng, 17, 30);
    let before = c.clone();
    let mut reference = c.clone();
    gemm(1.0, &a, &b, 1.0, &mut c.slice_mut(s![.., 7..18]));
    general_mat_mul(1.0, &a, &b, 1.0, &mut reference.slice_mut(s![.., 7..18]));
    assert_close(&c, &reference, 25, "C block");
    assert_eq!(c.slice(s![.., ..7]), before.slice(s![.., ..7]));
    assert_eq!(c.slice(s![.., 18..]), before.slice(s![.., 18..]));
}

#[test]
fn strided_and_aliasing_views_fall_back_and_stay_right() {
    let mut rng = TestRng::new(3);
    let big = random(&mut rng, 30, 30);
    let every_other = big.slice(s![..;2, ..;2]); // (15, 15), no unit stride
    check(
        every_other,
        big.slice(s![..15, ..9]),
        1.0,
        0.0,
        "step-2 view",
    );
    assert!(!takes_fast_path(
        &every_other,
        &big.slice(s![..15, ..9]),
        &Array2::zeros((15, 9)).view()
    ));
    // A and C column blocks of the same rows: their memory spans interleave, so the fast path
    // must not build slices over them (it falls back), and the result must still be right.
    let mut m = random(&mut rng, 20, 20);
    let b = random(&mut rng, 10, 10);
    let expected = {
        let mut r = m.clone();
        let a = m.slice(s![.., ..10]).to_owned();
        general_mat_mul(1.0, &a, &b, 1.0, &mut r.slice_mut(s![.., 10..]));
        r
    };
    {
        let (a, mut c) = m.multi_slice_mut((s![.., ..10], s![.., 10..]));
        assert!(
            takes_fast_path(&a.view(), &b.view(), &c.view()),
            "layouts alone fit"
        );
        gemm(1.0, &a.view(), &b, 1.0, &mut c);
    }
    assert_close(&m, &expected, 10, "interleaved operands");
}

#[test]
fn f64_goes_through_ndarray() {
    let a = Array2::from_shape_fn((5, 3), |(i, j)| (i * 3 + j) as f64 * 0.1);
    let b = Array2::from_shape_fn((3, 4), |(i, j)| (i + j) as f64);
    assert_eq!(matmul(&a, &b), a.dot(&b)); // same code path, bit for bit
}

#[test]
#[should_panic(expected = "gemm: A is (2, 3), B is (4, 5)")]
fn mismatched_shapes_name_them() {
    gemm(
        1.0f32,
        &Array2::zeros((2, 3)),
        &Array2::zeros((4, 5)),
        0.0,
        &mut Array2::zeros((2, 5)),
    );
}
