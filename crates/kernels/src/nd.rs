//! The bridge from ndarray to [`crate::sgemm`]: `C = α·A·B + β·C` on ndarray views, for the
//! models of phases 1-5, which are written with ndarray and generic over the float type.
//!
//! ```text
//!   gemm(α, A: (m, k), B: (k, n), β, C: (m, n))        C ← α A B + β C
//! ```
//!
//! An ndarray view is a pointer and two strides. A view whose columns are contiguous (stride 1)
//! is a row-major matrix with leading dimension = its row stride: `Trans::N`. A view whose rows
//! are contiguous — what `.t()` of a row-major matrix gives — is the transpose of a row-major
//! matrix: `Trans::T`, with leading dimension = its column stride. So `x.t().dot(δ)` and
//! `δ.dot(W.t())` reach the packed kernel without copying a transpose.
//!
//! The fast path runs when the element type is `f32`, every operand has one of those two layouts
//! (non-negative strides), C's columns are contiguous, and C's memory does not overlap A's or
//! B's. Everything else — f64 (the gradient checks), broadcast or strided views, aliasing — goes
//! to ndarray's `general_mat_mul`, which is also the readable reference the tests compare with.
//! `TFS_KERNELS=reference` makes `sgemm` itself run its triple loop.
//!
//! Left out: batched products (callers loop over heads), f64 and bf16 fast paths.

use crate::gemm::{sgemm, Gemm, MatMut, MatRef, Trans};
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayBase, ArrayView2, Data, DataMut, Ix2, NdFloat};
use std::any::TypeId;

/// `c = α·a·b + β·c`. Shapes: `a: (m, k)`, `b: (k, n)`, `c: (m, n)`; panics naming them otherwise.
///
/// Precondition of the f32 fast path: while it runs, no other thread may write (or, for `c`, read)
/// the memory between the rows of these views (the padding of a view into a larger array).
pub fn gemm<F, SA, SB, SC>(
    alpha: F,
    a: &ArrayBase<SA, Ix2>,
    b: &ArrayBase<SB, Ix2>,
    beta: F,
    c: &mut ArrayBase<SC, Ix2>,
) where
    F: NdFloat,
    SA: Data<Elem = F>,
    SB: Data<Elem = F>,
    SC: DataMut<Elem = F>,
{
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    assert!(
        k == k2 && c.dim() == (m, n),
        "gemm: A is {:?}, B is {:?}, C is {:?}; expected (m, k)·(k, n) → (m, n)",
        a.dim(),
        b.dim(),
        c.dim()
    );
    if TypeId::of::<F>() == TypeId::of::<f32>() && try_sgemm(alpha, a, b, beta, c) {
        return;
    }
    general_mat_mul(alpha, a, b, beta, c);
}

/// `a · b` into a new `(m, n)` array.
pub fn matmul<F, SA, SB>(a: &ArrayBase<SA, Ix2>, b: &ArrayBase<SB, Ix2>) -> Array2<F>
where
    F: NdFloat,
    SA: Data<Elem = F>,
    SB: Data<Elem = F>,
{
    let mut c = Array2::zeros((a.nrows(), b.ncols()));
    gemm(F::one(), a, b, F::zero(), &mut c);
    c
}

/// How a view is stored: its layout, leading dimension, and the number of elements from its
/// first to one past its last (the slice sgemm reads).
#[derive(Clone, Copy, Debug)]
struct Stored {
    trans: Trans,
    ld: usize,
    len: usize,
}

/// The stored layout of a `(rows, cols)` view with `strides`, if sgemm can read it.
fn stored(rows: usize, cols: usize, strides: &[isize]) -> Option<Stored> {
    let (s0, s1) = (strides[0], strides[1]);
    if s0 < 0 || s1 < 0 {
        return None;
    }
    let (s0, s1) = (s0 as usize, s1 as usize);
    if rows == 0 || cols == 0 {
        // An empty view: ndarray gives it zero strides; nothing is read.
        return Some(Stored {
            trans: Trans::N,
            ld: cols.max(1),
            len: 0,
        });
    }
    let span = |r: usize, c: usize, ld: usize| {
        if r == 0 || c == 0 {
            0
        } else {
            (r - 1) * ld + c
        }
    };
    // Row-major (m, k): columns contiguous. A single row may have any row stride.
    if s1 == 1 || cols <= 1 {
        let ld = if rows <= 1 { cols.max(1) } else { s0 };
        if ld >= cols.max(1) {
            return Some(Stored {
                trans: Trans::N,
                ld,
                len: span(rows, cols, ld),
            });
        }
    }
    // The transpose of a row-major (cols, rows) matrix: rows contiguous.
    if s0 == 1 || rows <= 1 {
        let ld = if cols <= 1 { rows.max(1) } else { s1 };
        if ld >= rows.max(1) {
            return Some(Stored {
                trans: Trans::T,
                ld,
                len: span(cols, rows, ld),
            });
        }
    }
    None
}

/// Byte ranges `[start, end)` of two spans overlap.
fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// The f32 fast path; returns false (having done nothing) when a layout does not fit.
fn try_sgemm<F, SA, SB, SC>(
    alpha: F,
    a: &ArrayBase<SA, Ix2>,
    b: &ArrayBase<SB, Ix2>,
    beta: F,
    c: &mut ArrayBase<SC, Ix2>,
) -> bool
where
    F: NdFloat,
    SA: Data<Elem = F>,
    SB: Data<Elem = F>,
    SC: DataMut<Elem = F>,
{
    let ((m, k), n) = (a.dim(), b.ncols());
    let (Some(sa), Some(sb), Some(sc)) = (
        stored(m, k, a.strides()),
        stored(k, n, b.strides()),
        stored(m, n, c.strides()),
    ) else {
        return false;
    };
    if sc.trans != Trans::N {
        return false;
    }
    if spans_overlap(
        (a.as_ptr(), sa.len),
        (b.as_ptr(), sb.len),
        (c.as_ptr(), sc.len),
    ) {
        return false;
    }
    let to_f32 = |x: F| x.to_f32().expect("f32 is f32");
    let (alpha, beta) = (to_f32(alpha), to_f32(beta));
    // SAFETY: F is f32 (checked by the caller through TypeId), so the pointers may be read as f32.
    // Each view's elements lie within `len` elements from its first one, because `stored`
    // derived `len` from the view's own shape and non-negative strides; the memory between rows
    // belongs to the same allocation as the view (ndarray views never span allocations). The
    // mutable C span does not overlap the A or B spans (checked above), so these slices do not
    // alias each other. The spans also cover the padding between rows, which other views of the
    // same array may own: sound as long as no other thread touches that padding during this call
    // (documented on `gemm`; no caller in the project shares an array across threads). A
    // raw-pointer entry into sgemm would remove that condition.
    unsafe {
        let a = std::slice::from_raw_parts(a.as_ptr() as *const f32, sa.len);
        let b = std::slice::from_raw_parts(b.as_ptr() as *const f32, sb.len);
        let c = std::slice::from_raw_parts_mut(c.as_mut_ptr() as *mut f32, sc.len);
        let g = Gemm {
            ta: sa.trans,
            tb: sb.trans,
            m,
            n,
            k,
            alpha,
            beta,
        };
        sgemm(
            &g,
            MatRef::new(a, sa.ld),
            MatRef::new(b, sb.ld),
            MatMut::new(c, sc.ld),
        );
    }
    true
}

/// Whether C's memory span (first to last element, padding included) overlaps A's or B's.
fn spans_overlap<F>(a: (*const F, usize), b: (*const F, usize), c: (*const F, usize)) -> bool {
    let size = std::mem::size_of::<F>();
    let range = |(p, len): (*const F, usize)| (p as usize, p as usize + len * size);
    c.1 > 0 && (overlaps(range(c), range(a)) || overlaps(range(c), range(b)))
}

/// Whether these f32 views would be sent to the fallback because C's span overlaps A's or B's
/// (views into one array whose rows interleave), for the tests.
pub fn operands_overlap(a: &ArrayView2<f32>, b: &ArrayView2<f32>, c: &ArrayView2<f32>) -> bool {
    let ((m, k), n) = (a.dim(), b.ncols());
    match (
        stored(m, k, a.strides()),
        stored(k, n, b.strides()),
        stored(m, n, c.strides()),
    ) {
        (Some(sa), Some(sb), Some(sc)) => spans_overlap(
            (a.as_ptr(), sa.len),
            (b.as_ptr(), sb.len),
            (c.as_ptr(), sc.len),
        ),
        _ => false,
    }
}

/// Whether the layouts of these f32 views fit the fast path (strides only: the overlap check and
/// `TFS_KERNELS` are not considered), for tests and benchmarks that must know.
pub fn takes_fast_path(a: &ArrayView2<f32>, b: &ArrayView2<f32>, c: &ArrayView2<f32>) -> bool {
    let ((m, k), n) = (a.dim(), b.ncols());
    matches!(
        (
            stored(m, k, a.strides()),
            stored(k, n, b.strides()),
            stored(m, n, c.strides())
        ),
        (
            Some(_),
            Some(_),
            Some(Stored {
                trans: Trans::N,
                ..
            })
        )
    )
}
