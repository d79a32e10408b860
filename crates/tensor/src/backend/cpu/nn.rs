//! Bodies of the neural-network ops (the math is in `ops/nn.rs` and `ops/rope.rs`): fused
//! softmax, cross-entropy and layer norm from tfs-kernels, RMS norm, row gathers and scatters,
//! dropout, masked fill and the rotary embedding.

use crate::storage::cache::{copy, for_overwrite, give, take, zeros, CollectBuf};
use tfs_kernels::fused::{crossentropy, layernorm, softmax};
use tfs_kernels::pool;
use tfs_math::Rng;

/// Softmax over rows of length `c`.
pub fn softmax(x: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut y = copy(x);
    softmax::softmax_rows(&mut y, r, c, softmax::Mask::None);
    y
}

/// Log-softmax over rows of length `c`.
pub fn log_softmax(x: &[f32], c: usize) -> Vec<f32> {
    let mut y = copy(x);
    for row in y.chunks_exact_mut(c.max(1)) {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let s: f32 = row.iter().map(|&v| (v - m).exp()).sum();
        let ls = m + s.ln();
        row.iter_mut().for_each(|v| *v -= ls);
    }
    y
}

/// Backward of softmax over rows of length `c`.
pub fn softmax_backward(y: &[f32], dy: &[f32], c: usize) -> Vec<f32> {
    let mut dx = zeros(y.len());
    for ((dxr, yr), gr) in dx
        .chunks_exact_mut(c.max(1))
        .zip(y.chunks_exact(c.max(1)))
        .zip(dy.chunks_exact(c.max(1)))
    {
        let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
        for ((d, &y), &g) in dxr.iter_mut().zip(yr).zip(gr) {
            *d = y * (g - dot);
        }
    }
    dx
}

/// Backward of log-softmax over rows of length `c`.
pub fn log_softmax_backward(y: &[f32], dy: &[f32], c: usize) -> Vec<f32> {
    let mut dx = zeros(y.len());
    for ((dxr, yr), gr) in dx
        .chunks_exact_mut(c.max(1))
        .zip(y.chunks_exact(c.max(1)))
        .zip(dy.chunks_exact(c.max(1)))
    {
        let s: f32 = gr.iter().sum();
        for ((d, &y), &g) in dxr.iter_mut().zip(yr).zip(gr) {
            *d = g - y.exp() * s;
        }
    }
    dx
}

/// Mean cross-entropy of `z: (n, v)` against `targets` (`None`: ignored), and `∂L/∂z`.
pub fn cross_entropy(z: &[f32], targets: &[Option<usize>], v: usize) -> (f64, Vec<f32>) {
    let n = targets.len();
    let keep: Vec<usize> = (0..n).filter(|&i| targets[i].is_some()).collect();
    let tk: Vec<usize> = keep.iter().map(|&i| targets[i].expect("kept")).collect();
    // Every row is written when every target counts; otherwise ignored rows stay zero.
    let mut dz = if keep.len() == n {
        for_overwrite(n * v)
    } else {
        zeros(n * v)
    };
    let loss = if keep.is_empty() {
        0.0
    } else if keep.len() == n {
        crossentropy::cross_entropy(z, &tk, &mut dz, v)
    } else {
        let mut zk = take(keep.len() * v);
        keep.iter()
            .for_each(|&i| zk.extend_from_slice(&z[i * v..(i + 1) * v]));
        let mut dk = for_overwrite(zk.len());
        let l = crossentropy::cross_entropy(&zk, &tk, &mut dk, v);
        for (j, &i) in keep.iter().enumerate() {
            dz[i * v..(i + 1) * v].copy_from_slice(&dk[j * v..(j + 1) * v]);
        }
        l
    };
    (loss, dz)
}

/// `d ⊙ g` for a saved `∂L/∂logits` and the scalar upstream gradient.
pub fn scaled(d: &[f32], g: f32) -> Vec<f32> {
    d.iter().map(|d| d * g).collect_buf()
}

/// Layer norm over rows of length `c`: (y, mean, 1/σ).
pub fn layer_norm(
    x: &[f32],
    w: &[f32],
    b: &[f32],
    eps: f32,
    r: usize,
    c: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mut y, mut mean, mut rstd) = (for_overwrite(r * c), for_overwrite(r), for_overwrite(r));
    let (tasks, run) = super::runs(r, c, 1);
    pool::per_task(
        tasks,
        tasks,
        vec![&mut y, &mut mean, &mut rstd],
        &[run * c, run, run],
        &|i, p| {
            let [y, mean, rstd] = p else { unreachable!() };
            let rows = mean.len();
            let x = &x[i * run * c..][..rows * c];
            layernorm::layernorm_forward(x, w, b, eps, y, mean, rstd, rows, c);
        },
    );
    (y, mean, rstd)
}

/// The saved row statistics of a layer norm.
pub struct RowStats<'a> {
    pub mean: &'a [f32],
    pub rstd: &'a [f32],
}

/// Backward of layer norm: (x̄, w̄, b̄).
pub fn layer_norm_backward(
    x: &[f32],
    w: &[f32],
    s: RowStats,
    dy: &[f32],
    r: usize,
    c: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    // Rows split over the threads; each task sums its own rows' w̄ and b̄, added up after.
    let (tasks, run) = super::runs(r, c, 1);
    let (mut dx, mut dwp, mut dbp) = (for_overwrite(r * c), zeros(tasks * c), zeros(tasks * c));
    pool::per_task(
        tasks,
        tasks,
        vec![&mut dx, &mut dwp, &mut dbp],
        &[run * c, c, c],
        &|i, p| {
            let [dx, dw, db] = p else { unreachable!() };
            let rows = dx.len() / c.max(1);
            let (lo, span) = (i * run, rows * c);
            layernorm::layernorm_backward(
                &dy[lo * c..][..span],
                &x[lo * c..][..span],
                w,
                &s.mean[lo..][..rows],
                &s.rstd[lo..][..rows],
                dx,
                dw,
                db,
                rows,
                c,
            );
        },
    );
    let sum_parts = |parts: Vec<f32>| {
        let mut total = zeros(c);
        for part in parts.chunks_exact(c.max(1)) {
            total.iter_mut().zip(part).for_each(|(t, &v)| *t += v);
        }
        give(parts);
        total
    };
    (dx, sum_parts(dwp), sum_parts(dbp))
}

/// RMS norm over rows of length `c`: (y, 1/rms).
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, r: usize, c: usize) -> (Vec<f32>, Vec<f32>) {
    let (mut y, mut rstd) = (zeros(r * c), zeros(r));
    for ((xr, yr), rs) in x
        .chunks_exact(c.max(1))
        .zip(y.chunks_exact_mut(c.max(1)))
        .zip(rstd.iter_mut())
    {
        let ms = xr.iter().map(|v| (v * v) as f64).sum::<f64>() / c as f64;
        *rs = (1.0 / (ms + eps as f64).sqrt()) as f32;
        yr.iter_mut()
            .zip(xr.iter().zip(w.iter()))
            .for_each(|(y, (x, w))| *y = x * *rs * w);
    }
    (y, rstd)
}

/// Backward of RMS norm: (x̄, w̄).
pub fn rms_norm_backward(
    x: &[f32],
    w: &[f32],
    rstd: &[f32],
    dy: &[f32],
    r: usize,
    c: usize,
) -> (Vec<f32>, Vec<f32>) {
    let (mut dx, mut dw) = (zeros(r * c), zeros(c));
    for row in 0..r {
        let (xr, gr, rs) = (&x[row * c..][..c], &dy[row * c..][..c], rstd[row]);
        // mean(g ⊙ x̂) with g = ȳ ⊙ γ, x̂ = x/r
        let m = xr
            .iter()
            .zip(gr.iter().zip(w.iter()))
            .map(|(x, (g, w))| (g * w * x * rs) as f64)
            .sum::<f64>() as f32
            / c as f32;
        for i in 0..c {
            let xh = xr[i] * rs;
            dx[row * c + i] = rs * (gr[i] * w[i] - xh * m);
            dw[i] += gr[i] * xh;
        }
    }
    (dx, dw)
}

/// Rows `ids` of `x` (rows of `w` elements): a gather.
pub fn index_select(x: &[f32], ids: &[i32], w: usize) -> Vec<f32> {
    let mut out = take(ids.len() * w);
    for &i in ids {
        let i = i as usize;
        out.extend_from_slice(&x[i * w..(i + 1) * w]);
    }
    out
}

/// `rows` rows of zeros with row `ids[j]` increased by row `j` of `x`: a scatter-add.
pub fn index_add(x: &[f32], ids: &[i32], w: usize, rows: usize) -> Vec<f32> {
    let mut out = zeros(rows * w);
    for (j, &i) in ids.iter().enumerate() {
        let i = i as usize;
        out[i * w..(i + 1) * w]
            .iter_mut()
            .zip(&x[j * w..(j + 1) * w])
            .for_each(|(o, &x)| *o += x);
    }
    out
}

/// A dropout mask of `n` elements, each 0 with probability `p` and 1/(1 − p) otherwise, drawn
/// from `rng` in order (the same stream on every device: the mask is made on the host).
pub fn dropout_mask(n: usize, p: f32, rng: &mut Rng) -> Vec<f32> {
    let keep = 1.0 / (1.0 - p);
    (0..n)
        .map(|_| if rng.uniform() < p as f64 { 0.0 } else { keep })
        .collect_buf()
}

/// `x ⊙ m`.
pub fn mul(x: &[f32], m: &[f32]) -> Vec<f32> {
    x.iter().zip(m).map(|(&x, &m)| x * m).collect_buf()
}

/// `value` where `mask` (repeated over `x`) is set, `x` elsewhere.
pub fn masked_fill(x: &[f32], mask: &[i32], value: f32) -> Vec<f32> {
    x.iter()
        .zip(mask.iter().cycle())
        .map(|(&x, &m)| if m != 0 { value } else { x })
        .collect_buf()
}

/// `cos pωᵢ` and `sin pωᵢ` for positions `start..start + t`: two `(t, d/2)` tables.
fn rope_tables(start: usize, t: usize, d: usize, theta: f32) -> (Vec<f32>, Vec<f32>) {
    let half = d / 2;
    let (mut cos, mut sin) = (Vec::with_capacity(t * half), Vec::with_capacity(t * half));
    for p in start..start + t {
        for i in 0..half {
            // In f64: positions in the thousands times ω must keep their low bits.
            let w = (theta as f64).powf(-2.0 * i as f64 / d as f64);
            let a = p as f64 * w;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    (cos, sin)
}

// ANCHOR: rotate
/// Rotates every `(T, d)` slab of `x` (shape `(…, T, d)`) by positions `start..start + T`;
/// `sign = −1` rotates back (the backward).
pub fn rope(x: &[f32], t: usize, d: usize, start: usize, theta: f32, sign: f32) -> Vec<f32> {
    let (cos, sin) = rope_tables(start, t, d, theta);
    let mut y = zeros(x.len());
    let half = d / 2;
    for (xs, ys) in x.chunks_exact(t * d).zip(y.chunks_exact_mut(t * d)) {
        for p in 0..t {
            let (c, s) = (&cos[p * half..][..half], &sin[p * half..][..half]);
            let (xr, yr) = (&xs[p * d..][..d], &mut ys[p * d..][..d]);
            for i in 0..half {
                let (a, b, si) = (xr[2 * i], xr[2 * i + 1], sign * s[i]);
                yr[2 * i] = a * c[i] - b * si;
                yr[2 * i + 1] = a * si + b * c[i];
            }
        }
    }
    y
}
// ANCHOR_END: rotate
