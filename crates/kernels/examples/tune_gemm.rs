//! Tuning aid: GFLOP per CPU-second of one product, which a busy shared machine disturbs less than
//! wall-clock GFLOP/s (time slices given to other processes are not counted; their cache
//! pollution still is). Linux only; elsewhere it prints wall-clock numbers.
//!
//! Usage: TFS_GEMM_BLOCKS=KC,MC,NC cargo run --release -p tfs-kernels --example tune_gemm --
//!        LAYOUT M N K [THREADS] [REPS]

use std::time::Instant;
use tfs_kernels::{sgemm_with, GemmConfig, Kernel, Trans};

#[cfg(target_os = "linux")]
fn cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime writes one timespec (two longs on x86_64/aarch64 Linux) into `ts`.
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0);
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

#[cfg(not(target_os = "linux"))]
fn cpu_seconds() -> f64 {
    f64::NAN
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let layout = args.first().map(String::as_str).unwrap_or("NN");
    let num = |i: usize, d: usize| args.get(i).map_or(d, |s| s.parse().expect("a number"));
    let (m, n, k, threads, reps) = (
        num(1, 1024),
        num(2, 1024),
        num(3, 1024),
        num(4, 1),
        num(5, 10),
    );
    let t = |c: u8| if c == b'N' { Trans::N } else { Trans::T };
    let (ta, tb) = (t(layout.as_bytes()[0]), t(layout.as_bytes()[1]));
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0.0f32; m * n];
    let (lda, ldb) = (
        if ta == Trans::N { k } else { m },
        if tb == Trans::N { n } else { k },
    );
    let cfg = GemmConfig {
        threads,
        kernel: Kernel::from_env(),
        size_heuristics: true,
    };
    let mut go = || sgemm_with(&cfg, ta, tb, m, n, k, 1.0, &a, lda, &b, ldb, 0.0, &mut c, n);
    go();
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    for _ in 0..reps {
        go();
    }
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    let gflop = 2.0 * (m * n * k * reps) as f64 / 1e9;
    println!(
        "{layout} {m}x{n}x{k} threads={threads}: {:.1} GFLOP/cpu-s, {:.1} GFLOP/s wall",
        gflop / cpu,
        gflop / wall
    );
}
