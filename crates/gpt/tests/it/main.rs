//! tfs-gpt's tests: the model's gradient, causality, the four sampling rules, checkpoints, presets,
//! and that training learns; the bounded fuzz run of the checkpoint and shard readers (fuzz.rs);
//! Hugging Face interop against transformers (hf.rs, with a stand-in hub in hub_server.rs); token
//! shards and `prepare` (shards.rs); accumulation and bit-identical resume (resume.rs); the Phase 9
//! switches and the KV cache (modern.rs); DPO (dpo.rs).

mod dpo;
mod fuzz;
mod hf;
mod hub_server;
mod modern;
#[path = "../../../../fuzz/mutate.rs"]
mod mutate;
mod resume;
mod shards;

use tfs_gpt::checkpoint::{load, read_safetensors, safetensors_bytes, save};
use tfs_gpt::data::{batch, CharVocab, Split};
use tfs_gpt::sample::{choose, generate, Sampling};
use tfs_gpt::{Gpt, GptConfig, Preset};
use tfs_math::gradcheck::GradCheck;
use tfs_math::Rng;
use tfs_tensor::nn::Module;

pub fn tiny() -> GptConfig {
    GptConfig {
        n_layer: 2,
        n_head: 2,
        n_embd: 8,
        block_size: 6,
        vocab_size: 7,
        dropout: 0.0,
        bias: true,
        n_kv_head: 2,
        ..GptConfig::default()
    }
}

#[test]
fn the_loss_gradient_matches_central_differences() {
    check_loss_gradient(tiny(), 2e-2);
}

/// Central differences of the training loss of a `cfg` model against its backward pass, on
/// every parameter tensor (4 entries each).
pub fn check_loss_gradient(cfg: GptConfig, tol: f64) {
    let m = Gpt::new(cfg, &mut Rng::new(1));
    // Larger weights than GPT-2's init so that every path carries a visible gradient.
    for (_, p) in m.parameters() {
        let v: Vec<f32> = Rng::new(p.numel() as u64).uniform_vec_f32(p.numel(), -0.5, 0.5);
        if p.dims() >= 2 {
            p.assign(&v);
        }
    }
    let (x, y) = batch(
        &[0, 3, 1, 4, 1, 5, 2, 6, 5, 3, 5, 0],
        2,
        5,
        &mut Rng::new(2),
    );
    check_gradient(&m, |m| m.loss(&x, &y, 2, 5), 3, tol);
}

/// Central differences of `loss(model)` against its backward pass, on every parameter tensor of
/// `m` (4 entries each, chosen from `seed`): max relative error below `tol`.
pub fn check_gradient(m: &Gpt, loss: impl Fn(&Gpt) -> tfs_tensor::Tensor, seed: u64, tol: f64) {
    let params = m.parameters();
    let theta: Vec<Vec<f64>> = params
        .iter()
        .map(|(_, p)| p.to_vec().iter().map(|&v| v as f64).collect())
        .collect();
    let cfg = GradCheck {
        eps: 5e-3,
        floor: 1e-2,
        max_per_tensor: Some(4),
        seed,
    };
    let report = cfg.run(&theta, |th| {
        for ((_, p), v) in params.iter().zip(th) {
            p.assign(&v.iter().map(|&x| x as f32).collect::<Vec<_>>());
        }
        let l = loss(m);
        let g = l.backward();
        let grads = params
            .iter()
            .map(|(_, p)| {
                g.get_or_zeros(p)
                    .to_vec()
                    .iter()
                    .map(|&v| v as f64)
                    .collect()
            })
            .collect();
        (l.item() as f64, grads)
    });
    report.assert_below(tol);
}

#[test]
fn a_position_never_sees_the_future() {
    let m = Gpt::new(tiny(), &mut Rng::new(4));
    let a = m.forward(&[1, 2, 3, 4, 5, 6], 1, 6).to_vec();
    let b = m.forward(&[1, 2, 3, 0, 0, 0], 1, 6).to_vec();
    let v = 7;
    assert_eq!(
        a[..3 * v],
        b[..3 * v],
        "logits of positions 0-2 depend only on tokens 0-2"
    );
    assert_ne!(a[3 * v..], b[3 * v..]);
}

#[test]
fn names_follow_gpt2() {
    let names: Vec<String> = Gpt::new(tiny(), &mut Rng::new(0))
        .parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for want in [
        "transformer.wte.weight",
        "transformer.wpe.weight",
        "transformer.h.1.attn.c_attn.weight",
        "transformer.h.0.mlp.c_proj.bias",
        "transformer.ln_f.weight",
    ] {
        assert!(names.iter().any(|n| n == want), "no '{want}' in {names:?}");
    }
    let no_bias = Gpt::new(
        GptConfig {
            bias: false,
            ..tiny()
        },
        &mut Rng::new(0),
    );
    assert!(no_bias
        .parameters()
        .iter()
        .all(|(n, _)| !n.ends_with(".bias")));
}

#[test]
fn sampling_rules() {
    let z = [1.0f32, 3.0, 2.0, -1.0];
    let mut rng = Rng::new(5);
    assert_eq!(
        choose(
            &z,
            &Sampling {
                greedy: true,
                ..Sampling::default()
            },
            &mut rng
        ),
        1
    );
    let top1 = Sampling {
        top_k: Some(1),
        ..Sampling::default()
    };
    assert!(
        (0..50).all(|_| choose(&z, &top1, &mut rng) == 1),
        "top-1 is greedy"
    );
    let nucleus = Sampling {
        top_p: Some(0.5),
        ..Sampling::default()
    };
    assert!(
        (0..50).all(|_| choose(&z, &nucleus, &mut rng) == 1),
        "p(1) = 0.66 ≥ 0.5: the nucleus is token 1 alone"
    );
    let top2 = Sampling {
        top_k: Some(2),
        ..Sampling::default()
    };
    assert!((0..200).all(|_| matches!(choose(&z, &top2, &mut rng), 1 | 2)));
    // Frequencies follow softmax(z / τ).
    for tau in [0.5f32, 1.0, 2.0] {
        let s = Sampling {
            temperature: tau,
            ..Sampling::default()
        };
        let n = 20000;
        let mut counts = [0usize; 4];
        (0..n).for_each(|_| counts[choose(&z, &s, &mut rng)] += 1);
        let e: Vec<f64> = z.iter().map(|&v| ((v / tau) as f64).exp()).collect();
        let tot: f64 = e.iter().sum();
        for i in 0..4 {
            let (p, f) = (e[i] / tot, counts[i] as f64 / n as f64);
            assert!(
                (p - f).abs() < 4.0 * (p * (1.0 - p) / n as f64).sqrt() + 1e-3,
                "τ = {tau}, token {i}: {f} vs {p}"
            );
        }
    }
}

#[test]
fn generation_is_reproducible_from_the_seed() {
    let m = Gpt::new(tiny(), &mut Rng::new(6));
    let s = Sampling {
        temperature: 0.8,
        top_k: Some(5),
        top_p: Some(0.9),
        greedy: false,
    };
    let a = generate(&m, &[1, 2], 12, &s, &mut Rng::new(9));
    let b = generate(&m, &[1, 2], 12, &s, &mut Rng::new(9));
    assert_eq!(a, b);
    assert_eq!(a.len(), 14, "longer than the context: the window slides");
}

#[test]
fn checkpoints_round_trip_and_reject_corruption() {
    let dir = std::env::temp_dir().join(format!("tfs-gpt-ckpt-{}", std::process::id()));
    let vocab = tfs_gpt::Vocab::Char(CharVocab::from_text("abcdefg"));
    let m = Gpt::new(tiny(), &mut Rng::new(7));
    save(&dir, &m, &vocab).unwrap();
    let first = std::fs::read(dir.join("model.safetensors")).unwrap();
    save(&dir, &m, &vocab).unwrap();
    assert_eq!(
        first,
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        "the same weights give the same bytes"
    );
    let (back, v2) = load(&dir).unwrap();
    assert_eq!(v2.to_json(), vocab.to_json());
    assert_eq!(
        back.forward(&[0, 1, 2], 1, 3).to_vec(),
        m.forward(&[0, 1, 2], 1, 3).to_vec()
    );
    // Every tensor is read back exactly.
    let t = read_safetensors(&dir.join("model.safetensors")).unwrap();
    assert_eq!(t.len(), m.parameters().len());
    // Corruptions: truncated data, a header claiming more than the file, a wrong shape.
    let path = dir.join("model.safetensors");
    std::fs::write(&path, &first[..first.len() - 4]).unwrap();
    let e = load(&dir).err().expect("truncated").to_string();
    assert!(
        e.contains("data_offsets") && e.contains("model.safetensors"),
        "{e}"
    );
    let mut big = first.clone();
    big[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    std::fs::write(&path, &big).unwrap();
    assert!(load(&dir)
        .err()
        .expect("huge header")
        .to_string()
        .contains("header of"));
    let mut one = std::collections::BTreeMap::new();
    one.insert(
        "transformer.wte.weight".to_string(),
        (vec![2, 2], vec![0.0f32; 4]),
    );
    std::fs::write(&path, safetensors_bytes(&one)).unwrap();
    assert!(load(&dir)
        .err()
        .expect("wrong shape")
        .to_string()
        .contains("shape"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn presets_and_overrides_are_checked() {
    let mut p = Preset::get("baby").unwrap();
    assert_eq!(
        (
            p.model.n_layer,
            p.model.n_head,
            p.model.n_embd,
            p.model.block_size,
            p.train.batch_size
        ),
        (4, 4, 128, 64, 12)
    );
    assert!(Preset::get("nope").is_none());
    p.set("n_layer=2").unwrap();
    assert_eq!(p.model.n_layer, 2);
    // Sizes are checked together, once every override is in: either order works.
    p.set("n_head=3").unwrap();
    assert!(p.validate().unwrap_err().contains("divisible"));
    p.set("n_embd=96").unwrap();
    p.validate().unwrap();
    assert!(p.set("colour=blue").unwrap_err().contains("unknown key"));
    assert!(p.set("lr").unwrap_err().contains("key=value"));
    assert!(Split::new((0..50).collect(), 64)
        .unwrap_err()
        .contains("too short"));
}

#[test]
fn training_learns_a_repeating_text() {
    let text: String = "the cat sat on the mat. ".repeat(120);
    let mut p = Preset::get("baby").unwrap();
    for kv in [
        "n_layer=2",
        "n_embd=32",
        "n_head=2",
        "block_size=16",
        "batch_size=8",
        "max_iters=150",
        "lr_decay_iters=150",
        "warmup=10",
        "lr=3e-3",
        "eval_iters=4",
        "eval_interval=50",
        "sample_interval=0",
    ] {
        p.set(kv).unwrap();
    }
    let r = tfs_gpt::train::train(&text, &p, 0, None, false).unwrap();
    let first = r.losses[0];
    assert!(first > 2.0, "starts near ln(vocab): {first}");
    assert!(
        r.val_loss < 0.3,
        "a 24-character cycle is learned: val loss {}",
        r.val_loss
    );
    assert_eq!(r.evals.len(), 3);
}

#[test]
fn parameter_counts_follow_the_formula() {
    // V·C + T·C + L·(12C² + 13C) + 2C
    let count = |c: &GptConfig| {
        let (v, t, l, d) = (c.vocab_size, c.block_size, c.n_layer, c.n_embd);
        v * d + t * d + l * (12 * d * d + 13 * d) + 2 * d
    };
    for name in ["baby", "1m"] {
        let mut cfg = Preset::get(name).unwrap().model;
        cfg.vocab_size = 65;
        assert_eq!(
            Gpt::new(cfg, &mut Rng::new(0)).num_parameters(),
            count(&cfg),
            "{name}"
        );
    }
    assert_eq!(count(&Preset::get("gpt2-124m").unwrap().model), 124_439_808);
    let mut c50 = Preset::get("50m").unwrap().model;
    c50.vocab_size = 65;
    assert_eq!(count(&c50), 47_789_632);
}
