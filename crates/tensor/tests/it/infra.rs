//! The training infrastructure and the framework's bookkeeping: optimizers, clipping, schedules,
//! the loader, no_grad, the memory counter, and the error messages of shape misuse.

use tfs_math::Rng;
use tfs_tensor::loader::{epoch_batches, Loader};
use tfs_tensor::nn::{Linear, Module};
use tfs_tensor::optim::{clip_grad_norm, groups_decay_matrices, AdamW, Optimizer, Sgd};
use tfs_tensor::schedule::Schedule;
use tfs_tensor::{memory, no_grad, Tensor};

fn quadratic(w: &Tensor) -> Tensor {
    // L = Σ (w − 1)², ∂L/∂w = 2(w − 1)
    let d = w.add_scalar(-1.0);
    d.mul(&d).sum_all()
}

#[test]
fn sgd_and_momentum_follow_their_formulas() {
    let w = Tensor::var(vec![0.0, 2.0], &[2]);
    let params = vec![("w".to_string(), w.clone())];
    let mut opt = Sgd::new(0.1, 0.9, false);
    let g1 = quadratic(&w).backward(); // g = (−2, 2)
    opt.step(&params, &g1); // v = g; w = (0.2, 1.8)
    assert_eq!(w.to_vec(), vec![0.2, 1.8]);
    let g2 = quadratic(&w).backward(); // g = (−1.6, 1.6); v = 0.9·(−2, 2) + g = (−3.4, 3.4)
    opt.step(&params, &g2);
    let got = w.to_vec();
    assert!(
        (got[0] - 0.54).abs() < 1e-6 && (got[1] - 1.46).abs() < 1e-6,
        "{got:?}"
    );
}

#[test]
fn adamw_groups_decay_matrices_only() {
    let mut rng = Rng::new(1);
    let lin = Linear::new(3, 2, true, &mut rng);
    lin.bias.as_ref().unwrap().assign(&[0.5, -0.5]);
    let params = lin.parameters();
    let groups = groups_decay_matrices(&params, 0.5);
    assert_eq!(groups[0].names, vec!["weight"]);
    assert_eq!(groups[1].names, vec!["bias"]);
    // Zero gradients: Adam's step is 0, so only decay moves a parameter.
    let x = Tensor::new(vec![0.0; 3], &[1, 3]);
    let g = lin
        .forward(&x)
        .mul(&Tensor::zeros(&[1, 2]))
        .sum_all()
        .backward();
    let (w0, b0) = (lin.weight.to_vec(), lin.bias.as_ref().unwrap().to_vec());
    let mut opt = AdamW::new(0.1, &groups);
    opt.step(&params, &g);
    let w1 = lin.weight.to_vec();
    assert!(
        w0.iter().zip(&w1).all(|(a, b)| (b - a * 0.95).abs() < 1e-6),
        "weight decays by lr·λ"
    );
    assert_eq!(
        lin.bias.as_ref().unwrap().to_vec(),
        b0,
        "bias does not decay"
    );
    assert_eq!(opt.steps(), 1);
}

#[test]
fn adamw_minimises_a_quadratic() {
    let w = Tensor::var(vec![-3.0, 4.0, 0.5], &[3]);
    let params = vec![("w".to_string(), w.clone())];
    let mut opt = AdamW::new(0.1, &[]);
    for _ in 0..300 {
        let g = quadratic(&w).backward();
        opt.step(&params, &g);
    }
    assert!(
        w.to_vec().iter().all(|v| (v - 1.0).abs() < 1e-2),
        "{:?}",
        w.to_vec()
    );
}

#[test]
fn clipping_scales_to_the_global_norm() {
    let (a, b) = (
        Tensor::var(vec![0.0; 2], &[2]),
        Tensor::var(vec![0.0], &[1]),
    );
    let params = vec![("a".to_string(), a.clone()), ("b".to_string(), b.clone())];
    // L = 3a₀ + 4b₀ → g = (3, 0), (4): norm 5.
    let l = a
        .mul(&Tensor::new(vec![3.0, 0.0], &[2]))
        .sum_all()
        .add(&b.scale(4.0).sum_all());
    let g = l.backward();
    assert!((clip_grad_norm(&params, &g, 1.0) - 5.0).abs() < 1e-6);
    assert_eq!(g.get(&a).unwrap().to_vec(), vec![0.6, 0.0]);
    assert!((g.get(&b).unwrap().item() - 0.8).abs() < 1e-6);
    assert!(
        (clip_grad_norm(&params, &g, 10.0) - 1.0).abs() < 1e-6,
        "below the bound: unchanged"
    );
}

#[test]
fn warmup_cosine_schedule() {
    let s = Schedule::WarmupCosine {
        lr: 1.0,
        min_lr: 0.1,
        warmup: 10,
        total: 110,
    };
    assert!((s.at(0) - 0.1).abs() < 1e-6 && (s.at(9) - 1.0).abs() < 1e-6);
    assert!(
        (s.at(60) - 0.55).abs() < 1e-5,
        "half way down the cosine: {}",
        s.at(60)
    );
    assert_eq!(s.at(110), 0.1);
    assert!(
        (1..110).all(|t| t < 10 || s.at(t) <= s.at(t - 1) + 1e-6),
        "monotone after warmup"
    );
    assert_eq!(Schedule::Constant(0.3).at(1000), 0.3);
}

#[test]
fn loader_is_seeded_complete_and_prefetched() {
    let e0 = epoch_batches(10, 3, 7, 0, false);
    let mut all: Vec<usize> = e0.concat();
    all.sort();
    assert_eq!(
        all,
        (0..10).collect::<Vec<_>>(),
        "one epoch visits every example once"
    );
    assert_eq!(e0.len(), 4);
    assert_eq!(epoch_batches(10, 3, 7, 0, true).len(), 3, "drop_last");
    assert_ne!(
        e0,
        epoch_batches(10, 3, 7, 1, false),
        "each epoch reshuffles"
    );
    let main = std::thread::current().id();
    let made: Vec<(Vec<usize>, bool)> = Loader::new(10, 3, 7, true, 2, move |b| {
        (b.to_vec(), std::thread::current().id() != main)
    })
    .take(6)
    .collect();
    assert!(
        made.iter().all(|(_, bg)| *bg),
        "batches are made on the loader's thread"
    );
    let expect: Vec<Vec<usize>> = [
        epoch_batches(10, 3, 7, 0, true),
        epoch_batches(10, 3, 7, 1, true),
    ]
    .concat();
    assert_eq!(made.into_iter().map(|(b, _)| b).collect::<Vec<_>>(), expect);
}

#[test]
fn no_grad_records_nothing() {
    let w = Tensor::var(vec![1.0, 2.0], &[2]);
    let y = no_grad(|| w.mul(&w).sum_all());
    assert!(!y.requires_grad() && y.is_leaf());
    let z = w.mul(&w).sum_all();
    assert!(
        z.requires_grad() && !z.is_leaf(),
        "recording resumes after no_grad"
    );
}

#[test]
fn memory_counter_sees_allocations_and_frees() {
    // Other tests run in parallel threads, so measure a large allocation against the noise.
    let before = memory::allocated();
    let t = Tensor::zeros(&[1 << 22]); // 16 MiB
    assert!(memory::allocated() >= before + (16 << 20) - (1 << 20));
    assert!(memory::peak() >= 16 << 20);
    drop(t);
    assert!(
        memory::allocated() < before + (16 << 20) / 2,
        "freed on drop"
    );
}

#[test]
fn gradients_flow_through_shared_subexpressions() {
    // y = x·x + x: ∂y/∂x = 2x + 1, x used twice.
    let x = Tensor::var(vec![3.0], &[1]);
    let y = x.mul(&x).add(&x).sum_all();
    assert_eq!(y.backward().get(&x).unwrap().item(), 7.0);
}

#[test]
#[should_panic(expected = "matmul: [2, 3] @ [4, 5]: inner sizes 3 and 4 differ")]
fn shape_errors_name_the_op_and_shapes() {
    let _ = Tensor::zeros(&[2, 3]).matmul(&Tensor::zeros(&[4, 5]));
}

#[test]
#[should_panic(expected = "add: shapes [2, 3] and [4] do not broadcast")]
fn broadcast_errors_name_the_shapes() {
    let _ = Tensor::zeros(&[2, 3]).add(&Tensor::zeros(&[4]));
}

#[test]
fn freed_buffers_are_reused_and_not_counted_live() {
    use tfs_tensor::tensor::cache;
    // Run on a fresh thread: the cache is per thread, so other tests cannot touch it.
    std::thread::spawn(|| {
        let n = 1 << 16;
        let t = Tensor::new(cache::zeros(n), &[n]);
        let ptr = t.data().as_ptr();
        let live = memory::allocated();
        drop(t);
        assert!(
            cache::cached() >= n * 4,
            "a freed buffer waits in the cache"
        );
        assert!(
            memory::allocated() <= live,
            "cached bytes are not live bytes"
        );
        let again = cache::zeros(n - 100); // the same size class
        assert_eq!(again.as_ptr(), ptr, "the freed buffer is reused");
        assert!(again.iter().all(|&v| v == 0.0), "reused buffers are zeroed");
    })
    .join()
    .unwrap();
}

#[test]
fn buffers_for_overwrite_are_reused_without_a_memset_and_every_element_written_before() {
    use tfs_tensor::tensor::cache;
    std::thread::spawn(|| {
        let n = 1 << 16;
        let t = Tensor::new(vec![7.0; n], &[n]);
        let ptr = t.data().as_ptr();
        drop(t);
        // Shorter than the freed buffer: its old values, untouched.
        let short = cache::for_overwrite(n - 100);
        assert_eq!(short.as_ptr(), ptr, "the freed buffer is reused");
        assert_eq!(short.len(), n - 100);
        assert!(short.iter().all(|&v| v == 7.0), "left as it was");
        drop(Tensor::new(short, &[n - 100]));
        // Longer than its last use (same size class): the tail beyond it is zeros.
        let long = cache::for_overwrite(n);
        assert_eq!(long.as_ptr(), ptr);
        assert!(long[..n - 100].iter().all(|&v| v == 7.0));
        assert!(long[n - 100..].iter().all(|&v| v == 0.0));
        drop(Tensor::new(long, &[n]));
        // `take` still hands out an empty vector.
        assert!(cache::take(n).is_empty());
    })
    .join()
    .unwrap();
}

#[test]
fn the_graph_lists_every_node_inputs_first() {
    let x = Tensor::new(vec![1.0, 2.0], &[1, 2]);
    let w = Tensor::var(vec![0.5, -0.5], &[2, 1]);
    let y = x.matmul(&w).tanh().sum_all();
    let g = y.graph();
    let ops: Vec<&str> = g.iter().map(|n| n.op).collect();
    assert_eq!(ops, vec!["const", "leaf", "matmul", "tanh", "sum"]);
    assert_eq!(g[2].inputs, vec![x.id(), w.id()]);
    assert_eq!(g.last().unwrap().id, y.id());
}

#[test]
fn json_log_writes_one_object_per_line() {
    let path = std::env::temp_dir().join(format!("tfs-jsonlog-{}.jsonl", std::process::id()));
    {
        let mut log = tfs_tensor::log::JsonLog::create(&path).unwrap();
        log.log(0, &[("loss", 2.5), ("lr", 1e-3)]).unwrap();
        log.log(1, &[("loss", f64::NAN)]).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).ok();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["step"], 0);
    assert_eq!(lines[0]["loss"], 2.5);
    assert!(
        lines[1]["loss"].is_null(),
        "NaN is written as null (JSON has no NaN)"
    );
}

#[test]
fn element_and_row_wise_ops_split_over_threads_equal_one_kernel_call() {
    // Sizes above the split threshold (2¹⁵ elements a thread), odd, so that the runs are
    // uneven: GELU forward and backward, layer norm forward and backward, and an AdamW step,
    // each against one call of its kernel over the whole tensor.
    use tfs_kernels::fused::{adamw, gelu, layernorm};
    // Two threads even on a one-core machine, so that the split is what is tested.
    tfs_kernels::pool::set_threads(Some(2));
    let (r, c) = (301, 257);
    let n = r * c;
    let mut rng = Rng::new(5);
    let xv = rng.uniform_vec_f32(n, -3.0, 3.0);
    let wv = rng.uniform_vec_f32(n, -1.0, 1.0);
    let x = Tensor::var(xv.clone(), &[r, c]);
    let wt = Tensor::new(wv.clone(), &[r, c]);

    let y = x.gelu();
    let mut want = vec![0.0; n];
    gelu::gelu_forward(&xv, &mut want);
    assert_eq!(y.to_vec(), want, "gelu forward");
    let g = y.mul(&wt).sum_all().backward();
    gelu::gelu_backward(&xv, &wv, &mut want);
    assert_eq!(g.get_or_zeros(&x).to_vec(), want, "gelu backward");

    let (gamma, beta) = (
        Tensor::var(rng.uniform_vec_f32(c, 0.5, 1.5), &[c]),
        Tensor::var(rng.uniform_vec_f32(c, -0.5, 0.5), &[c]),
    );
    let y = x.layer_norm(&gamma, &beta, 1e-5);
    let (mut yw, mut mean, mut rstd) = (vec![0.0; n], vec![0.0; r], vec![0.0; r]);
    let (gv, bv) = (gamma.to_vec(), beta.to_vec());
    layernorm::layernorm_forward(&xv, &gv, &bv, 1e-5, &mut yw, &mut mean, &mut rstd, r, c);
    assert_eq!(y.to_vec(), yw, "layer norm forward");
    let g = y.mul(&wt).sum_all().backward();
    let (mut dx, mut dg, mut db) = (vec![0.0; n], vec![0.0; c], vec![0.0; c]);
    layernorm::layernorm_backward(&wv, &xv, &gv, &mean, &rstd, &mut dx, &mut dg, &mut db, r, c);
    assert_eq!(g.get_or_zeros(&x).to_vec(), dx, "layer norm dx");
    // w̄ and b̄ are summed per thread, then added: another order of the same sums.
    for (got, want, what) in [
        (g.get_or_zeros(&gamma).to_vec(), dg, "dgamma"),
        (g.get_or_zeros(&beta).to_vec(), db, "dbeta"),
    ] {
        for (a, b) in got.iter().zip(&want) {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what}: {a} vs {b}"
            );
        }
    }

    let p = Tensor::var(xv.clone(), &[n]);
    let params = vec![("p".to_string(), p.clone())];
    let g = p.mul(&Tensor::new(wv.clone(), &[n])).sum_all().backward();
    let mut opt = AdamW::new(0.01, &[]).betas(0.9, 0.95);
    opt.step(&params, &g);
    let (mut want, mut m, mut v) = (xv.clone(), vec![0.0; n], vec![0.0; n]);
    let h = adamw::AdamW {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    adamw::adamw_step(&mut want, &wv, &mut m, &mut v, &h, 1);
    assert_eq!(p.to_vec(), want, "adamw step");

    // AdamW over several tensors (small ones, one cut between the threads), with and without
    // decay: the same as one kernel call per tensor.
    let sizes = [7, n, 129, 40_000];
    let params: Vec<(String, Tensor)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            (
                format!("p{i}"),
                Tensor::var(rng.uniform_vec_f32(k, -1.0, 1.0), &[k]),
            )
        })
        .collect();
    let loss = params
        .iter()
        .map(|(_, p)| p.mul(p).sum_all())
        .reduce(|a, b| a.add(&b))
        .expect("params");
    let g = loss.backward();
    let before: Vec<Vec<f32>> = params.iter().map(|(_, p)| p.to_vec()).collect();
    let groups = [tfs_tensor::optim::Group {
        names: vec!["p1".into(), "p2".into()],
        weight_decay: 0.1,
    }];
    let mut opt = AdamW::new(0.01, &groups).betas(0.9, 0.95);
    opt.step(&params, &g);
    for ((name, p), x0) in params.iter().zip(&before) {
        let k = x0.len();
        let (mut want, mut m, mut v) = (x0.clone(), vec![0.0; k], vec![0.0; k]);
        let h = adamw::AdamW {
            weight_decay: if name == "p1" || name == "p2" {
                0.1
            } else {
                0.0
            },
            ..h
        };
        adamw::adamw_step(
            &mut want,
            &g.get_or_zeros(p).to_vec(),
            &mut m,
            &mut v,
            &h,
            1,
        );
        assert_eq!(p.to_vec(), want, "adamw over several tensors: {name}");
    }

    // A residual add (same shapes), and a linear layer's bias and bias gradient, each split by
    // rows: against the plain loops.
    let sum = x.add(&wt);
    let want: Vec<f32> = xv.iter().zip(&wv).map(|(a, b)| a + b).collect();
    assert_eq!(sum.to_vec(), want, "residual add");
    let (d_in, d_out) = (c, 263);
    let w = Tensor::var(rng.uniform_vec_f32(d_out * d_in, -0.1, 0.1), &[d_out, d_in]);
    let b = Tensor::var(rng.uniform_vec_f32(d_out, -1.0, 1.0), &[d_out]);
    let y = x.linear(&w, Some(&b));
    let y0 = x.linear(&w, None).to_vec();
    let bv = b.to_vec();
    let want: Vec<f32> = y0
        .iter()
        .enumerate()
        .map(|(i, v)| v + bv[i % d_out])
        .collect();
    assert_eq!(y.to_vec(), want, "linear bias");
    let dy = rng.uniform_vec_f32(r * d_out, -1.0, 1.0);
    let g = y
        .mul(&Tensor::new(dy.clone(), &[r, d_out]))
        .sum_all()
        .backward();
    let mut want = vec![0.0f64; d_out];
    for (i, v) in dy.iter().enumerate() {
        want[i % d_out] += *v as f64;
    }
    for (a, b) in g.get_or_zeros(&b).to_vec().iter().zip(&want) {
        assert!(
            (*a as f64 - b).abs() <= 1e-4 * (1.0 + b.abs()),
            "linear db: {a} vs {b}"
        );
    }
    tfs_kernels::pool::set_threads(None);
}

#[test]
#[should_panic(expected = "listed twice")]
fn adamw_refuses_a_parameter_listed_twice() {
    // AdamW borrows every parameter for writing at once: the same tensor under two names is a
    // clear error, not a "already borrowed" panic from inside the step.
    let p = Tensor::var(vec![1.0, 2.0], &[2]);
    let params = vec![("a".to_string(), p.clone()), ("b".to_string(), p.clone())];
    let g = p.mul(&p).sum_all().backward();
    AdamW::new(0.1, &[]).step(&params, &g);
}
