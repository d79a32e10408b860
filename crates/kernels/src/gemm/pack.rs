//! Packing: copy a block of A (or B) into the order the micro-kernel reads it. (In narrow
//! products A is read in place instead; see `IN_PLACE_MAX_N` in `blocked.rs`.)
//!
//! A block (mc, kc) of op(A) becomes ⌈mc/MR⌉ panels; panel q holds, for p = 0..kc, the MR values
//! op(A)[q·MR + i][p], i < MR, contiguously (rows past mc are zero). A block (kc, nc) of op(B)
//! becomes ⌈nc/NR⌉ panels; panel q holds, for p = 0..kc, the NR values op(B)[p][q·NR + j].
//! Both are one operation, [`pack_panels`]: for a matrix X(r, p) at `ptr + r·s_r + p·s_p`, write
//! R values X(r0..r0+R, p) per p. The micro-kernel then streams both panels with unit stride,
//! whatever the layout (N or T) and leading dimension of the source: transposition costs
//! nothing beyond this copy.
//!
//! Two cases matter. Along-r contiguous (s_r = 1: A transposed, B not) is a short memcpy per p.
//! Along-p contiguous (s_p = 1: A not transposed, B transposed) is a transpose, done through an
//! R×16 tile on the stack so that every source cache line is read once, whole. R is a
//! compile-time constant so that the inner loops unroll.
//!
//! A SIMD kernel may hand the transposing case to its own register transpose ([`pack_panels_with`];
//! `avx512.rs` does). Left out: fusing α into the packed values (α is applied once per tile in
//! the micro-kernel).

/// Packs X(r, p), r < len, p < kc, with X(r, p) at `ptr + r·s_r + p·s_p`, into R-row panels:
/// `out[q·R·kc + p·R + i] = X(q·R + i, p)`, zero for q·R + i ≥ len.
///
/// # Safety
/// Every X(r, p) with r < len, p < kc must be valid to read; `out` must hold ⌈len/R⌉·R·kc floats.
pub(crate) unsafe fn pack_panels<const R: usize>(
    len: usize,
    kc: usize,
    ptr: *const f32,
    s_r: usize,
    s_p: usize,
    out: &mut [f32],
) {
    // SAFETY: forwarded contract.
    unsafe { pack_panels_with::<R>(len, kc, ptr, s_r, s_p, out, None) }
}

/// Transposes one full panel (R rows, p contiguous in the source) for `p < kc16`, a multiple of
/// 16: `dst[p·R + r] = X(r, p)` with X(r, p) at `base + r·s_r + p`. A SIMD kernel's own packer.
pub(crate) type TransposeFn = unsafe fn(kc16: usize, base: *const f32, s_r: usize, dst: *mut f32);

/// [`pack_panels`], with the transposing case of full panels handed to `transpose` (for the
/// multiple-of-16 part of kc) when given.
///
/// # Safety
/// As [`pack_panels`]; `transpose` must be safe to call on this CPU.
pub(crate) unsafe fn pack_panels_with<const R: usize>(
    len: usize,
    kc: usize,
    ptr: *const f32,
    s_r: usize,
    s_p: usize,
    out: &mut [f32],
    transpose: Option<TransposeFn>,
) {
    assert!(out.len() >= len.div_ceil(R) * R * kc);
    for (q, r0) in (0..len).step_by(R).enumerate() {
        let rows = R.min(len - r0);
        let dst = out[q * R * kc..].as_mut_ptr();
        let base = ptr.wrapping_add(r0 * s_r);
        if rows == R && s_p == 1 {
            // Transpose through a small tile: read 16 consecutive floats (one cache line) of
            // each source row, then write them out p-major. Reading R rows side by side one
            // float at a time instead would keep R lines live at once, and when the leading
            // dimension is a multiple of 4 KiB those all fall in one L1 set and evict each other.
            let mut tile = [[0.0f32; 16]; R];
            let done = match transpose {
                Some(f) => {
                    // SAFETY: the panel's R rows hold kc ≥ kc16 valid floats each, and dst has
                    // R·kc floats (caller's contract).
                    unsafe { f(kc / 16 * 16, base, s_r, dst) };
                    kc / 16 * 16
                }
                None => 0,
            };
            for p0 in (done..kc).step_by(16) {
                let w = 16.min(kc - p0);
                for (r, row) in tile.iter_mut().enumerate() {
                    let src = base.wrapping_add(r * s_r + p0);
                    if w == 16 {
                        // SAFETY: X(r0 + r, p0..p0 + 16) are 16 contiguous valid floats. (A
                        // fixed-size copy: one vector move, where a slice copy calls memmove.)
                        *row = unsafe { src.cast::<[f32; 16]>().read_unaligned() };
                    } else {
                        for (p, x) in row[..w].iter_mut().enumerate() {
                            // SAFETY: X(r0 + r, p0 + p) is valid for p < w.
                            *x = unsafe { *src.add(p) };
                        }
                    }
                }
                for p in 0..w {
                    for (r, row) in tile.iter().enumerate() {
                        // SAFETY: dst + (p0 + p)·R + r < (q + 1)·R·kc.
                        unsafe { *dst.add((p0 + p) * R + r) = row[p] };
                    }
                }
            }
        } else if rows == R && s_r == 1 {
            for p in 0..kc {
                // SAFETY: X(r0..r0 + R, p) are R contiguous valid floats; the destination is
                // R floats inside this panel.
                unsafe { std::ptr::copy_nonoverlapping(base.add(p * s_p), dst.add(p * R), R) };
            }
        } else {
            for p in 0..kc {
                for r in 0..R {
                    // SAFETY: as above; rows past `len` are written as zeros, not read.
                    unsafe {
                        *dst.add(p * R + r) = if r < rows {
                            *base.add(r * s_r + p * s_p)
                        } else {
                            0.0
                        }
                    };
                }
            }
        }
    }
}
