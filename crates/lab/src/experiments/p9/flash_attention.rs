//! `p9-flash-attention`: the naive fused attention (`sdpa`, which keeps the weights P for the
//! backward pass) against flash attention (`flash_sdpa`, tiled with the online softmax, which
//! keeps one log-sum-exp per query row), causal, B = 1, H = 4, hs = 64, T from 128 to 4096:
//!
//! ```text
//!   saved for backward   naive: P, B·H·T² floats        flash: L, B·H·T floats
//!   work                 naive: every (query, key) pair, then masked
//!                        flash: only the key tiles some query of the tile sees (≈ half, causal)
//! ```
//!
//! Time: one forward (O) and backward (q̄, k̄, v̄ of L = Σ w ⊙ O) on every core, the median of a
//! few repeats after a first run that also checks flash equals naive. Memory: `saved_bytes` of
//! the op, and the peak of tfs-tensor's byte counter during one forward + backward less the saved
//! buffer (which the counter sees too; it lives from the forward to the end of the backward): the
//! live tensors q, k, v, O and the gradients. Left out: the naive backward's scratch S̄ (one
//! (g·Tq, Tk) block per group in flight, at most one group per thread, also quadratic, outside
//! the counter).

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::{json, Value};
use std::time::Instant;
use tfs_kernels::pool;
use tfs_tensor::{flash_sdpa, memory, sdpa, AttnMask, Tensor};

pub(crate) const DESCRIPTION: &str =
    "flash vs naive attention, causal, T 128-4096: time of forward + backward, bytes saved for backward (linear vs quadratic)";

type Kernel = fn(&Tensor, &Tensor, &Tensor, &AttnMask) -> Tensor;

/// One forward + backward: (forward seconds, total seconds, output, q̄, peak counter bytes above
/// the start, saved bytes).
struct Run {
    forward: f64,
    total: f64,
    out: Vec<f32>,
    dq: Vec<f32>,
    peak: usize,
    saved: usize,
}

fn run_once(f: Kernel, mask: &AttnMask, (q, k, v): (&Tensor, &Tensor, &Tensor), w: &Tensor) -> Run {
    let base = memory::allocated();
    memory::reset_peak();
    let t0 = Instant::now();
    let y = f(q, k, v, mask);
    let forward = t0.elapsed().as_secs_f64();
    let saved = y.saved_bytes();
    let grads = y.mul(w).sum_all().backward();
    let total = t0.elapsed().as_secs_f64();
    let peak = memory::peak().saturating_sub(base).saturating_sub(saved);
    Run {
        forward,
        total,
        out: y.to_vec(),
        dq: grads.get_or_zeros(q).to_vec(),
        peak,
        saved,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Max |a − b| / (1 + |b|).
fn max_rel(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y).abs() / (1.0 + y.abs())) as f64)
        .fold(0.0, f64::max)
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (b, h, hs) = (1, 4, 64);
    let ts: Vec<usize> = ctx.size(vec![128, 256, 512, 1024, 2048, 4096], vec![64, 128]);
    let reps = |t: usize| ctx.size(if t <= 1024 { 15 } else { 5 }, 2);
    let threads = pool::default_threads();
    let mut rng = ctx.rng();
    let pb = ctx.progress(ts.len() as u64, "sequence length");
    let (mut rows, mut mem_rows, mut records) = (Vec::new(), Vec::new(), Vec::new());
    let mut pts: [Vec<(f64, f64)>; 8] = Default::default();
    for &t in &ts {
        let shape = [b, h, t, hs];
        let n = b * h * t * hs;
        let mut var = || Tensor::var(rng.uniform_vec_f32(n, -1.0, 1.0), &shape);
        let (q, k, v) = (var(), var(), var());
        let w = Tensor::new(rng.uniform_vec_f32(n, -1.0, 1.0), &shape);
        let (qkv, causal) = ((&q, &k, &v), AttnMask::Causal);
        // First runs: memory and the equality check; then the timed repeats.
        let naive = run_once(sdpa, &causal, qkv, &w);
        let flash = run_once(flash_sdpa, &causal, qkv, &w);
        let (err_o, err_dq) = (max_rel(&flash.out, &naive.out), max_rel(&flash.dq, &naive.dq));
        let (mut tn, mut tf, mut fn_, mut ff) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut un, mut uf) = (Vec::new(), Vec::new());
        for _ in 0..reps(t) {
            let r = run_once(sdpa, &causal, qkv, &w);
            tn.push(r.total);
            fn_.push(r.forward);
            let r = run_once(flash_sdpa, &causal, qkv, &w);
            tf.push(r.total);
            ff.push(r.forward);
            // Without a mask no tile can be skipped: the tiling alone.
            un.push(run_once(sdpa, &AttnMask::None, qkv, &w).total);
            uf.push(run_once(flash_sdpa, &AttnMask::None, qkv, &w).total);
        }
        let (tn, tf, fn_, ff) = (median(tn), median(tf), median(fn_), median(ff));
        let (un, uf) = (median(un), median(uf));
        let x = t as f64;
        pts[0].push((x, tn * 1e3));
        pts[1].push((x, tf * 1e3));
        pts[2].push((x, mb(naive.saved)));
        pts[3].push((x, mb(flash.saved)));
        pts[4].push((x, mb(naive.peak + naive.saved)));
        pts[5].push((x, mb(flash.peak + flash.saved)));
        pts[6].push((x, un * 1e3));
        pts[7].push((x, uf * 1e3));
        rows.push(vec![
            t.to_string(),
            format!("{:.2}", fn_ * 1e3),
            format!("{:.2}", ff * 1e3),
            format!("{:.2}", tn * 1e3),
            format!("{:.2}", tf * 1e3),
            format!("{:.2}×", tn / tf),
            format!("{:.2} / {:.2} ({:.2}×)", un * 1e3, uf * 1e3, un / uf),
            format!("{err_o:.1e} / {err_dq:.1e}"),
        ]);
        mem_rows.push(vec![
            t.to_string(),
            format!("{:.3}", mb(naive.saved)),
            format!("{:.3}", mb(flash.saved)),
            format!("{:.2}", mb(naive.peak)),
            format!("{:.2}", mb(flash.peak)),
            format!("{:.2}", mb(naive.peak + naive.saved)),
            format!("{:.2}", mb(flash.peak + flash.saved)),
        ]);
        records.push(json!({
            "t": t, "repeats": reps(t),
            "naive": {"forward_ms": fn_ * 1e3, "forward_backward_ms": tn * 1e3,
                      "saved_bytes": naive.saved, "peak_tensor_bytes": naive.peak},
            "flash": {"forward_ms": ff * 1e3, "forward_backward_ms": tf * 1e3,
                      "saved_bytes": flash.saved, "peak_tensor_bytes": flash.peak},
            "speedup": tn / tf,
            "no_mask": {"naive_forward_backward_ms": un * 1e3, "flash_forward_backward_ms": uf * 1e3,
                        "speedup": un / uf},
            "max_rel_diff_output": err_o, "max_rel_diff_dq": err_dq,
        }));
        pb.inc(1);
    }
    pb.finish_and_clear();
    let [tn, tf, sn, sf, pn, pf, un, uf] = pts;
    LineChart::new(
        "Memory of one causal attention, forward + backward (B 1, H 4, hs 64)",
        "sequence length T",
        "MB",
    )
    .log2_x()
    .log_y()
    .legend(LegendPosition::UpperLeft)
    .series(Series::new("naive: saved P (B·H·T² floats)", sn).with_markers())
    .series(Series::new("flash: saved L (B·H·T floats)", sf).with_markers())
    .series(Series::new("naive: peak tensors + saved", pn).with_markers().dashed())
    .series(Series::new("flash: peak tensors + saved", pf).with_markers().dashed())
    .draw(&ctx.figure("memory.svg"))?;
    LineChart::new(
        &format!("Forward + backward time (B 1, H 4, hs 64, {threads} threads)"),
        "sequence length T",
        "ms (median)",
    )
    .log2_x()
    .log_y()
    .legend(LegendPosition::UpperLeft)
    .series(Series::new("naive sdpa, causal", tn).with_markers())
    .series(Series::new("flash_sdpa, causal", tf).with_markers())
    .series(Series::new("naive sdpa, no mask", un).with_markers().dashed())
    .series(Series::new("flash_sdpa, no mask", uf).with_markers().dashed())
    .draw(&ctx.figure("time.svg"))?;
    ctx.set("lengths", json!(records.clone()));
    ctx.set(
        "setup",
        json!({"b": b, "h": h, "hs": hs, "mask": "causal", "threads": threads,
               "tiles": {"queries": tfs_kernels::fused::flash_attention::BQ,
                         "keys": tfs_kernels::fused::flash_attention::BK},
               "loss": "sum(w * O), w uniform in [-1, 1]"}),
    );
    ctx.md(&format!(
        "Causal self-attention, B = {b}, H = {h}, hs = {hs}, on {threads} threads: one forward and \
         backward of L = Σ w ⊙ O, the median of 15 repeats (5 from T = 2048 on) after a first run \
         that measures memory and checks flash against naive (last column: max relative \
         difference of O / of q̄). The no-mask column times the same shapes with every key \
         visible, where flash can skip no tile."
    ));
    ctx.table(
        &[
            "T",
            "naive forward ms",
            "flash forward ms",
            "naive fwd + bwd ms",
            "flash fwd + bwd ms",
            "flash speed-up",
            "no mask: naive / flash ms (speed-up)",
            "flash vs naive",
        ],
        &rows,
    );
    ctx.md(
        "Memory in MB. *Saved*: the buffer the op keeps from the forward to the backward pass \
         (naive: the weights P; flash: one log-sum-exp per query row). *Peak tensors*: the peak of \
         tfs-tensor's byte counter above q, k, v during the forward and backward (O, the incoming \
         gradient, q̄, k̄, v̄); the counter sees the saved buffer too, but this column leaves it out and the last two add it.",
    );
    ctx.table(
        &[
            "T",
            "naive saved",
            "flash saved",
            "naive peak tensors",
            "flash peak tensors",
            "naive peak + saved",
            "flash peak + saved",
        ],
        &mem_rows,
    );
    ctx.md(&reading(&records));
    Ok(())
}

/// The reading of the numbers, written from them (so that a rerun cannot contradict its text).
fn reading(records: &[Value]) -> String {
    let f = |r: &Value, path: &[&str]| {
        path.iter()
            .fold(r, |v, k| &v[*k])
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    let (first, last) = (&records[0], &records[records.len() - 1]);
    let t = |r: &Value| f(r, &["t"]);
    let mb = |r: &Value, key: &str, what: &str| f(r, &[key, what]) / (1u64 << 20) as f64;
    // "a-b× naive's speed", and the lengths where flash was slower.
    let speed = |path: &[&str]| {
        let v: Vec<f64> = records.iter().map(|r| f(r, path)).collect();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(0.0, f64::max);
        let slower: Vec<String> = records
            .iter()
            .zip(&v)
            .filter(|(_, &s)| s < 1.0)
            .map(|(r, _)| t(r).to_string())
            .collect();
        let note = match slower.len() {
            0 => ", faster at every length".to_string(),
            n if n == v.len() => ", slower at every length".to_string(),
            _ => format!(", slower only at T = {}", slower.join(", ")),
        };
        format!("{lo:.2}-{hi:.2}× naive's speed{note}")
    };
    let grow = |key: &str| f(last, &[key, "saved_bytes"]) / f(first, &[key, "saved_bytes"]);
    format!(
        "Reading. Memory: from T = {} to {} ({}× longer) the naive op's saved weights grow {:.0}× \
         (T²) and flash's log-sum-exps {:.0}× (T); at T = {} naive keeps {:.2} MB for the \
         backward pass and flash {:.3} MB, while everything else (q, k, v, O and the gradients) \
         is the same linear {:.2} MB for both. Time, causal: flash runs at {}. Where it wins, it \
         is mostly because it skips the key tiles that lie wholly in the future (about half of \
         them at long T), where the naive kernel computes every score and then masks it. Without \
         a mask nothing is skipped and both do the same GEMM work: flash runs at {}. There the \
         naive kernel streams (T, T) buffers through memory (P, then S̄ in the backward), which \
         stop fitting the caches as T grows, while flash's tiles stay in L2; flash pays instead \
         for more, smaller GEMM calls and for recomputing P in the backward, which weighs most \
         at small T. On this CPU the memory is the decisive difference: at T = {} the naive op \
         keeps {:.0} MB per layer for 4 heads, so a GPT with 12 layers of 12 heads would keep \
         {:.2} GB of attention weights per sequence for its backward pass.",
        t(first),
        t(last),
        t(last) / t(first),
        grow("naive"),
        grow("flash"),
        t(last),
        mb(last, "naive", "saved_bytes"),
        mb(last, "flash", "saved_bytes"),
        mb(last, "flash", "peak_tensor_bytes"),
        speed(&["speedup"]),
        speed(&["no_mask", "speedup"]),
        t(last),
        mb(last, "naive", "saved_bytes"),
        12.0 * 3.0 * mb(last, "naive", "saved_bytes") / 1024.0,
    )
}
