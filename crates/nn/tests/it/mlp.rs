use ndarray::Array2;
use tfs_math::{GradCheck, Rng};
use tfs_nn::params::{gradcheck, Params};
use tfs_nn::{Activation, Adam, Init, Mlp, Optimizer, Workspace};

/// Checks every weight and bias gradient of a small MLP against finite differences.
fn check_mlp(act: Activation, sizes: &[usize], seed: u64) {
    let mut rng = Rng::new(seed);
    let mut mlp: Mlp<f64> = Mlp::new(sizes, act, Init::XavierNormal, &mut rng);
    let b = 5;
    let x = Array2::from_shape_vec((b, sizes[0]), rng.normal_vec(b * sizes[0], 1.0)).unwrap();
    let targets: Vec<usize> = (0..b).map(|_| rng.below(*sizes.last().unwrap())).collect();
    let report = gradcheck(&GradCheck::default(), &mut mlp, |m| {
        let mut ws = Workspace::default();
        let mut grads = m.zero_grads();
        let loss = m.loss_and_grads(x.view(), &targets, &mut ws, &mut grads);
        (loss, grads)
    });
    assert_eq!(report.checked, mlp.num_params());
    report.assert_below(1e-6);
}

#[test]
fn backprop_matches_finite_differences_for_every_smooth_activation() {
    for (i, act) in [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
        Activation::Identity,
    ]
    .into_iter()
    .enumerate()
    {
        check_mlp(act, &[3, 4, 5, 3], i as u64);
    }
}

#[test]
fn backprop_matches_finite_differences_for_relu_away_from_kinks() {
    // With random inputs no pre-activation lands within ε of 0 (the check would straddle the kink).
    check_mlp(Activation::Relu, &[4, 6, 3], 11);
    check_mlp(Activation::LeakyRelu(0.1), &[4, 6, 3], 12);
    check_mlp(Activation::Relu, &[2, 3], 13); // a single layer: softmax regression
}

#[test]
fn batched_forward_equals_one_row_at_a_time() {
    let mut rng = Rng::new(3);
    let mlp: Mlp<f32> = Mlp::new(&[5, 7, 3], Activation::Tanh, Init::XavierUniform, &mut rng);
    let x = Array2::from_shape_vec((4, 5), rng.uniform_vec_f32(20, -1.0, 1.0)).unwrap();
    let all = mlp.forward(x.view());
    for i in 0..4 {
        let one = mlp.forward(x.slice(ndarray::s![i..i + 1, ..]));
        for j in 0..3 {
            assert!((one[[0, j]] - all[[i, j]]).abs() < 1e-6);
        }
    }
}

#[test]
fn learns_xor_with_one_hidden_layer() {
    let mut rng = Rng::new(4);
    let mut mlp: Mlp<f64> = Mlp::new(&[2, 4, 2], Activation::Tanh, Init::XavierNormal, &mut rng);
    let x = Array2::from_shape_vec((4, 2), vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap();
    let y = [0, 1, 1, 0];
    let mut opt = Adam::new(0.05);
    let (mut ws, mut grads) = (Workspace::default(), mlp.zero_grads());
    let mut loss = f64::INFINITY;
    for _ in 0..500 {
        loss = mlp.loss_and_grads(x.view(), &y, &mut ws, &mut grads);
        opt.step(&mut mlp, &grads);
    }
    assert!(loss < 0.05, "loss {loss}");
    assert_eq!(mlp.predict(x.view()), vec![0, 1, 1, 0]);
}

#[test]
fn parameters_are_named_like_layers() {
    let mut rng = Rng::new(7);
    let mlp: Mlp<f32> = Mlp::new(&[3, 4, 2], Activation::Relu, Init::HeNormal, &mut rng);
    assert_eq!(
        mlp.param_names(),
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias"
        ]
    );
    assert_eq!(mlp.num_params(), 3 * 4 + 4 + 4 * 2 + 2);
    let g = mlp.zero_grads();
    assert_eq!(g.get("layers.1.weight").shape(), &[4, 2]);
}

#[test]
#[should_panic(expected = "input is (2, 3), the network takes 4 features")]
fn wrong_input_width_names_the_shapes() {
    let mut rng = Rng::new(5);
    let mlp: Mlp<f32> = Mlp::new(&[4, 2], Activation::Relu, Init::HeNormal, &mut rng);
    mlp.forward(Array2::zeros((2, 3)).view());
}

#[test]
fn initialisers_have_the_stated_scale() {
    let mut rng = Rng::new(6);
    for init in [
        Init::XavierUniform,
        Init::XavierNormal,
        Init::HeNormal,
        Init::HeUniform,
        Init::Normal(0.5),
    ] {
        let w: Array2<f64> = init.matrix(300, 200, &mut rng);
        let std = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
        let want = init.std(300, 200);
        assert!(
            (std / want - 1.0).abs() < 0.02,
            "{}: {std} vs {want}",
            init.name()
        );
    }
}

#[test]
fn a_wrong_gradient_is_reported_by_its_name() {
    let mut rng = Rng::new(8);
    let mut mlp: Mlp<f64> = Mlp::new(&[3, 4, 2], Activation::Tanh, Init::XavierNormal, &mut rng);
    let x = Array2::from_shape_vec((2, 3), rng.normal_vec(6, 1.0)).unwrap();
    let report = gradcheck(&GradCheck::default(), &mut mlp, |m| {
        let mut ws = Workspace::default();
        let mut grads = m.zero_grads();
        let loss = m.loss_and_grads(x.view(), &[0, 1], &mut ws, &mut grads);
        grads.get_mut("layers.1.bias")[[0]] *= 1.05; // a planted 5% error
        (loss, grads)
    });
    let err = std::panic::catch_unwind(|| report.assert_below(1e-6)).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("tensor 'layers.1.bias'"), "{msg}");
}

#[test]
#[should_panic(expected = "Grads: no tensor 'layers.9.weight'")]
fn a_missing_gradient_name_is_named() {
    let mut rng = Rng::new(9);
    let mlp: Mlp<f32> = Mlp::new(&[3, 2], Activation::Relu, Init::HeNormal, &mut rng);
    mlp.zero_grads().mat_mut("layers.9.weight");
}

#[test]
fn sequence_accuracy_counts_exact_sequences_and_tokens() {
    let preds = vec![vec![1, 2, 3], vec![1, 9], vec![]];
    let wants: Vec<&[usize]> = vec![&[1, 2, 3], &[1, 2, 3], &[4]];
    let (exact, token) = tfs_nn::train::sequence_accuracy(&preds, wants);
    assert_eq!(exact, 1.0 / 3.0);
    assert_eq!(token, 4.0 / 7.0); // 3 + 1 + 0 right of 3 + 3 + 1
}
