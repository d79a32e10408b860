//! Which instruction set runs: the [`Kernel`] choice (detected at run time, `TFS_KERNELS`, or an
//! override for experiments), the multiply-add a body is compiled with ([`MulAdd`]), and
//! `simd_fn!`, which compiles one body for AVX-512, AVX2+FMA and the baseline and picks at run
//! time. The GEMM and the fused kernels both read this module; neither reads the other for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A kernel set by [`Kernel::set_override`] (its index + 1; 0: none).
static KERNEL_OVERRIDE: AtomicUsize = AtomicUsize::new(0);

/// Which implementation computes the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// The triple loop of [`crate::sgemm_reference`].
    Reference,
    /// Packed and blocked, with a micro-kernel in plain Rust that the compiler vectorises.
    Portable,
    /// Packed and blocked, 6×16 AVX2+FMA micro-kernel (x86_64 only).
    Avx2,
    /// Packed and blocked, AVX-512 micro-kernel (x86_64 only).
    Avx512,
}

impl Kernel {
    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Reference | Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 | Kernel::Avx512 => false,
        }
    }

    /// The fastest kernel this CPU can run.
    pub fn best() -> Kernel {
        [Kernel::Avx512, Kernel::Avx2]
            .into_iter()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Portable)
    }

    const ALL: [Kernel; 4] = [
        Kernel::Reference,
        Kernel::Portable,
        Kernel::Avx2,
        Kernel::Avx512,
    ];

    fn from_index(i: usize) -> Option<Kernel> {
        i.checked_sub(1).and_then(|i| Kernel::ALL.get(i).copied())
    }

    /// Makes [`Kernel::from_env`] answer `k` for the rest of the process (`None`: back to the
    /// environment), for experiments that compare kernels in one run; every fused kernel's
    /// reference switch follows it too. A kernel this CPU cannot run is ignored.
    pub fn set_override(k: Option<Kernel>) {
        let i = k
            .filter(|k| k.is_available())
            .and_then(|k| Kernel::ALL.iter().position(|&x| x == k))
            .map_or(0, |i| i + 1);
        KERNEL_OVERRIDE.store(i, Ordering::SeqCst);
    }

    /// [`Kernel::best`] unless [`Kernel::set_override`] or `TFS_KERNELS` names another one
    /// (`reference`, `portable`, `avx2`, `avx512`); a name this CPU cannot run falls back to the
    /// best. The environment is read once per process.
    pub fn from_env() -> Kernel {
        static CHOSEN: OnceLock<Kernel> = OnceLock::new();
        if let Some(k) = Kernel::from_index(KERNEL_OVERRIDE.load(Ordering::Relaxed)) {
            return k;
        }
        *CHOSEN.get_or_init(|| {
            let wanted = match std::env::var("TFS_KERNELS").as_deref().map(str::trim) {
                Ok("reference") => Kernel::Reference,
                Ok("portable") => Kernel::Portable,
                Ok("avx2") => Kernel::Avx2,
                Ok("avx512") => Kernel::Avx512,
                _ => Kernel::best(),
            };
            if wanted.is_available() {
                wanted
            } else {
                Kernel::best()
            }
        })
    }

    /// A short lowercase name, as `TFS_KERNELS` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Reference => "reference",
            Kernel::Portable => "portable",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }
}

/// How a kernel body computes a·b + c. Rust never contracts `a * b + c` into one fused
/// multiply-add (the rounding would change), so a body that wants the FMA instruction asks for it
/// through this trait: [`Fused`] is `f32::mul_add` (one instruction where the CPU has FMA, a slow
/// libm call where it has not), [`Unfused`] is a multiply then an add. `simd_fn!(fma fn …)`
/// compiles its body with [`Fused`] for AVX-512 and AVX2+FMA, and with [`Baseline`] otherwise.
pub trait MulAdd {
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// a·b + c rounded once (the FMA instruction).
pub struct Fused;
/// a·b rounded, then + c rounded.
pub struct Unfused;

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl MulAdd for Unfused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// The multiply-add of the baseline build: every aarch64 CPU has FMA (NEON), x86_64's baseline
/// (SSE2) has none.
#[cfg(target_arch = "aarch64")]
pub type Baseline = Fused;
/// The multiply-add of the baseline build: every aarch64 CPU has FMA (NEON), x86_64's baseline
/// (SSE2) has none.
#[cfg(not(target_arch = "aarch64"))]
pub type Baseline = Unfused;

/// Defines `fn $name(args)` that calls `$body(args)` compiled for the best instruction set this
/// CPU has among AVX-512, AVX2+FMA and the baseline (chosen once per process by
/// [`crate::Kernel::from_env`]). `$body` should be `#[inline(always)]` so that each copy is
/// vectorised for its own target.
///
/// `simd_fn!(fma fn …)` takes a body generic over [`MulAdd`] and compiles it with [`Fused`] in
/// the AVX-512 and AVX2+FMA copies and [`Baseline`] in the baseline one.
macro_rules! simd_fn {
    (fma $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $body:ident) => {
        simd_fn!(fma $vis fn $name($($arg: $ty),*) -> () = $body);
    };
    (fma $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:ident) => {
        simd_fn!(@ $vis fn $name($($arg: $ty),*) -> $ret =
            $body::<$crate::simd::Fused>, $body::<$crate::simd::Baseline>);
    };
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $body:path) => {
        simd_fn!($vis fn $name($($arg: $ty),*) -> () = $body);
    };
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:path) => {
        simd_fn!(@ $vis fn $name($($arg: $ty),*) -> $ret = $body, $body);
    };
    (@ $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $fast:expr, $base:expr) => {
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
                fn avx512($($arg: $ty),*) -> $ret {
                    $fast($($arg),*)
                }
                #[allow(clippy::too_many_arguments)]
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $fast($($arg),*)
                }
                match $crate::simd::Kernel::from_env() {
                    // SAFETY: from_env only returns a kernel whose features this CPU has, and
                    // the Avx512 kernel is chosen only when AVX-512F is present; the BW/DQ/VL
                    // extensions come with it on every AVX-512 CPU this selects (checked below).
                    $crate::simd::Kernel::Avx512 if $crate::simd::has_avx512_extras() => {
                        return unsafe { avx512($($arg),*) }
                    }
                    // SAFETY: AVX2 and FMA were detected (Avx512 implies both on x86_64 CPUs
                    // that exist, and is checked anyway).
                    $crate::simd::Kernel::Avx512 | $crate::simd::Kernel::Avx2
                        if $crate::simd::Kernel::Avx2.is_available() =>
                    {
                        return unsafe { avx2($($arg),*) }
                    }
                    _ => {}
                }
            }
            $base($($arg),*)
        }
    };
}
pub(crate) use simd_fn;

/// Whether the AVX-512 extensions the fused kernels are compiled with are present.
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512_extras() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
}

/// Whether the fused kernels should run their references (`TFS_KERNELS=reference`).
pub(crate) fn use_reference() -> bool {
    Kernel::from_env() == Kernel::Reference
}
