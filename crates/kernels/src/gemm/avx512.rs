//! The AVX-512 micro-kernel: an MR×32 tile of C in 2·MR zmm registers.
//!
//! Per step p: load op(B)[p][0..32] as two 16-wide vectors, broadcast each of the MR values
//! op(A)[i][p] (folded into the FMA as an embedded broadcast), and issue 2·MR fused
//! multiply-adds. With MR = 14, 28 accumulators + 2 B vectors + 1 broadcast use 31 of the 32 zmm
//! registers. At the end `C = α·acc + β·C`, row by row (C is row-major, so each row of the tile
//! is two contiguous 16-float stores).
//!
//! Left out: masked edge tiles (edges go through a buffer in `blocked.rs`).

use super::blocked::Spec;
use super::pack::pack_panels;
use std::arch::x86_64::*;

const MR: usize = 14;
const NR: usize = 32;

pub(crate) static SPEC: Spec = Spec {
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 126,
    nc: 4096,
    kernel,
    pack_a: pack_panels::<MR>,
    pack_b: pack_panels::<NR>,
};

/// # Safety
/// The CPU must have AVX-512F; `a` holds k·MR floats, `b` holds k·NR floats, and the MR×NR tile
/// at `c` (leading dimension `ldc`) is valid to read and write.
#[target_feature(enable = "avx512f")]
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
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for p in 0..k {
        // SAFETY: p < k, so b + p·NR .. +32 and a + p·MR .. +MR are inside the panels.
        unsafe {
            let bp = b.add(p * NR);
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            let ap = a.add(p * MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ap.add(i));
                row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    let va = _mm512_set1_ps(alpha);
    let vb = _mm512_set1_ps(beta);
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: row i of the tile has NR valid elements at c + i·ldc.
        unsafe {
            let cp = c.add(i * ldc);
            for (h, &v) in row.iter().enumerate() {
                let out = if beta == 0.0 {
                    _mm512_mul_ps(v, va)
                } else {
                    _mm512_fmadd_ps(v, va, _mm512_mul_ps(_mm512_loadu_ps(cp.add(16 * h)), vb))
                };
                _mm512_storeu_ps(cp.add(16 * h), out);
            }
        }
    }
}
