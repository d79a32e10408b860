//! GEMM throughput measurement: GFLOP/s of [`sgemm_with`] on square sizes and on the matrix
//! products of GPT-2 124M training at B·T = 1024 tokens, one JSON line per measurement with the
//! same keys as `bench/peers/torch_matmul.py` (so the two can be joined on `case` and `threads`).
//!
//! A product of (m, k) by (k, n) is 2·m·n·k flops. Each case runs once to warm up (page faults,
//! packing buffers, pool threads), then repeats until `min_seconds` have passed (at least 3
//! times); `gflops` is from the fastest repetition (the least disturbed by other processes on a
//! shared machine), `gflops_median` from the median.
//!
//! GPT-2 shapes: a linear layer `Y = X·W` with X (BT, K) and W (K, N) runs forward as NN (m = BT,
//! n = N, k = K); its input gradient `dX = dY·Wᵀ` as NT (m = BT, n = K, k = N); its weight
//! gradient `dW = Xᵀ·dY` as TN (m = K, n = N, k = BT). Attention: one head's scores Q·Kᵀ
//! (1024×1024×64, NT) and output P·V (1024×64×1024, NN); batching over B·nh heads is left out.

use crate::gemm::{sgemm_with, Gemm, GemmConfig, Kernel, MatMut, MatRef, Trans};
use std::time::Instant;

/// One product to measure.
#[derive(Clone, Debug)]
pub struct BenchCase {
    pub name: String,
    pub ta: Trans,
    pub tb: Trans,
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

/// Square NN sizes 128..2048, then the GPT-2 124M linear layers (fwd NN, dX NT, dW TN), then
/// one attention head's two products.
pub fn default_cases() -> Vec<BenchCase> {
    let mut cases: Vec<BenchCase> = [128, 256, 512, 1024, 2048]
        .into_iter()
        .map(|s| BenchCase {
            name: format!("square{s}"),
            ta: Trans::N,
            tb: Trans::N,
            m: s,
            n: s,
            k: s,
        })
        .collect();
    let bt = 1024;
    for (layer, k, n) in [
        ("qkv", 768, 2304),
        ("fc", 768, 3072),
        ("proj", 3072, 768),
        ("lm_head", 768, 50257),
    ] {
        let case = |pass: &str, ta, tb, m, n, k| BenchCase {
            name: format!("gpt2.{layer}.{pass}"),
            ta,
            tb,
            m,
            n,
            k,
        };
        cases.push(case("fwd", Trans::N, Trans::N, bt, n, k));
        cases.push(case("dx", Trans::N, Trans::T, bt, k, n));
        cases.push(case("dw", Trans::T, Trans::N, k, n, bt));
    }
    // One head of attention at T = 1024, head size 64: scores Q·Kᵀ (NT) and weights·V (NN).
    let head = |name: &str, tb, n, k| BenchCase {
        name: format!("gpt2.attn.{name}"),
        ta: Trans::N,
        tb,
        m: bt,
        n,
        k,
    };
    cases.push(head("scores", Trans::T, bt, 64));
    cases.push(head("values", Trans::N, 64, bt));
    cases
}

/// One measurement.
#[derive(Clone, Debug)]
pub struct BenchResult {
    pub case: BenchCase,
    pub threads: usize,
    pub kernel: Kernel,
    pub best_seconds: f64,
    pub median_seconds: f64,
}

impl BenchResult {
    pub fn flops(&self) -> f64 {
        2.0 * self.case.m as f64 * self.case.n as f64 * self.case.k as f64
    }

    /// One JSON object on one line (the keys of `bench/peers/torch_matmul.py`).
    pub fn to_json(&self) -> String {
        let c = &self.case;
        let layout = format!("{:?}{:?}", c.ta, c.tb);
        format!(
            "{{\"bench\":\"gemm\",\"impl\":\"tfs-kernels\",\"kernel\":\"{}\",\"case\":\"{}\",\"layout\":\"{}\",\
             \"m\":{},\"n\":{},\"k\":{},\"threads\":{},\"seconds\":{:.6},\"gflops\":{:.1},\"gflops_median\":{:.1}}}",
            self.kernel.name(),
            c.name,
            layout,
            c.m,
            c.n,
            c.k,
            self.threads,
            self.best_seconds,
            self.flops() / self.best_seconds / 1e9,
            self.flops() / self.median_seconds / 1e9
        )
    }
}

/// Deterministic values in [-1, 1) from a 64-bit LCG (bench inputs only).
fn fill(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Measures one case on `threads` threads with `kernel`.
pub fn bench_gemm(
    case: &BenchCase,
    threads: usize,
    kernel: Kernel,
    min_seconds: f64,
) -> BenchResult {
    let (m, n, k) = (case.m, case.n, case.k);
    let a = fill(m * k, 1);
    let b = fill(k * n, 2);
    let mut c = vec![0.0f32; m * n];
    let lda = if case.ta == Trans::N { k } else { m };
    let ldb = if case.tb == Trans::N { n } else { k };
    let cfg = GemmConfig {
        threads,
        kernel,
        size_heuristics: true,
    };
    let mut run = || {
        let t = Instant::now();
        let g = Gemm {
            ta: case.ta,
            tb: case.tb,
            m,
            n,
            k,
            alpha: 1.0,
            beta: 0.0,
        };
        sgemm_with(
            &cfg,
            &g,
            MatRef::new(&a, lda),
            MatRef::new(&b, ldb),
            MatMut::new(&mut c, n),
        );
        t.elapsed().as_secs_f64()
    };
    run();
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || start.elapsed().as_secs_f64() < min_seconds {
        times.push(run());
    }
    times.sort_by(f64::total_cmp);
    BenchResult {
        case: case.clone(),
        threads,
        kernel,
        best_seconds: times[0],
        median_seconds: times[times.len() / 2],
    }
}

/// Runs every default case whose name contains `filter` on each thread count, printing one JSON
/// line per measurement as it is made, and returns the results.
pub fn run(threads: &[usize], kernel: Kernel, filter: &str, min_seconds: f64) -> Vec<BenchResult> {
    let mut out = Vec::new();
    for &t in threads {
        for case in default_cases().iter().filter(|c| c.name.contains(filter)) {
            let r = bench_gemm(case, t, kernel, min_seconds);
            println!("{}", r.to_json());
            out.push(r);
        }
    }
    out
}

/// Times `f` like [`bench_gemm`] does: one warm-up, then at least 3 runs and `min_seconds`;
/// returns the fastest run in seconds.
pub fn best_of(min_seconds: f64, mut f: impl FnMut()) -> f64 {
    f();
    let (start, mut best, mut runs) = (Instant::now(), f64::INFINITY, 0);
    while runs < 3 || start.elapsed().as_secs_f64() < min_seconds {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

/// Fused kernels against their references on GPT-2 124M activation sizes (B·T = 1024, C = 768,
/// 4C for GELU, T = 1024 attention rows per head for softmax, 124M parameters for AdamW), one
/// JSON line each with the milliseconds of both and their ratio. One thread.
pub fn run_fused(min_seconds: f64) {
    use crate::fused::{adamw, gelu, layernorm, softmax};
    let (bt, c, t) = (1024, 768, 1024);
    let report = |name: &str, fast: f64, reference: f64| {
        println!(
            "{{\"bench\":\"fused\",\"impl\":\"tfs-kernels\",\"case\":\"{name}\",\"ms\":{:.3},\"reference_ms\":{:.3},\"speedup\":{:.1}}}",
            fast * 1e3,
            reference * 1e3,
            reference / fast
        );
    };
    let x = fill(bt * 4 * c, 3);
    let mut y = vec![0.0f32; bt * 4 * c];
    let fast = best_of(min_seconds, || gelu::gelu_forward(&x, &mut y));
    let reference = best_of(min_seconds, || gelu::gelu_forward_reference(&x, &mut y));
    report("gelu_forward (1024x3072)", fast, reference);
    let mut dx = vec![0.0f32; bt * 4 * c];
    let fast = best_of(min_seconds, || gelu::gelu_backward(&x, &y, &mut dx));
    let reference = best_of(min_seconds, || {
        gelu::gelu_backward_reference(&x, &y, &mut dx)
    });
    report("gelu_backward (1024x3072)", fast, reference);

    let scores = fill(t * t, 4);
    let mut s = scores.clone();
    let mask = softmax::Mask::Causal { q_len: t };
    let fast = best_of(min_seconds, || {
        s.copy_from_slice(&scores);
        softmax::softmax_rows(&mut s, t, t, mask)
    });
    let reference = best_of(min_seconds, || {
        s.copy_from_slice(&scores);
        softmax::softmax_rows_reference(&mut s, t, t, mask)
    });
    report("softmax_causal (1024x1024)", fast, reference);

    let x = fill(bt * c, 5);
    let (gamma, beta) = (fill(c, 6), fill(c, 7));
    let (mut y, mut mean, mut rstd) = (vec![0.0f32; bt * c], vec![0.0f32; bt], vec![0.0f32; bt]);
    let fast = best_of(min_seconds, || {
        layernorm::layernorm_forward(&x, &gamma, &beta, 1e-5, &mut y, &mut mean, &mut rstd, bt, c)
    });
    let reference = best_of(min_seconds, || {
        layernorm::layernorm_forward_reference(
            &x, &gamma, &beta, 1e-5, &mut y, &mut mean, &mut rstd, bt, c,
        )
    });
    report("layernorm_forward (1024x768)", fast, reference);
    let (mut dx, mut dg, mut db) = (vec![0.0f32; bt * c], vec![0.0f32; c], vec![0.0f32; c]);
    let fast = best_of(min_seconds, || {
        layernorm::layernorm_backward(
            &y, &x, &gamma, &mean, &rstd, &mut dx, &mut dg, &mut db, bt, c,
        )
    });
    let reference = best_of(min_seconds, || {
        layernorm::layernorm_backward_reference(
            &y, &x, &gamma, &mean, &rstd, &mut dx, &mut dg, &mut db, bt, c,
        )
    });
    report("layernorm_backward (1024x768)", fast, reference);

    let n = 124_000_000;
    let (mut p, g) = (fill(n, 8), fill(n, 9));
    let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
    let h = adamw::AdamW {
        lr: 1e-4,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let fast = best_of(min_seconds, || {
        adamw::adamw_step(&mut p, &g, &mut m, &mut v, &h, 3)
    });
    let reference = best_of(min_seconds, || {
        adamw::adamw_step_reference(&mut p, &g, &mut m, &mut v, &h, 3)
    });
    report("adamw (124M params)", fast, reference);
}
