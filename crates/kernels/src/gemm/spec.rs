//! A micro-kernel's description: its MR×NR tile, its cache blocks and its packing functions.
//! The micro-kernels (`avx512.rs`, `avx2.rs`, `portable.rs`) each export one; the blocked loop
//! (`blocked.rs`) runs any of them. Its own module so that neither side imports the other.

/// The micro-kernel: `C[0..MR][0..NR] = α · Σ_p a[p·MR + i] · b[p·NR + j] + β · C` over p < k,
/// with C row-major (leading dimension `ldc`); with β = 0, C is not read.
pub(crate) type MicroKernel = unsafe fn(
    k: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
);

/// The micro-kernel with A read where it lies: A(i, p) at `a + i·ars + p·acs` (a packed panel is
/// ars = 1, acs = MR); otherwise as [`MicroKernel`].
pub(crate) type StridedKernel = unsafe fn(
    k: usize,
    a: (*const f32, usize, usize),
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    alpha: f32,
    beta: f32,
);

/// A micro-kernel with its tile (MR, NR) and cache blocks (KC, MC, NC).
#[derive(Clone, Copy)]
pub(crate) struct Spec {
    pub mr: usize,
    pub nr: usize,
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    pub kernel: MicroKernel,
    /// The micro-kernel reading A in place (strided), when this kernel has one.
    pub strided: Option<StridedKernel>,
    /// `pack_panels::<MR>` and `pack_panels::<NR>`.
    pub pack_a: PackFn,
    pub pack_b: PackFn,
}

/// A monomorphised [`super::pack::pack_panels`].
pub(crate) type PackFn = unsafe fn(usize, usize, *const f32, usize, usize, &mut [f32]);
