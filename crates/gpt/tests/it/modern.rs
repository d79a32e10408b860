//! Phase 9: every switch of `GptConfig` through the whole model — gradients by central
//! differences, the KV cache against the full forward pass, parameter counts, experts' routing.

use crate::{check_loss_gradient, tiny};
use tfs_gpt::model::KvCache;
use tfs_gpt::sample::{generate, generate_cached, Sampling};
use tfs_gpt::{Gpt, GptConfig, Mlp, Norm, Pos, Preset};
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::no_grad;

/// The tiny model with every LLaMA switch, 2 query heads over 1 kv head (MQA), and a window.
fn llama() -> GptConfig {
    GptConfig {
        pos: Pos::Rope,
        norm: Norm::RmsNorm,
        mlp: Mlp::SwiGlu,
        bias: false,
        n_kv_head: 1,
        window: 3,
        ..tiny()
    }
}

fn moe() -> GptConfig {
    GptConfig {
        n_expert: 3,
        top_k: 2,
        ..tiny()
    }
}

#[test]
fn llama_switches_gradient_matches_central_differences() {
    check_loss_gradient(llama(), 2e-2);
}

#[test]
fn each_switch_alone_gradient_matches_central_differences() {
    for cfg in [
        GptConfig {
            pos: Pos::Rope,
            ..tiny()
        },
        GptConfig {
            norm: Norm::RmsNorm,
            ..tiny()
        },
        GptConfig {
            mlp: Mlp::SwiGlu,
            ..tiny()
        },
        GptConfig {
            n_kv_head: 1,
            ..tiny()
        },
        GptConfig {
            window: 2,
            ..tiny()
        },
    ] {
        check_loss_gradient(cfg, 2e-2);
    }
}

#[test]
fn flash_attention_gives_the_naive_models_loss_and_gradients() {
    use tfs_gpt::AttnKernel;
    for base in [tiny(), llama()] {
        let naive = Gpt::new(base, &mut Rng::new(4));
        let flash = Gpt::new(
            GptConfig {
                attn: AttnKernel::Flash,
                ..base
            },
            &mut Rng::new(4),
        );
        let idx: Vec<usize> = (0..12).map(|i| (i * 5 + 2) % 7).collect();
        let tgt: Vec<usize> = (0..12).map(|i| (i * 3 + 1) % 7).collect();
        let (ln, lf) = (naive.loss(&idx, &tgt, 2, 6), flash.loss(&idx, &tgt, 2, 6));
        assert!((ln.item() - lf.item()).abs() < 1e-5);
        let (gn, gf) = (ln.backward(), lf.backward());
        for ((name, a), (_, b)) in naive.parameters().iter().zip(flash.parameters().iter()) {
            let (a, b) = (gn.get_or_zeros(a).to_vec(), gf.get_or_zeros(b).to_vec());
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-5 * (1.0 + y.abs()), "{name}: {x} vs {y}");
            }
        }
    }
    check_loss_gradient(
        GptConfig {
            attn: tfs_gpt::AttnKernel::Flash,
            ..llama()
        },
        2e-2,
    );
}

#[test]
fn mixture_of_experts_gradient_matches_central_differences() {
    // The loss includes the load-balancing term (training mode); central differences small
    // enough not to flip a routing decision.
    check_loss_gradient(moe(), 3e-2);
}

#[test]
fn top_1_routing_trains_the_router() {
    // With one expert per token the gate is the router's probability, so the loss (without the
    // balancing term) still reaches the router's weights.
    let cfg = GptConfig {
        n_expert: 3,
        top_k: 1,
        moe_aux: 0.0,
        ..tiny()
    };
    check_loss_gradient(cfg, 3e-2);
    let m = Gpt::new(cfg, &mut Rng::new(2));
    let idx: Vec<usize> = (0..12).map(|i| i % 7).collect();
    let g = m.loss(&idx, &idx, 2, 6).backward();
    let (_, router) = m
        .parameters()
        .into_iter()
        .find(|(n, _)| n.ends_with("mlp.router.weight"))
        .unwrap();
    assert!(g.get_or_zeros(&router).to_vec().iter().any(|&x| x != 0.0));
}

#[test]
fn experts_share_the_tokens_and_the_balance_loss_is_near_one_when_uniform() {
    let m = Gpt::new(moe(), &mut Rng::new(3));
    let idx: Vec<usize> = (0..12).map(|i| i % 7).collect();
    let _ = m.forward(&idx, 2, 6);
    let load = m.expert_load();
    assert_eq!(load.len(), 2, "one load vector per layer");
    for l in &load {
        assert_eq!(
            l.iter().sum::<usize>(),
            12 * 2,
            "each token goes to top_k experts"
        );
    }
    // E·Σ fₑPₑ ≥ 1 by Cauchy–Schwarz-like arguments is not guaranteed per batch, but with a
    // near-uniform router at init it is close to 1 per layer.
    let aux = m.moe_aux_loss().unwrap() / 2.0;
    assert!((0.8..1.3).contains(&aux), "aux per layer {aux}");
    // Parameters grow with the experts, the compute per token does not: top_k FFNs.
    let dense = Gpt::new(tiny(), &mut Rng::new(3))
        .parameters()
        .iter()
        .map(|(_, p)| p.numel())
        .sum::<usize>();
    let sparse = m.parameters().iter().map(|(_, p)| p.numel()).sum::<usize>();
    assert!(sparse > dense * 2, "{sparse} vs {dense}");
}

#[test]
fn swiglu_matches_gelus_parameters() {
    for c in [128, 384, 768] {
        let g = GptConfig {
            n_embd: c,
            n_head: 4,
            n_kv_head: 4,
            ..tiny()
        };
        let s = GptConfig {
            mlp: Mlp::SwiGlu,
            ..g
        };
        let (pg, ps) = (2 * c * g.ffn_hidden(), 3 * c * s.ffn_hidden());
        assert!(
            (ps as f64 / pg as f64 - 1.0).abs() < 0.02,
            "C={c}: {ps} vs {pg}"
        );
    }
}

#[test]
fn names_of_the_llama_model() {
    let names: Vec<String> = Gpt::new(llama(), &mut Rng::new(0))
        .parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("wpe") || n.ends_with(".bias")),
        "{names:?}"
    );
    assert!(names.contains(&"transformer.h.0.ln_1.weight".to_string()));
    // q (8) + k and v of one head (2 · 4).
    let m = Gpt::new(llama(), &mut Rng::new(0));
    assert_eq!(m.h[0].c_attn.weight.shape(), &[16, 8]);
}

/// Logits of `ids` run through a cache in pieces of `steps` equal the full forward pass.
fn cache_equals_full(cfg: GptConfig, steps: &[usize]) {
    let m = Gpt::new(cfg, &mut Rng::new(5));
    let ids: Vec<usize> = (0..steps.iter().sum::<usize>())
        .map(|i| (i * 3 + 1) % 7)
        .collect();
    let (full, cached) = no_grad(|| {
        let full = m.forward(&ids, 1, ids.len()).to_vec();
        let mut cache = KvCache::new(&m.cfg);
        let mut out = Vec::new();
        let mut at = 0;
        for &s in steps {
            out.extend(m.forward_cached(&ids[at..at + s], &mut cache).to_vec());
            at += s;
        }
        assert_eq!(cache.len(), ids.len());
        let hkv = cfg.n_kv_head;
        assert_eq!(
            cache.bytes(),
            2 * cfg.n_layer * hkv * ids.len() * cfg.head_size() * 4
        );
        (full, out)
    });
    for (i, (a, b)) in full.iter().zip(&cached).enumerate() {
        assert!((a - b).abs() < 1e-4, "{cfg:?}: logit {i}: {a} vs {b}");
    }
}

#[test]
fn the_kv_cache_gives_the_full_forward_passs_logits() {
    for cfg in [
        tiny(),
        llama(),
        GptConfig {
            n_kv_head: 1,
            ..tiny()
        },
        moe(),
    ] {
        cache_equals_full(cfg, &[3, 1, 1, 1]); // prefill 3, then one at a time
        cache_equals_full(cfg, &[1, 2, 3]);
    }
}

#[test]
fn cached_generation_equals_uncached_within_the_context() {
    let flash = GptConfig {
        attn: tfs_gpt::AttnKernel::Flash,
        ..llama()
    };
    for cfg in [tiny(), llama(), moe(), flash] {
        let m = Gpt::new(cfg, &mut Rng::new(6));
        for s in [
            Sampling {
                greedy: true,
                ..Sampling::default()
            },
            Sampling::default(),
        ] {
            let a = generate(&m, &[1, 2], 4, &s, &mut Rng::new(7));
            let b = generate_cached(&m, &[1, 2], 4, &s, &mut Rng::new(7));
            assert_eq!(a, b, "{cfg:?} {s:?}");
        }
        // Past the context (6) the cache is rebuilt from the last 3 tokens: every later token
        // is the one a fresh cache over the same window predicts.
        let g = Sampling {
            greedy: true,
            ..Sampling::default()
        };
        let long = generate_cached(&m, &[1, 2], 20, &g, &mut Rng::new(8));
        assert_eq!(long.len(), 22);
        assert_eq!(
            long[..6],
            generate(&m, &[1, 2], 4, &g, &mut Rng::new(8))[..]
        );
        assert!(long.iter().all(|&i| i < 7));
    }
}

#[test]
fn rope_runs_past_the_trained_context_and_learned_positions_refuse() {
    // RoPE has no position table: a window longer than block_size is computable.
    let m = Gpt::new(llama(), &mut Rng::new(9));
    let ids: Vec<usize> = (0..10).map(|i| i % 7).collect();
    let mut cache = KvCache::new(&m.cfg);
    let (cached, full) = no_grad(|| {
        (
            m.forward_cached(&ids, &mut cache).to_vec(),
            m.forward(&ids, 1, 10).to_vec(),
        )
    });
    assert!(cached.iter().all(|v| v.is_finite()));
    for (a, b) in cached.iter().zip(&full) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    let g = Gpt::new(tiny(), &mut Rng::new(9));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        g.forward_cached(&ids, &mut KvCache::new(&g.cfg))
    }));
    let msg = r
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("learned positions stop at 6"), "{msg}");
}

#[test]
fn switches_round_trip_through_config_json_and_set() {
    let mut p = Preset::get("baby").unwrap();
    for kv in [
        "llama=true",
        "n_kv_head=2",
        "window=32",
        "n_expert=4",
        "top_k=1",
        "attn=flash",
    ] {
        p.set(kv).unwrap();
    }
    p.validate().unwrap();
    let c = p.model;
    assert_eq!(
        (c.pos, c.norm, c.mlp, c.bias),
        (Pos::Rope, Norm::RmsNorm, Mlp::SwiGlu, false)
    );
    assert_eq!(GptConfig::from_json(&c.to_json()).unwrap(), c);
    // A checkpoint from before the switches reads as GPT-2.
    let old = serde_json::json!({"n_layer": 2, "n_head": 2, "n_embd": 8, "block_size": 6,
        "vocab_size": 7, "dropout": 0.0, "bias": true});
    assert_eq!(GptConfig::from_json(&old).unwrap(), tiny());
    // Every key of the model and the recipe can be set.
    let mut all = Preset::get("baby").unwrap();
    for kv in [
        "n_layer=2",
        "n_head=2",
        "n_kv_head=1",
        "n_embd=16",
        "block_size=8",
        "dropout=0.1",
        "bias=false",
        "pos=rope",
        "rope_theta=500",
        "norm=rmsnorm",
        "mlp=swiglu",
        "window=4",
        "n_expert=2",
        "top_k=1",
        "moe_aux=0.1",
        "attn=flash",
        "llama=true",
        "batch_size=3",
        "max_iters=5",
        "lr=0.01",
        "min_lr=0.001",
        "warmup=1",
        "lr_decay_iters=5",
        "beta1=0.8",
        "beta2=0.9",
        "weight_decay=0",
        "grad_clip=2",
        "eval_interval=2",
        "eval_iters=1",
        "sample_interval=0",
        "grad_accum=2",
        "checkpoint_every=1",
        "data_order=sequential",
    ] {
        all.set(kv).unwrap_or_else(|e| panic!("{kv}: {e}"));
    }
    all.validate().unwrap();
    assert_eq!(
        (all.model.n_embd, all.model.block_size, all.model.dropout),
        (16, 8, 0.1)
    );
    // n_kv_head follows n_head until it is set, in either order.
    let heads = |sets: &[&str]| {
        let mut q = Preset::get("baby").unwrap();
        sets.iter().for_each(|s| q.set(s).unwrap());
        q.validate().unwrap();
        (q.model.n_head, q.model.n_kv_head)
    };
    assert_eq!(heads(&["n_head=8"]), (8, 8));
    assert_eq!(heads(&["n_kv_head=4", "n_head=8"]), (8, 4));
    assert_eq!(heads(&["n_head=8", "n_kv_head=4"]), (8, 4));
    assert_eq!(heads(&["n_kv_head=2", "n_head=8"]), (8, 2));
    let mut back = Preset::get("baby").unwrap();
    back.set("llama=true").unwrap();
    back.set("llama=false").unwrap();
    assert_eq!(back.model, Preset::get("baby").unwrap().model);
    for bad in ["n_kv_head=3", "top_k=9", "pos=alibi"] {
        let mut q = Preset::get("baby").unwrap();
        let r = q
            .set("n_expert=4")
            .and_then(|_| q.set(bad))
            .and_then(|_| q.validate());
        assert!(r.is_err(), "{bad} accepted");
    }
}
