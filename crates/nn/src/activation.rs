//! Activation functions and their derivatives, the nonlinearity between linear layers.
//!
//! | name | f(x) | f'(x) |
//! |---|---|---|
//! | step | 1 if x ≥ 0 else 0 | 0 (undefined at 0): why the perceptron cannot use gradients |
//! | sigmoid | σ(x) = 1 / (1 + e^{−x}) | σ(x)(1 − σ(x)), at most 1/4 |
//! | tanh | (e^x − e^{−x}) / (e^x + e^{−x}) | 1 − tanh²(x) |
//! | ReLU | max(0, x) | 1 if x > 0 else 0 |
//! | LeakyReLU(α) | x if x > 0 else αx | 1 if x > 0 else α |
//! | GELU (exact) | x Φ(x), Φ(x) = ½(1 + erf(x/√2)) | Φ(x) + x φ(x), φ(x) = e^{−x²/2}/√(2π) |
//! | GELU (tanh) | ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³) | ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 3·0.044715x²) |
//! | SiLU | x σ(x) | σ(x)(1 + x(1 − σ(x))) |
//!
//! GPT-2 uses the tanh approximation of GELU (Hendrycks & Gimpel, 2016), which differs from the
//! exact form by less than about 1e-3 everywhere. Sigmoid's derivative is at most 1/4, so a deep
//! stack of sigmoids multiplies gradients by ≤ 1/4 per layer: the vanishing gradients that
//! `p1-init` shows and ReLU avoids.
//!
//! Derivatives are taken of the pre-activation x (what the backward pass caches). At ReLU's and
//! the step's kink we use the derivative 0 at exactly x = 0 (any subgradient works).
//!
//! Left out: softplus, ELU, Swish with a learned β.

use ndarray::NdFloat;
use tfs_math::sigmoid;

/// An elementwise activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Step,
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu(f64),
    Gelu,
    GeluTanh,
    Silu,
    /// f(x) = x: no activation (a linear "network").
    Identity,
}

fn c<F: NdFloat>(x: f64) -> F {
    F::from(x).expect("constant fits the float type")
}

/// Φ(x), the standard normal CDF, through erf in f64.
fn phi_cdf<F: NdFloat>(x: F) -> F {
    let x = x.to_f64().expect("finite float");
    c(0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)))
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_C: f64 = 0.044_715;

impl Activation {
    /// The display name used in figures and results.
    pub fn name(&self) -> String {
        match self {
            Activation::Step => "step".into(),
            Activation::Sigmoid => "sigmoid".into(),
            Activation::Tanh => "tanh".into(),
            Activation::Relu => "ReLU".into(),
            Activation::LeakyRelu(a) => format!("LeakyReLU({a})"),
            Activation::Gelu => "GELU (exact)".into(),
            Activation::GeluTanh => "GELU (tanh approx.)".into(),
            Activation::Silu => "SiLU".into(),
            Activation::Identity => "identity".into(),
        }
    }

    /// f(x).
    #[inline]
    pub fn f<F: NdFloat>(&self, x: F) -> F {
        let zero = F::zero();
        match *self {
            Activation::Step => {
                if x >= zero {
                    F::one()
                } else {
                    zero
                }
            }
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => x.tanh(),
            Activation::Relu => x.max(zero),
            Activation::LeakyRelu(a) => {
                if x > zero {
                    x
                } else {
                    c::<F>(a) * x
                }
            }
            Activation::Gelu => x * phi_cdf(x),
            Activation::GeluTanh => {
                let u = c::<F>(SQRT_2_OVER_PI) * (x + c::<F>(GELU_C) * x * x * x);
                c::<F>(0.5) * x * (F::one() + u.tanh())
            }
            Activation::Silu => x * sigmoid(x),
            Activation::Identity => x,
        }
    }

    /// f'(x).
    #[inline]
    pub fn df<F: NdFloat>(&self, x: F) -> F {
        let (zero, one) = (F::zero(), F::one());
        match *self {
            Activation::Step => zero,
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (one - s)
            }
            Activation::Tanh => {
                let t = x.tanh();
                one - t * t
            }
            Activation::Relu => {
                if x > zero {
                    one
                } else {
                    zero
                }
            }
            Activation::LeakyRelu(a) => {
                if x > zero {
                    one
                } else {
                    c(a)
                }
            }
            Activation::Gelu => {
                let xf = x.to_f64().expect("finite float");
                let pdf = (-0.5 * xf * xf).exp() / (2.0 * std::f64::consts::PI).sqrt();
                phi_cdf(x) + x * c::<F>(pdf)
            }
            Activation::GeluTanh => {
                let k = c::<F>(SQRT_2_OVER_PI);
                let u = k * (x + c::<F>(GELU_C) * x * x * x);
                let t = u.tanh();
                let du = k * (one + c::<F>(3.0 * GELU_C) * x * x);
                c::<F>(0.5) * (one + t) + c::<F>(0.5) * x * (one - t * t) * du
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s * (one + x * (one - s))
            }
            Activation::Identity => one,
        }
    }
}
