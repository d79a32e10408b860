//! `tfs bench kernels`: the achieved memory bandwidth of each fused kernel at GPT-2 124M
//! activation sizes, beside the machine's measured copy bandwidth, one JSON object each.
//!
//! The fused kernels are memory-bound: their floor is the time to move their bytes. For each
//! kernel we count the bytes it must read and write once (f32: 4 bytes an element), time it
//! (best of runs), and report `gb_per_s = bytes / seconds` and
//! `vs_copy = seconds / (bytes / copy_gb_per_s)`: 1.0 means as fast as `memcpy` moving the same
//! bytes, the target is ≤ 1.5. The copy bandwidth is measured here on 256 MiB buffers (read +
//! write counted), so both sides see the same caches and the same machine load.
//!
//! Bytes counted: GELU forward x→y 8/elt; GELU backward x, dy → dx 12/elt; causal softmax in place
//! 8/elt; layer norm forward x → y 8/elt (+ two floats a row); backward dy, x → dx 12/elt;
//! AdamW p, g, m, v → p, m, v 28/parameter; cross-entropy logits → dlogits 8/elt; bias + GELU
//! x → pre, y 12/elt; residual add x, r → y 12/elt.
//!
//! Then the products of one decoding step of GPT-2 124M with a KV cache (m = 1 token; 2 and 4):
//! `x·Wᵀ` for each linear layer, through `sgemm` (which routes them to the few-row path,
//! `gemv.rs`) on 1 and 2 threads. Their floor is streaming W once: bytes counted n·k·4, and
//! beside `copy_gb_per_s` each line has `read_gb_per_s`, the rate at which the same number of
//! threads sum a 256 MiB buffer (a read-only stream, which is what a matrix-vector product is).
//! W cycles through copies totalling ≥ 256 MiB, so that it comes from memory as in a decoding
//! step (GPT-2's 500 MB of weights do not fit the 32 MiB L3), not from a warm cache.
//! Left out: threads for the fused kernels (they run on one), caches warmer than main memory
//! for small sizes.

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use tfs_kernels::bench::best_of;
use tfs_kernels::fused::{adamw, crossentropy, elementwise, gelu, layernorm, softmax};
use tfs_kernels::gemm::{sgemm_with, Gemm, GemmConfig, Kernel, MatMut, MatRef, Trans};
use tfs_kernels::pool;

/// Deterministic values in [-1, 1).
fn fill(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = tfs_math::Rng::new(seed);
    rng.uniform_vec_f32(n, -1.0, 1.0)
}

/// The machine's copy bandwidth in GB/s (bytes read + bytes written, per second).
pub fn copy_bandwidth(min_seconds: f64) -> f64 {
    let n = 64 << 20; // 64 Mi floats = 256 MiB
    let src = fill(n, 1);
    let mut dst = vec![0.0f32; n];
    let s = best_of(min_seconds, || dst.copy_from_slice(&src));
    std::hint::black_box(&dst);
    (2 * 4 * n) as f64 / s / 1e9
}

/// The rate in GB/s at which `threads` threads read a 256 MiB buffer (each summing its share).
pub fn read_bandwidth(min_seconds: f64, threads: usize) -> f64 {
    let n = 64 << 20;
    let src = fill(n, 1);
    let per = n.div_ceil(threads);
    let sink = AtomicU32::new(0);
    let s = best_of(min_seconds, || {
        pool::run(threads, &|t| {
            let part = &src[(t * per).min(n)..((t + 1) * per).min(n)];
            // 16 partial sums, so that the loop vectorises and is limited by the loads.
            let mut acc = [0.0f32; 16];
            for c in part.chunks_exact(16) {
                for (a, x) in acc.iter_mut().zip(c) {
                    *a += x;
                }
            }
            sink.fetch_add(acc.iter().sum::<f32>().to_bits() & 1, Ordering::Relaxed);
        })
    });
    std::hint::black_box(sink.load(Ordering::Relaxed));
    (4 * n) as f64 / s / 1e9
}

/// One decoding step's linear layers (`x·Wᵀ`, m rows of x) on 1 and 2 threads; one line each.
fn decoding_products(min_seconds: f64, copy: f64, each: &mut dyn FnMut(&Value)) {
    let read = [
        read_bandwidth(min_seconds, 1),
        read_bandwidth(min_seconds, 2),
    ];
    let kernel = Kernel::from_env();
    for (name, n, k) in [
        ("attn.c_attn", 2304, 768),
        ("attn.c_proj", 768, 768),
        ("mlp.c_fc", 3072, 768),
        ("mlp.c_proj", 768, 3072),
        ("lm_head", 50257, 768),
    ] {
        let copies = (256usize << 20).div_ceil(4 * n * k);
        let ws: Vec<Vec<f32>> = (0..copies).map(|i| fill(n * k, 20 + i as u64)).collect();
        for m in [1, 2, 4] {
            let x = fill(m * k, 12);
            let mut y = vec![0.0f32; m * n];
            for threads in [1, 2] {
                let cfg = GemmConfig {
                    threads,
                    kernel,
                    size_heuristics: true,
                };
                let mut next = 0;
                let s = best_of(min_seconds, || {
                    let w = &ws[next % copies];
                    next += 1;
                    sgemm_with(
                        &cfg,
                        &Gemm {
                            ta: Trans::N,
                            tb: Trans::T,
                            m,
                            n,
                            k,
                            alpha: 1.0,
                            beta: 1.0,
                        },
                        MatRef::new(&x, k),
                        MatRef::new(w, k),
                        MatMut::new(&mut y, n),
                    );
                });
                let bytes = 4 * n * k;
                let gbs = bytes as f64 / s / 1e9;
                each(&json!({
                    "bench": "kernels", "impl": crate::impl_name(),
                    "case": format!("decode {name} x({m}x{k})·W({n}x{k})ᵀ"), "threads": threads,
                    "bytes": bytes, "ms": s * 1e3, "gb_per_s": gbs, "copy_gb_per_s": copy,
                    "vs_copy": copy / gbs, "read_gb_per_s": read[threads - 1],
                    "vs_read": read[threads - 1] / gbs,
                }));
            }
        }
    }
}

/// Measures every fused kernel; calls `each` with one line per kernel.
pub fn kernels(min_seconds: f64, each: &mut dyn FnMut(&Value)) {
    let copy = copy_bandwidth(min_seconds);
    let (bt, c, t, v) = (1024usize, 768usize, 1024usize, 50257usize);
    let mut report = |name: &str, bytes: usize, secs: f64| {
        let gbs = bytes as f64 / secs / 1e9;
        each(&json!({
            "bench": "kernels", "impl": crate::impl_name(), "case": name, "bytes": bytes,
            "ms": secs * 1e3, "gb_per_s": gbs, "copy_gb_per_s": copy, "vs_copy": copy / gbs,
        }));
    };
    let n = bt * 4 * c;
    let x = fill(n, 2);
    let mut y = vec![0.0f32; n];
    let s = best_of(min_seconds, || gelu::gelu_forward(&x, &mut y));
    report("gelu_forward 1024x3072", 8 * n, s);
    let mut dx = vec![0.0f32; n];
    let s = best_of(min_seconds, || gelu::gelu_backward(&x, &y, &mut dx));
    report("gelu_backward 1024x3072", 12 * n, s);
    let bias = fill(4 * c, 3);
    let mut pre = vec![0.0f32; n];
    let s = best_of(min_seconds, || {
        elementwise::bias_gelu(&x, &bias, &mut pre, &mut y)
    });
    report("bias_gelu 1024x3072", 12 * n, s);

    let scores = fill(t * t, 4);
    let mut sm = scores.clone();
    let mask = softmax::Mask::Causal { q_len: t };
    let s = best_of(min_seconds, || softmax::softmax_rows(&mut sm, t, t, mask));
    report("softmax_causal 1024x1024", 8 * t * t, s);

    let n = bt * c;
    let (x, r) = (fill(n, 5), fill(n, 6));
    let (gamma, beta) = (fill(c, 7), fill(c, 8));
    let (mut y, mut mean, mut rstd) = (vec![0.0f32; n], vec![0.0f32; bt], vec![0.0f32; bt]);
    let s = best_of(min_seconds, || {
        layernorm::layernorm_forward(&x, &gamma, &beta, 1e-5, &mut y, &mut mean, &mut rstd, bt, c)
    });
    report("layernorm_forward 1024x768", 8 * n + 8 * bt, s);
    let (mut dx, mut dg, mut db) = (vec![0.0f32; n], vec![0.0f32; c], vec![0.0f32; c]);
    let s = best_of(min_seconds, || {
        layernorm::layernorm_backward(
            &r, &x, &gamma, &mean, &rstd, &mut dx, &mut dg, &mut db, bt, c,
        )
    });
    report("layernorm_backward 1024x768", 12 * n + 8 * bt, s);
    let s = best_of(min_seconds, || elementwise::residual_add(&x, &r, &mut y));
    report("residual_add 1024x768", 12 * n, s);

    let rows = 64; // 64 rows of GPT-2's vocabulary: 12.9 MB of logits
    let logits = fill(rows * v, 9);
    let targets: Vec<usize> = (0..rows).map(|i| (i * 7919) % v).collect();
    let mut dlogits = vec![0.0f32; rows * v];
    let s = best_of(min_seconds, || {
        std::hint::black_box(crossentropy::cross_entropy(
            &logits,
            &targets,
            &mut dlogits,
            v,
        ));
    });
    report("cross_entropy 64x50257", 8 * rows * v, s);

    let n = 124_000_000 / 4; // a quarter of GPT-2 124M's parameters (496 MB of state)
    let (mut p, g) = (fill(n, 10), fill(n, 11));
    let (mut m, mut vv) = (vec![0.0f32; n], vec![0.0f32; n]);
    let h = adamw::AdamW {
        lr: 1e-4,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let mut step = 0;
    let s = best_of(min_seconds, || {
        step += 1;
        adamw::adamw_step(&mut p, &g, &mut m, &mut vv, &h, step)
    });
    report("adamw 31M params", 28 * n, s);
    drop((p, g, m, vv));

    decoding_products(min_seconds, copy, each);
}
