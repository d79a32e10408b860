use ndarray::{ArrayD, IxDyn};
use tfs_nn::optim::{Adam, Momentum, Optimizer, Sgd};
use tfs_nn::schedule::*;
use tfs_nn::Grads;

/// A one-tensor "model" named `name` holding `values` (a `Grads` tree is itself `Params`).
fn tensor(name: &str, values: &[f64]) -> Grads<f64> {
    let mut g = Grads::new();
    g.insert(
        name,
        ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap(),
    );
    g
}

fn values(g: &Grads<f64>, name: &str) -> Vec<f64> {
    g.get(name).iter().copied().collect()
}

/// Minimises f(θ) = ½ Σ a_i θ_i² (an ill-conditioned bowl) from θ = 1 and returns the final f.
fn minimise(opt: &mut dyn Optimizer<f64>, steps: usize) -> f64 {
    let a = [1.0, 10.0, 0.1];
    let mut model = tensor("theta", &[1.0; 3]);
    for _ in 0..steps {
        let theta = values(&model, "theta");
        let g: Vec<f64> = theta.iter().zip(&a).map(|(t, a)| a * t).collect();
        opt.step(&mut model, &tensor("theta", &g));
    }
    let theta = values(&model, "theta");
    0.5 * theta.iter().zip(&a).map(|(t, a)| a * t * t).sum::<f64>()
}

#[test]
fn every_optimizer_descends_the_bowl() {
    let start = 0.5 * 11.1;
    let results = [
        ("sgd", minimise(&mut Sgd { lr: 0.05 }, 300)),
        (
            "momentum",
            minimise(&mut Momentum::new(0.05, 0.9, false), 300),
        ),
        (
            "nesterov",
            minimise(&mut Momentum::new(0.05, 0.9, true), 300),
        ),
        ("adam", minimise(&mut Adam::new(0.05), 300)),
    ];
    for (name, f) in results {
        assert!(f < 0.01 * start, "{name}: {f}");
    }
    // Momentum beats plain SGD on the slow (a = 0.1) direction.
    assert!(results[1].1 < results[0].1);
}

#[test]
fn one_step_by_hand() {
    // SGD: θ = 1 − 0.1·2
    let mut m = tensor("t", &[1.0]);
    Sgd { lr: 0.1 }.step(&mut m, &tensor("t", &[2.0]));
    let t = values(&m, "t");
    assert!((t[0] - 0.8).abs() < 1e-15);
    // Nesterov, two steps with g = 1, μ = 0.5, η = 1: v₁ = 1, step g + μv = 1.5; v₂ = 1.5, step 1.75.
    let mut m = tensor("t", &[0.0]);
    let mut opt = Momentum::new(1.0, 0.5, true);
    opt.step(&mut m, &tensor("t", &[1.0]));
    opt.step(&mut m, &tensor("t", &[1.0]));
    let t = values(&m, "t");
    assert!((t[0] + 3.25).abs() < 1e-15, "{}", t[0]);
    // Adam's first step moves every coordinate by ≈ η whatever the gradient's scale.
    let mut m = tensor("t", &[0.0, 0.0]);
    Adam::new(0.01).step(&mut m, &tensor("t", &[1e-3, 1e3]));
    let t = values(&m, "t");
    assert!(
        (t[0] + 0.01).abs() < 1e-6 && (t[1] + 0.01).abs() < 1e-9,
        "{t:?}"
    );
}

#[test]
fn adamw_decays_weights_without_gradient() {
    let mut m = tensor("t", &[2.0]);
    let mut opt = Adam::adamw(0.1, 0.5);
    opt.step(&mut m, &tensor("t", &[0.0]));
    let t = values(&m, "t");
    assert!((t[0] - 2.0 * (1.0 - 0.05)).abs() < 1e-12, "{}", t[0]);
    let mut m = tensor("t", &[2.0]);
    Adam::new(0.1).step(&mut m, &tensor("t", &[0.0]));
    assert_eq!(values(&m, "t")[0], 2.0);
}

#[test]
fn schedules() {
    assert_eq!(constant(0.1, 1000), 0.1);
    assert!((step_decay(1.0, 0.5, 10, 25) - 0.25).abs() < 1e-15);
    // Warmup rises linearly, the peak is lr, the middle is the mean, the end is min_lr.
    assert!((cosine_with_warmup(1.0, 0.0, 10, 110, 0) - 0.1).abs() < 1e-15);
    assert!((cosine_with_warmup(1.0, 0.0, 10, 110, 10) - 1.0).abs() < 1e-15);
    assert!((cosine_with_warmup(1.0, 0.1, 10, 110, 60) - 0.55).abs() < 1e-12);
    assert_eq!(cosine_with_warmup(1.0, 0.1, 10, 110, 500), 0.1);
}

#[test]
fn clipping_caps_the_global_norm_and_keeps_direction() {
    use tfs_nn::optim::clip_grad_norm;
    let mut g = tensor("a", &[3.0]);
    g.insert("layer.b", ArrayD::from_elem(IxDyn(&[1]), 4.0));
    let norm = clip_grad_norm(&mut g, 1.0);
    assert_eq!(norm, 5.0);
    let (a, b) = (values(&g, "a"), values(&g, "layer.b"));
    assert!((a[0] - 0.6).abs() < 1e-15 && (b[0] - 0.8).abs() < 1e-15);
    let mut c = tensor("c", &[0.3, 0.4]);
    assert_eq!(clip_grad_norm(&mut c, 1.0), 0.5);
    assert_eq!(values(&c, "c"), vec![0.3, 0.4]);
}

#[test]
fn optimizer_state_follows_names_not_positions() {
    // Momentum on two tensors; then the same tensors visited in the other order must get the
    // same update as before: state is looked up by name.
    let mut m1 = tensor("a", &[0.0]);
    m1.insert("b", ArrayD::from_elem(IxDyn(&[1]), 0.0));
    let mut m2 = tensor("b", &[0.0]);
    m2.insert("a", ArrayD::from_elem(IxDyn(&[1]), 0.0));
    let mut g = tensor("a", &[1.0]);
    g.insert("b", ArrayD::from_elem(IxDyn(&[1]), 10.0));
    let (mut o1, mut o2) = (
        Momentum::new(1.0, 0.5, false),
        Momentum::new(1.0, 0.5, false),
    );
    for _ in 0..3 {
        o1.step(&mut m1, &g);
        o2.step(&mut m2, &g);
    }
    assert_eq!(values(&m1, "a"), values(&m2, "a"));
    assert_eq!(values(&m1, "b"), values(&m2, "b"));
    assert_eq!(values(&m1, "a"), vec![-(1.0 + 1.5 + 1.75)]);
    // One optimizer, the tensors visited in the other order on the second step: state keyed by
    // position would give `a` the velocity `b` built up.
    let mut opt = Momentum::new(1.0, 0.5, false);
    let mut ab = tensor("a", &[0.0]);
    ab.insert("b", ArrayD::from_elem(IxDyn(&[1]), 0.0));
    opt.step(&mut ab, &g);
    let mut ba = tensor("b", &values(&ab, "b"));
    ba.insert("a", ArrayD::from_elem(IxDyn(&[1]), values(&ab, "a")[0]));
    opt.step(&mut ba, &g);
    assert_eq!(values(&ba, "a"), vec![-(1.0 + 1.5)]);
    assert_eq!(values(&ba, "b"), vec![-(10.0 + 15.0)]);
}
