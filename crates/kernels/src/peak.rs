//! The machine's measured f32 peak: how many GFLOP/s its fused multiply-adds sustain when nothing
//! else limits them, the ceiling every GEMM figure and MFU number is drawn against.
//!
//! ```text
//!   peak = threads × (FMA instructions per second) × (lanes per instruction) × 2 flops
//! ```
//!
//! Each thread runs a loop of `FMA` instructions on `CHAINS` independent accumulator registers
//! (more chains than the FMA latency × issue width, so the units never wait for a result), with
//! no memory traffic, and counts `2 · lanes · CHAINS` flops per iteration. The best of a few
//! timed runs is kept, so a time slice lost to another process lowers nothing but the spread.
//! AVX-512 (16 lanes) where the CPU has it, else AVX2+FMA (8 lanes), else `None`.
//!
//! Left out: other precisions (bf16 through AMX would be a separate ceiling).

use std::time::Instant;

/// Independent accumulator chains per thread.
const CHAINS: usize = 12;
/// Loop iterations per timed run.
const ITERS: usize = 4_000_000;

/// The measured f32 FMA peak in GFLOP/s on `threads` threads (run side by side on the kernel
/// pool), or `None` on a CPU without AVX2+FMA / AVX-512.
pub fn fma_peak_gflops(threads: usize) -> Option<f64> {
    let per_run = flops_per_run()?;
    let threads = threads.max(1);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        crate::pool::run(threads, &|_| {
            std::hint::black_box(spin());
        });
        best = best.min(start.elapsed().as_secs_f64());
    }
    Some(per_run * threads as f64 / best / 1e9)
}

/// Flops of one [`spin`] call on this CPU.
fn flops_per_run() -> Option<f64> {
    let lanes = lanes()?;
    Some((2 * lanes * CHAINS * ITERS) as f64)
}

fn lanes() -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return Some(16);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Some(8);
        }
    }
    None
}

/// One run of the FMA loop with the widest available instructions; returns a value that depends
/// on every accumulator (so the compiler cannot drop the work).
fn spin() -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { spin_avx512() };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { spin_avx2() };
        }
    }
    0.0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn spin_avx512() -> f32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); CHAINS];
    for _ in 0..ITERS {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for x in acc {
        sum = _mm512_add_ps(sum, x);
    }
    _mm512_reduce_add_ps(sum)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn spin_avx2() -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); CHAINS];
    for _ in 0..ITERS {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut lanes = [0.0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for x in acc {
        sum = _mm256_add_ps(sum, x);
    }
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    lanes.iter().sum()
}
