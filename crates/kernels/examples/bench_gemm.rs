//! Prints GEMM GFLOP/s as JSON lines (see `tfs_kernels::bench`).
//!
//! Usage: cargo run --release -p tfs-kernels --example bench_gemm -- [--threads 1,2]
//!        [--filter NAME_PART] [--kernel avx512|avx2|portable|reference] [--min-seconds S]

use tfs_kernels::{bench, Kernel};

fn main() {
    let mut threads = vec![1, 2];
    let mut filter = String::new();
    let mut kernel = Kernel::from_env();
    let mut min_seconds = 0.5;
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        match pair[0].as_str() {
            "--threads" => {
                threads = value
                    .split(',')
                    .map(|t| t.parse().expect("--threads 1,2"))
                    .collect()
            }
            "--filter" => filter = value.to_string(),
            "--min-seconds" => min_seconds = value.parse().expect("--min-seconds S"),
            "--kernel" => {
                kernel = match value {
                    "avx512" => Kernel::Avx512,
                    "avx2" => Kernel::Avx2,
                    "portable" => Kernel::Portable,
                    "reference" => Kernel::Reference,
                    other => panic!("unknown kernel {other}"),
                }
            }
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        kernel.is_available(),
        "kernel {kernel:?} is not available on this CPU"
    );
    bench::run(&threads, kernel, &filter, min_seconds);
}
