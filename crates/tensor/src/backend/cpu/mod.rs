//! The CPU backend: today's bodies of every primitive, on host slices, through tfs-kernels (GEMM,
//! fused kernels) and its thread pool. The only place in tfs-tensor that names either.
//!
//! The index arithmetic the bodies share lives here: row-major strides, broadcast strides (0
//! along stretched axes), an odometer over a strided shape, strided gathers, and the reduction
//! of a broadcast gradient back to its input's shape.

pub mod attention;
pub mod elementwise;
pub mod layout;
pub mod matmul;
pub mod nn;
pub mod optim;
pub mod reduce;

/// Row-major strides of `shape`.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Strides that read a tensor of shape `inner` as if it had the (broadcast) shape `outer`:
/// 0 along stretched axes.
pub(crate) fn broadcast_strides(inner: &[usize], outer: &[usize]) -> Vec<usize> {
    let s = strides(inner);
    let off = outer.len() - inner.len();
    (0..outer.len())
        .map(|i| {
            if i < off || inner[i - off] == 1 {
                0
            } else {
                s[i - off]
            }
        })
        .collect()
}

/// Calls `f(offset)` for every element of `shape` in row-major order, where `offset` is the
/// element's position under `st` (strides, possibly 0 or permuted).
pub(crate) fn for_each_offset(shape: &[usize], st: &[usize], mut f: impl FnMut(usize)) {
    let n: usize = shape.iter().product();
    if n == 0 {
        return;
    }
    let d = shape.len();
    if d == 0 {
        return f(0);
    }
    let mut idx = vec![0usize; d];
    let mut off = 0usize;
    for _ in 0..n {
        f(off);
        // Odometer: bump the last axis, carry into earlier ones.
        let mut i = d - 1;
        loop {
            idx[i] += 1;
            off += st[i];
            if idx[i] < shape[i] {
                break;
            }
            off -= st[i] * shape[i];
            idx[i] = 0;
            if i == 0 {
                break;
            }
            i -= 1;
        }
    }
}

/// `src` read through strides `st` as a contiguous tensor of shape `shape`.
pub(crate) fn gather_strided(src: &[f32], shape: &[usize], st: &[usize]) -> Vec<f32> {
    let mut out = crate::storage::cache::take(shape.iter().product());
    let d = shape.len();
    if d >= 2 && st[d - 1] == 1 && shape[d - 1] > 1 {
        // The last axis is contiguous in the source: copy whole runs of it (a head's features
        // when heads are split or merged) instead of one element at a time.
        let run = shape[d - 1];
        for_each_offset(&shape[..d - 1], &st[..d - 1], |o| {
            out.extend_from_slice(&src[o..o + run])
        });
        return out;
    }
    for_each_offset(shape, st, |o| out.push(src[o]));
    out
}

/// Sums `g` (of the broadcast shape `outer`) down to the shape `inner` it was broadcast from:
/// the gradient of a broadcast input.
pub(crate) fn reduce_to(g: Vec<f32>, outer: &[usize], inner: &[usize]) -> Vec<f32> {
    if outer == inner {
        return g;
    }
    let n_in: usize = inner.iter().product();
    let mut out = crate::storage::cache::zeros(n_in);
    // Fast path: `inner` is a suffix of `outer` (a bias over rows).
    let suffix = inner.len() <= outer.len() && outer[outer.len() - inner.len()..] == *inner;
    if suffix && n_in > 0 {
        for chunk in g.chunks_exact(n_in) {
            out.iter_mut().zip(chunk).for_each(|(o, &v)| *o += v);
        }
        crate::storage::cache::give(g);
        return out;
    }
    let st = broadcast_strides(inner, outer);
    let mut i = 0;
    for_each_offset(outer, &st, |o| {
        out[o] += g[i];
        i += 1;
    });
    crate::storage::cache::give(g);
    out
}

/// Elements of work a thread should get before an element-wise or row-wise kernel is split over
/// the kernel threads: below it, handing a run to a thread costs about what it saves.
const PAR_MIN: usize = 1 << 15;

/// `(tasks, run)`: how to split `n` items of `width` elements each over the kernel threads, as
/// `tasks` runs of `run` items (the last may be shorter; `run` is a multiple of `align`). One
/// task when there is too little work to share.
pub(crate) fn runs(n: usize, width: usize, align: usize) -> (usize, usize) {
    let threads = tfs_kernels::pool::default_threads();
    let tasks = (n * width / PAR_MIN).clamp(1, threads.max(1));
    let run = n.div_ceil(tasks).div_ceil(align.max(1)) * align.max(1);
    (n.div_ceil(run.max(1)).max(1), run.max(1))
}

/// The kernel threads in use (`TFS_THREADS`, else the cores).
pub fn threads() -> usize {
    tfs_kernels::pool::default_threads()
}

/// Sets the kernel threads for the process (None: back to `TFS_THREADS` or the cores).
pub fn set_threads(n: Option<usize>) {
    tfs_kernels::pool::set_threads(n)
}

/// The measured FMA peak of the kernel threads (FLOP/s), None without AVX2/AVX-512.
pub fn peak_flops() -> Option<f64> {
    tfs_kernels::peak::fma_peak_gflops(threads()).map(|g| g * 1e9)
}

/// Asks glibc to keep freed large buffers in the process (true when it took the setting).
pub fn keep_freed_memory() -> bool {
    tfs_kernels::alloc::keep_freed_memory()
}
