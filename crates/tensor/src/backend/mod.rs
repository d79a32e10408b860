//! The backend seam: one function per primitive, on [`Storage`] plus dimensions or a small
//! descriptor (never a `&Tensor`), dispatched by the storage's device. `ops/` checks shapes and
//! records the graph; `autograd.rs` calls these from its one `match`; the optimizers call them
//! for their updates. A backend is a folder (`cpu/` today) holding one body per function here.
//!
//! ```text
//!   Tensor op ──▶ ops/*.rs: shapes, devices, record Op ──▶ backend::f(&Storage, dims) ──▶ cpu::…::f(&[f32], dims)
//!                                                                                   └──▶ (gpu::…::f, next issue)
//! ```
//!
//! Every function takes its inputs on one device (ops check that and name the devices when not)
//! and returns its outputs there. Host scalars cross the seam only where asked for (a loss value,
//! a norm for the log: [`sum_squares`], [`to_host_f32`]).
//!
//! Left out: a second device (the `match` arms are where it goes); strided views (every window
//! of a storage, [`Src`] / [`Dst`], is contiguous).

mod attention;
pub mod cpu;
pub mod kinds;
mod optim;

pub use attention::*;
pub use optim::*;

use crate::storage::{CpuBuffer, DType, Device, Dst, Src, Storage};
pub use kinds::{AdamWHyper, AttnDims, AttnKernel, AttnMask, BinaryOp, MatMulDims, UnaryOp};
use tfs_math::Rng;

/// (outer, n, inner) around a reduced or sliced axis.
pub type Axis3 = (usize, usize, usize);

pub(crate) fn f32s(v: Vec<f32>) -> Storage {
    Storage::cpu(v)
}

/// Host f32 elements of `s` (a copy; for any dtype).
pub fn to_host_f32(s: Src<'_>) -> Vec<f32> {
    let r = s.off..s.off + s.len;
    match s.storage {
        Storage::Cpu(CpuBuffer::F32(v)) => v[r].to_vec(),
        Storage::Cpu(CpuBuffer::Bf16(v)) => cpu::elementwise::from_bf16(&v[r]),
        Storage::Cpu(CpuBuffer::I32(v)) => v[r].iter().map(|&i| i as f32).collect(),
    }
}

/// `s` as `dtype` on its device.
pub fn cast(s: Src<'_>, dtype: DType) -> Storage {
    match s.device() {
        Device::Cpu => {
            let x = to_host_f32(s);
            match dtype {
                DType::F32 => f32s(x),
                DType::BF16 => Storage::Cpu(CpuBuffer::bf16(cpu::elementwise::to_bf16(&x))),
                DType::I32 => Storage::cpu_i32(x.iter().map(|&v| v as i32).collect()),
            }
        }
    }
}

/// `n` f32 copies of `v` on `device`.
pub fn full(device: Device, n: usize, v: f32) -> Storage {
    match device {
        Device::Cpu => {
            let mut x = crate::storage::cache::take(n);
            x.resize(n, v);
            f32s(x)
        }
    }
}

/// `n` f32 elements on `device` whose values are whatever the buffer held (for outputs written
/// in full before they are read).
pub fn uninit(device: Device, n: usize) -> Storage {
    match device {
        Device::Cpu => f32s(crate::storage::cache::for_overwrite(n)),
    }
}

/// `dst = src` (same length).
pub fn copy(mut dst: Dst<'_>, src: Src<'_>) {
    match dst.device() {
        Device::Cpu => dst.slice_mut().copy_from_slice(src.slice()),
    }
}

// ---- element-wise ----------------------------------------------------------------------------

/// `a ∘ b` broadcast to `shape`.
pub fn binary(
    op: BinaryOp,
    (a, sa): (Src<'_>, &[usize]),
    (b, sb): (Src<'_>, &[usize]),
    shape: &[usize],
) -> Storage {
    match a.device() {
        Device::Cpu => f32s(cpu::elementwise::binary(
            op,
            a.slice(),
            sa,
            b.slice(),
            sb,
            shape,
        )),
    }
}

/// Gradients of `y = a ∘ b` from ȳ = `g` (consumed), for the inputs in `need`.
pub fn binary_backward(
    op: BinaryOp,
    (a, sa): (Src<'_>, &[usize]),
    (b, sb): (Src<'_>, &[usize]),
    (y, ys): (Src<'_>, &[usize]),
    g: Storage,
    need: (bool, bool),
) -> (Option<Storage>, Option<Storage>) {
    match g {
        Storage::Cpu(g) => {
            let args = cpu::elementwise::BinaryArgs {
                a: (a.slice(), sa),
                b: (b.slice(), sb),
                y: (y.slice(), ys),
                need,
            };
            let (ga, gb) = cpu::elementwise::binary_backward(op, args, g.into_vec());
            (ga.map(f32s), gb.map(f32s))
        }
    }
}

/// `x·mul + add`.
pub fn affine(x: Src<'_>, mul: f32, add: f32) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::elementwise::affine(x.slice(), mul, add)),
    }
}

/// `f(x)` element-wise.
pub fn unary(op: UnaryOp, x: Src<'_>) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::elementwise::unary(op, x.slice())),
    }
}

/// `∂L/∂x` of `y = f(x)` from ȳ.
pub fn unary_backward(op: UnaryOp, x: Src<'_>, y: Src<'_>, g: Src<'_>) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::elementwise::unary_backward(
            op,
            x.slice(),
            y.slice(),
            g.slice(),
        )),
    }
}

/// `acc += x` (gradient accumulation).
pub fn add_assign(mut acc: Dst<'_>, x: Src<'_>) {
    match acc.device() {
        Device::Cpu => cpu::elementwise::add_assign(acc.slice_mut(), x.slice()),
    }
}

/// `x *= s`.
pub fn scale(mut x: Dst<'_>, s: f32) {
    match x.device() {
        Device::Cpu => cpu::elementwise::scale(x.slice_mut(), s),
    }
}

/// `x *= m` element-wise.
pub fn mul_assign(mut x: Dst<'_>, m: Src<'_>) {
    match x.device() {
        Device::Cpu => cpu::elementwise::mul_assign(x.slice_mut(), m.slice()),
    }
}

/// `x = 0` where the i32 `mask` (repeated over `x`) is non-zero.
pub fn zero_where(mut x: Dst<'_>, mask: Src<'_>) {
    match x.device() {
        Device::Cpu => cpu::elementwise::zero_where(x.slice_mut(), mask.ids()),
    }
}

/// Σ x² in f64, read back to the host (clipping's norm, the log's per-layer norms).
pub fn sum_squares(x: Src<'_>) -> f64 {
    match x.device() {
        Device::Cpu => cpu::elementwise::sum_squares(x.slice()),
    }
}

// ---- reductions ------------------------------------------------------------------------------

/// `scale · Σ x` as a one-element storage.
pub fn sum_all(x: Src<'_>, scale: f32) -> Storage {
    match x.device() {
        Device::Cpu => f32s(vec![cpu::reduce::sum_f64(x.slice()) as f32 * scale]),
    }
}

/// `scale · Σ` along the middle axis of `d`.
pub fn sum_axis(x: Src<'_>, d: Axis3, scale: f32) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::reduce::sum_axis(x.slice(), d, scale)),
    }
}

/// Backward of a sum over `d`'s middle axis (`None`: over every one of `numel` elements).
pub fn sum_backward(d: Option<Axis3>, numel: usize, scale: f32, g: Src<'_>) -> Storage {
    match g.device() {
        Device::Cpu => f32s(cpu::reduce::sum_backward(d, numel, scale, g.slice())),
    }
}

/// Max along the middle axis: (values, i32 arg-max).
pub fn max(x: Src<'_>, d: Axis3) -> (Storage, Storage) {
    match x.device() {
        Device::Cpu => {
            let (y, arg) = cpu::reduce::max(x.slice(), d);
            (f32s(y), Storage::cpu_i32(arg))
        }
    }
}

pub fn max_backward(d: Axis3, argmax: Src<'_>, g: Src<'_>) -> Storage {
    match g.device() {
        Device::Cpu => f32s(cpu::reduce::max_backward(d, argmax.ids(), g.slice())),
    }
}

// ---- layout ----------------------------------------------------------------------------------

/// Axes `a` and `b` of a tensor of `shape` swapped, contiguous.
pub fn transpose(x: Src<'_>, shape: &[usize], a: usize, b: usize) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::layout::transpose(x.slice(), shape, a, b)),
    }
}

/// Entries `start..start + len` of `d`'s middle axis.
pub fn narrow(x: Src<'_>, d: Axis3, start: usize, len: usize) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::layout::narrow(x.slice(), d, start, len)),
    }
}

pub fn narrow_backward(d: Axis3, start: usize, g: Src<'_>) -> Storage {
    match g.device() {
        Device::Cpu => f32s(cpu::layout::narrow_backward(d, start, g.slice())),
    }
}

/// Concatenation: each input with its row width (axis size × inner), `outer` rows.
pub fn cat(xs: &[(Src<'_>, usize)], outer: usize) -> Storage {
    match xs[0].0.device() {
        Device::Cpu => {
            let parts: Vec<(&[f32], usize)> = xs.iter().map(|(s, w)| (s.slice(), *w)).collect();
            f32s(cpu::layout::cat(&parts, outer))
        }
    }
}

pub fn cat_backward(widths: &[usize], outer: usize, g: Src<'_>) -> Vec<Storage> {
    match g.device() {
        Device::Cpu => cpu::layout::cat_backward(widths, outer, g.slice())
            .into_iter()
            .map(f32s)
            .collect(),
    }
}

// ---- matrix products -------------------------------------------------------------------------

/// `A @ B` (batched, or with one shared right operand).
pub fn matmul(a: Src<'_>, b: Src<'_>, d: MatMulDims) -> Storage {
    match a.device() {
        Device::Cpu => f32s(cpu::matmul::matmul(a.slice(), b.slice(), d)),
    }
}

pub fn matmul_backward(
    a: Src<'_>,
    b: Src<'_>,
    g: Src<'_>,
    d: MatMulDims,
    need: (bool, bool),
) -> (Option<Storage>, Option<Storage>) {
    match a.device() {
        Device::Cpu => {
            let (ga, gb) = cpu::matmul::matmul_backward(a.slice(), b.slice(), g.slice(), d, need);
            (ga.map(f32s), gb.map(f32s))
        }
    }
}

/// `X Wᵀ + b` over `rows` rows: `(rows, n_in) → (rows, n_out)`.
pub fn linear(
    x: Src<'_>,
    w: Src<'_>,
    b: Option<Src<'_>>,
    (rows, n_in, n_out): (usize, usize, usize),
) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::matmul::linear(
            x.slice(),
            w.slice(),
            b.map(Src::slice),
            rows,
            n_in,
            n_out,
        )),
    }
}

#[allow(clippy::type_complexity)]
pub fn linear_backward(
    x: Src<'_>,
    w: Src<'_>,
    g: Src<'_>,
    dims: (usize, usize, usize),
    need: (bool, bool, bool),
) -> (Option<Storage>, Option<Storage>, Option<Storage>) {
    match x.device() {
        Device::Cpu => {
            let (gx, gw, gb) =
                cpu::matmul::linear_backward(x.slice(), w.slice(), g.slice(), dims, need);
            (gx.map(f32s), gw.map(f32s), gb.map(f32s))
        }
    }
}

// ---- neural-network ops ----------------------------------------------------------------------

/// Softmax over rows of length `c` (`r` rows).
pub fn softmax(x: Src<'_>, r: usize, c: usize) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::nn::softmax(x.slice(), r, c)),
    }
}

pub fn softmax_backward(y: Src<'_>, g: Src<'_>, c: usize) -> Storage {
    match y.device() {
        Device::Cpu => f32s(cpu::nn::softmax_backward(y.slice(), g.slice(), c)),
    }
}

pub fn log_softmax(x: Src<'_>, c: usize) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::nn::log_softmax(x.slice(), c)),
    }
}

pub fn log_softmax_backward(y: Src<'_>, g: Src<'_>, c: usize) -> Storage {
    match y.device() {
        Device::Cpu => f32s(cpu::nn::log_softmax_backward(y.slice(), g.slice(), c)),
    }
}

/// Mean cross-entropy of `z: (n, v)` against `targets` (`None`: ignored): (loss, ∂L/∂z).
pub fn cross_entropy(z: Src<'_>, targets: &[Option<usize>], v: usize) -> (Storage, Storage) {
    match z.device() {
        Device::Cpu => {
            let (loss, dz) = cpu::nn::cross_entropy(z.slice(), targets, v);
            (f32s(vec![loss as f32]), f32s(dz))
        }
    }
}

/// `d · g[0]`: a saved gradient times a one-element upstream gradient.
pub fn scale_by(d: Src<'_>, g: Src<'_>) -> Storage {
    match d.device() {
        Device::Cpu => f32s(cpu::nn::scaled(d.slice(), g.slice()[0])),
    }
}

/// Layer norm over rows of length `c`: (y, mean, 1/σ).
pub fn layer_norm(
    x: Src<'_>,
    w: Src<'_>,
    b: Src<'_>,
    eps: f32,
    (r, c): (usize, usize),
) -> (Storage, Storage, Storage) {
    match x.device() {
        Device::Cpu => {
            let (y, m, s) = cpu::nn::layer_norm(x.slice(), w.slice(), b.slice(), eps, r, c);
            (f32s(y), f32s(m), f32s(s))
        }
    }
}

/// Backward of layer norm: (x̄, w̄, b̄).
pub fn layer_norm_backward(
    x: Src<'_>,
    w: Src<'_>,
    (mean, rstd): (Src<'_>, Src<'_>),
    g: Src<'_>,
    (r, c): (usize, usize),
) -> (Storage, Storage, Storage) {
    match x.device() {
        Device::Cpu => {
            let stats = cpu::nn::RowStats {
                mean: mean.slice(),
                rstd: rstd.slice(),
            };
            let (gx, gw, gb) =
                cpu::nn::layer_norm_backward(x.slice(), w.slice(), stats, g.slice(), r, c);
            (f32s(gx), f32s(gw), f32s(gb))
        }
    }
}

/// RMS norm over rows of length `c`: (y, 1/rms).
pub fn rms_norm(x: Src<'_>, w: Src<'_>, eps: f32, (r, c): (usize, usize)) -> (Storage, Storage) {
    match x.device() {
        Device::Cpu => {
            let (y, s) = cpu::nn::rms_norm(x.slice(), w.slice(), eps, r, c);
            (f32s(y), f32s(s))
        }
    }
}

pub fn rms_norm_backward(
    x: Src<'_>,
    w: Src<'_>,
    rstd: Src<'_>,
    g: Src<'_>,
    (r, c): (usize, usize),
) -> (Storage, Storage) {
    match x.device() {
        Device::Cpu => {
            let (gx, gw) =
                cpu::nn::rms_norm_backward(x.slice(), w.slice(), rstd.slice(), g.slice(), r, c);
            (f32s(gx), f32s(gw))
        }
    }
}

/// Rows `ids` (i32) of `x`, rows of `w` elements.
pub fn index_select(x: Src<'_>, ids: Src<'_>, w: usize) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::nn::index_select(x.slice(), ids.ids(), w)),
    }
}

/// `rows` rows of zeros with row `ids[j]` increased by row `j` of `x`.
pub fn index_add(x: Src<'_>, ids: Src<'_>, w: usize, rows: usize) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::nn::index_add(x.slice(), ids.ids(), w, rows)),
    }
}

/// Dropout: (x ⊙ m, m) with the mask drawn from `rng` on the host, in element order.
pub fn dropout(x: Src<'_>, p: f32, rng: &mut Rng) -> (Storage, Storage) {
    match x.device() {
        Device::Cpu => {
            let mask = cpu::nn::dropout_mask(x.len(), p, rng);
            (f32s(cpu::nn::mul(x.slice(), &mask)), f32s(mask))
        }
    }
}

/// `value` where the i32 `mask` (repeated) is non-zero, `x` elsewhere.
pub fn masked_fill(x: Src<'_>, mask: Src<'_>, value: f32) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::nn::masked_fill(x.slice(), mask.ids(), value)),
    }
}

/// RoPE over `(…, T, d)` slabs from position `start`; `sign = −1` rotates back.
pub fn rope(x: Src<'_>, (t, d): (usize, usize), start: usize, theta: f32, sign: f32) -> Storage {
    match x.device() {
        Device::Cpu => f32s(cpu::nn::rope(x.slice(), t, d, start, theta, sign)),
    }
}

// ---- the device itself -----------------------------------------------------------------------

/// The measured fp32 peak of `device` (FLOP/s): on the CPU, its fused multiply-adds on the kernel
/// threads the framework uses (`TFS_THREADS`, else every core) with nothing else in the way;
/// None where that cannot be measured (no AVX2/AVX-512).
pub fn peak_flops(device: Device) -> Option<f64> {
    match device {
        Device::Cpu => cpu::peak_flops(),
    }
}

/// Asks the host allocator to keep freed large buffers for reuse (a training step frees and
/// takes back the same sizes every step).
/// Returns whether the allocator took the setting.
pub fn keep_freed_memory() -> bool {
    cpu::keep_freed_memory()
}
