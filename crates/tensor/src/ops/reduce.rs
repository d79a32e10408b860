//! Reductions along one axis (or all): sum, mean, max.
//!
//! ```text
//!   sum:  y[o, i] = Σ_j x[o, j, i]        x̄[o, j, i] = ȳ[o, i]            (mean: also ÷ n)
//!   max:  y[o, i] = max_j x[o, j, i]      x̄ = ȳ at the arg-max, 0 elsewhere (first one on ties)
//! ```
//!
//! A tensor of shape (…, n, …) is read as (outer, n, inner) around the reduced axis; `keepdim`
//! only changes the output's shape (the elements are the same).

use super::split_at_axis;
use crate::backend;
use crate::op::Op;
use crate::tensor::Tensor;

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
    match axis {
        None => {
            let n = x.numel();
            let scale = if mean { 1.0 / n.max(1) as f32 } else { 1.0 };
            let out = backend::sum_all(x.view().src(), scale);
            Tensor::from_op_if(out, &[], x.requires_grad(), || Op::Sum {
                x: x.clone(),
                axis: None,
                scale,
            })
        }
        Some(a) => {
            let axis = x.axis(a);
            let d = split_at_axis(x.shape(), axis);
            let scale = if mean { 1.0 / d.1.max(1) as f32 } else { 1.0 };
            let out = backend::sum_axis(x.view().src(), d, scale);
            let shape = reduced_shape(x.shape(), axis, keepdim);
            Tensor::from_op_if(out, &shape, x.requires_grad(), || Op::Sum {
                x: x.clone(),
                axis: Some(axis),
                scale,
            })
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
        let (out, arg) = backend::max(self.view().src(), (outer, n, inner));
        let shape = reduced_shape(self.shape(), axis, keepdim);
        Tensor::from_op_if(out, &shape, self.requires_grad(), || Op::Max {
            x: self.clone(),
            axis,
            argmax: arg,
        })
    }
}
