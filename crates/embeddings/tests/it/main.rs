//! Integration tests of tfs-embeddings.

use ndarray::{Array1, Array2};
use tfs_embeddings::embedding::{one_hot, Embedding};
use tfs_embeddings::positional::sinusoidal;
use tfs_embeddings::word2vec::{keep_probability, noise_table, sgns_loss};
use tfs_math::{gradcheck, Rng};

#[test]
fn lookup_equals_one_hot_times_the_matrix() {
    let mut rng = Rng::new(1);
    let e: Embedding<f64> = Embedding::new(7, 4, &mut rng);
    let ids = [3, 0, 6, 3];
    assert_eq!(e.forward(&ids), one_hot::<f64>(&ids, 7).dot(&e.weight));
}

#[test]
fn embedding_backward_is_a_checked_scatter_add() {
    let mut rng = Rng::new(2);
    let e: Embedding<f64> = Embedding::new(5, 3, &mut rng);
    let ids = [1, 4, 1, 0]; // id 1 twice: its gradient must collect both rows
    let r = Array2::from_shape_vec((4, 3), rng.normal_vec(12, 1.0)).unwrap();
    let mut e = e;
    let report = tfs_nn::params::gradcheck(&tfs_math::GradCheck::default(), &mut e, |e| {
        let out = e.forward(&ids);
        let loss = (&out * &r).sum();
        let mut grads = tfs_nn::Grads::zeros_like(e);
        e.backward(&ids, r.view(), &mut grads);
        (loss, grads)
    });
    assert_eq!(report.checked, 15);
    report.assert_below(1e-8);
}

#[test]
#[should_panic(expected = "Embedding: id 9 out of range for a vocabulary of 5")]
fn an_out_of_range_id_names_itself() {
    let mut rng = Rng::new(3);
    Embedding::<f32>::new(5, 2, &mut rng).forward(&[9]);
}

#[test]
fn sgns_gradients_check() {
    let mut rng = Rng::new(4);
    let d = 6;
    let p: Vec<Vec<f64>> = (0..5).map(|_| rng.normal_vec(d, 0.5)).collect();
    gradcheck(&p, |p| {
        let v = Array1::from_vec(p[0].clone());
        let up = Array1::from_vec(p[1].clone());
        let un: Vec<Array1<f64>> = p[2..].iter().map(|x| Array1::from_vec(x.clone())).collect();
        let views: Vec<_> = un.iter().map(|u| u.view()).collect();
        let (l, dv, dup, dun) = sgns_loss(v.view(), up.view(), &views);
        let mut g = vec![dv.to_vec(), dup.to_vec()];
        g.extend(dun.iter().map(|x| x.to_vec()));
        (l, g)
    })
    .assert_below(1e-7);
}

#[test]
fn noise_table_follows_the_three_quarter_power() {
    let counts = [1000u64, 100, 10];
    let t = noise_table(&counts, 100_000);
    let share = |w: u32| t.iter().filter(|&&x| x == w).count() as f64 / t.len() as f64;
    let z: f64 = counts.iter().map(|&c| (c as f64).powf(0.75)).sum();
    for (w, &c) in counts.iter().enumerate() {
        assert!((share(w as u32) - (c as f64).powf(0.75) / z).abs() < 1e-3);
    }
    // Frequent words are kept less often; words rarer than t always.
    assert!(keep_probability(0.05, 1e-3) < 0.2);
    assert!(keep_probability(1e-4, 1e-3) >= 1.0);
}

#[test]
fn positional_dot_products_depend_only_on_the_offset() {
    let pe = sinusoidal(200, 64);
    assert_eq!(pe[[0, 0]], 0.0);
    assert_eq!(pe[[0, 1]], 1.0);
    for offset in [0usize, 1, 5, 17, 60] {
        let base = pe.row(0).dot(&pe.row(offset));
        for i in [3usize, 40, 100, 130] {
            let d = pe.row(i).dot(&pe.row(i + offset));
            assert!(
                (d - base).abs() < 1e-9,
                "offset {offset} at {i}: {d} vs {base}"
            );
        }
    }
    // Every row has norm √(d/2) (sin² + cos² per pair).
    assert!((pe.row(77).dot(&pe.row(77)) - 32.0).abs() < 1e-9);
}

/// The in-place update the trainer uses is one SGD step along the gradient-checked `sgns_loss`.
#[test]
fn the_training_update_is_an_sgd_step_on_the_checked_loss() {
    use tfs_embeddings::word2vec::sgd_step;
    let mut rng = Rng::new(5);
    let d = 5;
    let v0 = rng.normal_vec(d, 0.5);
    let out0 = Array2::from_shape_vec((4, d), rng.normal_vec(4 * d, 0.5)).unwrap();
    let targets = [(2usize, 1.0f32), (0, 0.0), (3, 0.0)];
    let lr = 0.1;
    let mut v: Vec<f32> = v0.iter().map(|&x| x as f32).collect();
    let mut out = out0.mapv(|x| x as f32);
    let loss = sgd_step(&mut v, &mut out, &targets, lr, &mut Vec::new());
    let (l, dv, dup, dun) = sgns_loss(
        Array1::from(v0.clone()).view(),
        out0.row(2),
        &[out0.row(0), out0.row(3)],
    );
    assert!((loss - l).abs() < 1e-5, "{loss} vs {l}");
    for k in 0..d {
        assert!((v[k] as f64 - (v0[k] - lr as f64 * dv[k])).abs() < 1e-6);
        assert!((out[[2, k]] as f64 - (out0[[2, k]] - lr as f64 * dup[k])).abs() < 1e-6);
        assert!((out[[0, k]] as f64 - (out0[[0, k]] - lr as f64 * dun[0][k])).abs() < 1e-6);
        assert!((out[[3, k]] as f64 - (out0[[3, k]] - lr as f64 * dun[1][k])).abs() < 1e-6);
        assert_eq!(
            out[[1, k]] as f64,
            out0[[1, k]] as f32 as f64,
            "an untouched row stays"
        );
    }
}
