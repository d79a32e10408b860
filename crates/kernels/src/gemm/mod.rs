//! General matrix multiply in f32: `C = α·op(A)·op(B) + β·C`, where `op(X)` is `X` or `Xᵀ`.
//!
//! Every matrix is a row-major slice with a leading dimension (the distance between the starts of
//! two rows), so views into larger buffers work: element (r, c) of a stored matrix is
//! `x[r * ld + c]`. `op(A)` is (m, k), `op(B)` is (k, n) and `C` is (m, n). A transposed operand
//! is never materialised: packing reads it with swapped strides, so NN, NT, TN (and TT) all run
//! at the same speed.
//!
//! The fast path follows the BLIS / GotoBLAS structure (see `blocked.rs`): B is packed into
//! panels NR columns wide, A into panels MR rows tall (or, in narrow products, read in place by a
//! strided AVX-512 micro-kernel), blocked by KC (depth), MC (rows) and NC (columns) so that one B
//! micro-panel stays in L1 and one packed A block in L2; an MR×NR
//! micro-kernel in registers does all the arithmetic. The micro-kernel is picked at run time:
//! AVX-512 (`avx512.rs`), AVX2+FMA (`avx2.rs`), or a portable one that the compiler vectorises
//! (`portable.rs`; NEON on Apple silicon). Small products skip packing (`small.rs`). Threads
//! split C into independent column (or row) ranges of whole panels, run on a persistent pool.
//!
//! Environment: `TFS_KERNELS=reference` forces the triple loop (`portable`, `avx2`, `avx512`
//! force a micro-kernel, when the CPU has it); `TFS_THREADS=N` sets the default thread count;
//! `TFS_GEMM_BLOCKS=KC,MC,NC` overrides the cache blocks (for tuning on another machine).
//!
//! [`PackedB`] packs a B that many products share once ([`sgemm_prepacked`]): an RNN's
//! recurrent weights, used at every time step.
//!
//! Left out: bf16 and f64 (a sibling `hgemm`/`dgemm` would reuse `blocked.rs` with another
//! element type), the TT layout's own tuning, and packing shared between threads (each thread packs
//! its own copy of the operand it does not split, unless A is read in place).
//!
//! # Performance notes
//!
//! Machine: AMD EPYC, Zen 5 (family 26), 2 cores with AVX-512, L1d 48 KiB and L2 1 MiB per core,
//! L3 32 MiB, shared with other engineers' builds, so every number is noisy: `bench_gemm`
//! reports the best of ≥ 3 runs, and tuning used `examples/tune_gemm` (GFLOP per CPU-second,
//! which time slices lost to other processes do not distort). Measured 2026-11-26:
//!
//! * AVX-512 micro-kernel, first 14×32: 28 zmm accumulators + 2 B vectors + 1 broadcast, no
//!   spills (checked in the disassembly: 28 `vfmadd231ps` and 14 `vbroadcastss` per k step).
//!   Alone on L2-resident data (504×512×256) it runs at ≈ 235-240 GFLOP/cpu-s, so one core's
//!   FP32 peak here is at least ≈ 250 (2 × 512-bit FMA per cycle), not the ≈ 135 DESIGN.md
//!   assumed. MR = 12 and 8 measured the same within ±3% on large products (CPU time, two
//!   alternated runs: 2048³ 217-227, 1024×3072×768 215-230, 1024×768×3072 225-234) and MR = 8
//!   was 3-10% ahead on 64³-256³ (64³: 191-195 vs 172-178), where 14-row panels pad more, so
//!   the kernel is now 8×32 with MC = 128.
//! * Side by side with PyTorch 2.15 (MKL), final code: `bench_gemm` and
//!   `bench/peers/torch_matmul.py` run case by case in turn, 5 rounds, best of each (GFLOP/s):
//!
//!   | case                          | ours 1t | torch 1t | ratio | ours 2t | torch 2t | ratio  |
//!   |-------------------------------|--------:|---------:|------:|--------:|---------:|-------:|
//!   | 128³                          |     246 |      112 |  2.20 |     246 |      193 |  1.28† |
//!   | 256³                          |     251 |      114 |  2.20 |     451 |      220 |  2.05¹ |
//!   | 512³                          |     257 |      116 |  2.20 |     500 |      226 |  2.21  |
//!   | 1024³                         |     252 |      117 |  2.15 |     477 |      222 |  2.15  |
//!   | 2048³                         |     245 |      112 |  2.19 |     474 |      211 |  2.24  |
//!   | qkv.fwd NN 1024×2304×768      |     253 |      113 |  2.25 |     479 |      210 |  2.28  |
//!   | qkv.dx NT 1024×768×2304       |     253 |      113 |  2.23 |     471 |      216 |  2.18¹ |
//!   | qkv.dw TN 768×2304×1024       |     246 |      114 |  2.15 |     459 |      210 |  2.19¹ |
//!   | fc.fwd NN 1024×3072×768       |     243 |      112 |  2.17 |     438 |      206 |  2.13¹ |
//!   | fc.dx NT 1024×768×3072        |     249 |      112 |  2.21 |     446 |      215 |  2.07¹ |
//!   | fc.dw TN 768×3072×1024        |     241 |      112 |  2.15 |     436 |      208 |  2.10¹ |
//!   | proj.fwd NN 1024×768×3072     |     238 |      114 |  2.09 |     458 |      221 |  2.07¹ |
//!   | proj.dx NT 1024×3072×768      |     248 |      110 |  2.26 |     440 |      202 |  2.18¹ |
//!   | proj.dw TN 3072×768×1024      |     244 |      110 |  2.23 |     442 |      210 |  2.11¹ |
//!   | lm_head.fwd NN 1024×50257×768 |     232 |       95 |  2.44 |     407 |      177 |  2.30¹ |
//!   | lm_head.dx NT 1024×768×50257  |     236 |      109 |  2.16 |     456 |      216 |  2.11¹ |
//!   | lm_head.dw TN 768×50257×1024  |     228 |       93 |  2.46 |     415 |      164 |  2.53¹ |
//!   | attn.scores NT 1024×1024×64   |     257 |      118 |  2.19 |     511 |      221 |  2.32  |
//!   | attn.values NN 1024×64×1024   |     235 |      110 |  2.15 |     456 |      211 |  2.16  |
//!
//!   ¹ Two-thread cells from an earlier run (14×32 kernel, no A prefetch; 3 rounds) taken when
//!   the second core was free: in the final rounds another process held one core during these
//!   cases and both sides stayed near one core's rate. † Ours keeps 128³ on one thread.
//!
//!   MKL seems to take its AVX2 path on this AMD CPU (≈ 110 per core, the AVX2 rate). At 128³
//!   ours stays on one thread (see below). AVX2 6×16 alone: 129 at 1024³ (half the vector width,
//!   as expected); portable 8×8 on baseline x86_64 (SSE2, no FMA): 28. While other builds use
//!   the second core, 2 threads fall back to about one thread's rate (ours and PyTorch alike).
//! * Cache blocks: KC = 256, MC = 128, NC = 4096. With 14×32 (MC = 126) I tried KC ∈ {160,
//!   192, 256, 320, 384, 512}, MC ∈ {84, 126, 252, 504}, NC ∈ {512, 1024, 4096} on 2048³,
//!   1024×3072×768 and 1024×768×50257 (NT): all within noise (195-220 GFLOP/cpu-s) except
//!   NC = 1024 (≈ 185) and KC = 160 (≈ 200); larger KC did not help even at k = 50257. With
//!   8×32, MC ∈ {120, 128, 192, 256} and KC = 384: all 221-239, within noise.
//! * Packing (profiled with perf): the first scalar packers took 8% of 2048³ (NN) and 23% of
//!   1024×768×3072 (NT, both operands transposing). Reading R source rows side by side was
//!   worse than expected: with lda = 3072 floats (12 KiB) all R rows fall in one L1 set. Copying
//!   whole 64-byte lines into a stack tile fixed that but a slice copy became a memmove call (10%);
//!   a fixed-size copy, 11%; an AVX-512 16×16 register transpose (`avx512.rs`), 6%: NT went from
//!   172-192 to ≈ 215 GFLOP/cpu-s, like NN.
//! * A read in place (2026-11-27, for the baby GPT's narrow products): a strided AVX-512
//!   micro-kernel broadcasts A's elements where they lie, so products at most 512 columns wide
//!   skip packing A (numbers at `IN_PLACE_MAX_N` in `blocked.rs`; +4-19% on the GPT's weight
//!   and input gradients, none on wide products). B in place was tried too (its rows read with
//!   their stride by the kernel): +0-10% on one thread, but 384×128×768 TN on two threads went
//!   417 → 342 GFLOP/s and the GPT's 300 steps were slower (median 4.98 vs 4.45 s). B's panel
//!   must stay in L1 for the whole A block, and rows 512 B apart fill only 16 of its 64 sets.
//! * Prefetching the C tile at the start of the micro-kernel: +1-2% (within noise), kept.
//!   Prefetching the A panel 8, 16 or 32 k-steps ahead in the AVX-512 loop: +3-7% on 2048³ and
//!   1024×3072×768 (208-217 → 221-229 GFLOP/cpu-s, three alternated runs), ±3% on NT; kept at
//!   16. The same in the AVX2 kernel: no gain (121-124 either way), left out.
//! * Threads: splitting C into disjoint column (or row) ranges, each thread packing its own
//!   panels, scales ≈ 1.95× on a quiet machine; chunks of ≥ 1536 claimed in turn cost nothing
//!   measurable on lm_head (n = 50257) and let a delayed thread take less. Pool workers spin
//!   5 µs before sleeping (100 µs halved 2-thread medians on the busy machine, see `pool.rs`).
//!   Products up to 128³ run on one thread (2 threads were slower there: wake-up ≈ the work).
//! * Unpacked path: packing pays for itself from ≈ 8³ on (numbers at `SMALL_MNK`), so only tiny
//!   products and thin ones (≤ 2 rows or columns) skip it. Matrix-vector products were 0.7-8
//!   GFLOP/s in the first version (a dot product without partial sums does not vectorise; TN with
//!   one column gathered A with a stride); 38-50 now at 1024×1024, and 1×50257×768 (one
//!   decoding step through GPT-2's vocabulary) ≈ 10 on one thread, ≈ 12 on two (memory-bound:
//!   154 MB of weights per call).
//! * Decoding products (`gemv.rs`, 2026-11-27): x·Wᵀ with m ≤ 4 rows of x is memory-bound, so it
//!   is measured in GB/s of W streamed (`tfs bench kernels`, W cycled through ≥ 256 MiB of copies
//!   so it comes from memory), beside the rate at which the same threads sum a 256 MiB buffer
//!   (read 37.7 GB/s on 1 thread, 52.3 on 2; copy 41.8 counting read + write), quiet machine:
//!
//!   | W (n × k), GPT-2 124M | m = 1, 1t | m = 1, 2t | m = 2, 2t | m = 4, 1t | m = 4, 2t |
//!   |-----------------------|----------:|----------:|----------:|----------:|----------:|
//!   | attn.c_attn 2304×768  |      34.1 |      53.6 |      46.7 |      30.9 |      46.2 |
//!   | attn.c_proj 768×768   |      37.7 |      57.6 |      47.0 |      35.1 |      47.1 |
//!   | mlp.c_fc 3072×768     |      35.3 |      54.3 |      46.3 |      30.9 |      46.2 |
//!   | mlp.c_proj 768×3072   |      38.7 |      56.0 |      47.2 |      27.4 |      45.9 |
//!   | lm_head 50257×768     |      34.2 |      51.0 |      44.4 |      28.8 |      44.1 |
//!
//!   m = 1 runs at the read rate (0.91-1.10 of it). Before this path (same machine, a probe run
//!   alternately with the old binary): m = 1 went to `small.rs`, on one thread for every layer but
//!   lm_head (36-39 GB/s on 2 threads), and m = 3, 4 to the packed path, which copies all of W per
//!   call (13-15 GB/s on 1 thread, 15-26 on 2). One thread per 256 KiB of W: even attn.c_proj
//!   (2.4 MB) gains from the second core. The dot products are register-resident (checked in the
//!   disassembly: 16 zmm accumulators and 16 FMAs per step at m = 4, no spills), yet m = 4 first ran
//!   at 18-24 GB/s on one thread: its longer loop body keeps fewer loads in flight, and each group
//!   of 4 rows is 4 short streams (3 KiB each) that the hardware prefetcher must pick up anew. A
//!   prefetch of the same columns of the next 4 rows lifted m = 4 to 27-33 (1t) and 44-47 (2t),
//!   m = 2 by 15-25% on 1 thread; at m = 1 it cost ≈ 5% on one thread (two alternated runs), so
//!   m = 1 goes without. Prefetching 256 floats ahead within the row instead: within noise.
//!   End to end (`tfs bench generate`, GPT-2 124M, 2 threads): 80.3 tokens/s with the KV cache,
//!   ≈ 40 GB/s of weights (498 MB per token), against 37.2 for transformers' `generate` in the
//!   same run (2.16×; 83.7 against 36.5 in an earlier run, before the m ≥ 2 prefetch).

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
mod blocked;
pub mod gemv;
mod pack;
mod portable;
mod prepacked;
mod reference;
mod small;
mod spec;

pub use reference::sgemm_reference;

use crate::pool;
pub use crate::simd::Kernel;
use blocked::{MatPtr, View};
pub use prepacked::{sgemm_prepacked, PackedB};

/// Whether an operand is used as stored (`N`) or transposed (`T`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trans {
    N,
    T,
}

/// One product `C = α·op(A)·op(B) + β·C`: the layouts, the sizes (`op(A)` is (m, k), `op(B)`
/// is (k, n), `C` is (m, n)) and the scalars. Every entry point takes this descriptor with the
/// three matrices as [`MatRef`] / [`MatMut`]; [`Batch`] adds strides for many products of one
/// shape. It is also the shape a GPU GEMM takes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    pub ta: Trans,
    pub tb: Trans,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: f32,
    pub beta: f32,
}

impl Gemm {
    /// `C = op(A)·op(B)` (α = 1, β = 0): `ta`, `tb` say whether each operand is transposed.
    pub fn new(ta: bool, tb: bool, m: usize, n: usize, k: usize) -> Gemm {
        let t = |x: bool| if x { Trans::T } else { Trans::N };
        Gemm {
            ta: t(ta),
            tb: t(tb),
            m,
            n,
            k,
            alpha: 1.0,
            beta: 0.0,
        }
    }
    /// The same product with `alpha`.
    pub fn alpha(mut self, alpha: f32) -> Gemm {
        self.alpha = alpha;
        self
    }
    /// The same product with `beta` (β = 0: C is output only and never read).
    pub fn beta(mut self, beta: f32) -> Gemm {
        self.beta = beta;
        self
    }
    /// The (rows, cols) A is stored as.
    fn a_stored(&self) -> (usize, usize) {
        match self.ta {
            Trans::N => (self.m, self.k),
            Trans::T => (self.k, self.m),
        }
    }
    /// The (rows, cols) B is stored as.
    fn b_stored(&self) -> (usize, usize) {
        match self.tb {
            Trans::N => (self.k, self.n),
            Trans::T => (self.n, self.k),
        }
    }
}

/// A row-major matrix in a slice: element (r, c) is `data[r·ld + c]` (the leading dimension
/// `ld` lets it be a view into a larger buffer).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub ld: usize,
}

/// A row-major matrix to write: element (r, c) is `data[r·ld + c]`.
#[derive(Debug)]
pub struct MatMut<'a> {
    pub data: &'a mut [f32],
    pub ld: usize,
}

impl<'a> MatRef<'a> {
    pub fn new(data: &'a [f32], ld: usize) -> MatRef<'a> {
        MatRef { data, ld }
    }
}

impl<'a> MatMut<'a> {
    pub fn new(data: &'a mut [f32], ld: usize) -> MatMut<'a> {
        MatMut { data, ld }
    }
    /// A shorter borrow of the same matrix.
    pub fn rb(&mut self) -> MatMut<'_> {
        MatMut {
            data: self.data,
            ld: self.ld,
        }
    }
}

/// Many products of one [`Gemm`] shape: product `i` reads A at `i·a`, B at `i·b` and writes C
/// at `i·c` (element offsets; a stride of 0 shares an operand, as one weight for every batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batch {
    pub count: usize,
    pub a: usize,
    pub b: usize,
    pub c: usize,
}

/// How [`sgemm_with`] runs: on how many threads, with which kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmConfig {
    /// Upper bound on threads; small products use fewer.
    pub threads: usize,
    pub kernel: Kernel,
    /// Use the size heuristics (the unpacked path for small products, fewer threads than
    /// `threads` when there is little work). Tests turn them off to drive the packed path and
    /// every thread through small shapes.
    pub size_heuristics: bool,
}

impl GemmConfig {
    /// `TFS_THREADS` (else the core count) and `TFS_KERNELS` (else the best kernel).
    pub fn from_env() -> GemmConfig {
        GemmConfig {
            threads: pool::default_threads(),
            kernel: Kernel::from_env(),
            size_heuristics: true,
        }
    }
}

/// The length a row-major (rows, cols) matrix with leading dimension `ld` needs.
pub(crate) fn needed_len(rows: usize, cols: usize, ld: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * ld + cols
    }
}

/// Panics with the operation and the shapes if the arguments cannot describe a valid GEMM.
pub(crate) fn check_args(g: &Gemm, a: &MatRef, b: &MatRef, c: &MatMut) {
    let ((ar, ac), (br, bc)) = (g.a_stored(), g.b_stored());
    let (ta, tb, m, n, k) = (g.ta, g.tb, g.m, g.n, g.k);
    for (name, rows, cols, ld, len) in [
        ("A", ar, ac, a.ld, a.data.len()),
        ("B", br, bc, b.ld, b.data.len()),
        ("C", m, n, c.ld, c.data.len()),
    ] {
        assert!(
            ld >= cols && len >= needed_len(rows, cols, ld),
            "sgemm({ta:?}{tb:?}, m={m}, n={n}, k={k}): {name} is stored ({rows}, {cols}) and \
             needs ld >= {cols} and len >= (rows-1)*ld+cols, got ld={ld}, len={len}"
        );
    }
}

/// `C = α·op(A)·op(B) + β·C` with the kernel and thread count from the environment
/// ([`GemmConfig::from_env`]).
///
/// Shapes: `op(A)` is (m, k), `op(B)` is (k, n), `C` is (m, n); `A` is stored row-major as
/// (m, k) with its leading dimension when `ta == Trans::N`, and as (k, m) when `ta == Trans::T`
/// (likewise `B`). With β = 0, `C` is not read (it may hold NaN). Elements of the slices outside
/// the described matrices (padding between rows) are neither read for C nor written.
pub fn sgemm(g: &Gemm, a: MatRef, b: MatRef, c: MatMut) {
    sgemm_with(&GemmConfig::from_env(), g, a, b, c);
}

/// Products with at most this many multiply-adds (m·n·k) skip packing. Measured (one thread,
/// GFLOP/s unpacked vs packed): 4³ 1.9-2.6 vs 0.9-1.0, 8³ 4.2-8.5 vs 5.4-5.8, 16³ 9-16 vs 22-24,
/// 32³ 17-19 vs 100-110: packing pays for itself from about 8³ on. Products with one or two rows
/// or columns always skip it (packed, they would fill 1/8 to 2/8 of each AVX-512 tile; unpacked
/// they run at 38-50 GFLOP/s at 1024×1024, packed 4-16).
pub(crate) const SMALL_MNK: usize = 8 * 8 * 8;
/// Each extra thread must get at least this many multiply-adds to be worth waking.
pub(crate) const MNK_PER_THREAD: usize = 128 * 128 * 128;
/// The shortest range of C's rows or columns a thread takes at a time, when C is long enough to
/// be cut finer than one range per thread. Each chunk repacks the other operand (unless A, read
/// in place): ≈ 0.25 ns per
/// packed float (the packing share in the profiles) against 2·1536 flops at ≈ 4 ps each per
/// packed float, so about 2% of a chunk's time (estimated).
pub(crate) const MIN_CHUNK: usize = 1536;

/// Each extra thread of [`sgemm_nt_rows`] must get at least this many bytes of B to stream.
const NT_ROWS_BYTES_PER_THREAD: usize = 256 << 10;

/// `C = α·A·Bᵀ + β·C` with A (m, k) for m ≤ [`gemv::MAX_ROWS`] and B stored (n, k): the
/// decoding step's linear layers, without packing (see `gemv.rs`); [`sgemm_with`] takes this path
/// for such products when its size heuristics are on. With them on, a product gets one thread per
/// 256 KiB of B (up to `cfg.threads`); with them off, `cfg.threads` (tests use that to split small
/// products). Same contract as [`sgemm`] with `ta = N`, `tb = T`.
pub fn sgemm_nt_rows(cfg: &GemmConfig, g: &Gemm, a: MatRef, b: MatRef, mut c: MatMut) {
    assert!(
        g.ta == Trans::N && g.tb == Trans::T && g.m <= gemv::MAX_ROWS,
        "sgemm_nt_rows: {:?}{:?} with m={} rows, at most {} are taken (NT only)",
        g.ta,
        g.tb,
        g.m,
        gemv::MAX_ROWS
    );
    if handled_without_kernel(cfg, g, &a, &b, &mut c) {
        return;
    }
    let threads = if cfg.size_heuristics {
        let bytes = g.n.saturating_mul(g.k).saturating_mul(4);
        cfg.threads
            .clamp(1, (bytes / NT_ROWS_BYTES_PER_THREAD).max(1))
    } else {
        cfg.threads.max(1)
    };
    gemv::sgemm_nt_rows(cfg.kernel, threads, g, a, b, c);
}

/// The part every entry point shares: checks the arguments, then computes the product when no
/// optimised kernel is needed (the reference path, an empty C, k = 0). True when C is done.
pub(crate) fn handled_without_kernel(
    cfg: &GemmConfig,
    g: &Gemm,
    a: &MatRef,
    b: &MatRef,
    c: &mut MatMut,
) -> bool {
    check_args(g, a, b, c);
    if cfg.kernel == Kernel::Reference {
        sgemm_reference(g, *a, *b, c.rb());
        return true;
    }
    assert!(
        cfg.kernel.is_available(),
        "sgemm: kernel {:?} is not available on this CPU",
        cfg.kernel
    );
    if g.m == 0 || g.n == 0 {
        return true;
    }
    if g.k == 0 {
        small::scale_c(g.m, g.n, g.beta, c.data, c.ld);
        return true;
    }
    false
}

/// One product on the calling thread (kernel and size heuristics from the environment): for
/// callers that spread their own work over the threads, one task per head or batch row (the
/// attention kernels).
pub fn sgemm_here(g: &Gemm, a: MatRef, b: MatRef, c: MatMut) {
    let cfg = GemmConfig {
        threads: 1,
        ..GemmConfig::from_env()
    };
    sgemm_with(&cfg, g, a, b, c);
}

/// The products of a [`Batch`], each on one thread, spread over up to `cfg.threads` pool
/// threads (the per-head products of attention): product `i` is `g` on A at `i·batch.a`, B at
/// `i·batch.b`, C at `i·batch.c`. The C matrices must not overlap (checked).
pub fn sgemm_batched(cfg: &GemmConfig, g: &Gemm, batch: Batch, a: MatRef, b: MatRef, c: MatMut) {
    let (cn, span) = (batch.count, needed_len(g.m, g.n, c.ld));
    if cn == 0 {
        return;
    }
    assert!(
        batch.c >= span || cn == 1,
        "sgemm_batched: C matrices of {span} elements {} apart overlap",
        batch.c
    );
    let ((ar, ac), (br, bc)) = (g.a_stored(), g.b_stored());
    let need = |stride: usize, one: usize| if one == 0 { 0 } else { (cn - 1) * stride + one };
    assert!(
        a.data.len() >= need(batch.a, needed_len(ar, ac, a.ld))
            && b.data.len() >= need(batch.b, needed_len(br, bc, b.ld))
            && c.data.len() >= need(batch.c, span),
        "sgemm_batched({g:?}, {batch:?}): an operand is too short (A {}, B {}, C {})",
        a.data.len(),
        b.data.len(),
        c.data.len()
    );
    let one = GemmConfig { threads: 1, ..*cfg };
    let region = &mut c.data[..need(batch.c, span)];
    // One product may have any stride; its task gets the whole span.
    let chunk = if cn == 1 { span } else { batch.c }.max(1);
    // Each task owns its C: the region cut every `batch.c` elements (the last piece may be
    // shorter than a stride, never than the span).
    pool::per_task(
        cfg.threads.clamp(1, cn),
        cn,
        vec![region],
        &[chunk],
        &|i, parts| {
            let ci = &mut parts[0][..span];
            // An operand with no elements (k = 0) may have a stride past its (empty) data.
            let ai = MatRef::new(a.data.get(i * batch.a..).unwrap_or(&[]), a.ld);
            let bi = MatRef::new(b.data.get(i * batch.b..).unwrap_or(&[]), b.ld);
            sgemm_with(&one, g, ai, bi, MatMut::new(ci, c.ld));
        },
    );
}

/// [`sgemm`] with an explicit [`GemmConfig`].
pub fn sgemm_with(cfg: &GemmConfig, g: &Gemm, a: MatRef, b: MatRef, mut c: MatMut) {
    if handled_without_kernel(cfg, g, &a, &b, &mut c) {
        return;
    }
    let Gemm {
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        beta,
    } = *g;
    if cfg.size_heuristics && ta == Trans::N && tb == Trans::T && m <= gemv::MAX_ROWS {
        return sgemm_nt_rows(cfg, g, a, b, c);
    }
    let mnk = m.saturating_mul(n).saturating_mul(k);
    if cfg.size_heuristics && (mnk <= SMALL_MNK || m <= 2 || n <= 2) {
        // Memory-bound: a second thread pays only on big products (more bandwidth).
        let threads = cfg.threads.clamp(1, (mnk / (4 * MNK_PER_THREAD)).max(1));
        return small::sgemm_small(threads, g, a, b, c);
    }
    let view = |x: &[f32], ld: usize, t: Trans| match t {
        Trans::N => View::new(x, ld, 1),
        Trans::T => View::new(x, 1, ld),
    };
    let (av, bv) = (view(a.data, a.ld, ta), view(b.data, b.ld, tb));
    let cp = MatPtr::new(c.data, c.ld);
    let spec = blocked::spec(cfg.kernel);
    // SAFETY: `check_args` (in `handled_without_kernel`) proved that every (i, p), (p, j), (i, j)
    // a sub-product touches lies inside `a`, `b`, `c`; `blocked::on_threads` gives the threads
    // disjoint ranges of C's rows or columns, and `c` is borrowed mutably for the whole call.
    unsafe { blocked::on_threads(cfg, &spec, m, n, k, alpha, av, bv, None, beta, cp) }
}
