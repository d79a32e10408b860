//! The AVX2 + FMA micro-kernel: a 6×16 tile of C in 12 ymm registers.
//!
//! Per step p: load op(B)[p][0..16] as two 8-wide vectors, broadcast each of the 6 values
//! op(A)[i][p], and issue 12 fused multiply-adds; 12 accumulators + 2 B vectors + 1 broadcast
//! fit in the 16 ymm registers. At the end `C = α·acc + β·C`, row by row (C is row-major).
//!
//! Left out: masked edge tiles (edges go through a buffer in `blocked.rs`).

use super::pack::pack_panels;
use super::spec::Spec;
use std::arch::x86_64::*;

const MR: usize = 6;
const NR: usize = 16;

pub(crate) static SPEC: Spec = Spec {
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 120,
    nc: 3072,
    kernel,
    strided: None,
    pack_a: pack_panels::<MR>,
    pack_b: pack_panels::<NR>,
};

/// # Safety
/// The CPU must have AVX2 and FMA; `a` holds k·MR floats, `b` holds k·NR floats, and the MR×NR
/// tile at `c` (leading dimension `ldc`) is valid to read and write.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(
    k: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    // Start pulling the C tile towards L1 now; it is read (β ≠ 0) or written only after the
    // k loop, and a miss per row there would stall the end of every tile.
    for i in 0..MR {
        let row = c.wrapping_add(i * ldc);
        _mm_prefetch::<_MM_HINT_T0>(row as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(NR - 1) as *const i8);
    }
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for p in 0..k {
        // SAFETY: p < k, so b + p·NR .. +16 and a + p·MR .. +6 are inside the panels.
        unsafe {
            let bp = b.add(p * NR);
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            let ap = a.add(p * MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    let va = _mm256_set1_ps(alpha);
    let vb = _mm256_set1_ps(beta);
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: row i of the tile has NR valid elements at c + i·ldc.
        unsafe {
            let cp = c.add(i * ldc);
            for (h, &v) in row.iter().enumerate() {
                let out = if beta == 0.0 {
                    _mm256_mul_ps(v, va)
                } else {
                    _mm256_fmadd_ps(v, va, _mm256_mul_ps(_mm256_loadu_ps(cp.add(8 * h)), vb))
                };
                _mm256_storeu_ps(cp.add(8 * h), out);
            }
        }
    }
}
