//! Ops that move elements without arithmetic: reshape (a view), transpose, concatenation,
//! narrowing and splitting.
//!
//! ```text
//!   reshape     x̄ = ȳ read in x's shape (the same elements)
//!   transpose   x̄ = ȳ with the two axes swapped back
//!   cat         x̄ᵢ = the slice of ȳ that xᵢ filled
//!   narrow      x̄ = ȳ placed at [start, start + len) along the axis, 0 elsewhere
//! ```

use super::split_at_axis;
use crate::backend;
use crate::op::Op;
use crate::tensor::{same_device, Tensor};

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
        let y = backend::transpose(self.view().src(), self.shape(), a, b);
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
        let y = backend::narrow(self.view().src(), (outer, n, inner), start, len);
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
        same_device("cat", &xs.iter().collect::<Vec<_>>());
        let (outer, _, inner) = split_at_axis(base, axis);
        let total: usize = xs.iter().map(|x| x.shape()[axis]).sum();
        let stores: Vec<_> = xs.iter().map(|x| x.view()).collect();
        let parts: Vec<_> = xs
            .iter()
            .zip(&stores)
            .map(|(x, s)| (s.src(), x.shape()[axis] * inner))
            .collect();
        let y = backend::cat(&parts, outer);
        drop(parts);
        drop(stores);
        let mut shape = base.to_vec();
        shape[axis] = total;
        let rg = xs.iter().any(|x| x.requires_grad());
        Tensor::from_op_if(y, &shape, rg, || Op::Cat {
            xs: xs.to_vec(),
            axis,
        })
    }
}

/// Row widths (axis size × inner) of the inputs of a `cat` along `axis`, and the outer count.
pub(crate) fn cat_widths(xs: &[Tensor], axis: usize) -> (Vec<usize>, usize) {
    let (outer, _, inner) = split_at_axis(xs[0].shape(), axis);
    (xs.iter().map(|x| x.shape()[axis] * inner).collect(), outer)
}
