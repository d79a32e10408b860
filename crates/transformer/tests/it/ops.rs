use crate::{mat, max_abs_diff};
use ndarray::s;
use tfs_math::Rng;
use tfs_transformer::ops::{matmul, matmul_into, matmul_reference};

#[test]
fn matmul_into_equals_the_triple_loop_for_every_transpose_and_scale() {
    let mut rng = Rng::new(1);
    for &(m, k, n) in &[(1, 1, 1), (3, 5, 2), (7, 4, 9), (0, 3, 2), (4, 0, 3)] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = if ta {
                mat(&mut rng, k, m)
            } else {
                mat(&mut rng, m, k)
            };
            let b = if tb {
                mat(&mut rng, n, k)
            } else {
                mat(&mut rng, k, n)
            };
            let c0 = mat(&mut rng, m, n);
            let mut c = c0.clone();
            matmul_into(a.view(), b.view(), c.view_mut(), ta, tb, 0.5, 2.0);
            let want = matmul_reference(a.view(), b.view(), ta, tb) * 0.5 + &c0 * 2.0;
            let d = max_abs_diff(c.as_slice().unwrap(), want.as_slice().unwrap());
            assert!(d < 1e-12, "({m},{k},{n}) ta={ta} tb={tb}: {d}");
        }
    }
}

#[test]
fn strided_views_multiply_like_copies() {
    let mut rng = Rng::new(2);
    let q = mat(&mut rng, 6, 8);
    let k = mat(&mut rng, 4, 8);
    let (qs, ks) = (q.slice(s![2..5, 4..8]), k.slice(s![..4, 4..8]));
    let got = matmul(qs, ks, false, true);
    let want = matmul_reference(qs.to_owned().view(), ks.to_owned().view(), false, true);
    assert!(
        max_abs_diff(
            &got.iter().copied().collect::<Vec<_>>(),
            &want.iter().copied().collect::<Vec<_>>()
        ) < 1e-12
    );
}

#[test]
#[should_panic(expected = "matmul_into: op(A) is (2, 3), op(B) is (2, 2)")]
fn mismatched_shapes_name_the_op() {
    let a = ndarray::Array2::<f64>::zeros((2, 3));
    let b = ndarray::Array2::<f64>::zeros((2, 2));
    let mut c = ndarray::Array2::<f64>::zeros((2, 2));
    matmul_into(a.view(), b.view(), c.view_mut(), false, false, 1.0, 0.0);
}
