//! Packing: copy a block of A (or B) into the order the micro-kernel reads it.
//!
//! A block (mc, kc) of op(A) becomes ⌈mc/MR⌉ panels; panel q holds, for p = 0..kc, the MR values
//! op(A)[q·MR + i][p], i < MR, contiguously (rows past mc are zero). A block (kc, nc) of op(B)
//! becomes ⌈nc/NR⌉ panels; panel q holds, for p = 0..kc, the NR values op(B)[p][q·NR + j].
//! The micro-kernel then streams both panels with unit stride, whatever the layout (N or T) and
//! leading dimension of the source: transposition costs nothing beyond this copy.
//!
//! Left out: fusing α into the packed values (α is applied once per tile in the micro-kernel).

use super::blocked::View;

/// Packs op(A)[0..mc][0..kc] (the view `a`) into MR-tall panels in `out`.
///
/// # Safety
/// Every (i, p) with i < mc, p < kc must be a valid element of `a`; `out` must hold at least
/// ⌈mc/MR⌉·MR·kc floats.
pub(crate) unsafe fn pack_a(mc: usize, kc: usize, a: View, mr: usize, out: &mut [f32]) {
    for (q, i0) in (0..mc).step_by(mr).enumerate() {
        let rows = mr.min(mc - i0);
        let dst = &mut out[q * mr * kc..(q + 1) * mr * kc];
        if a.cs == 1 {
            // op(A) rows are contiguous (layout N): read each row once, write with stride MR.
            for i in 0..rows {
                // SAFETY: row i0+i of the block has kc contiguous valid elements.
                let src = unsafe { std::slice::from_raw_parts(a.ptr.add((i0 + i) * a.rs), kc) };
                for (p, &x) in src.iter().enumerate() {
                    dst[p * mr + i] = x;
                }
            }
        } else {
            // op(A) columns are contiguous (layout T): each p copies MR consecutive values.
            for p in 0..kc {
                for i in 0..rows {
                    // SAFETY: (i0+i, p) is inside the block.
                    dst[p * mr + i] = unsafe { *a.ptr.add((i0 + i) * a.rs + p * a.cs) };
                }
            }
        }
        if rows < mr {
            for p in 0..kc {
                dst[p * mr + rows..(p + 1) * mr].fill(0.0);
            }
        }
    }
}

/// Packs op(B)[0..kc][0..nc] (the view `b`) into NR-wide panels in `out`.
///
/// # Safety
/// Every (p, j) with p < kc, j < nc must be a valid element of `b`; `out` must hold at least
/// ⌈nc/NR⌉·NR·kc floats.
pub(crate) unsafe fn pack_b(kc: usize, nc: usize, b: View, nr: usize, out: &mut [f32]) {
    for (q, j0) in (0..nc).step_by(nr).enumerate() {
        let cols = nr.min(nc - j0);
        let dst = &mut out[q * nr * kc..(q + 1) * nr * kc];
        if b.cs == 1 {
            // op(B) rows are contiguous (layout N): one short copy per p.
            for p in 0..kc {
                // SAFETY: row p of the block has `cols` contiguous valid elements from j0.
                let src = unsafe { std::slice::from_raw_parts(b.ptr.add(p * b.rs + j0), cols) };
                dst[p * nr..p * nr + cols].copy_from_slice(src);
            }
        } else {
            // op(B) columns are contiguous (layout T): read each column once, write with stride NR.
            for j in 0..cols {
                // SAFETY: column j0+j of the block has kc valid elements with stride b.rs.
                let col = unsafe { b.ptr.add((j0 + j) * b.cs) };
                for p in 0..kc {
                    // SAFETY: (p, j0+j) is inside the block.
                    dst[p * nr + j] = unsafe { *col.add(p * b.rs) };
                }
            }
        }
        if cols < nr {
            for p in 0..kc {
                dst[p * nr + cols..(p + 1) * nr].fill(0.0);
            }
        }
    }
}
