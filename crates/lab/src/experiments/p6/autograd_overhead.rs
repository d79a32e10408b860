//! `p6-autograd-overhead`: what the graph's bookkeeping costs. Each op, forward and backward, run
//! through the framework (a graph node per op, gradient buffers allocated, the topological walk)
//! against the same kernels called directly on preallocated buffers, over tensor sizes from a few
//! hundred elements to millions. Where the ratio is far above 1 the bookkeeping dominates; where it
//! is near 1 the arithmetic does.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_kernels::bench::best_of;
use tfs_kernels::fused::{gelu, layernorm};
use tfs_kernels::{sgemm, Gemm, MatMut, MatRef, Trans};
use tfs_math::Rng;
use tfs_tensor::Tensor;

pub(crate) const DESCRIPTION: &str =
    "time per op (forward + backward) through the framework vs the kernels called directly, against tensor size";

/// Σ x with 8 partial sums (vectorised), as the framework's sum is: the direct baseline must
/// not lose to a slower sum.
fn fast_sum(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        acc.iter_mut().zip(c).for_each(|(a, &v)| *a += v);
    }
    acc.iter().sum::<f32>() + rest
}

/// Seconds of (framework, direct) for one op at `n` elements (matmul: √n × √n matrices).
fn time_op(op: &str, n: usize, secs: f64) -> (f64, f64) {
    let mut rng = Rng::new(1);
    let v = |len: usize, rng: &mut Rng| rng.uniform_vec_f32(len, -1.0, 1.0);
    match op {
        "add" => {
            let (a, b) = (Tensor::var(v(n, &mut rng), &[n]), Tensor::var(v(n, &mut rng), &[n]));
            let f = best_of(secs, || drop(a.add(&b).sum_all().backward()));
            let (x, y, mut z, mut ga, mut gb) = (v(n, &mut rng), v(n, &mut rng), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
            let d = best_of(secs, || {
                z.iter_mut().zip(x.iter().zip(&y)).for_each(|(z, (a, b))| *z = a + b);
                let s = fast_sum(&z);
                ga.fill(1.0);
                gb.fill(1.0);
                std::hint::black_box((s, &ga, &gb));
            });
            (f, d)
        }
        "gelu" => {
            let a = Tensor::var(v(n, &mut rng), &[n]);
            let f = best_of(secs, || drop(a.gelu().sum_all().backward()));
            let (x, ones, mut y, mut dx) = (v(n, &mut rng), vec![1.0; n], vec![0.0; n], vec![0.0; n]);
            let d = best_of(secs, || {
                gelu::gelu_forward(&x, &mut y);
                let s = fast_sum(&y);
                gelu::gelu_backward(&x, &ones, &mut dx);
                std::hint::black_box(s);
            });
            (f, d)
        }
        "layer_norm" => {
            let c = 256.min(n);
            let r = n / c;
            let (x, w, b) = (Tensor::var(v(n, &mut rng), &[r, c]), Tensor::var(vec![1.0; c], &[c]), Tensor::var(vec![0.0; c], &[c]));
            let f = best_of(secs, || drop(x.layer_norm(&w, &b, 1e-5).sum_all().backward()));
            let (xs, gw, gb, ones) = (v(n, &mut rng), vec![1.0; c], vec![0.0; c], vec![1.0; n]);
            let (mut y, mut mean, mut rstd, mut dx, mut dw, mut db) = (vec![0.0; n], vec![0.0; r], vec![0.0; r], vec![0.0; n], vec![0.0; c], vec![0.0; c]);
            let d = best_of(secs, || {
                layernorm::layernorm_forward(&xs, &gw, &gb, 1e-5, &mut y, &mut mean, &mut rstd, r, c);
                let s = fast_sum(&y);
                dw.fill(0.0);
                db.fill(0.0);
                layernorm::layernorm_backward(&ones, &xs, &gw, &mean, &rstd, &mut dx, &mut dw, &mut db, r, c);
                std::hint::black_box(s);
            });
            (f, d)
        }
        _ => {
            let m = (n as f64).sqrt().round() as usize;
            let (a, b) = (Tensor::var(v(m * m, &mut rng), &[m, m]), Tensor::var(v(m * m, &mut rng), &[m, m]));
            let f = best_of(secs, || drop(a.matmul(&b).sum_all().backward()));
            let (x, y, ones) = (v(m * m, &mut rng), v(m * m, &mut rng), vec![1.0; m * m]);
            let (mut c, mut ga, mut gb) = (vec![0.0; m * m], vec![0.0; m * m], vec![0.0; m * m]);
            let d = best_of(secs, || {
                sgemm(&Gemm { ta: Trans::N, tb: Trans::N, m, n: m, k: m, alpha: 1.0, beta: 0.0 }, MatRef::new(&x, m), MatRef::new(&y, m), MatMut::new(&mut c, m));
                let s = fast_sum(&c);
                sgemm(&Gemm { ta: Trans::N, tb: Trans::T, m, n: m, k: m, alpha: 1.0, beta: 0.0 }, MatRef::new(&ones, m), MatRef::new(&y, m), MatMut::new(&mut ga, m));
                sgemm(&Gemm { ta: Trans::T, tb: Trans::N, m, n: m, k: m, alpha: 1.0, beta: 0.0 }, MatRef::new(&x, m), MatRef::new(&ones, m), MatMut::new(&mut gb, m));
                std::hint::black_box(s);
            });
            (f, d)
        }
    }
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (sizes, secs): (Vec<usize>, f64) = ctx.size(((4..=11).map(|k| 1usize << (2 * k)).collect(), 0.3), (vec![256, 4096], 0.01));
    let ops = ["add", "gelu", "layer_norm", "matmul"];
    let pb = ctx.progress((ops.len() * sizes.len()) as u64, "op × size");
    let mut chart = LineChart::new("Framework time / direct kernel time, forward + backward", "elements per tensor", "ratio (1 = no overhead)")
        .log_x()
        .log_y()
        .legend(LegendPosition::UpperRight);
    let (mut rows, mut records) = (Vec::new(), Vec::new());
    for op in ops {
        let mut pts = Vec::new();
        for &n in &sizes {
            let (f, d) = time_op(op, n, secs);
            pts.push((n as f64, f / d));
            rows.push(vec![op.to_string(), n.to_string(), format!("{:.1}", f * 1e6), format!("{:.1}", d * 1e6), format!("{:.2}", f / d)]);
            records.push(json!({"op": op, "elements": n, "framework_us": f * 1e6, "direct_us": d * 1e6, "ratio": f / d}));
            pb.inc(1);
        }
        chart = chart.series(Series::new(if op == "matmul" { "matmul (√n × √n)" } else { op }, pts).with_markers());
    }
    pb.finish_and_clear();
    chart.draw(&ctx.figure("overhead_ratio.svg"))?;
    ctx.set("ops", json!(records));
    ctx.md(&format!(
        "Each cell is the best of runs over at least {secs} s: the framework builds the op's node, \
         sums the output, walks the graph backward and allocates every gradient; the direct column \
         calls the same kernels on preallocated buffers (forward, sum, backward with ∂L/∂y = 1). \
         Layer norm normalises rows of 256; matmul multiplies two √n × √n matrices (three GEMMs \
         with the backward). Times in µs."
    ));
    ctx.table(&["op", "elements", "framework (µs)", "direct (µs)", "ratio"], &rows);
    Ok(())
}
