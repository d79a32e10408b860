//! Row-wise softmax, in place, with an optional causal mask.
//!
//! For each row x of length c: y_j = e^(x_j − m) / Σ_k e^(x_k − m) over the visible columns,
//! m = max_k x_k (subtracting it changes nothing mathematically and keeps e^· ≤ 1). Masked
//! columns get exactly 0. With [`Mask::Causal`]`{ q_len }` the rows come in blocks of `q_len`
//! queries against `c` keys, the last query seeing every key: row i of a block (i < q_len) sees
//! columns 0..=c − q_len + i. Training attention has q_len = c = T (row t sees 0..=t); decoding
//! with a KV cache has q_len = 1 (the one query sees everything).
//!
//! The reference takes three passes (max, exp and sum, divide) with `f32::exp`; the fast version
//! takes the same three passes over a row that is in L1 after the first, vectorised, with
//! [`super::exp_approx`].
//!
//! The backward of a row, [`softmax_backward_row`]: dx = s · y ⊙ (dy − ⟨dy, y⟩) (s a scale the
//! caller folds in, attention's 1/√hs), with sixteen running sums for the dot product so that it
//! vectorises (one f32 sum is a serial chain the compiler must keep in order).

use super::{exp_approx_with, max_lanes, simd_fn, use_reference, MulAdd};

/// Which columns of a row take part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Every column.
    None,
    /// Rows in blocks of `q_len` queries; row i of a block sees columns 0..=cols − q_len + i.
    Causal { q_len: usize },
}

/// How many leading columns row `r` sees.
fn visible(mask: Mask, r: usize, cols: usize) -> usize {
    match mask {
        Mask::None => cols,
        Mask::Causal { q_len } => cols - q_len + r % q_len + 1,
    }
}

fn check(x: &[f32], rows: usize, cols: usize, mask: Mask) {
    assert_eq!(
        x.len(),
        rows * cols,
        "softmax_rows: x has {} elements, expected rows {rows} × cols {cols}",
        x.len()
    );
    if let Mask::Causal { q_len } = mask {
        assert!(
            q_len >= 1 && q_len <= cols,
            "softmax_rows: causal q_len {q_len} must be in 1..={cols} (cols)"
        );
    }
}

/// Reference: x (rows, cols) ← softmax of each row, masked columns 0.
pub fn softmax_rows_reference(x: &mut [f32], rows: usize, cols: usize, mask: Mask) {
    check(x, rows, cols, mask);
    for (r, row) in x.chunks_exact_mut(cols.max(1)).take(rows).enumerate() {
        let (seen, hidden) = row.split_at_mut(visible(mask, r, cols));
        let max = seen.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let mut sum = 0.0;
        for v in seen.iter_mut() {
            *v = (*v - max).exp();
            sum += *v;
        }
        seen.iter_mut().for_each(|v| *v /= sum);
        hidden.fill(0.0);
    }
}

/// x (rows, cols) ← softmax of each row, masked columns 0 (fast path unless
/// `TFS_KERNELS=reference`).
pub fn softmax_rows(x: &mut [f32], rows: usize, cols: usize, mask: Mask) {
    check(x, rows, cols, mask);
    if use_reference() {
        return softmax_rows_reference(x, rows, cols, mask);
    }
    for (r, row) in x.chunks_exact_mut(cols.max(1)).take(rows).enumerate() {
        let (seen, hidden) = row.split_at_mut(visible(mask, r, cols));
        softmax_row(seen);
        hidden.fill(0.0);
    }
}

simd_fn!(fma fn softmax_row(row: &mut [f32]) = softmax_row_body);

#[inline(always)]
fn softmax_row_body<M: MulAdd>(row: &mut [f32]) {
    // Sixteen running maxima and sums so that the loops vectorise (no serial dependency).
    let max = max_lanes(row);
    let mut sums = [0.0f32; 16];
    let mut chunks = row.chunks_exact_mut(16);
    for c in &mut chunks {
        for (s, v) in sums.iter_mut().zip(c.iter_mut()) {
            *v = exp_approx_with::<M>(*v - max);
            *s += *v;
        }
    }
    let mut sum: f32 = sums.iter().sum();
    for v in chunks.into_remainder() {
        *v = exp_approx_with::<M>(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inv);
}

fn check_backward(y: &[f32], dy: &[f32]) {
    assert_eq!(
        y.len(),
        dy.len(),
        "softmax_backward_row: y {} and dy {}",
        y.len(),
        dy.len()
    );
}

/// Reference of [`softmax_backward_row`].
pub fn softmax_backward_row_reference(y: &[f32], dy: &mut [f32], scale: f32) {
    check_backward(y, dy);
    let dot: f32 = dy.iter().zip(y).map(|(a, b)| a * b).sum();
    dy.iter_mut()
        .zip(y)
        .for_each(|(d, &p)| *d = p * (*d - dot) * scale);
}

/// In place, `dy ← scale · y ⊙ (dy − ⟨dy, y⟩)`: the gradient through a softmax row y (fast path
/// unless `TFS_KERNELS=reference`).
pub fn softmax_backward_row(y: &[f32], dy: &mut [f32], scale: f32) {
    check_backward(y, dy);
    if use_reference() {
        return softmax_backward_row_reference(y, dy, scale);
    }
    backward_row(y, dy, scale);
}

simd_fn!(fn backward_row(y: &[f32], dy: &mut [f32], scale: f32) = backward_row_body);

#[inline(always)]
fn backward_row_body(y: &[f32], dy: &mut [f32], scale: f32) {
    let mut lanes = [0.0f32; 16];
    let (yc, dc) = (y.chunks_exact(16), dy.chunks_exact(16));
    let tail: f32 = yc
        .remainder()
        .iter()
        .zip(dc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (ys, ds) in yc.zip(dc) {
        for i in 0..16 {
            lanes[i] += ys[i] * ds[i];
        }
    }
    let dot = lanes.iter().sum::<f32>() + tail;
    for (d, &p) in dy.iter_mut().zip(y) {
        *d = p * (*d - dot) * scale;
    }
}
