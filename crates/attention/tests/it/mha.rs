use crate::{arr3, check};
use ndarray::Ix3;
use tfs_attention::mha::MultiHead;
use tfs_attention::sdpa::Mask;
use tfs_math::Rng;
use tfs_nn::params::{gradcheck, WithInputs};
use tfs_nn::{Grads, Params};

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
    let x = arr3(&mut rng, (b, t, d));
    let mut w = WithInputs::new(&mut m, vec![("x", x)]);
    gradcheck(&check(), &mut w, |w| {
        let x = w.input::<Ix3>("x");
        let (y, c) = w.model.forward(x.view(), &Mask::Causal);
        let mut grads = Grads::zeros_like(&*w.model);
        let dx = w.model.backward(r.view(), &c, &mut grads);
        let mut g = grads.nest("model");
        g.insert("x", dx.into_dyn());
        ((&y * &r).sum(), g)
    })
    .assert_below(1e-6);
}

#[test]
fn projections_are_named() {
    let m: MultiHead<f32> = MultiHead::new(4, 2, &mut Rng::new(3));
    assert_eq!(m.param_names(), ["w_q", "w_k", "w_v", "w_o"]);
}

#[test]
#[should_panic(expected = "model width 10 must be a multiple of the 4 heads")]
fn heads_must_divide_the_width() {
    MultiHead::<f32>::new(10, 4, &mut Rng::new(0));
}
