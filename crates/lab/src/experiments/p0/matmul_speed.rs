//! `p0-matmul-speed`: how fast is a matrix product, written three ways?
//!
//! Square f32 products `C = A B` of size n, timed as the best of repeated calls:
//! the naive i-j-k loop, the cache-friendly i-k-j loop (both pure Rust, `tfs_math::linalg`), and
//! ndarray's `dot` (the `matrixmultiply` crate: blocked, packed, SIMD micro-kernels).
//! GFLOP/s = 2n³ / seconds / 10⁹. The three results are also compared, so the speed is not bought
//! with a wrong answer.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{sig, Ctx, LabError};
use ndarray::Array2;
use serde_json::json;
use std::time::Instant;
use tfs_math::linalg::{matmul_ikj, matmul_naive};

pub(crate) const DESCRIPTION: &str = "GFLOP/s of naive i-j-k, cache-friendly i-k-j and ndarray matmul, n = 16…512";

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
    let sizes: Vec<usize> = ctx.size(vec![16, 32, 64, 128, 256, 512], vec![16, 32, 64]);
    let budget = ctx.size(0.3, 0.01);
    let mut rng = ctx.rng();
    let names = ["naive i-j-k", "i-k-j", "ndarray (matrixmultiply)"];
    let mut curves: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 3];
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let pb = ctx.progress(sizes.len() as u64, "matmul sizes");
    for &n in &sizes {
        let a = rng.uniform_vec_f32(n * n, -1.0, 1.0);
        let b = rng.uniform_vec_f32(n * n, -1.0, 1.0);
        let na = Array2::from_shape_vec((n, n), a.clone()).expect("n*n elements");
        let nb = Array2::from_shape_vec((n, n), b.clone()).expect("n*n elements");
        let c_naive = matmul_naive(&a, &b, n, n, n);
        let c_ikj = matmul_ikj(&a, &b, n, n, n);
        let c_nd: Vec<f32> = na.dot(&nb).iter().copied().collect();
        let err = max_rel_diff(&c_naive, &c_nd).max(max_rel_diff(&c_ikj, &c_nd));
        let secs = [
            best_time(budget, || {
                std::hint::black_box(matmul_naive(&a, &b, n, n, n));
            }),
            best_time(budget, || {
                std::hint::black_box(matmul_ikj(&a, &b, n, n, n));
            }),
            best_time(budget, || {
                std::hint::black_box(na.dot(&nb));
            }),
        ];
        let flops = 2.0 * (n as f64).powi(3);
        let gflops: Vec<f64> = secs.iter().map(|s| flops / s / 1e9).collect();
        for (curve, g) in curves.iter_mut().zip(&gflops) {
            curve.push((n as f64, *g));
        }
        rows.push(vec![
            n.to_string(),
            sig(gflops[0], 3),
            sig(gflops[1], 3),
            sig(gflops[2], 3),
            format!("{:.0}×", gflops[2] / gflops[0]),
        ]);
        records.push(json!({
            "n": n, "naive_gflops": gflops[0], "ikj_gflops": gflops[1], "ndarray_gflops": gflops[2],
            "naive_seconds": secs[0], "ikj_seconds": secs[1], "ndarray_seconds": secs[2],
            "max_rel_diff_vs_ndarray": err,
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
    ctx.set(
        "threads",
        "1 (matrixmultiply without its threading feature)",
    );

    let mut chart = LineChart::new(
        "Square f32 matmul throughput (pure Rust: 1 thread; ndarray: all cores)",
        "matrix size n (n×n · n×n)",
        "GFLOP/s (2n³ / time)",
    )
    .log2_x()
    .legend(LegendPosition::UpperLeft);
    for (name, pts) in names.iter().zip(curves) {
        chart = chart.series(Series::new(*name, pts).with_markers());
    }
    chart.draw(&ctx.figure("matmul_gflops.svg"))?;

    ctx.table(
        &[
            "n",
            "naive i-j-k GFLOP/s",
            "i-k-j GFLOP/s",
            "ndarray GFLOP/s",
            "ndarray / naive",
        ],
        &rows,
    );
    let last = rows.last().expect("at least one size");
    ctx.md(&format!(
        "At n = {}, swapping the two inner loops (i-k-j) alone takes the pure-Rust product from {} to \
         {} GFLOP/s: the inner loop now reads contiguous memory and vectorises. ndarray's blocked, \
         packed kernel, on all cores, reaches {} GFLOP/s, {} the naive loop, on the same arithmetic. All three agree \
         to within f32 rounding (max relative difference recorded per size in results.json).",
        last[0], last[1], last[2], last[3], last[4]
    ));
    Ok(())
}
