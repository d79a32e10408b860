use crate::{arr3, check};
use tfs_attention::sdpa::{attention, attention_backward, attention_reference, Mask};
use tfs_math::Rng;

fn masks(b: usize, tk: usize) -> Vec<Mask> {
    let lens: Vec<usize> = (0..b).map(|i| 1 + (i * 3) % tk).collect();
    vec![
        Mask::None,
        Mask::Causal,
        Mask::Padding(lens.clone()),
        Mask::CausalPadding(lens),
    ]
}

#[test]
fn batched_equals_the_loop_reference_with_every_mask() {
    let mut rng = Rng::new(1);
    for &(b, tq, tk, d, dv) in &[
        (1, 1, 1, 1, 1),
        (2, 3, 3, 4, 5),
        (3, 5, 5, 7, 2),
        (2, 4, 6, 3, 3),
    ] {
        let (q, k, v) = (
            arr3(&mut rng, (b, tq, d)),
            arr3(&mut rng, (b, tk, d)),
            arr3(&mut rng, (b, tk, dv)),
        );
        for mask in masks(b, tk) {
            if mask == Mask::Causal && tq != tk {
                continue;
            }
            let (o1, p1) = attention_reference(q.view(), k.view(), v.view(), &mask);
            let (o2, c) = attention(q.view(), k.view(), v.view(), &mask);
            assert!((&o1 - &o2).iter().all(|x| x.abs() < 1e-12), "{mask:?}");
            assert!(
                (&p1 - &c.weights).iter().all(|x| x.abs() < 1e-12),
                "{mask:?}"
            );
            // Masked pairs get exactly zero weight.
            for ((bi, i, j), &w) in c.weights.indexed_iter() {
                if !mask.allows(bi, i, j) {
                    assert_eq!(w, 0.0, "{mask:?} ({bi},{i},{j})");
                }
            }
        }
    }
}

#[test]
fn backward_matches_finite_differences_and_masked_pairs_get_no_gradient() {
    let mut rng = Rng::new(2);
    let (b, t, d) = (2, 4, 3);
    for mask in masks(b, t) {
        let init = vec![
            rng.normal_vec(b * t * d, 1.0),
            rng.normal_vec(b * t * d, 1.0),
            rng.normal_vec(b * t * d, 1.0),
        ];
        let r = arr3(&mut rng, (b, t, d));
        let shape = |x: &Vec<f64>| ndarray::Array3::from_shape_vec((b, t, d), x.clone()).unwrap();
        check()
            .run(&init, |p| {
                let (o, c) = attention(
                    shape(&p[0]).view(),
                    shape(&p[1]).view(),
                    shape(&p[2]).view(),
                    &mask,
                );
                let (dq, dk, dv) = attention_backward(r.view(), &c);
                (
                    (&o * &r).sum(),
                    vec![
                        dq.iter().copied().collect(),
                        dk.iter().copied().collect(),
                        dv.iter().copied().collect(),
                    ],
                )
            })
            .assert_below(1e-6);
        // A padded key is seen by no query: its K and V gradients are exactly zero.
        if let Mask::Padding(len) = &mask {
            let (_, c) = attention(
                shape(&init[0]).view(),
                shape(&init[1]).view(),
                shape(&init[2]).view(),
                &mask,
            );
            let (_, dk, dv) = attention_backward(r.view(), &c);
            for (bi, &valid) in len.iter().enumerate() {
                for j in valid..t {
                    assert!(dk.slice(ndarray::s![bi, j, ..]).iter().all(|&x| x == 0.0));
                    assert!(dv.slice(ndarray::s![bi, j, ..]).iter().all(|&x| x == 0.0));
                }
            }
        }
    }
}

#[test]
fn a_query_that_sees_nothing_gets_zeros_not_nan() {
    let mut rng = Rng::new(3);
    let (q, k, v) = (
        arr3(&mut rng, (1, 2, 2)),
        arr3(&mut rng, (1, 2, 2)),
        arr3(&mut rng, (1, 2, 2)),
    );
    let (o, c) = attention(q.view(), k.view(), v.view(), &Mask::Padding(vec![0]));
    assert!(o.iter().all(|&x| x == 0.0) && c.weights.iter().all(|&x| x == 0.0));
}

#[test]
#[should_panic(
    expected = "attention: Q is (2, 3, 4) and K is (2, 5, 3); their last dimensions (d_k) must match"
)]
fn wrong_shapes_are_named() {
    let mut rng = Rng::new(4);
    attention(
        arr3(&mut rng, (2, 3, 4)).view(),
        arr3(&mut rng, (2, 5, 3)).view(),
        arr3(&mut rng, (2, 5, 3)).view(),
        &Mask::None,
    );
}

#[test]
#[should_panic(expected = "they must have the same number of keys (Tk)")]
fn keys_and_values_must_agree() {
    let mut rng = Rng::new(5);
    attention(
        arr3(&mut rng, (1, 3, 4)).view(),
        arr3(&mut rng, (1, 5, 4)).view(),
        arr3(&mut rng, (1, 4, 2)).view(),
        &Mask::None,
    );
}
