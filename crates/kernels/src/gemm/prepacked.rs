//! B packed once for many products ([`PackedB`], [`sgemm_prepacked`]).
//!
//! An RNN multiplies by the same recurrent weights at every time step; packing them into the
//! micro-kernel's panels on every product repeats the same k·n copy (or transpose) each time.
//! [`PackedB`] packs op(B) once, for every depth block of the kernel's spec; the blocked loop of
//! `blocked.rs` then reads its panels where it would have packed its own, and only A is packed
//! per product (or read in place). Threads split C's columns or rows as in `sgemm_with` and share
//! the panels.

use super::blocked::{self, MatPtr, View};
use super::{
    handled_without_kernel, needed_len, sgemm_with, Gemm, GemmConfig, Kernel, MatMut, MatRef,
    Trans, SMALL_MNK,
};

/// op(B) packed once into the panels the micro-kernel reads, for products that use the same B
/// many times: an RNN's recurrent weights, once per time step. [`sgemm_prepacked`] then packs
/// only A. Packing copies (or, for a transposed B, transposes) k·n floats; for the LSTM's
/// 32×256·256×1024 step products that was as much work as a third of the product itself.
///
/// It borrows B itself too, for the paths that do not pack (the reference kernel, small
/// products).
pub struct PackedB<'a> {
    kernel: Kernel,
    k: usize,
    n: usize,
    /// B as given: stored (k, n) or, transposed, (n, k), with its leading dimension.
    b: &'a [f32],
    tb: Trans,
    ldb: usize,
    /// For each depth block of KC rows, in order: ⌈n/NR⌉ panels of kc·NR floats.
    panels: Vec<f32>,
    /// Where each depth block starts in `panels`.
    offsets: Vec<usize>,
}

impl<'a> PackedB<'a> {
    /// Packs op(B) (k, n) for the micro-kernel of `cfg`.
    pub fn new(cfg: &GemmConfig, tb: Trans, k: usize, n: usize, b: &'a [f32], ldb: usize) -> Self {
        let (br, bc) = match tb {
            Trans::N => (k, n),
            Trans::T => (n, k),
        };
        assert!(
            (bc == 0 || ldb >= bc) && b.len() >= needed_len(br, bc, ldb),
            "PackedB: op(B) ({k}, {n}) as {tb:?} needs {} floats with ldb ≥ {bc}, got {} and ldb {ldb}",
            needed_len(br, bc, ldb),
            b.len()
        );
        let (mut panels, mut offsets) = (Vec::new(), Vec::new());
        if cfg.kernel != Kernel::Reference && cfg.kernel.is_available() && k > 0 && n > 0 {
            let spec = blocked::spec(cfg.kernel);
            let bv = match tb {
                Trans::N => View::new(b, ldb, 1),
                Trans::T => View::new(b, 1, ldb),
            };
            for pc in (0..k).step_by(spec.kc) {
                let kc = spec.kc.min(k - pc);
                let at = panels.len();
                offsets.push(at);
                panels.resize(at + n.div_ceil(spec.nr) * spec.nr * kc, 0.0);
                // SAFETY: the (kc, n) block of op(B) at (pc, 0) is inside `b` (checked above),
                // and the destination holds ⌈n/NR⌉·NR·kc floats.
                unsafe { (spec.pack_b)(n, kc, bv.at(pc, 0).ptr, bv.cs, bv.rs, &mut panels[at..]) };
            }
        }
        PackedB {
            kernel: cfg.kernel,
            k,
            n,
            b,
            tb,
            ldb,
            panels,
            offsets,
        }
    }

    /// The first panel of depth block `block` holding column `col` (a multiple of NR).
    pub(crate) fn panel(&self, block: usize, col: usize, kc: usize) -> *const f32 {
        self.panels[self.offsets[block] + col * kc..].as_ptr()
    }

    /// op(B)'s shape (k, n).
    pub fn shape(&self) -> (usize, usize) {
        (self.k, self.n)
    }
}

/// [`sgemm_with`] with B packed in advance ([`PackedB`]): `C = α·op(A)·B + β·C`. Small products
/// (the ones `sgemm_with` computes unpacked), and a `cfg` with another kernel than B was packed
/// for, go through [`sgemm_with`] with B as given; every other product takes the packed path,
/// including the few-row products against a transposed B that `sgemm_with` sends to its
/// matrix-vector path.
pub fn sgemm_prepacked(
    cfg: &GemmConfig,
    ta: Trans,
    m: usize,
    (alpha, beta): (f32, f32),
    a: MatRef,
    b: &PackedB,
    mut c: MatMut,
) {
    let (k, n, tb, ldb) = (b.k, b.n, b.tb, b.ldb);
    let g = Gemm {
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        beta,
    };
    let bm = MatRef::new(b.b, ldb);
    if handled_without_kernel(cfg, &g, &a, &bm, &mut c) {
        return;
    }
    let mnk = m.saturating_mul(n).saturating_mul(k);
    let unpacked = cfg.size_heuristics && (mnk <= SMALL_MNK || m <= 2 || n <= 2);
    if unpacked || cfg.kernel != b.kernel || b.panels.is_empty() {
        return sgemm_with(cfg, &g, a, bm, c);
    }
    let (a, lda, c, ldc) = (a.data, a.ld, c.data, c.ld);
    let av = match ta {
        Trans::N => View::new(a, lda, 1),
        Trans::T => View::new(a, 1, lda),
    };
    let spec = blocked::spec(cfg.kernel);
    // SAFETY: `check_args` proved A and C hold the product's elements; B's panels were packed
    // for this kernel's spec from a (k, n) matrix (checked above: same kernel, and `spec` is
    // fixed for the process).
    unsafe {
        blocked::on_threads(
            cfg,
            &spec,
            m,
            n,
            k,
            alpha,
            av,
            match tb {
                Trans::N => View::new(b.b, ldb, 1),
                Trans::T => View::new(b.b, 1, ldb),
            },
            Some(b),
            beta,
            MatPtr::new(c, ldc),
        )
    }
}
