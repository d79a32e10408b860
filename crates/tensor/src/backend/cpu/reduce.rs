//! Reduction bodies (the math is in `ops/reduce.rs`): a tensor is read as (outer, n, inner)
//! around the reduced axis.

use crate::storage::cache::{take, zeros};

/// Σ x in f64, with 8 independent partial sums so that the loop vectorises (a single running
/// sum is one long chain of dependent additions).
pub fn sum_f64(x: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().map(|&v| v as f64).sum();
    for c in chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a += v as f64;
        }
    }
    acc.iter().sum::<f64>() + rest
}

/// `scale · Σ_j x[o, j, i]`: `(outer, inner)`.
pub fn sum_axis(d: &[f32], (outer, n, inner): (usize, usize, usize), scale: f32) -> Vec<f32> {
    let mut out = zeros(outer * inner);
    for o in 0..outer {
        let dst = &mut out[o * inner..(o + 1) * inner];
        for j in 0..n {
            let src = &d[(o * n + j) * inner..(o * n + j + 1) * inner];
            dst.iter_mut().zip(src).for_each(|(y, &v)| *y += v);
        }
    }
    out.iter_mut().for_each(|v| *v *= scale);
    out
}

/// Backward of a sum: ȳ broadcast back along the reduced axis (`None`: every element), times
/// the scale.
pub fn sum_backward(
    dims: Option<(usize, usize, usize)>,
    numel: usize,
    scale: f32,
    dy: &[f32],
) -> Vec<f32> {
    match dims {
        None => {
            let mut dx = take(numel);
            dx.resize(numel, dy[0] * scale);
            dx
        }
        Some((outer, len, inner)) => {
            let mut dx = take(numel);
            for o in 0..outer {
                let g = &dy[o * inner..(o + 1) * inner];
                for _ in 0..len {
                    dx.extend(g.iter().map(|&v| v * scale));
                }
            }
            dx
        }
    }
}

/// Max along the middle axis, with the winning index of each output (first one on ties).
pub fn max(d: &[f32], (outer, n, inner): (usize, usize, usize)) -> (Vec<f32>, Vec<i32>) {
    let mut out = vec![f32::NEG_INFINITY; outer * inner];
    let mut arg = vec![0i32; outer * inner];
    for o in 0..outer {
        for j in 0..n {
            for i in 0..inner {
                let v = d[(o * n + j) * inner + i];
                if v > out[o * inner + i] {
                    out[o * inner + i] = v;
                    arg[o * inner + i] = j as i32;
                }
            }
        }
    }
    (out, arg)
}

/// Backward of max: ȳ routed to the arg-max.
pub fn max_backward(
    (outer, n, inner): (usize, usize, usize),
    argmax: &[i32],
    dy: &[f32],
) -> Vec<f32> {
    let mut dx = zeros(outer * n * inner);
    for o in 0..outer {
        for i in 0..inner {
            let j = argmax[o * inner + i] as usize;
            dx[(o * n + j) * inner + i] = dy[o * inner + i];
        }
    }
    dx
}
