//! Element-wise bodies: `+ − × ÷` with broadcasting, `x·a + c`, the unary functions and their
//! derivatives (the math is in `ops/arith.rs`), and the in-place updates autograd and the
//! optimizers use (accumulate, scale, mask, sum of squares).

use super::{broadcast_strides, for_each_offset, gather_strided, reduce_to};
use crate::backend::{BinaryOp, UnaryOp};
use crate::storage::cache::{copy, for_overwrite, take, CollectBuf};
use tfs_kernels::fused::{elementwise, gelu};
use tfs_kernels::pool;
use tfs_math::sigmoid;

fn apply(op: BinaryOp, x: f32, y: f32) -> f32 {
    match op {
        BinaryOp::Add => x + y,
        BinaryOp::Sub => x - y,
        BinaryOp::Mul => x * y,
        BinaryOp::Div => x / y,
    }
}

/// `out[i] = a[i] ∘ b[i]`, the operator chosen once outside the loop (so that it vectorises).
fn zip_apply(op: BinaryOp, a: &[f32], b: &[f32], out: &mut [f32]) {
    let it = out.iter_mut().zip(a.iter().zip(b));
    match op {
        BinaryOp::Add => it.for_each(|(o, (&x, &y))| *o = x + y),
        BinaryOp::Sub => it.for_each(|(o, (&x, &y))| *o = x - y),
        BinaryOp::Mul => it.for_each(|(o, (&x, &y))| *o = x * y),
        BinaryOp::Div => it.for_each(|(o, (&x, &y))| *o = x / y),
    }
}

/// `a ∘ b` broadcast to `shape`. Same shapes (a residual connection) split over the kernel
/// threads when large enough.
pub fn binary(
    op: BinaryOp,
    a: &[f32],
    sa: &[usize],
    b: &[f32],
    sb: &[usize],
    shape: &[usize],
) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut out;
    if sa == sb {
        out = for_overwrite(n);
        let (tasks, run) = super::runs(n, 1, 16);
        pool::per_task(tasks, tasks, vec![&mut out], &[run], &|i, p| {
            let len = p[0].len();
            zip_apply(op, &a[i * run..][..len], &b[i * run..][..len], p[0])
        });
    } else if *sa == *shape && sb.len() <= sa.len() && sa[sa.len() - sb.len()..] == *sb {
        // b repeats along the leading axes of a (a bias): loop over a's rows.
        out = take(n);
        let m = b.len().max(1);
        for row in a.chunks(m) {
            out.extend(row.iter().zip(b.iter()).map(|(&x, &y)| apply(op, x, y)));
        }
    } else {
        out = take(n);
        let (st_a, st_b) = (broadcast_strides(sa, shape), broadcast_strides(sb, shape));
        let mut xs = take(n);
        for_each_offset(shape, &st_a, |o| xs.push(a[o]));
        let mut i = 0;
        for_each_offset(shape, &st_b, |o| {
            out.push(apply(op, xs[i], b[o]));
            i += 1;
        });
    }
    out
}

/// `x` of shape `sx` broadcast to `shape`, contiguous.
fn expand(x: &[f32], sx: &[usize], shape: &[usize]) -> Vec<f32> {
    if sx == shape {
        return copy(x);
    }
    gather_strided(x, shape, &broadcast_strides(sx, shape))
}

/// The operands of a binary op's backward: `a`, `b` with their shapes, the output `y` and its
/// shape, and which gradients are wanted.
pub struct BinaryArgs<'a> {
    pub a: (&'a [f32], &'a [usize]),
    pub b: (&'a [f32], &'a [usize]),
    pub y: (&'a [f32], &'a [usize]),
    pub need: (bool, bool),
}

/// Gradients of `a ∘ b` from ȳ (`g`, consumed: a same-shape add or subtract hands it on to one
/// input, so a residual connection's gradient is not copied).
pub fn binary_backward(
    kind: BinaryOp,
    x: BinaryArgs,
    mut g: Vec<f32>,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    let ((ad, sa), (bd, sb), (yd, ys), (ra, rb)) = (x.a, x.b, x.y, x.need);
    let neg = |mut v: Vec<f32>| {
        v.iter_mut().for_each(|x| *x = -*x);
        v
    };
    if matches!(kind, BinaryOp::Add | BinaryOp::Sub) && sa == sb {
        let sub = kind == BinaryOp::Sub;
        let maybe_neg = |v: Vec<f32>| if sub { neg(v) } else { v };
        return match (ra, rb) {
            (true, true) => (Some(copy(&g)), Some(maybe_neg(g))),
            (true, false) => (Some(g), None),
            (false, true) => (None, Some(maybe_neg(g))),
            (false, false) => {
                crate::storage::cache::give(g);
                (None, None)
            }
        };
    }
    let (ga, gb): (Option<Vec<f32>>, Option<Vec<f32>>) = match kind {
        BinaryOp::Add => (ra.then(|| copy(&g)), rb.then(|| copy(&g))),
        BinaryOp::Sub => (
            ra.then(|| copy(&g)),
            rb.then(|| g.iter().map(|g| -g).collect_buf()),
        ),
        BinaryOp::Mul => (
            ra.then(|| {
                let e = expand(bd, sb, ys);
                g.iter().zip(&e).map(|(g, b)| g * b).collect_buf()
            }),
            rb.then(|| {
                let e = expand(ad, sa, ys);
                g.iter().zip(&e).map(|(g, a)| g * a).collect_buf()
            }),
        ),
        BinaryOp::Div => {
            let bv = expand(bd, sb, ys);
            (
                ra.then(|| g.iter().zip(&bv).map(|(g, b)| g / b).collect_buf()),
                rb.then(|| {
                    g.iter()
                        .zip(yd.iter())
                        .zip(&bv)
                        .map(|((g, y), b)| -g * y / b)
                        .collect_buf()
                }),
            )
        }
    };
    g.clear();
    crate::storage::cache::give(g);
    (
        ga.map(|g| reduce_to(g, ys, sa)),
        gb.map(|g| reduce_to(g, ys, sb)),
    )
}

/// `x·mul + add`.
pub fn affine(x: &[f32], mul: f32, add: f32) -> Vec<f32> {
    x.iter().map(|&v| v * mul + add).collect_buf()
}

fn phi_cdf(x: f32) -> f32 {
    0.5 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2) as f32)
}

/// `f(x)` element-wise.
pub fn unary(op: UnaryOp, d: &[f32]) -> Vec<f32> {
    match op {
        UnaryOp::Exp => d.iter().map(|v| v.exp()).collect_buf(),
        UnaryOp::Log => d.iter().map(|v| v.ln()).collect_buf(),
        UnaryOp::Tanh => d.iter().map(|v| v.tanh()).collect_buf(),
        UnaryOp::Sqrt => d.iter().map(|v| v.sqrt()).collect_buf(),
        UnaryOp::Relu => d.iter().map(|&v| v.max(0.0)).collect_buf(),
        UnaryOp::Gelu => {
            let mut y = for_overwrite(d.len());
            let (tasks, run) = super::runs(d.len(), 1, 16);
            pool::per_task(tasks, tasks, vec![&mut y], &[run], &|i, p| {
                gelu::gelu_forward(&d[i * run..][..p[0].len()], p[0])
            });
            y
        }
        UnaryOp::GeluErf => d.iter().map(|&v| v * phi_cdf(v)).collect_buf(),
        UnaryOp::Silu => d.iter().map(|&v| v * sigmoid(v)).collect_buf(),
    }
}

/// `∂L/∂x` of a unary op from its input `x`, output `y` and upstream gradient `dy`.
pub fn unary_backward(op: UnaryOp, x: &[f32], y: &[f32], dy: &[f32]) -> Vec<f32> {
    let z = x.iter().zip(y).zip(dy);
    match op {
        UnaryOp::Exp => z.map(|((_, &y), &g)| g * y).collect_buf(),
        UnaryOp::Log => z.map(|((&x, _), &g)| g / x).collect_buf(),
        UnaryOp::Tanh => z.map(|((_, &y), &g)| g * (1.0 - y * y)).collect_buf(),
        UnaryOp::Sqrt => z.map(|((_, &y), &g)| g / (2.0 * y)).collect_buf(),
        UnaryOp::Relu => z
            .map(|((&x, _), &g)| if x > 0.0 { g } else { 0.0 })
            .collect_buf(),
        UnaryOp::Gelu => {
            let mut dx = for_overwrite(x.len());
            let (tasks, run) = super::runs(x.len(), 1, 16);
            pool::per_task(tasks, tasks, vec![&mut dx], &[run], &|i, p| {
                let n = p[0].len();
                gelu::gelu_backward(&x[i * run..][..n], &dy[i * run..][..n], p[0])
            });
            dx
        }
        // d(x·σ(x))/dx = σ(x)·(1 + x·(1 − σ(x)))
        UnaryOp::Silu => z
            .map(|((&x, _), &g)| {
                let s = sigmoid(x);
                g * s * (1.0 + x * (1.0 - s))
            })
            .collect_buf(),
        UnaryOp::GeluErf => {
            let inv_sqrt_2pi = 1.0 / (2.0 * std::f32::consts::PI).sqrt();
            z.map(|((&x, _), &g)| g * (phi_cdf(x) + x * (-0.5 * x * x).exp() * inv_sqrt_2pi))
                .collect_buf()
        }
    }
}

/// `acc += x`.
pub fn add_assign(acc: &mut [f32], x: &[f32]) {
    acc.iter_mut().zip(x).for_each(|(a, b)| *a += b);
}

/// `x *= s`.
pub fn scale(x: &mut [f32], s: f32) {
    x.iter_mut().for_each(|v| *v *= s);
}

/// `x *= m` element-wise.
pub fn mul_assign(x: &mut [f32], m: &[f32]) {
    x.iter_mut().zip(m).for_each(|(x, m)| *x *= m);
}

/// `x = 0` where `mask` (repeated over `x`) is set.
pub fn zero_where(x: &mut [f32], mask: &[i32]) {
    x.iter_mut().zip(mask.iter().cycle()).for_each(|(x, &m)| {
        if m != 0 {
            *x = 0.0
        }
    });
}

/// Σ x² in f64 (vectorised).
pub fn sum_squares(x: &[f32]) -> f64 {
    elementwise::sum_squares(x)
}

/// f32 → bf16 bits, rounded to the nearest even (NaN stays NaN).
pub fn to_bf16(x: &[f32]) -> Vec<u16> {
    x.iter()
        .map(|&v| {
            let b = v.to_bits();
            if v.is_nan() {
                return ((b >> 16) | 0x40) as u16;
            }
            let round = 0x7FFF + ((b >> 16) & 1);
            (b.wrapping_add(round) >> 16) as u16
        })
        .collect()
}

/// bf16 bits → f32 (exact).
pub fn from_bf16(x: &[u16]) -> Vec<f32> {
    x.iter()
        .map(|&h| f32::from_bits((h as u32) << 16))
        .collect()
}
