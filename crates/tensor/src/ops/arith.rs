//! Elementwise ops: `+ − × ÷` with NumPy broadcasting, `x·a + c`, and the unary functions
//! exp, log, tanh, sqrt, ReLU and GELU (tanh form through tfs-kernels, and exact).
//!
//! ```text
//!   y = a ∘ b (broadcast)    ∂/∂a = reduce(ȳ ⊙ ∂(a∘b)/∂a),  reduce = sum over the stretched axes
//!   exp: ȳ·y   log: ȳ/x   tanh: ȳ(1 − y²)   sqrt: ȳ/(2y)   relu: ȳ·[x > 0]
//!   gelu (tanh): ȳ·(½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²))
//!   gelu (erf):  ȳ·(Φ(x) + x·φ(x))
//! ```

use super::broadcast_shape;
use crate::backend;
use crate::op::{BinaryOp, Op, UnaryOp};
use crate::tensor::{same_device, Tensor};

/// `a ∘ b` with broadcasting.
pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor) -> Tensor {
    let name = Op::Binary(op, a.clone(), b.clone()).name();
    same_device(name, &[a, b]);
    let shape = broadcast_shape(name, a.shape(), b.shape());
    let out = backend::binary(
        op,
        (a.view().src(), a.shape()),
        (b.view().src(), b.shape()),
        &shape,
    );
    let rg = a.requires_grad() || b.requires_grad();
    Tensor::from_op_if(out, &shape, rg, || Op::Binary(op, a.clone(), b.clone()))
}

/// `x·mul + add`.
pub fn affine(x: &Tensor, mul: f32, add: f32) -> Tensor {
    let out = backend::affine(x.view().src(), mul, add);
    Tensor::from_op_if(out, x.shape(), x.requires_grad(), || Op::Affine {
        x: x.clone(),
        mul,
    })
}

/// `f(x)` elementwise.
pub fn unary(op: UnaryOp, x: &Tensor) -> Tensor {
    let out = backend::unary(op, x.view().src());
    Tensor::from_op_if(out, x.shape(), x.requires_grad(), || {
        Op::Unary(op, x.clone())
    })
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
