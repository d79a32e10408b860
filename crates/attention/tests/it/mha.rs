use crate::{arr3, check};
use tfs_attention::mha::MultiHead;
use tfs_attention::sdpa::Mask;
use tfs_math::Rng;

#[test]
fn batched_heads_equal_the_loop_reference() {
    let mut rng = Rng::new(1);
    for &(b, t, d, h) in &[(1, 1, 2, 1), (2, 5, 6, 3), (3, 4, 8, 2)] {
        let m: MultiHead<f64> = MultiHead::new(d, h, &mut rng);
        let x = arr3(&mut rng, (b, t, d));
        for mask in [Mask::None, Mask::Causal] {
            let (y1, c) = m.forward(x.view(), &mask);
            let (y2, w) = m.forward_reference(x.view(), &mask);
            assert!((&y1 - &y2).iter().all(|e| e.abs() < 1e-12));
            for (hc, hw) in c.heads.iter().zip(&w) {
                assert!((&hc.weights - hw).iter().all(|e| e.abs() < 1e-12));
            }
        }
    }
}

#[test]
fn backward_matches_finite_differences() {
    let mut rng = Rng::new(2);
    let (b, t, d, h) = (2, 4, 6, 3);
    let mut m: MultiHead<f64> = MultiHead::new(d, h, &mut rng);
    let r = arr3(&mut rng, (b, t, d));
    let mut init: Vec<Vec<f64>> = m
        .params()
        .iter()
        .map(|p| p.iter().copied().collect())
        .collect();
    init.push(rng.normal_vec(b * t * d, 1.0));
    check()
        .run(&init, |p| {
            for (dst, src) in m.params_mut().into_iter().zip(p) {
                dst.as_slice_mut().unwrap().copy_from_slice(src);
            }
            let x = ndarray::Array3::from_shape_vec((b, t, d), p[4].clone()).unwrap();
            let (y, c) = m.forward(x.view(), &Mask::Causal);
            let mut grads: Vec<_> = m
                .params()
                .iter()
                .map(|p| ndarray::Array2::zeros(p.dim()))
                .collect();
            let dx = m.backward(r.view(), &c, &mut grads);
            let mut g: Vec<Vec<f64>> = grads.iter().map(|g| g.iter().copied().collect()).collect();
            g.push(dx.iter().copied().collect());
            ((&y * &r).sum(), g)
        })
        .assert_below(1e-6);
}

#[test]
#[should_panic(expected = "model width 10 must be a multiple of the 4 heads")]
fn heads_must_divide_the_width() {
    MultiHead::<f32>::new(10, 4, &mut Rng::new(0));
}
