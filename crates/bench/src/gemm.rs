//! `tfs bench gemm`: GFLOP/s of our sgemm on the square sizes and GPT-2 124M training shapes of
//! `bench/peers/torch_matmul.py`, one JSON object per (case, threads) with the peer's keys, so
//! the two are joined on `case` and `threads`.
//!
//! The cases, the timing (warm-up, then best and median of runs lasting `min_seconds`) and the
//! JSON are `tfs_kernels::bench`'s; this module only selects and collects them.
//! Left out: the attention-batched products (one head is measured, not B·nh of them).

use serde_json::Value;
use tfs_kernels::bench::{bench_gemm, default_cases};
use tfs_kernels::Kernel;

/// Measures every default case whose name contains `filter`, on each of `threads`; calls
/// `each` with every line as it is measured (a full run takes minutes).
pub fn gemm(threads: &[usize], filter: &str, min_seconds: f64, each: &mut dyn FnMut(&Value)) {
    let kernel = Kernel::from_env();
    for &t in threads {
        for case in default_cases().iter().filter(|c| c.name.contains(filter)) {
            let line = bench_gemm(case, t, kernel, min_seconds).to_json();
            let value: Value = serde_json::from_str(&line).expect("tfs_kernels writes valid JSON");
            each(&value);
        }
    }
}
