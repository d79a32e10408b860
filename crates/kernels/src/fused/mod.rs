//! Fused element-wise and row-wise kernels of transformer training, each beside its reference:
//! row softmax with an optional causal mask ([`softmax`]), GELU in its tanh form forward and
//! backward ([`gelu`]), layer norm forward and backward ([`layernorm`]), and the AdamW update
//! ([`adamw`]), softmax cross-entropy fused with its gradient ([`crossentropy`]), and bias + GELU
//! and the residual add ([`elementwise`]), and attention tiled with the online softmax forward
//! and backward ([`flash_attention`], which has its own notes).
//!
//! They are memory-bound: the fast versions win by reading each input once (one pass where the
//! textbook formula takes several) and by running SIMD-wide. The SIMD comes from the compiler:
//! each fast body is plain Rust written so that it vectorises, compiled three times by
//! `simd_fn!` (AVX-512, AVX2+FMA, baseline) and picked at run time like the GEMM micro-kernel
//! (`TFS_KERNELS=reference` picks the references). Transcendentals use [`exp_approx`], a
//! polynomial `exp` that vectorises, where `f32::exp` is a scalar libm call.
//!
//! Measured (`examples/bench_fused`, one thread, best of runs, busy machine, 2026-11-26), fast vs
//! reference: GELU forward on 1024×3072 1.2 ms vs 50 ms (tanh is a libm call in the
//! reference), backward 1.7 vs 55; causal softmax 1024×1024 0.36 vs 1.9; layer norm 1024×768
//! forward 0.12 vs 0.85, backward 0.16 vs 0.95; AdamW over 124M parameters 59 vs 96 ms
//! (memory-bound: 28 bytes per parameter). The first `exp_approx` used `n as i32`, which the
//! compiler left scalar (GELU 3.1 ms, softmax 0.6); reading n from the rounding constant's bits
//! made it vectorise.
//!
//! Left out: threads (except in flash attention, which spreads the heads), PyTorch comparisons for these kernels (`tfs bench
//! kernels` compares each with the machine's copy bandwidth instead).

pub mod adamw;
pub mod crossentropy;
pub mod elementwise;
pub mod flash_attention;
pub mod gelu;
pub mod layernorm;
pub mod softmax;

/// e^x in f32 without libm, written so that loops over it vectorise.
///
/// x = n·ln2 + r with n = round(x / ln2) and |r| ≤ ln2/2; e^r by its Taylor polynomial of degree
/// 7 (truncation error r⁸/8! ≤ (ln2/2)⁸/8! ≈ 5e-9, far below f32's 6e-8 rounding); 2^n built in the exponent
/// bits. ln2 is split in two parts so that n·ln2 is exact enough for |n| ≤ 127. x is clamped to
/// [-87.3, 88.3], the range where e^x and 2^n are normal floats: below it the result is ≈ 1.2e-38
/// rather than 0 (or a subnormal), above it ≈ 2.2e38 rather than infinity. NaN stays NaN.
/// Measured against f64 over [-87, 88]: relative error below 3e-7.
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer for |t| < 2^22.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    // n as an integer, read from the low mantissa bits of `shifted` (`n as i32` would be a
    // saturating conversion, which the compiler does not vectorise).
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 5040.0;
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    p * f32::from_bits(n_int.wrapping_add(127) << 23)
}

/// Defines `fn $name(args)` that calls `$body(args)` compiled for the best instruction set this
/// CPU has among AVX-512, AVX2+FMA and the baseline (chosen once per process by
/// [`crate::Kernel::from_env`]). `$body` should be `#[inline(always)]` so that each copy is
/// vectorised for its own target.
macro_rules! simd_fn {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $body:path) => {
        simd_fn!($vis fn $name($($arg: $ty),*) -> () = $body);
    };
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:path) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                match $crate::gemm::Kernel::from_env() {
                    // SAFETY: from_env only returns a kernel whose features this CPU has, and
                    // the Avx512 kernel is chosen only when AVX-512F is present; the BW/DQ/VL
                    // extensions come with it on every AVX-512 CPU this selects (checked below).
                    $crate::gemm::Kernel::Avx512 if $crate::fused::has_avx512_extras() => {
                        return unsafe { avx512($($arg),*) }
                    }
                    // SAFETY: AVX2 and FMA were detected (Avx512 implies both on x86_64 CPUs
                    // that exist, and is checked anyway).
                    $crate::gemm::Kernel::Avx512 | $crate::gemm::Kernel::Avx2
                        if $crate::gemm::Kernel::Avx2.is_available() =>
                    {
                        return unsafe { avx2($($arg),*) }
                    }
                    _ => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use simd_fn;

/// Whether the AVX-512 extensions the fused kernels are compiled with are present.
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512_extras() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
}

/// Whether the fused kernels should run their references (`TFS_KERNELS=reference`).
pub(crate) fn use_reference() -> bool {
    crate::gemm::Kernel::from_env() == crate::gemm::Kernel::Reference
}
