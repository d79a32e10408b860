use crate::{check, mat, max_abs_diff};
use ndarray::{Array1, Array2, Array3, Ix2};
use tfs_attention::mha::MultiHead;
use tfs_attention::sdpa::Mask;
use tfs_math::Rng;
use tfs_nn::params::{gradcheck, WithInputs};
use tfs_nn::{Activation, Grads, Params};
use tfs_transformer::attention::Mha;
use tfs_transformer::ffn::Ffn;
use tfs_transformer::layernorm::LayerNorm;

fn flat(a: &Array2<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}

#[test]
fn layernorm_forward_equals_the_row_by_row_definition() {
    let mut rng = Rng::new(1);
    let mut ln: LayerNorm<f64> = LayerNorm::new(5);
    ln.gamma = Array1::from(rng.normal_vec(5, 1.0));
    ln.beta = Array1::from(rng.normal_vec(5, 1.0));
    let x = mat(&mut rng, 7, 5) * 3.0;
    let (y, _) = ln.forward(x.view());
    assert!(max_abs_diff(&flat(&y), &flat(&ln.forward_reference(x.view()))) < 1e-12);
}

#[test]
fn layernorm_backward_matches_finite_differences() {
    let mut rng = Rng::new(2);
    let mut ln: LayerNorm<f64> = LayerNorm::new(6);
    ln.gamma = Array1::from(rng.normal_vec(6, 1.0));
    ln.beta = Array1::from(rng.normal_vec(6, 1.0));
    let x = mat(&mut rng, 4, 6) * 2.0;
    let r = mat(&mut rng, 4, 6);
    let mut w = WithInputs::new(&mut ln, vec![("x", x)]);
    gradcheck(&check(), &mut w, |w| {
        let x = w.input::<Ix2>("x");
        let (y, c) = w.model.forward(x.view());
        let mut g = Grads::zeros_like(&*w.model);
        let dx = w.model.backward(r.view(), &c, &mut g);
        let mut g = g.nest("model");
        g.insert("x", dx.into_dyn());
        ((&y * &r).sum(), g)
    })
    .assert_below(1e-6);
}

#[test]
fn ffn_backward_matches_finite_differences_with_relu_and_gelu() {
    for act in [Activation::Relu, Activation::Gelu] {
        let mut rng = Rng::new(3);
        let mut f: Ffn<f64> = Ffn::new(4, 7, act, &mut rng);
        f.b1 = Array1::from(rng.normal_vec(7, 0.5));
        f.b2 = Array1::from(rng.normal_vec(4, 0.5));
        let x = mat(&mut rng, 5, 4);
        let r = mat(&mut rng, 5, 4);
        let mut w = WithInputs::new(&mut f, vec![("x", x)]);
        gradcheck(&check(), &mut w, |w| {
            let x = w.input::<Ix2>("x");
            let (y, c) = w.model.forward(x.view());
            let mut g = Grads::zeros_like(&*w.model);
            let dx = w.model.backward(r.view(), &c, &mut g);
            let mut g = g.nest("model");
            g.insert("x", dx.into_dyn());
            ((&y * &r).sum(), g)
        })
        .assert_below(1e-6);
    }
}

/// With zero biases and the same weights, our batched heads equal Phase 4's loop reference.
#[test]
fn attention_equals_the_phase4_loop_reference() {
    let mut rng = Rng::new(4);
    for &(b, t, d, h) in &[(1, 1, 2, 1), (2, 5, 6, 3), (3, 4, 8, 2)] {
        let m: Mha<f64> = Mha::new(d, h, &mut rng);
        let reference = MultiHead {
            w_q: m.w_q.clone(),
            w_k: m.w_k.clone(),
            w_v: m.w_v.clone(),
            w_o: m.w_o.clone(),
            heads: h,
        };
        let x = mat(&mut rng, b * t, d);
        let lens: Vec<usize> = (0..b).map(|i| 1 + (i * 2) % t).collect();
        for mask in [
            Mask::None,
            Mask::Causal,
            Mask::Padding(lens.clone()),
            Mask::CausalPadding(lens),
        ] {
            let (y, c) = m.forward(x.view(), x.view(), b, &mask);
            let x3 = x.clone().into_shape_with_order((b, t, d)).unwrap();
            let (want, weights) = reference.forward_reference(x3.view(), &mask);
            let d1 = max_abs_diff(&flat(&y), &want.iter().copied().collect::<Vec<_>>());
            assert!(d1 < 1e-12, "{mask:?}: {d1}");
            for (hi, w) in weights.iter().enumerate() {
                let ours: Array3<f64> = c.p.index_axis(ndarray::Axis(1), hi).to_owned();
                assert!(
                    (&ours - w).iter().all(|e| e.abs() < 1e-12),
                    "{mask:?} head {hi}"
                );
            }
        }
    }
}

#[test]
fn self_and_cross_attention_backward_match_finite_differences() {
    let (b, tq, tk, d, h) = (2, 4, 3, 6, 2);
    for cross in [false, true] {
        let mut rng = Rng::new(5);
        let mut m: Mha<f64> = Mha::new(d, h, &mut rng);
        for bias in [&mut m.b_q, &mut m.b_k, &mut m.b_v, &mut m.b_o] {
            *bias = Array1::from(rng.normal_vec(d, 0.5));
        }
        let xq = mat(&mut rng, b * tq, d);
        let xkv = mat(&mut rng, b * tk, d);
        let r = mat(&mut rng, b * tq, d);
        let mask = if cross {
            Mask::Padding(vec![3, 2])
        } else {
            Mask::CausalPadding(vec![4, 2])
        };
        let mut w = WithInputs::new(&mut m, vec![("xq", xq), ("xkv", xkv)]);
        gradcheck(&check(), &mut w, |w| {
            let xq = w.input::<Ix2>("xq");
            let xkv = if cross {
                w.input::<Ix2>("xkv")
            } else {
                xq.clone()
            };
            let (y, c) = w.model.forward(xq.view(), xkv.view(), b, &mask);
            let mut g = Grads::zeros_like(&*w.model);
            let (dq, dkv) = w.model.backward(r.view(), &c, &mut g);
            let mut g = g.nest("model");
            if cross {
                g.insert("xq", dq.into_dyn());
                g.insert("xkv", dkv.into_dyn());
            } else {
                g.insert("xq", (dq + &dkv).into_dyn());
                g.insert("xkv", Array2::<f64>::zeros((b * tk, d)).into_dyn());
            }
            ((&y * &r).sum(), g)
        })
        .assert_below(1e-6);
    }
}

#[test]
fn every_phase4_mask_is_a_prefix_of_the_keys() {
    let lens = vec![0, 3, 7];
    for mask in [
        Mask::None,
        Mask::Causal,
        Mask::Padding(lens.clone()),
        Mask::CausalPadding(lens),
    ] {
        for b in 0..3 {
            for i in 0..6 {
                let n = tfs_transformer::attention::visible(&mask, b, i, 5);
                for j in 0..5 {
                    assert_eq!(j < n, mask.allows(b, i, j), "{mask:?} b={b} i={i} j={j}");
                }
            }
        }
    }
}

#[test]
fn attention_parameters_are_named_with_their_biases() {
    let m: Mha<f32> = Mha::new(4, 2, &mut Rng::new(0));
    assert_eq!(
        m.param_names(),
        ["w_q", "b_q", "w_k", "b_k", "w_v", "b_v", "w_o", "b_o"]
    );
}

#[test]
#[should_panic(expected = "Mha: queries are (6, 5)")]
fn attention_asserts_name_the_shapes() {
    let m: Mha<f64> = Mha::new(4, 2, &mut Rng::new(0));
    let x = Array2::zeros((6, 5));
    m.forward(x.view(), x.view(), 2, &Mask::None);
}
