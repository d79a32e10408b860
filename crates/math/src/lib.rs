//! # tfs-math — Phase 0: the math you actually need
//!
//! Pure-Rust vectors and matrices ([`linalg`]), numerical derivatives ([`numgrad`]), the gradient
//! checker every later backward pass is tested with ([`gradcheck`]), softmax ([`softmax`]),
//! cross-entropy ([`loss`]), the shared [`elementwise`] helpers (sigmoid, one-hot, row softmax),
//! entropy and KL divergence ([`info`]), the project's one seeded random number generator
//! ([`Rng`]); and [`threads`], the one place the thread count is read.

#![forbid(unsafe_code)]

pub mod elementwise;
pub mod gradcheck;
pub mod info;
pub mod linalg;
pub mod loss;
pub mod numgrad;
mod rng;
pub mod softmax;

pub use elementwise::{one_hot, sigmoid, softmax_rows};
pub use gradcheck::{gradcheck, GradCheck, GradCheckReport};
pub use rng::Rng;

/// The index of the first largest element, skipping NaNs (0 for an empty or all-NaN input).
pub fn argmax<T: PartialOrd + Copy>(xs: impl IntoIterator<Item = T>) -> usize {
    let mut best: Option<(usize, T)> = None;
    for (i, x) in xs.into_iter().enumerate() {
        if x.partial_cmp(&x).is_some() && best.is_none_or(|(_, b)| x > b) {
            best = Some((i, x));
        }
    }
    best.map_or(0, |b| b.0)
}

/// Cores this process may run on (`std::thread::available_parallelism`, 1 if unknown): what every
/// results.json records as `cores`. The threads the kernels use are `tfs_kernels::pool::
/// default_threads()` (these cores, or `TFS_THREADS`), which the benchmark lines report.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
