//! Prints the fused kernels' times against their references as JSON lines
//! (see `tfs_kernels::bench::run_fused`).
//!
//! Usage: cargo run --release -p tfs-kernels --example bench_fused [-- MIN_SECONDS]

fn main() {
    let min_seconds = std::env::args()
        .nth(1)
        .map_or(0.3, |s| s.parse().expect("MIN_SECONDS"));
    tfs_kernels::bench::run_fused(min_seconds);
}
