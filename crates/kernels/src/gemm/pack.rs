//! Packing: copy a block of A (or B) into the order the micro-kernel reads it.
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
//! Along-p contiguous (s_p = 1: A not transposed, B transposed) is a transpose: R source rows are
//! read side by side (R streams advancing together) and each p writes R contiguous floats. R is a
//! compile-time constant so that the inner loop unrolls.
//!
//! Left out: SIMD register transposes, and fusing α into the packed values (α is applied once per
//! tile in the micro-kernel).

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
    assert!(out.len() >= len.div_ceil(R) * R * kc);
    for (q, r0) in (0..len).step_by(R).enumerate() {
        let rows = R.min(len - r0);
        let dst = out[q * R * kc..].as_mut_ptr();
        let base = ptr.wrapping_add(r0 * s_r);
        if rows == R && s_p == 1 {
            let src: [*const f32; R] = std::array::from_fn(|r| base.wrapping_add(r * s_r));
            for p in 0..kc {
                for (r, s) in src.iter().enumerate() {
                    // SAFETY: X(r0 + r, p) is inside the block; dst + p·R + r < (q + 1)·R·kc.
                    unsafe { *dst.add(p * R + r) = *s.add(p) };
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
                    unsafe { *dst.add(p * R + r) = if r < rows { *base.add(r * s_r + p * s_p) } else { 0.0 } };
                }
            }
        }
    }
}
