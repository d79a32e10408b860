//! The ops: shape checks, device checks and recording of the graph. The arithmetic is the
//! backend's (`crate::backend`, one function per primitive); each op's backward is one arm of
//! the `match` in [`crate::autograd`].

pub mod arith;
pub mod attention;
pub mod matmul;
pub mod nn;
pub mod reduce;
pub mod rope;
pub mod shape;

/// The shape both `a` and `b` broadcast to (NumPy rules: align on the right; a size-1 axis
/// stretches), or a panic naming the op and both shapes.
pub(crate) fn broadcast_shape(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let da = if i + a.len() >= n {
                a[i + a.len() - n]
            } else {
                1
            };
            let db = if i + b.len() >= n {
                b[i + b.len() - n]
            } else {
                1
            };
            match (da, db) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => panic!("{op}: shapes {a:?} and {b:?} do not broadcast"),
            }
        })
        .collect()
}

/// (outer, n, inner) around `axis`.
pub(crate) fn split_at_axis(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    let outer = shape[..axis].iter().product();
    let inner = shape[axis + 1..].iter().product();
    (outer, shape[axis], inner)
}
