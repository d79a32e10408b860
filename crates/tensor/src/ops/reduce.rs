//! Reductions along one axis (or all): sum, mean, max.
//!
//! ```text
//!   sum:  y[o, i] = Σ_j x[o, j, i]        x̄[o, j, i] = ȳ[o, i]            (mean: also ÷ n)
//!   max:  y[o, i] = max_j x[o, j, i]      x̄ = ȳ at the arg-max, 0 elsewhere (first one on ties)
//! ```
//!
//! A tensor of shape (…, n, …) is read as (outer, n, inner) around the reduced axis; `keepdim`
//! only changes the output's shape (the elements are the same).

use crate::op::Op;
use crate::tensor::cache::{take, zeros};
use crate::tensor::Tensor;

/// Σ x in f64, with 8 independent partial sums so that the loop vectorises (a single running
/// sum is one long chain of dependent additions).
fn sum_f64(x: &[f32]) -> f64 {
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

/// (outer, n, inner) around `axis`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}

fn reduced_shape(shape: &[usize], axis: usize, keepdim: bool) -> Vec<usize> {
    let mut s = shape.to_vec();
    if keepdim {
        s[axis] = 1;
    } else {
        s.remove(axis);
    }
    s
}

fn sum_impl(x: &Tensor, axis: Option<isize>, keepdim: bool, mean: bool) -> Tensor {
    let d = x.data();
    match axis {
        None => {
            let n = d.len();
            let scale = if mean { 1.0 / n.max(1) as f32 } else { 1.0 };
            let s = sum_f64(&d);
            drop(d);
            Tensor::from_op_if(vec![s as f32 * scale], &[], x.requires_grad(), || Op::Sum {
                x: x.clone(),
                axis: None,
                scale,
            })
        }
        Some(a) => {
            let axis = x.axis(a);
            let (outer, n, inner) = split_at_axis(x.shape(), axis);
            let scale = if mean { 1.0 / n.max(1) as f32 } else { 1.0 };
            let mut out = zeros(outer * inner);
            for o in 0..outer {
                let dst = &mut out[o * inner..(o + 1) * inner];
                for j in 0..n {
                    let src = &d[(o * n + j) * inner..(o * n + j + 1) * inner];
                    dst.iter_mut().zip(src).for_each(|(y, &v)| *y += v);
                }
            }
            out.iter_mut().for_each(|v| *v *= scale);
            drop(d);
            let shape = reduced_shape(x.shape(), axis, keepdim);
            Tensor::from_op_if(out, &shape, x.requires_grad(), || Op::Sum {
                x: x.clone(),
                axis: Some(axis),
                scale,
            })
        }
    }
}

/// Backward of [`Op::Sum`]: ȳ broadcast back along the reduced axis, times the scale.
pub(crate) fn sum_backward(
    shape: &[usize],
    axis: Option<usize>,
    scale: f32,
    dy: &[f32],
) -> Vec<f32> {
    let n: usize = shape.iter().product();
    match axis {
        None => {
            let mut dx = take(n);
            dx.resize(n, dy[0] * scale);
            dx
        }
        Some(axis) => {
            let (outer, len, inner) = split_at_axis(shape, axis);
            let mut dx = take(n);
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

impl Tensor {
    /// Sum of every element (a scalar).
    pub fn sum_all(&self) -> Tensor {
        sum_impl(self, None, false, false)
    }
    /// Mean of every element (a scalar).
    pub fn mean_all(&self) -> Tensor {
        sum_impl(self, None, false, true)
    }
    /// Sum along `axis` (negative counts from the end).
    pub fn sum(&self, axis: isize, keepdim: bool) -> Tensor {
        sum_impl(self, Some(axis), keepdim, false)
    }
    /// Mean along `axis`.
    pub fn mean(&self, axis: isize, keepdim: bool) -> Tensor {
        sum_impl(self, Some(axis), keepdim, true)
    }
    /// Max along `axis`.
    pub fn max(&self, axis: isize, keepdim: bool) -> Tensor {
        let axis = self.axis(axis);
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        assert!(
            n > 0,
            "max: axis {axis} of shape {:?} is empty",
            self.shape()
        );
        let d = self.data();
        let mut out = vec![f32::NEG_INFINITY; outer * inner];
        let mut arg = vec![0u32; outer * inner];
        for o in 0..outer {
            for j in 0..n {
                for i in 0..inner {
                    let v = d[(o * n + j) * inner + i];
                    if v > out[o * inner + i] {
                        out[o * inner + i] = v;
                        arg[o * inner + i] = j as u32;
                    }
                }
            }
        }
        drop(d);
        let shape = reduced_shape(self.shape(), axis, keepdim);
        Tensor::from_op_if(out, &shape, self.requires_grad(), || Op::Max {
            x: self.clone(),
            axis,
            argmax: arg,
        })
    }
}

/// Backward of [`Op::Max`]: ȳ routed to the arg-max.
pub(crate) fn max_backward(shape: &[usize], axis: usize, argmax: &[u32], dy: &[f32]) -> Vec<f32> {
    let (outer, n, inner) = split_at_axis(shape, axis);
    let mut dx = zeros(outer * n * inner);
    for o in 0..outer {
        for i in 0..inner {
            let j = argmax[o * inner + i] as usize;
            dx[(o * n + j) * inner + i] = dy[o * inner + i];
        }
    }
    dx
}
