//! `p0-matmul-speed`: how fast is a matrix product, written four ways, against the machine's peak?
//!
//! Square f32 products `C = A B` of size n, timed as the best of repeated calls:
//! the naive i-j-k loop, the cache-friendly i-k-j loop (both pure Rust, one thread,
//! `tfs_math::linalg`), ndarray's `dot` (the `matrixmultiply` crate: blocked, packed, AVX2
//! micro-kernel, all cores) and our own `tfs_kernels::sgemm` (packed, blocked, AVX-512 micro-kernel
//! picked at run time, all cores). GFLOP/s = 2n³ / seconds / 10⁹. The ceiling is the measured FMA
//! peak of the same cores (`tfs_kernels::peak`). The results are compared with each other, so the
//! speed is not bought with a wrong answer.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{sig, Ctx, LabError};
use ndarray::Array2;
use serde_json::json;
use std::time::Instant;
use tfs_kernels::nd::matmul;
use tfs_math::linalg::{matmul_ikj, matmul_naive};

pub(crate) const DESCRIPTION: &str =
    "GFLOP/s of naive i-j-k, cache-friendly i-k-j, ndarray and our own sgemm against the measured peak, n = 16…1024";

/// Best seconds per call of `f` over repeated calls lasting at least `budget` seconds.
fn best_time(budget: f64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut best = f64::INFINITY;
    loop {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        if start.elapsed().as_secs_f64() >= budget {
            return best;
        }
    }
}

fn max_rel_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y).abs() / (1.0 + y.abs())) as f64)
        .fold(0.0, f64::max)
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let sizes: Vec<usize> = ctx.size(vec![16, 32, 64, 128, 256, 512, 1024], vec![16, 32, 64]);
    let budget = ctx.size(0.3, 0.01);
    let mut rng = ctx.rng();
    let threads = tfs_kernels::pool::default_threads();
    let peak = tfs_kernels::peak::fma_peak_gflops(threads);
    let names = [
        "naive i-j-k",
        "i-k-j",
        "ndarray (matrixmultiply)",
        "ours (tfs-kernels sgemm)",
    ];
    let mut curves: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 4];
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let pb = ctx.progress(sizes.len() as u64, "matmul sizes");
    for &n in &sizes {
        let a = rng.uniform_vec_f32(n * n, -1.0, 1.0);
        let b = rng.uniform_vec_f32(n * n, -1.0, 1.0);
        let na = Array2::from_shape_vec((n, n), a.clone()).expect("n*n elements");
        let nb = Array2::from_shape_vec((n, n), b.clone()).expect("n*n elements");
        // The naive loop is skipped at n = 1024 (minutes for one product, and its curve has
        // long stopped changing).
        let slow = n <= 512;
        let c_naive = if slow { matmul_naive(&a, &b, n, n, n) } else { Vec::new() };
        let c_ikj = matmul_ikj(&a, &b, n, n, n);
        let c_nd: Vec<f32> = na.dot(&nb).iter().copied().collect();
        let c_ours: Vec<f32> = matmul(&na, &nb).iter().copied().collect();
        let err = [&c_naive, &c_ikj, &c_ours]
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| max_rel_diff(c, &c_nd))
            .fold(0.0, f64::max);
        let secs = [
            if slow {
                best_time(budget, || {
                    std::hint::black_box(matmul_naive(&a, &b, n, n, n));
                })
            } else {
                f64::NAN
            },
            best_time(budget, || {
                std::hint::black_box(matmul_ikj(&a, &b, n, n, n));
            }),
            best_time(budget, || {
                std::hint::black_box(na.dot(&nb));
            }),
            best_time(budget, || {
                std::hint::black_box(matmul(&na, &nb));
            }),
        ];
        let flops = 2.0 * (n as f64).powi(3);
        let gflops: Vec<f64> = secs.iter().map(|s| flops / s / 1e9).collect();
        for (curve, g) in curves.iter_mut().zip(&gflops) {
            if g.is_finite() {
                curve.push((n as f64, *g));
            }
        }
        let cell = |g: f64| if g.is_finite() { sig(g, 3) } else { "—".into() };
        rows.push(vec![
            n.to_string(),
            cell(gflops[0]),
            cell(gflops[1]),
            cell(gflops[2]),
            cell(gflops[3]),
            format!("{:.2}×", gflops[3] / gflops[2]),
            peak.map_or("—".into(), |p| format!("{:.0} %", 100.0 * gflops[3] / p)),
        ]);
        let finite = |g: f64| if g.is_finite() { json!(g) } else { json!(null) };
        records.push(json!({
            "n": n, "naive_gflops": finite(gflops[0]), "ikj_gflops": gflops[1],
            "ndarray_gflops": gflops[2], "ours_gflops": gflops[3],
            "naive_seconds": finite(secs[0]), "ikj_seconds": secs[1], "ndarray_seconds": secs[2],
            "ours_seconds": secs[3], "max_rel_diff_vs_ndarray": err,
        }));
        if err > 1e-4 {
            return Err(LabError::Experiment {
                id: ctx.id.into(),
                message: format!("n={n}: products disagree with ndarray (max rel diff {err:.2e})"),
            });
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    ctx.set("sizes", records);
    ctx.set("dtype", "f32");
    ctx.set("threads", json!({"loops": 1, "ndarray": threads, "ours": threads}));
    ctx.set("kernel", tfs_kernels::Kernel::from_env().name());
    ctx.set("peak_gflops", peak.map_or(json!(null), |p| json!(p)));

    let mut chart = LineChart::new(
        "Square f32 matmul throughput (loops: 1 thread; ndarray and ours: all cores)",
        "matrix size n (n×n · n×n)",
        "GFLOP/s (2n³ / time)",
    )
    .log2_x()
    .legend(LegendPosition::Coordinate(470, 118));
    for (name, pts) in names.iter().zip(curves) {
        chart = chart.series(Series::new(*name, pts).with_markers());
    }
    if let Some(p) = peak {
        let (lo, hi) = (sizes[0] as f64, *sizes.last().expect("sizes") as f64);
        chart = chart.series(Series::new(
            format!("measured FMA peak, {threads} cores ({p:.0})"),
            vec![(lo, p), (hi, p)],
        ));
    }
    chart.draw(&ctx.figure("matmul_gflops.svg"))?;

    ctx.table(
        &[
            "n",
            "naive i-j-k GFLOP/s",
            "i-k-j GFLOP/s",
            "ndarray GFLOP/s",
            "ours GFLOP/s",
            "ours / ndarray",
            "ours / peak",
        ],
        &rows,
    );
    let at512 = &rows[rows.len().min(6) - 1];
    let last = rows.last().expect("at least one size");
    ctx.md(&format!(
        "At n = {}, swapping the two inner loops (i-k-j) alone takes the pure-Rust product from {} to \
         {} GFLOP/s: the inner loop now reads contiguous memory and vectorises. ndarray's blocked, \
         packed kernel (AVX2), on all cores, reaches {} GFLOP/s. Our own kernel, packed and blocked \
         the same way but with an AVX-512 micro-kernel, reaches {} GFLOP/s at n = {} ({} of the \
         measured peak of these cores{}). All agree to within f32 rounding (max relative \
         difference recorded per size in results.json).",
        at512[0],
        at512[1],
        at512[2],
        at512[3],
        last[4],
        last[0],
        last[6],
        peak.map_or(String::new(), |p| format!(", {p:.0} GFLOP/s"))
    ));
    Ok(())
}
