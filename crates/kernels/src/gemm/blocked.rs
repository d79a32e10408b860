//! The BLIS / GotoBLAS loop nest around a register micro-kernel, on one thread ([`gemm`]), and
//! its split over the pool's threads ([`on_threads`]).
//!
//! ```text
//! for jc in 0..n step NC            B block (KC, NC) lives in L3
//!   for pc in 0..k step KC          pack op(B)[pc.., jc..] into NR-wide panels (p-major inside)
//!     for ic in 0..m step MC        pack op(A)[ic.., pc..] into MR-tall panels: (MC, KC) in L2
//!       for jr in 0..NC step NR     one B micro-panel (KC, NR) stays in L1
//!         for ir in 0..MC step MR   micro-kernel: C[MR, NR] (+)= α · A_panel · B_panel
//! ```
//!
//! When the columns of C one call of [`gemm`] computes (a thread's range, under [`on_threads`])
//! are at most `IN_PLACE_MAX_N`, A (transposed or not) is not packed: the strided micro-kernel
//! broadcasts its elements where they lie, and only a partial last row panel is packed.
//!
//! β is applied on the first KC block only (`pc == 0`); later blocks accumulate with β = 1.
//! Panels are zero-padded to whole MR / NR, so the micro-kernel always computes a full tile; an
//! edge tile is computed into a small buffer and only its valid part is merged into C, so
//! elements of C outside (m, n) are never touched.
//!
//! Left out: packing shared between threads, and prefetching the next B panels (the packed
//! kernel prefetches its A panel and the C tile); see the performance notes in `mod.rs`.

use super::spec::Spec;
use super::{GemmConfig, Kernel, PackedB, MIN_CHUNK, MNK_PER_THREAD};
use crate::pool;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The largest MR·NR of any micro-kernel (the edge-tile buffer size).
const MAX_TILE: usize = 16 * 32;

/// The spec of `kernel`, with the cache blocks overridden by `TFS_GEMM_BLOCKS=KC,MC,NC` when set
/// (a tuning knob for other machines; MC is rounded up to a multiple of MR, NC of NR).
pub(crate) fn spec(kernel: Kernel) -> Spec {
    let base = match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => &super::avx512::SPEC,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => &super::avx2::SPEC,
        _ => &super::portable::SPEC,
    };
    static BLOCKS: OnceLock<Option<[usize; 3]>> = OnceLock::new();
    let blocks = BLOCKS.get_or_init(|| {
        let var = std::env::var("TFS_GEMM_BLOCKS").ok()?;
        let v: Vec<usize> = var
            .split(',')
            .filter_map(|x| x.trim().parse().ok())
            .collect();
        (v.len() == 3 && v.iter().all(|&x| x > 0)).then(|| [v[0], v[1], v[2]])
    });
    match *blocks {
        Some([kc, mc, nc]) => Spec {
            kc,
            mc: mc.div_ceil(base.mr) * base.mr,
            nc: nc.div_ceil(base.nr) * base.nr,
            ..*base
        },
        None => Spec { ..*base },
    }
}

/// A read-only strided view: element (r, c) is at `ptr + r·rs + c·cs`.
#[derive(Clone, Copy)]
pub(crate) struct View {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

// SAFETY: a View is only a read-only address computation over a `&[f32]` that the caller keeps
// borrowed for as long as any copy of the View is used; sharing it between threads is sharing `&`.
unsafe impl Send for View {}
// SAFETY: as above.
unsafe impl Sync for View {}

impl View {
    pub fn new(x: &[f32], rs: usize, cs: usize) -> View {
        View {
            ptr: x.as_ptr(),
            rs,
            cs,
        }
    }
    /// The view starting at element (r, c).
    pub fn at(self, r: usize, c: usize) -> View {
        View {
            ptr: self.ptr.wrapping_add(r * self.rs + c * self.cs),
            ..self
        }
    }
    pub fn rows_from(self, r: usize) -> View {
        self.at(r, 0)
    }
    pub fn cols_from(self, c: usize) -> View {
        self.at(0, c)
    }
}

/// The output matrix: element (i, j) at `ptr + i·ld + j`.
#[derive(Clone, Copy)]
pub(crate) struct MatPtr {
    pub ptr: *mut f32,
    pub ld: usize,
}

// SAFETY: threads given copies of a MatPtr write disjoint element sets (see `on_threads`), and
// the `&mut [f32]` it came from stays borrowed until they have all finished.
unsafe impl Send for MatPtr {}
// SAFETY: as above.
unsafe impl Sync for MatPtr {}

impl MatPtr {
    pub fn new(c: &mut [f32], ld: usize) -> MatPtr {
        MatPtr {
            ptr: c.as_mut_ptr(),
            ld,
        }
    }
    pub fn rows_from(self, r: usize) -> MatPtr {
        MatPtr {
            ptr: self.ptr.wrapping_add(r * self.ld),
            ..self
        }
    }
    pub fn cols_from(self, c: usize) -> MatPtr {
        MatPtr {
            ptr: self.ptr.wrapping_add(c),
            ..self
        }
    }
}

/// Per-thread packing buffers, reused across calls.
struct Buffers {
    a: Vec<f32>,
    b: Vec<f32>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = const { RefCell::new(Buffers { a: Vec::new(), b: Vec::new() }) };
}

/// A 64-byte aligned sub-slice of at least `len` floats of `v` (grown as needed).
fn aligned(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len + 16 {
        v.resize(len + 16, 0.0);
    }
    let skip = v.as_ptr().align_offset(64).min(15);
    &mut v[skip..skip + len]
}

/// `C = α·A·B + β·C` for A (m, k), B (k, n), C (m, n) given as strided views, on this thread.
///
/// With `pre = Some((packed, col0))`, B's panels come from `packed` (all of B packed for this
/// spec), this view's column 0 being its column `col0` (a multiple of NR), instead of being
/// packed here.
///
/// # Safety
/// Every element (i, p) of `a` with i < m, p < k, (p, j) of `b` and (i, j) of `c` must be valid
/// to read (and, for C, to write), and no other thread may access C's elements meanwhile;
/// `pre`'s panels must cover columns col0..col0 + n of a (k, ·) B packed for `spec`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm(
    spec: &Spec,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: View,
    b: View,
    pre: Option<(&PackedB<'_>, usize)>,
    beta: f32,
    c: MatPtr,
) {
    let (mr, nr) = (spec.mr, spec.nr);
    debug_assert!(mr * nr <= MAX_TILE);
    let kc_max = spec.kc.min(k);
    let mc_max = spec.mc.min(m.div_ceil(mr) * mr);
    let nc_max = spec.nc.min(n.div_ceil(nr) * nr);
    // A read in place instead of packed (see `IN_PLACE_MAX_N`) when its rows or its columns are
    // contiguous: its full panels go straight to the strided kernel; only a partial last panel
    // of each block is packed.
    let a_ld = match (a.cs, a.rs) {
        (1, ld) | (ld, 1) => Some(ld),
        _ => None,
    };
    let direct_a = spec.strided.is_some()
        && n <= IN_PLACE_MAX_N
        && a_ld.is_some_and(|ld| !ld.is_multiple_of(IN_PLACE_BAD_LD));
    BUFFERS.with(|bufs| {
        let mut bufs = bufs.borrow_mut();
        let Buffers { a: abuf, b: bbuf } = &mut *bufs;
        let apack = aligned(abuf, mc_max.div_ceil(mr) * mr * kc_max);
        let bpack = aligned(bbuf, nc_max.div_ceil(nr) * nr * kc_max);
        let mut tile = [0.0f32; MAX_TILE];
        for jc in (0..n).step_by(spec.nc) {
            let nc = spec.nc.min(n - jc);
            for pc in (0..k).step_by(spec.kc) {
                let kc = spec.kc.min(k - pc);
                let beta_pc = if pc == 0 { beta } else { 1.0 };
                // B's panels for columns jc.. of this depth block: packed in advance (`pre`:
                // the whole B, this view starting at its column `col0`), or packed now.
                let bpanels: *const f32 = match pre {
                    Some((pb, col0)) => pb.panel(pc / spec.kc, col0 + jc, kc),
                    None => {
                        // SAFETY: the (kc, nc) block of B at (pc, jc) is inside B by the
                        // caller's contract; as a matrix X(j, p), its strides are (b.cs, b.rs).
                        unsafe { (spec.pack_b)(nc, kc, b.at(pc, jc).ptr, b.cs, b.rs, bpack) };
                        bpack.as_ptr()
                    }
                };
                for ic in (0..m).step_by(spec.mc) {
                    let mc = spec.mc.min(m - ic);
                    let full_a = mc / mr * mr;
                    if !direct_a {
                        // SAFETY: the (mc, kc) block of A at (ic, pc) is inside A.
                        unsafe { (spec.pack_a)(mc, kc, a.at(ic, pc).ptr, a.rs, a.cs, apack) };
                    } else if full_a < mc {
                        // SAFETY: rows ic + full_a .. ic + mc of the block are inside A; the
                        // partial panel is packed at apack's start.
                        unsafe {
                            (spec.pack_a)(
                                mc - full_a,
                                kc,
                                a.at(ic + full_a, pc).ptr,
                                a.rs,
                                a.cs,
                                apack,
                            )
                        };
                    }
                    for jr in (0..nc).step_by(nr) {
                        let ncr = nr.min(nc - jr);
                        let bp = bpanels.wrapping_add(jr * kc);
                        for ir in (0..mc).step_by(mr) {
                            let mcr = mr.min(mc - ir);
                            let (ap, ars, acs) = if direct_a && ir < full_a {
                                (a.at(ic + ir, pc).ptr, a.rs, a.cs)
                            } else if direct_a {
                                (apack.as_ptr(), 1, mr)
                            } else {
                                (apack[ir * kc..].as_ptr(), 1, mr)
                            };
                            let cp = c.ptr.wrapping_add((ic + ir) * c.ld + jc + jr);
                            let full = mcr == mr && ncr == nr;
                            let (out, ldo, beta_k) = if full {
                                (cp, c.ld, beta_pc)
                            } else {
                                (tile.as_mut_ptr(), nr, 0.0)
                            };
                            // SAFETY: the panels hold (or A has, in place) kc·MR and kc·NR
                            // valid floats; `out` is the MR×NR tile of C at
                            // (ic+ir, jc+jr) when it is whole, else the buffer `tile` (ld = NR),
                            // of which only the valid mcr×ncr part is then merged into C.
                            unsafe {
                                match spec.strided {
                                    Some(kern) if direct_a => {
                                        kern(kc, (ap, ars, acs), bp, out, ldo, alpha, beta_k)
                                    }
                                    _ => (spec.kernel)(kc, ap, bp, out, ldo, alpha, beta_k),
                                }
                                if !full {
                                    merge_tile(&tile, nr, mcr, ncr, cp, c.ld, beta_pc);
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

/// A is read in place by the strided kernel, not packed, when the part of C one call computes
/// has at most this many columns: each A panel then serves few B panels, so packing it (a
/// transpose when A is not transposed, a strided copy when it is) costs a larger share of the
/// product. (On two threads a product up to 1024 wide, split by columns, reads A in place too;
/// that case was not measured.) Measured on one thread
/// (GFLOP/s, packed → in place, 2026-11-27): 768×384×128 NT 230 → 239, 768×128×384 NN 219 → 237,
/// 1024×128×1536 NN 238 → 250-259, 384×128×768 TN 218-222 → 245-248, 512×128×768 TN 211-216
/// → 249-251, 1536×128×1024 TN 214-221 → 248-255; on two threads the three TN weight-gradient
/// products of the baby GPT 400-450 → 430-483. No gain at n = 3072, and 1024³ NN went 250 →
/// 241, so wide products keep packing.
const IN_PLACE_MAX_N: usize = 512;

/// Nor when A's leading dimension is a multiple of 4 KiB: the floats the kernel reads one after
/// another (the MR rows side by side, or for a transposed A successive p) would all fall in one
/// L1 set (2048×512×2048 NN was 246 → 238 GFLOP/s in place).
const IN_PLACE_BAD_LD: usize = 1024;

/// `C[i][j] = tile[i][j] + β·C[i][j]` for i < rows, j < cols (β = 0: C not read).
///
/// # Safety
/// The rows × cols block at `c` with leading dimension `ldc` must be valid to read and write.
unsafe fn merge_tile(
    tile: &[f32],
    ldt: usize,
    rows: usize,
    cols: usize,
    c: *mut f32,
    ldc: usize,
    beta: f32,
) {
    for i in 0..rows {
        // SAFETY: row i of the block has `cols` valid elements at c + i·ldc (caller's contract).
        let row = unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), cols) };
        let t = &tile[i * ldt..i * ldt + cols];
        if beta == 0.0 {
            row.copy_from_slice(t);
        } else {
            row.iter_mut().zip(t).for_each(|(c, t)| *c = t + beta * *c);
        }
    }
}

/// The packed path on the pool: C's longer side cut into chunks of whole panels, each computed
/// by [`gemm`] on one thread (with B's panels from `pre` when given).
///
/// # Safety
/// As [`gemm`] for the whole (m, n, k) product; `pre`, when given, must be B packed for
/// `spec` (k, n).
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn on_threads(
    cfg: &GemmConfig,
    spec: &Spec,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    av: View,
    bv: View,
    pre: Option<&PackedB<'_>>,
    beta: f32,
    cp: MatPtr,
) {
    let mnk = m.saturating_mul(n).saturating_mul(k);
    let threads = if cfg.size_heuristics {
        cfg.threads.clamp(1, (mnk / MNK_PER_THREAD).max(1))
    } else {
        cfg.threads.max(1)
    };
    // Split the longer side of C into chunks of whole panels; the chunks are disjoint. Each
    // chunk repacks the other operand (A unless it is read in place; B unless it comes packed),
    // so chunks are at
    // least MIN_CHUNK long; when the side is long enough there are up to 4 per thread, claimed
    // in turn, so that a thread slowed down by another process (or woken late) takes fewer.
    let (split_n, len, panel) = if n >= m {
        (true, n, spec.nr)
    } else {
        (false, m, spec.mr)
    };
    let panels = len.div_ceil(panel);
    let threads = threads.min(panels);
    let even = panels.div_ceil(threads);
    let fine = panels.div_ceil(4 * threads).max(MIN_CHUNK.div_ceil(panel));
    let per = even.min(fine) * panel;
    let chunks = len.div_ceil(per);
    let next = AtomicUsize::new(0);
    pool::run(threads, &|_| loop {
        let chunk = next.fetch_add(1, Ordering::Relaxed);
        if chunk >= chunks {
            return;
        }
        let start = chunk * per;
        let end = (start + per).min(len);
        // SAFETY: the caller's contract covers the whole product; the sub-products of different
        // chunks write disjoint ranges of C (rows or columns start..end).
        unsafe {
            if split_n {
                gemm(
                    spec,
                    m,
                    end - start,
                    k,
                    alpha,
                    av,
                    bv.cols_from(start),
                    pre.map(|p| (p, start)),
                    beta,
                    cp.cols_from(start),
                );
            } else {
                gemm(
                    spec,
                    end - start,
                    n,
                    k,
                    alpha,
                    av.rows_from(start),
                    bv,
                    pre.map(|p| (p, 0)),
                    beta,
                    cp.rows_from(start),
                );
            }
        }
    });
}
