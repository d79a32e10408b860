//! Ops that move elements without arithmetic: reshape (a view), transpose, concatenation,
//! narrowing and splitting.
//!
//! ```text
//!   reshape     x̄ = ȳ read in x's shape (the same elements)
//!   transpose   x̄ = ȳ with the two axes swapped back
//!   cat         x̄ᵢ = the slice of ȳ that xᵢ filled
//!   narrow      x̄ = ȳ placed at [start, start + len) along the axis, 0 elsewhere
//! ```

use super::reduce::split_at_axis;
use super::{gather_strided, strides};
use crate::op::Op;
use crate::tensor::cache::{take, zeros};
use crate::tensor::Tensor;

impl Tensor {
    /// The same elements in another shape (shares the storage). One axis may be `usize::MAX`
    /// to be inferred.
    pub fn reshape(&self, shape: &[usize]) -> Tensor {
        let n = self.numel();
        let mut s = shape.to_vec();
        if let Some(i) = s.iter().position(|&d| d == usize::MAX) {
            let known: usize = s.iter().filter(|&&d| d != usize::MAX).product();
            s[i] = n / known.max(1);
        }
        assert_eq!(
            s.iter().product::<usize>(),
            n,
            "reshape: {:?} ({n} elements) into {shape:?}",
            self.shape()
        );
        let op = (self.requires_grad() && crate::tensor::grad_enabled())
            .then(|| Op::Reshape(self.clone()));
        self.share(&s, op)
    }

    /// Axes `a` and `b` swapped (a contiguous copy).
    pub fn transpose(&self, a: isize, b: isize) -> Tensor {
        let (a, b) = (self.axis(a), self.axis(b));
        let y = transpose_data(&self.data(), self.shape(), a, b);
        let mut shape = self.shape().to_vec();
        shape.swap(a, b);
        Tensor::from_op_if(y, &shape, self.requires_grad(), || Op::Transpose {
            x: self.clone(),
            a,
            b,
        })
    }

    /// `len` entries of `axis` starting at `start`.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Tensor {
        let axis = self.axis(axis);
        let (outer, n, inner) = split_at_axis(self.shape(), axis);
        assert!(
            start + len <= n,
            "narrow: [{start}, {}) out of range for axis {axis} of shape {:?}",
            start + len,
            self.shape()
        );
        let d = self.data();
        let mut y = take(outer * len * inner);
        for o in 0..outer {
            y.extend_from_slice(&d[(o * n + start) * inner..(o * n + start + len) * inner]);
        }
        drop(d);
        let mut shape = self.shape().to_vec();
        shape[axis] = len;
        Tensor::from_op_if(y, &shape, self.requires_grad(), || Op::Narrow {
            x: self.clone(),
            axis,
            start,
        })
    }

    /// Splits `axis` into pieces of the given sizes.
    pub fn split(&self, axis: isize, sizes: &[usize]) -> Vec<Tensor> {
        let ax = self.axis(axis);
        assert_eq!(
            sizes.iter().sum::<usize>(),
            self.shape()[ax],
            "split: sizes {sizes:?} do not add up to axis {ax} of shape {:?}",
            self.shape()
        );
        let mut start = 0;
        sizes
            .iter()
            .map(|&s| {
                let t = self.narrow(axis, start, s);
                start += s;
                t
            })
            .collect()
    }

    /// `(B, Hkv, T, d)` → `(B, Hkv·g, T, d)`, each head repeated `g` times in place (head `h`
    /// of the result is head `h / g`): grouped-query attention's keys and values for every
    /// query head. Built from `cat`, so its backward sums the copies.
    pub fn repeat_heads(&self, g: usize) -> Tensor {
        if g == 1 {
            return self.clone();
        }
        assert!(
            self.dims() == 4,
            "repeat_heads: {:?} is not (B, H, T, d)",
            self.shape()
        );
        let (b, h, t, d) = (self.dim(0), self.dim(1), self.dim(2), self.dim(3));
        let one = self.reshape(&[b, h, 1, t * d]);
        Tensor::cat(&vec![one; g], 2).reshape(&[b, h * g, t, d])
    }

    /// Concatenation along `axis`; every other axis must agree.
    pub fn cat(xs: &[Tensor], axis: isize) -> Tensor {
        assert!(!xs.is_empty(), "cat: no tensors");
        let axis = xs[0].axis(axis);
        let base = xs[0].shape();
        for x in xs {
            let ok = x.dims() == base.len()
                && (0..base.len()).all(|i| i == axis || x.shape()[i] == base[i]);
            assert!(
                ok,
                "cat: shapes {:?} and {base:?} differ outside axis {axis}",
                x.shape()
            );
        }
        let (outer, _, inner) = split_at_axis(base, axis);
        let total: usize = xs.iter().map(|x| x.shape()[axis]).sum();
        let mut y = take(outer * total * inner);
        let datas: Vec<_> = xs.iter().map(|x| x.data()).collect();
        for o in 0..outer {
            for (x, d) in xs.iter().zip(&datas) {
                let w = x.shape()[axis] * inner;
                y.extend_from_slice(&d[o * w..(o + 1) * w]);
            }
        }
        drop(datas);
        let mut shape = base.to_vec();
        shape[axis] = total;
        let rg = xs.iter().any(|x| x.requires_grad());
        Tensor::from_op_if(y, &shape, rg, || Op::Cat {
            xs: xs.to_vec(),
            axis,
        })
    }
}

/// Elements of a tensor of `shape` with axes `a` and `b` swapped, contiguous.
pub(crate) fn transpose_data(x: &[f32], shape: &[usize], a: usize, b: usize) -> Vec<f32> {
    let mut st = strides(shape);
    let mut out_shape = shape.to_vec();
    st.swap(a, b);
    out_shape.swap(a, b);
    gather_strided(x, &out_shape, &st)
}

/// Backward of `cat`: each input's slice of ȳ.
pub(crate) fn cat_backward(xs: &[&Tensor], axis: usize, dy: &[f32]) -> Vec<Vec<f32>> {
    let (outer, _, inner) = split_at_axis(xs[0].shape(), axis);
    let total: usize = xs.iter().map(|x| x.shape()[axis]).sum();
    let mut out: Vec<Vec<f32>> = xs.iter().map(|x| take(x.numel())).collect();
    for o in 0..outer {
        let mut off = o * total * inner;
        for (x, g) in xs.iter().zip(out.iter_mut()) {
            let w = x.shape()[axis] * inner;
            g.extend_from_slice(&dy[off..off + w]);
            off += w;
        }
    }
    out
}

/// Backward of `narrow`: ȳ in place, zeros around it.
pub(crate) fn narrow_backward(shape: &[usize], axis: usize, start: usize, dy: &[f32]) -> Vec<f32> {
    let (outer, n, inner) = split_at_axis(shape, axis);
    let len = dy.len() / (outer * inner).max(1);
    let mut dx = zeros(outer * n * inner);
    for o in 0..outer {
        dx[(o * n + start) * inner..(o * n + start + len) * inner]
            .copy_from_slice(&dy[o * len * inner..(o + 1) * len * inner]);
    }
    dx
}
