//! The portable micro-kernel: an MR×NR tile of C accumulated in a local array, in plain Rust.
//!
//! `acc[i][j] += a[p·MR + i] · b[p·NR + j]` for p < k (fused multiply-add on aarch64), then `C = α·acc + β·C`. With fixed MR and
//! NR the compiler keeps `acc` in vector registers and vectorises over j: NEON on Apple silicon,
//! SSE2 on a baseline x86_64 build. It is the fallback when neither AVX2 nor AVX-512 is present.
//!
//! Left out: hand-written NEON (8×8 = 16 of NEON's 32 registers is what the compiler gets here).

use super::pack::pack_panels;
use super::spec::Spec;

const MR: usize = 8;
const NR: usize = 8;

pub(crate) static SPEC: Spec = Spec {
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 128,
    nc: 2048,
    kernel,
    strided: None,
    pack_a: pack_panels::<MR>,
    pack_b: pack_panels::<NR>,
};

/// a·b + c: one fused instruction (NEON `fmla`) on aarch64, where FMA is always present; a
/// multiply and an add elsewhere (on baseline x86_64 `mul_add` would be a libm call).
#[inline(always)]
fn fma(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_arch = "aarch64")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        a * b + c
    }
}

/// # Safety
/// `a` holds k·MR floats, `b` holds k·NR floats, and the MR×NR tile at `c` (leading dimension
/// `ldc`) is valid to read and write.
unsafe fn kernel(
    k: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    // SAFETY: the caller guarantees the panel lengths.
    let (a, b) = unsafe {
        (
            std::slice::from_raw_parts(a, k * MR),
            std::slice::from_raw_parts(b, k * NR),
        )
    };
    let mut acc = [[0.0f32; NR]; MR];
    for (ap, bp) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for i in 0..MR {
            for j in 0..NR {
                acc[i][j] = fma(ap[i], bp[j], acc[i][j]);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: row i of the tile has NR valid elements at c + i·ldc.
        let crow = unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), NR) };
        if beta == 0.0 {
            crow.iter_mut().zip(row).for_each(|(c, x)| *c = alpha * x);
        } else {
            crow.iter_mut()
                .zip(row)
                .for_each(|(c, x)| *c = alpha * x + beta * *c);
        }
    }
}
