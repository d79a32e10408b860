//! `p6-cpu-scaling`: the roadmap's "accelerator vs CPU" question, answered on this machine for the
//! hardware we have: the same transformer training step with the readable reference kernels
//! (triple-loop GEMM, scalar fused ops), with the fast kernels on one thread, and on every core —
//! for the hand-written backward and for the framework. A GPU row joins when the `Storage` enum
//! has a GPU variant.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::{json, Value};
use tfs_kernels::{pool, Kernel};

pub(crate) const DESCRIPTION: &str =
    "time per training batch: reference kernels vs fast kernels, 1 vs all threads, hand-written and framework";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (fast_steps, ref_steps, batch) = ctx.size((60, 4, 32), (2, 1, 4));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut configs = vec![("reference kernels, 1 thread", Some(Kernel::Reference), 1, ref_steps), ("fast kernels, 1 thread", None, 1, fast_steps)];
    if cores > 1 {
        configs.push(("fast kernels, all threads", None, cores, fast_steps));
    }
    let pb = ctx.progress((configs.len() * 2) as u64, "configuration × implementation");
    let (mut rows, mut records) = (Vec::new(), Vec::new());
    let (mut hand_pts, mut fw_pts) = (Vec::new(), Vec::new());
    for (i, &(name, kernel, threads, steps)) in configs.iter().enumerate() {
        Kernel::set_override(kernel);
        pool::set_threads(Some(threads));
        let hand = tfs_bench::transformer::transformer(steps, batch, ctx.seed);
        pb.inc(1);
        let frame = tfs_bench::transformer::transformer_framework(steps, batch, ctx.seed);
        pb.inc(1);
        let ms = |v: &Value| 1e3 / v["steps_per_s"].as_f64().unwrap_or(f64::NAN);
        let tps = |v: &Value| v["tokens_per_s"].as_f64().unwrap_or(f64::NAN);
        hand_pts.push((i as f64 + 1.0, ms(&hand)));
        fw_pts.push((i as f64 + 1.0, ms(&frame)));
        rows.push(vec![name.to_string(), format!("{:.1}", ms(&hand)), format!("{:.0}", tps(&hand)), format!("{:.1}", ms(&frame)), format!("{:.0}", tps(&frame))]);
        records.push(json!({"config": name, "kernel": Kernel::from_env().name(), "threads": threads, "steps_timed": steps,
            "hand": {"ms_per_batch": ms(&hand), "tokens_per_s": tps(&hand)}, "framework": {"ms_per_batch": ms(&frame), "tokens_per_s": tps(&frame)}}));
    }
    Kernel::set_override(None);
    pool::set_threads(None);
    pb.finish_and_clear();
    LineChart::new("Time per training batch (batch 32, D 64, 2 + 2 blocks)", "configuration (1: reference, 2: fast 1 thread, 3: fast all threads)", "ms per batch")
        .log_y()
        .integer_x()
        .legend(LegendPosition::UpperRight)
        .series(Series::new("hand-written backward", hand_pts).with_markers())
        .series(Series::new("framework autograd", fw_pts).with_markers())
        .draw(&ctx.figure("time_per_batch.svg"))?;
    ctx.set("configs", json!(records));
    ctx.set("setup", json!({"model": "tfs bench transformer (digits to words, D 64, 4 heads, FFN 256, 2 + 2 pre-norm blocks)", "batch": batch, "cores": cores}));
    ctx.md(&format!(
        "The workload of `tfs bench transformer` (batch {batch}), timed after 3 warm-up steps; the \
         reference configuration times only {ref_steps} steps because it is slow. This machine has {cores} \
         cores and no GPU."
    ));
    ctx.table(&["configuration", "hand-written: ms / batch", "tokens/s", "framework: ms / batch", "tokens/s"], &rows);
    Ok(())
}
