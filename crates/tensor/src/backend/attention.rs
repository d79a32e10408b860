//! The attention primitives of the seam: the kernel choice by size, the split-heads attention
//! (naive or tiled) with its backward, and the packed self-attention of the GPT's step.

use super::{cpu, f32s, AttnDims, AttnKernel, AttnMask};
use crate::storage::{Device, Src, Storage};

/// Bytes of saved weights above which [`choose_kernel`] takes the tiled kernel: 64 MiB per op
/// (the GPT-2 124M at T = 1024, batch 4 saves 200 MB of weights per layer; every model of the
/// project's lab up to T = 256 saves less than this).
pub const FLASH_ABOVE_BYTES: usize = 64 << 20;

/// The kernel for these sizes when the caller does not force one: naive while its saved
/// weights are small (faster at short T on this CPU: `p9-flash-attention`), tiled beyond.
pub fn choose_kernel(d: AttnDims) -> AttnKernel {
    if d.b * d.h * d.tq * d.tk * 4 > FLASH_ABOVE_BYTES {
        AttnKernel::Flash
    } else {
        AttnKernel::Naive
    }
}

/// Attention over split heads: (O, saved: P for naive, log-sum-exp for flash).
pub fn attention(
    q: Src<'_>,
    k: Src<'_>,
    v: Src<'_>,
    d: AttnDims,
    mask: &AttnMask,
    kernel: AttnKernel,
) -> (Storage, Storage) {
    match q.device() {
        Device::Cpu => {
            let (o, s) = match kernel {
                AttnKernel::Naive => {
                    cpu::attention::naive(q.slice(), k.slice(), v.slice(), d, mask)
                }
                AttnKernel::Flash => {
                    cpu::attention::flash(q.slice(), k.slice(), v.slice(), d, mask)
                }
            };
            (f32s(o), f32s(s))
        }
    }
}

/// Backward of [`attention`] from its output `o` and saved buffer: (q̄, k̄, v̄).
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    (q, k, v): (Src<'_>, Src<'_>, Src<'_>),
    o: Src<'_>,
    saved: Src<'_>,
    g: Src<'_>,
    d: AttnDims,
    mask: &AttnMask,
    kernel: AttnKernel,
) -> (Storage, Storage, Storage) {
    match q.device() {
        Device::Cpu => {
            let (q, k, v, s, g) = (q.slice(), k.slice(), v.slice(), saved.slice(), g.slice());
            let (dq, dk, dv) = match kernel {
                AttnKernel::Naive => cpu::attention::naive_backward(q, k, v, s, g, d),
                AttnKernel::Flash => {
                    cpu::attention::flash_backward((q, k, v), o.slice(), s, g, d, mask)
                }
            };
            (f32s(dq), f32s(dk), f32s(dv))
        }
    }
}

/// Self-attention read from the packed q|k|v projection `(B, T, (H + 2·Hkv)·hs)`: (O `(B, T,
/// H·hs)`, P). The naive kernel only (the tiled one reads split heads).
pub fn attention_packed(qkv: Src<'_>, d: AttnDims, mask: &AttnMask) -> (Storage, Storage) {
    match qkv.device() {
        Device::Cpu => {
            let (o, p) = cpu::attention::packed(qkv.slice(), d, mask);
            (f32s(o), f32s(p))
        }
    }
}

pub fn attention_packed_backward(
    qkv: Src<'_>,
    probs: Src<'_>,
    g: Src<'_>,
    d: AttnDims,
    mask: &AttnMask,
) -> Storage {
    match qkv.device() {
        Device::Cpu => f32s(cpu::attention::packed_backward(
            qkv.slice(),
            probs.slice(),
            g.slice(),
            d,
            mask,
        )),
    }
}
