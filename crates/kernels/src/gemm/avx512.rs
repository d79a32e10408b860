//! The AVX-512 micro-kernel: an MR×32 tile of C in 2·MR zmm registers.
//!
//! Per step p: load op(B)[p][0..32] as two 16-wide vectors, broadcast each of the MR values
//! op(A)[i][p], and issue 2·MR fused multiply-adds. At the end `C = α·acc + β·C`, row by row
//! (C is row-major, so each row of the tile is two contiguous 16-float stores).
//!
//! MR = 8 (16 accumulators + 2 B vectors + 1 broadcast: 19 of the 32 zmm registers). MR = 14
//! (31 registers, the most that fit) and 12 were measured too: large products within ±3% of
//! each other, and 8 ahead by 3-10% on 64³-256³, where a 14-row panel wastes more rows on
//! padding (128 = 9 × 14 + 2). See the performance notes in `mod.rs`.
//!
//! Its packers hand transposing panels (A not transposed, B transposed) to a 16×16 register
//! transpose: 16 row loads, 64 shuffles, 16 stores per 256 floats.
//!
//! Left out: masked edge tiles (edges go through a buffer in `blocked.rs`).

use super::pack::pack_panels_with;
use super::spec::Spec;
use std::arch::x86_64::*;

const MR: usize = 8;
const NR: usize = 32;

pub(crate) static SPEC: Spec = Spec {
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 128,
    nc: 4096,
    kernel,
    strided: Some(kernel_strided),
    pack_a,
    pack_b,
};

/// `C = α·acc + β·C` for the MR×NR tile at `c` (β = 0: C is not read), in the micro-kernels'
/// epilogue. A macro, not a function: as a call (LLVM would not inline it across
/// `target_feature`), the 16 accumulators would go through memory.
///
/// Safety (of the expansion site): the MR×NR tile at `c` (leading dimension `ldc`) must be valid
/// to read and write.
macro_rules! store_tile {
    ($acc:expr, $c:expr, $ldc:expr, $alpha:expr, $beta:expr) => {{
        let va = _mm512_set1_ps($alpha);
        let vb = _mm512_set1_ps($beta);
        for (i, row) in $acc.iter().enumerate() {
            // SAFETY: row i of the tile has NR valid elements at c + i·ldc.
            unsafe {
                let cp = $c.add(i * $ldc);
                for (h, &v) in row.iter().enumerate() {
                    let out = if $beta == 0.0 {
                        _mm512_mul_ps(v, va)
                    } else {
                        _mm512_fmadd_ps(v, va, _mm512_mul_ps(_mm512_loadu_ps(cp.add(16 * h)), vb))
                    };
                    _mm512_storeu_ps(cp.add(16 * h), out);
                }
            }
        }
    }};
}

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
    prefetch_c(c, ldc);
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for p in 0..k {
        // SAFETY: p < k, so b + p·NR .. +32 and a + p·MR .. +MR are inside the panels.
        unsafe {
            let bp = b.add(p * NR);
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            let ap = a.add(p * MR);
            // The A panel streams from L2: ask for the line 16 steps ahead (+5% on 2048³).
            _mm_prefetch::<_MM_HINT_T0>(ap.wrapping_add(16 * MR) as *const i8);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ap.add(i));
                row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    store_tile!(acc, c, ldc, alpha, beta);
}

/// [`kernel`] with A read where it lies: A(i, p) at `a + i·ars + p·acs` (a packed panel is
/// ars = 1, acs = MR), B a packed panel. It saves packing A in narrow products (see
/// `IN_PLACE_MAX_N` in `blocked.rs`): A not transposed (acs = 1: MR rows read side by side) or
/// transposed (ars = 1: MR consecutive floats of a stored row per step).
///
/// # Safety
/// The CPU must have AVX-512F; A(i, p) for i < MR, p < k must be valid to read, `b` must hold
/// k·NR floats, and the MR×NR tile at `c` (leading dimension `ldc`) valid to read and write.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_strided(
    k: usize,
    (a, ars, acs): (*const f32, usize, usize),
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
) {
    prefetch_c(c, ldc);
    let offs: [usize; MR] = std::array::from_fn(|i| i * ars);
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for p in 0..k {
        // SAFETY: p < k, so b + p·NR .. +32 and A(0..MR, p) are valid (caller's contract).
        unsafe {
            let bp = b.add(p * NR);
            let b0 = _mm512_loadu_ps(bp);
            let b1 = _mm512_loadu_ps(bp.add(16));
            let ap = a.add(p * acs);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*ap.add(offs[i]));
                row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    store_tile!(acc, c, ldc, alpha, beta);
}

/// Starts pulling the MR×NR tile of C towards L1: it is read (β ≠ 0) or written only after the
/// k loop, and a miss per row there would stall the end of every tile.
#[target_feature(enable = "avx512f")]
#[inline]
fn prefetch_c(c: *mut f32, ldc: usize) {
    for i in 0..MR {
        let row = c.wrapping_add(i * ldc);
        _mm_prefetch::<_MM_HINT_T0>(row as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(NR - 1) as *const i8);
    }
}

/// `pack_panels::<MR>` with AVX-512 transposes.
///
/// # Safety
/// As `pack_panels`; the CPU must have AVX-512F.
unsafe fn pack_a(len: usize, kc: usize, ptr: *const f32, s_r: usize, s_p: usize, out: &mut [f32]) {
    // SAFETY: forwarded contract; this module is only used when AVX-512F is present.
    unsafe { pack_panels_with::<MR>(len, kc, ptr, s_r, s_p, out, Some(transpose_panel::<MR>)) }
}

/// `pack_panels::<NR>` with AVX-512 transposes.
///
/// # Safety
/// As `pack_panels`; the CPU must have AVX-512F.
unsafe fn pack_b(len: usize, kc: usize, ptr: *const f32, s_r: usize, s_p: usize, out: &mut [f32]) {
    // SAFETY: as above.
    unsafe { pack_panels_with::<NR>(len, kc, ptr, s_r, s_p, out, Some(transpose_panel::<NR>)) }
}

/// `dst[p·R + r] = X(r, p)` for r < R, p < kc16 (a multiple of 16), X(r, p) at `base + r·s_r + p`:
/// blocks of 16 rows × 16 p are loaded (one vector per row), transposed in registers and
/// stored (masked when fewer than 16 rows remain).
///
/// # Safety
/// The CPU must have AVX-512F; the R rows must hold kc16 valid floats each and `dst` R·kc16.
#[target_feature(enable = "avx512f")]
unsafe fn transpose_panel<const R: usize>(
    kc16: usize,
    base: *const f32,
    s_r: usize,
    dst: *mut f32,
) {
    for p0 in (0..kc16).step_by(16) {
        for r0 in (0..R).step_by(16) {
            let cnt = 16.min(R - r0);
            let mut rows = [_mm512_setzero_ps(); 16];
            for (i, row) in rows.iter_mut().enumerate().take(cnt) {
                // SAFETY: row r0 + i < R has 16 valid floats from p0 (p0 + 16 ≤ kc16).
                *row = unsafe { _mm512_loadu_ps(base.add((r0 + i) * s_r + p0)) };
            }
            let cols = transpose16(rows);
            let mask: __mmask16 = if cnt == 16 { 0xFFFF } else { (1u16 << cnt) - 1 };
            for (j, col) in cols.iter().enumerate() {
                // SAFETY: writes cnt floats at (p0 + j)·R + r0, inside dst's R·kc16 floats.
                unsafe { _mm512_mask_storeu_ps(dst.add((p0 + j) * R + r0), mask, *col) };
            }
        }
    }
}

/// Transposes a 16×16 block held as 16 row vectors: `out[j][i] = rows[i][j]`.
///
/// Three rounds: interleave pairs of rows (unpack ps: 2×2 blocks within each 128-bit lane),
/// then pairs of pairs (unpack pd: 4×4 blocks per lane, so s[4g + c] holds column 4L + c of rows
/// 4g..4g+3 in lane L), then gather the four lanes of each column (two shuffle_f32x4 rounds).
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let pd = _mm512_castps_pd;
    let ps = _mm512_castpd_ps;
    let mut s = [_mm512_setzero_ps(); 16];
    for g in 0..4 {
        let (a0, a1, a2, a3) = (
            pd(t[4 * g]),
            pd(t[4 * g + 1]),
            pd(t[4 * g + 2]),
            pd(t[4 * g + 3]),
        );
        s[4 * g] = ps(_mm512_unpacklo_pd(a0, a2));
        s[4 * g + 1] = ps(_mm512_unpackhi_pd(a0, a2));
        s[4 * g + 2] = ps(_mm512_unpacklo_pd(a1, a3));
        s[4 * g + 3] = ps(_mm512_unpackhi_pd(a1, a3));
    }
    let mut out = [_mm512_setzero_ps(); 16];
    for c in 0..4 {
        let u = _mm512_shuffle_f32x4::<0x88>(s[c], s[4 + c]);
        let v = _mm512_shuffle_f32x4::<0xDD>(s[c], s[4 + c]);
        let w = _mm512_shuffle_f32x4::<0x88>(s[8 + c], s[12 + c]);
        let x = _mm512_shuffle_f32x4::<0xDD>(s[8 + c], s[12 + c]);
        out[c] = _mm512_shuffle_f32x4::<0x88>(u, w);
        out[8 + c] = _mm512_shuffle_f32x4::<0xDD>(u, w);
        out[4 + c] = _mm512_shuffle_f32x4::<0x88>(v, x);
        out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(v, x);
    }
    out
}
