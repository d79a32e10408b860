//! Bodies of the ops that move elements without arithmetic (the math is in `ops/shape.rs`).

use super::{gather_strided, strides};
use crate::storage::cache::{take, zeros};

/// Elements of a tensor of `shape` with axes `a` and `b` swapped, contiguous.
pub fn transpose(x: &[f32], shape: &[usize], a: usize, b: usize) -> Vec<f32> {
    let mut st = strides(shape);
    let mut out_shape = shape.to_vec();
    st.swap(a, b);
    out_shape.swap(a, b);
    gather_strided(x, &out_shape, &st)
}

/// Entries `start..start + len` of the middle axis of `(outer, n, inner)`.
pub fn narrow(
    d: &[f32],
    (outer, n, inner): (usize, usize, usize),
    start: usize,
    len: usize,
) -> Vec<f32> {
    let mut y = take(outer * len * inner);
    for o in 0..outer {
        y.extend_from_slice(&d[(o * n + start) * inner..(o * n + start + len) * inner]);
    }
    y
}

/// Backward of narrow: ȳ in place, zeros around it.
pub fn narrow_backward(
    (outer, n, inner): (usize, usize, usize),
    start: usize,
    dy: &[f32],
) -> Vec<f32> {
    let len = dy.len() / (outer * inner).max(1);
    let mut dx = zeros(outer * n * inner);
    for o in 0..outer {
        dx[(o * n + start) * inner..(o * n + start + len) * inner]
            .copy_from_slice(&dy[o * len * inner..(o + 1) * len * inner]);
    }
    dx
}

/// Concatenation along the middle axis: each input `(outer, wᵢ)` with `wᵢ` = its axis size ×
/// inner, rows interleaved.
pub fn cat(xs: &[(&[f32], usize)], outer: usize) -> Vec<f32> {
    let total: usize = xs.iter().map(|x| x.1).sum();
    let mut y = take(outer * total);
    for o in 0..outer {
        for &(d, w) in xs {
            y.extend_from_slice(&d[o * w..(o + 1) * w]);
        }
    }
    y
}

/// Backward of cat: each input's slice of ȳ (widths `wᵢ` as in [`cat`]).
pub fn cat_backward(widths: &[usize], outer: usize, dy: &[f32]) -> Vec<Vec<f32>> {
    let total: usize = widths.iter().sum();
    let mut out: Vec<Vec<f32>> = widths.iter().map(|w| take(outer * w)).collect();
    for o in 0..outer {
        let mut off = o * total;
        for (&w, g) in widths.iter().zip(out.iter_mut()) {
            g.extend_from_slice(&dy[off..off + w]);
            off += w;
        }
    }
    out
}
