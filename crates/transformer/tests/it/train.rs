use tfs_math::Rng;
use tfs_transformer::train::{evaluate, train, Recipe};
use tfs_transformer::{Config, Task, Transformer};

#[test]
fn the_words_task_is_a_real_translation() {
    let t = Task::Words;
    assert_eq!(t.render(&t.target(&[4, 0, 7])), "four zero seven");
    assert_eq!(
        Task::Reverse.render(&Task::Reverse.target(&[1, 2, 3])),
        "3 2 1"
    );
    assert_eq!(t.tgt_vocab(), Task::chars().len() + 2);
}

/// A small model learns to copy short sequences in a few hundred steps (f32, ~seconds).
#[test]
fn a_small_model_learns_to_copy() {
    let task = Task::Copy;
    let mut rng = Rng::new(3);
    let cfg = Config {
        d: 32,
        heads: 2,
        ffn: 64,
        enc_layers: 1,
        dec_layers: 1,
        ..Config::small(10, task.tgt_vocab())
    };
    let mut m: Transformer<f32> = Transformer::new(cfg, &mut rng);
    let r = Recipe {
        lr: 3e-3,
        warmup: 30,
        ..Recipe::new(300, 32, (2, 5))
    };
    let log = train(&mut m, task, &r, &mut rng, &mut |_, _, _| {});
    assert!(log.diverged_at.is_none());
    let first: f64 = log.losses[..10].iter().sum::<f64>() / 10.0;
    let last: f64 = log.losses[log.losses.len() - 10..].iter().sum::<f64>() / 10.0;
    assert!(last < 0.2 * first, "loss {first} → {last}");
    let ev = evaluate(&m, task, &task.test_set(&[3, 5], 50, 1));
    assert!(ev.iter().all(|&(_, e, _)| e > 0.8), "exact match {ev:?}");
}
