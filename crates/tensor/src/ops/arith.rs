//! Elementwise ops: `+ − × ÷` with NumPy broadcasting, `x·a + c`, and the unary functions
//! exp, log, tanh, sqrt, ReLU and GELU (tanh form through tfs-kernels, and exact).
//!
//! ```text
//!   y = a ∘ b (broadcast)    ∂/∂a = reduce(ȳ ⊙ ∂(a∘b)/∂a),  reduce = sum over the stretched axes
//!   exp: ȳ·y   log: ȳ/x   tanh: ȳ(1 − y²)   sqrt: ȳ/(2y)   relu: ȳ·[x > 0]
//!   gelu (tanh): ȳ·(½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))
//!   gelu (erf):  ȳ·(Φ(x) + x·φ(x))
//! ```

use super::{broadcast_shape, broadcast_strides, for_each_offset};
use crate::op::{BinaryOp, Op, UnaryOp};
use crate::tensor::cache::{for_overwrite, take, CollectBuf};
use crate::tensor::Tensor;
use tfs_kernels::fused::gelu;
use tfs_kernels::pool;

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

/// `a ∘ b` with broadcasting. Same shapes (a residual connection) split over the kernel threads
/// when large enough.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Tensor {
    let (sa, sb) = (a.shape(), b.shape());
    let shape = broadcast_shape(Op::Binary(op, a.clone(), b.clone()).name(), sa, sb);
    let (da, db) = (a.data(), b.data());
    let n: usize = shape.iter().product();
    let mut out;
    if sa == sb {
        out = for_overwrite(n);
        let (da, db, (tasks, run)) = (&*da, &*db, super::runs(n, 1, 16));
        pool::per_task(tasks, tasks, vec![&mut out], &[run], &|i, p| {
            let len = p[0].len();
            zip_apply(op, &da[i * run..][..len], &db[i * run..][..len], p[0])
        });
    } else if *sa == *shape && sb.len() <= sa.len() && sa[sa.len() - sb.len()..] == *sb {
        // b repeats along the leading axes of a (a bias): loop over a's rows.
        out = take(n);
        let m = db.len().max(1);
        for row in da.chunks(m) {
            out.extend(row.iter().zip(db.iter()).map(|(&x, &y)| apply(op, x, y)));
        }
    } else {
        out = take(n);
        let (st_a, st_b) = (broadcast_strides(sa, &shape), broadcast_strides(sb, &shape));
        let mut xs = take(n);
        for_each_offset(&shape, &st_a, |o| xs.push(da[o]));
        let mut i = 0;
        for_each_offset(&shape, &st_b, |o| {
            out.push(apply(op, xs[i], db[o]));
            i += 1;
        });
    }
    drop((da, db));
    let rg = a.requires_grad() || b.requires_grad();
    Tensor::from_op_if(out, &shape, rg, || Op::Binary(op, a.clone(), b.clone()))
}

/// `x·mul + add`.
pub fn affine(x: &Tensor, mul: f32, add: f32) -> Tensor {
    let out = x.data().iter().map(|&v| v * mul + add).collect_buf();
    Tensor::from_op_if(out, x.shape(), x.requires_grad(), || Op::Affine {
        x: x.clone(),
        mul,
    })
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn phi_cdf(x: f32) -> f32 {
    0.5 * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2) as f32)
}

/// `f(x)` elementwise.
pub fn unary(op: UnaryOp, x: &Tensor) -> Tensor {
    let d = x.data();
    let out: Vec<f32> = match op {
        UnaryOp::Exp => d.iter().map(|v| v.exp()).collect_buf(),
        UnaryOp::Log => d.iter().map(|v| v.ln()).collect_buf(),
        UnaryOp::Tanh => d.iter().map(|v| v.tanh()).collect_buf(),
        UnaryOp::Sqrt => d.iter().map(|v| v.sqrt()).collect_buf(),
        UnaryOp::Relu => d.iter().map(|&v| v.max(0.0)).collect_buf(),
        UnaryOp::Gelu => {
            let mut y = for_overwrite(d.len());
            let (d, (tasks, run)) = (&*d, super::runs(d.len(), 1, 16));
            pool::per_task(tasks, tasks, vec![&mut y], &[run], &|i, p| {
                gelu::gelu_forward(&d[i * run..][..p[0].len()], p[0])
            });
            y
        }
        UnaryOp::GeluErf => d.iter().map(|&v| v * phi_cdf(v)).collect_buf(),
        UnaryOp::Silu => d.iter().map(|&v| v * sigmoid(v)).collect_buf(),
    };
    drop(d);
    Tensor::from_op_if(out, x.shape(), x.requires_grad(), || {
        Op::Unary(op, x.clone())
    })
}

/// `∂L/∂x` of a unary op from its input `x`, output `y` and upstream gradient `dy`.
pub(crate) fn unary_backward(op: UnaryOp, x: &[f32], y: &[f32], dy: &[f32]) -> Vec<f32> {
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

impl Tensor {
    pub fn add(&self, o: &Tensor) -> Tensor {
        binary(BinaryOp::Add, self, o)
    }
    pub fn sub(&self, o: &Tensor) -> Tensor {
        binary(BinaryOp::Sub, self, o)
    }
    pub fn mul(&self, o: &Tensor) -> Tensor {
        binary(BinaryOp::Mul, self, o)
    }
    pub fn div(&self, o: &Tensor) -> Tensor {
        binary(BinaryOp::Div, self, o)
    }
    /// `self · s`.
    pub fn scale(&self, s: f32) -> Tensor {
        affine(self, s, 0.0)
    }
    /// `self + s`.
    pub fn add_scalar(&self, s: f32) -> Tensor {
        affine(self, 1.0, s)
    }
    pub fn neg(&self) -> Tensor {
        affine(self, -1.0, 0.0)
    }
    pub fn exp(&self) -> Tensor {
        unary(UnaryOp::Exp, self)
    }
    pub fn log(&self) -> Tensor {
        unary(UnaryOp::Log, self)
    }
    pub fn tanh(&self) -> Tensor {
        unary(UnaryOp::Tanh, self)
    }
    pub fn sqrt(&self) -> Tensor {
        unary(UnaryOp::Sqrt, self)
    }
    pub fn relu(&self) -> Tensor {
        unary(UnaryOp::Relu, self)
    }
    /// GELU, tanh form (GPT-2).
    pub fn gelu(&self) -> Tensor {
        unary(UnaryOp::Gelu, self)
    }
    /// SiLU (swish): x·σ(x).
    pub fn silu(&self) -> Tensor {
        unary(UnaryOp::Silu, self)
    }
    /// GELU, exact (erf) form.
    pub fn gelu_erf(&self) -> Tensor {
        unary(UnaryOp::GeluErf, self)
    }
}

macro_rules! operator {
    ($trait:ident, $method:ident, $op:expr) => {
        impl std::ops::$trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, o: &Tensor) -> Tensor {
                binary($op, self, o)
            }
        }
    };
}
operator!(Add, add, BinaryOp::Add);
operator!(Sub, sub, BinaryOp::Sub);
operator!(Mul, mul, BinaryOp::Mul);
operator!(Div, div, BinaryOp::Div);
