//! Fused element-wise and row-wise kernels of transformer training, each beside its reference:
//! row softmax with an optional causal mask ([`softmax`]), GELU in its tanh form forward and
//! backward ([`gelu`]), layer norm forward and backward ([`layernorm`]), and the AdamW update
//! ([`adamw`]), softmax cross-entropy fused with its gradient ([`crossentropy`]), and bias + GELU
//! and the residual add ([`elementwise`]), one LSTM step's gates and state ([`lstm`]), and attention tiled with the online softmax forward
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
//! `tfs bench kernels` (one thread, against the measured 256 MiB copy bandwidth, target ≤ 1.5×
//! the copy time, 2026-11-27): GELU forward was at 1.64×, backward 1.53×, cross-entropy over
//! 64×50257 logits 1.57×. None of them was memory-bound: `perf annotate` showed separate
//! `vmulps`/`vaddps` (Rust never contracts `a * b + c` into an FMA), a `vdivps` per element in
//! GELU's tanh, and in cross-entropy a row maximum paying a compare and blend per vector for
//! `f32::max`'s NaN rule. Fixed by explicit multiply-adds ([`MulAdd`], `simd_fn!(fma fn …)`), GELU
//! rewritten around s = 1/(e^(2u)+1) (one division, fewer operations), a degree-6 Chebyshev
//! polynomial for e^r instead of Taylor's degree 7, [`max_fast`], and bias + GELU in one pass
//! per row. Now: GELU forward 0.9-1.03×, backward 0.85-0.94×, bias + GELU 1.1-1.2×,
//! cross-entropy 1.15-1.2×, causal softmax 0.76-1.0× (was 1.13×).
//!
//! Left out: threads (except in flash attention, which spreads the heads), PyTorch comparisons for these kernels (`tfs bench
//! kernels` compares each with the machine's copy bandwidth instead).

pub mod adamw;
pub mod crossentropy;
pub mod elementwise;
pub mod flash_attention;
pub mod gelu;
pub mod layernorm;
pub mod lstm;
pub mod softmax;

pub(crate) use crate::simd::{simd_fn, use_reference};
pub use crate::simd::{Baseline, Fused, MulAdd, Unfused};

/// max(a, b) as one `vmaxps`: `f32::max` also promises to return the other operand when one is
/// NaN, which costs a compare and a blend per vector (measured: half the time of cross-entropy's
/// max pass). Here a NaN may be dropped from a running maximum, but a row holding NaN still ends
/// NaN: its e^(x − max) is NaN, and so is every sum over it.
#[inline(always)]
pub fn max_fast(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// The largest element of `x` (−∞ when empty), with sixteen running maxima so that the loop
/// vectorises (one running maximum is a serial chain), each a [`max_fast`].
#[inline(always)]
pub(crate) fn max_lanes(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 16];
    let mut chunks = x.chunks_exact(16);
    for c in &mut chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = max_fast(*m, v);
        }
    }
    chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(f32::NEG_INFINITY, |m, &v| max_fast(m, v))
}

/// e^x in f32 without libm, written so that loops over it vectorise.
///
/// x = n·ln2 + r with n = round(x / ln2) and |r| ≤ ln2/2; e^r by the polynomial of degree 6
/// that interpolates it at the 7 Chebyshev nodes of [−ln2/2, ln2/2] ([`EXP_POLY`]: relative
/// truncation error 2.5e-9, far below f32's 6e-8 rounding; Taylor's polynomial needs degree 7
/// for 5e-9); 2^n built in the exponent bits. ln2 is split in two parts so that n·ln2 is exact enough for |n| ≤ 127. x is clamped to
/// [-87.3, 88.3], the range where e^x and 2^n are normal floats: below it the result is ≈ 1.2e-38
/// rather than 0 (or a subnormal), above it ≈ 2.2e38 rather than infinity. NaN stays NaN.
/// Measured against f64 over [-87, 88]: relative error below 3e-7.
#[inline(always)]
pub fn exp_approx(x: f32) -> f32 {
    exp_approx_with::<Unfused>(x)
}

/// e^r ≈ Σ cᵢ·rⁱ on |r| ≤ ln2/2, highest power first: the degree-6 polynomial through e^r at
/// the Chebyshev nodes rₖ = (ln2/2)·cos((2k+1)π/14), k = 0..6 (fitted in f64 by
/// `numpy.polyfit` on those 7 points, which is interpolation; the test
/// `exp_poly_interpolates_e_at_the_seven_chebyshev_nodes` checks it). Its Horner evaluation in
/// f32 is within 7.5e-8 of e^r relative. The three lowest coefficients came out within 4e-8 of
/// Taylor's 1, 1, ½, so in f32 they are exactly those.
pub const EXP_POLY: [f32; 7] = [
    0.001_394_110_8,
    0.008_375_126,
    0.041_666_35,
    0.166_664_16,
    0.5,
    1.0,
    1.0,
];

/// [`exp_approx`] with its multiply-adds done by `M` (fused in the FMA builds of `simd_fn!(fma
/// fn …)`: 9 of its 17 operations are multiply-adds).
#[inline(always)]
pub fn exp_approx_with<M: MulAdd>(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // Adding and subtracting 1.5·2^23 rounds to the nearest integer for |t| < 2^22.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.3);
    let shifted = M::mul_add(x, LOG2E, ROUND);
    let n = shifted - ROUND;
    // n as an integer, read from the low mantissa bits of `shifted` (`n as i32` would be a
    // saturating conversion, which the compiler does not vectorise).
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let r = M::mul_add(-n, LN2_LO, M::mul_add(-n, LN2_HI, x));
    let mut p = EXP_POLY[0];
    for c in &EXP_POLY[1..] {
        p = M::mul_add(p, r, *c);
    }
    p * f32::from_bits(n_int.wrapping_add(127) << 23)
}
