//! Named parameters: the one way every hand-written model exposes its weights and gradients.
//!
//! A model is a tree of modules; each parameter tensor has a dotted path in it, the way PyTorch's
//! `named_parameters()` spells it: `"layers.0.weight"`, `"cell.w_h"`, `"encoder.w_x"`,
//! `"enc.0.attn.wq"`. [`Params`] visits every parameter with its name, in a fixed order. Its
//! gradients live in a [`Grads`]: a tree of tensors with the same names and shapes, built from
//! the model with [`Grads::zeros_like`]. A backward pass writes into the gradient of a parameter
//! by name (`grads.mat_mut("w_x")`) and hands a sub-module its own subtree
//! (`grads.group_mut("cell")`), so no code anywhere addresses a tensor by its position.
//!
//! Everything that acts on "all the parameters" goes through names: optimizers keep their state
//! per name ([`crate::optim::Optimizer::step`]), [`clip_grad_norm`] scales a whole `Grads`,
//! [`gradcheck`] perturbs every named coordinate and reports a failure by name, and checkpoints
//! (Phase 8) will save and load by name.
//!
//! ```text
//!   ‖g‖ = sqrt(Σ_name Σ_i g[name][i]²)        the global norm, visiting tensors in model order
//! ```
//!
//! Left out: parameter groups with their own hyper-parameters, frozen parameters, non-float
//! buffers (running statistics) — none of the models of phases 1-5 has them.

use ndarray::{ArrayD, ArrayViewD, ArrayViewMut1, ArrayViewMut2, ArrayViewMutD, Ix1, Ix2, NdFloat};
use tfs_math::{GradCheck, GradCheckReport};

/// A model whose parameters can be visited by name.
pub trait Params<F: NdFloat> {
    /// Calls `f(name, value)` for every parameter tensor, in a fixed order.
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>));
    /// Calls `f(name, value)` with mutable access, in the same order as [`Params::visit`].
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>));

    /// Every parameter's name, in visiting order.
    fn param_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        self.visit(&mut |n, _| names.push(n.to_string()));
        names
    }

    /// Number of scalar parameters.
    fn num_params(&self) -> usize {
        let mut n = 0;
        self.visit(&mut |_, p| n += p.len());
        n
    }
}

/// Visits `module`'s parameters as `PREFIX.name` (the building block of composite models).
pub fn visit_in<F: NdFloat, P: Params<F> + ?Sized>(
    prefix: &str,
    module: &P,
    f: &mut dyn FnMut(&str, ArrayViewD<F>),
) {
    module.visit(&mut |n, p| f(&format!("{prefix}.{n}"), p));
}

/// [`visit_in`] with mutable access.
pub fn visit_in_mut<F: NdFloat, P: Params<F> + ?Sized>(
    prefix: &str,
    module: &mut P,
    f: &mut dyn FnMut(&str, ArrayViewMutD<F>),
) {
    module.visit_mut(&mut |n, p| f(&format!("{prefix}.{n}"), p));
}

/// One node of a [`Grads`] tree.
#[derive(Clone, Debug)]
enum Node<F> {
    Tensor(ArrayD<F>),
    Group(Grads<F>),
}

/// A tree of named tensors shaped like a model's parameters: its gradients (and, where a snapshot
/// of values is needed, those values).
#[derive(Clone, Debug)]
pub struct Grads<F> {
    entries: Vec<(String, Node<F>)>,
}

impl<F> Default for Grads<F> {
    fn default() -> Self {
        Grads {
            entries: Vec::new(),
        }
    }
}

impl<F: NdFloat> Grads<F> {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Zeros with the names and shapes of `model`'s parameters.
    pub fn zeros_like<P: Params<F> + ?Sized>(model: &P) -> Self {
        let mut g = Grads::new();
        model.visit(&mut |n, p| g.insert(n, ArrayD::zeros(p.raw_dim())));
        g
    }

    /// A copy of `model`'s parameter values, by name.
    pub fn values_of<P: Params<F> + ?Sized>(model: &P) -> Self {
        let mut g = Grads::new();
        model.visit(&mut |n, p| g.insert(n, p.to_owned()));
        g
    }

    /// Adds a tensor at the dotted path `name`, creating groups on the way.
    /// Panics when the name is taken.
    pub fn insert(&mut self, name: &str, value: ArrayD<F>) {
        match name.split_once('.') {
            None => {
                assert!(
                    self.find(name).is_none(),
                    "Grads::insert: '{name}' is already there"
                );
                self.entries.push((name.to_string(), Node::Tensor(value)));
            }
            Some((head, rest)) => {
                if self.find(head).is_none() {
                    self.entries
                        .push((head.to_string(), Node::Group(Grads::new())));
                }
                match self.find_mut(head) {
                    Some(Node::Group(g)) => g.insert(rest, value),
                    _ => panic!("Grads::insert: '{head}' is a tensor, not a group"),
                }
            }
        }
    }

    fn find(&self, key: &str) -> Option<&Node<F>> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, n)| n)
    }

    fn find_mut(&mut self, key: &str) -> Option<&mut Node<F>> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n)
    }

    fn keys(&self) -> Vec<&str> {
        self.entries.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// This tree as the group `name` of a new tree (a sub-module's gradients seen from its parent).
    pub fn nest(self, name: &str) -> Grads<F> {
        assert!(
            !name.contains('.'),
            "Grads::nest: '{name}' must be one name, without dots"
        );
        Grads {
            entries: vec![(name.to_string(), Node::Group(self))],
        }
    }

    /// Whether a tensor lives at the dotted path `name`.
    pub fn contains(&self, name: &str) -> bool {
        match name.split_once('.') {
            None => matches!(self.find(name), Some(Node::Tensor(_))),
            Some((head, rest)) => match self.find(head) {
                Some(Node::Group(g)) => g.contains(rest),
                _ => false,
            },
        }
    }

    /// The tensor at the dotted path `name`. Panics, listing what is there, when it is missing.
    pub fn get(&self, name: &str) -> &ArrayD<F> {
        let missing = || panic!("Grads: no tensor '{name}' (have {:?})", self.keys());
        match name.split_once('.') {
            None => match self.find(name) {
                Some(Node::Tensor(t)) => t,
                _ => missing(),
            },
            Some((head, rest)) => match self.find(head) {
                Some(Node::Group(g)) => g.get(rest),
                _ => missing(),
            },
        }
    }

    /// Mutable access to the tensor at `name`.
    pub fn get_mut(&mut self, name: &str) -> &mut ArrayD<F> {
        // Checked first with a shared borrow, so the panic can list what is there and the
        // common path allocates nothing (backward passes call this every step).
        if !self.contains(name) {
            panic!("Grads: no tensor '{name}' (have {:?})", self.keys());
        }
        match name.split_once('.') {
            None => match self.find_mut(name) {
                Some(Node::Tensor(t)) => t,
                _ => unreachable!("checked by contains"),
            },
            Some((head, rest)) => match self.find_mut(head) {
                Some(Node::Group(g)) => g.get_mut(rest),
                _ => unreachable!("checked by contains"),
            },
        }
    }

    /// The 2-D tensor at `name`, as a mutable matrix view.
    pub fn mat_mut(&mut self, name: &str) -> ArrayViewMut2<'_, F> {
        self.get_mut(name)
            .view_mut()
            .into_dimensionality::<Ix2>()
            .unwrap_or_else(|_| panic!("Grads: '{name}' is not a matrix"))
    }

    /// The 1-D tensor at `name`, as a mutable vector view.
    pub fn vec_mut(&mut self, name: &str) -> ArrayViewMut1<'_, F> {
        self.get_mut(name)
            .view_mut()
            .into_dimensionality::<Ix1>()
            .unwrap_or_else(|_| panic!("Grads: '{name}' is not a vector"))
    }

    /// The subtree at the dotted path `name` (a sub-module's gradients, named as the sub-module
    /// names them).
    pub fn group_mut(&mut self, name: &str) -> &mut Grads<F> {
        let (head, rest) = match name.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (name, None),
        };
        if !matches!(self.find(head), Some(Node::Group(_))) {
            panic!("Grads: no group '{name}' (have {:?})", self.keys());
        }
        match (self.find_mut(head), rest) {
            (Some(Node::Group(g)), None) => g,
            (Some(Node::Group(g)), Some(r)) => g.group_mut(r),
            _ => unreachable!("checked above"),
        }
    }

    /// Copies every tensor of `from` into `PREFIX.name` here (a sub-module's gradients, computed
    /// on their own, put into the whole model's tree).
    pub fn assign_group(&mut self, prefix: &str, from: &Grads<F>) {
        from.visit(&mut |n, t| self.get_mut(&format!("{prefix}.{n}")).assign(&t));
    }

    /// Sets every tensor to zero.
    pub fn zero(&mut self) {
        self.visit_mut(&mut |_, mut t| t.fill(F::zero()));
    }

    /// `self += other`, tensor by tensor (same names and shapes).
    pub fn add_assign(&mut self, other: &Grads<F>) {
        self.visit_mut(&mut |n, mut t| t += other.get(n));
    }

    /// The global L2 norm over every tensor, accumulated in f64.
    pub fn norm(&self) -> f64 {
        let mut s = 0.0;
        // One running sum over every element in order (not a sum of per-tensor sums), so the
        // result does not depend on how the parameters are grouped into tensors.
        self.visit(&mut |_, t| {
            for &v in t.iter() {
                let v = v.to_f64().unwrap_or(f64::NAN);
                s += v * v;
            }
        });
        s.sqrt()
    }

    /// Every tensor flattened, in visiting order (for gradcheck and tests).
    pub fn flat(&self) -> Vec<Vec<F>> {
        let mut out = Vec::new();
        self.visit(&mut |_, t| out.push(t.iter().copied().collect()));
        out
    }
}

impl<F: NdFloat> Params<F> for Grads<F> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>)) {
        for (k, node) in &self.entries {
            match node {
                Node::Tensor(t) => f(k, t.view()),
                Node::Group(g) => visit_in(k, g, f),
            }
        }
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>)) {
        for (k, node) in &mut self.entries {
            match node {
                Node::Tensor(t) => f(k, t.view_mut()),
                Node::Group(g) => visit_in_mut(k, g, f),
            }
        }
    }
}

/// Copies every tensor of `values` into the parameter of the same name. Panics on a missing
/// name or a shape mismatch.
pub fn load<F: NdFloat, P: Params<F> + ?Sized>(model: &mut P, values: &Grads<F>) {
    model.visit_mut(&mut |n, mut p| {
        let v = values.get(n);
        assert_eq!(
            p.shape(),
            v.shape(),
            "load: '{n}' is {:?} in the model, {:?} in the values",
            p.shape(),
            v.shape()
        );
        p.assign(v);
    });
}

/// Scales all gradients together so that their global L2 norm is at most `max_norm`
/// (Pascanu et al., 2013): `g ← g · min(1, max_norm / ‖g‖)`. Returns the norm before clipping.
/// The direction of the step is kept; only its length is capped, which tames the rare exploding
/// gradient of a recurrent network without changing ordinary steps.
pub fn clip_grad_norm<F: NdFloat>(grads: &mut Grads<F>, max_norm: f64) -> f64 {
    let norm = grads.norm();
    if norm > max_norm && norm.is_finite() {
        let scale = F::from(max_norm / norm).expect("fits");
        grads.visit_mut(&mut |_, mut t| t.mapv_inplace(|v| v * scale));
    }
    norm
}

/// Checks a model's hand-written gradients against central differences, coordinate by
/// coordinate, through its named parameters. `f(model)` runs forward and backward at the model's
/// current values and returns `(loss, gradients)`; the model is left with its original values.
/// The report names the worst tensor.
pub fn gradcheck<P, L>(opts: &GradCheck, model: &mut P, mut f: L) -> GradCheckReport
where
    P: Params<f64> + ?Sized,
    L: FnMut(&P) -> (f64, Grads<f64>),
{
    let names = model.param_names();
    let start = Grads::values_of(model).flat();
    let mut report = opts.run(&start, |theta| {
        let mut i = 0;
        model.visit_mut(&mut |_, mut p| {
            for (dst, &src) in p.iter_mut().zip(&theta[i]) {
                *dst = src;
            }
            i += 1;
        });
        let (loss, grads) = f(model);
        let flat: Vec<Vec<f64>> = names
            .iter()
            .map(|n| grads.get(n).iter().copied().collect())
            .collect();
        (loss, flat)
    });
    let mut i = 0;
    model.visit_mut(&mut |_, mut p| {
        for (dst, &src) in p.iter_mut().zip(&start[i]) {
            *dst = src;
        }
        i += 1;
    });
    report.tensor_names = names;
    report
}

/// A boxed module (`Box<dyn Cell<F>>`) names its parameters as the module does.
impl<F: NdFloat, P: Params<F> + ?Sized> Params<F> for Box<P> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<F>)) {
        (**self).visit(f)
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<F>)) {
        (**self).visit_mut(f)
    }
}

/// Implements [`Params`] for a struct generic over its float type: first its sub-modules, each
/// as `FIELD.*`, then its array fields, each named after its field, in the order listed:
/// `impl_params!(Lstm { w_x, w_h, b });`, `impl_params!(CharLm { modules: [cell], w_y, b_y });`.
#[macro_export]
macro_rules! impl_params {
    ($ty:ident { $($field:ident),+ $(,)? }) => {
        $crate::impl_params!($ty { modules: [], $($field),+ });
    };
    ($ty:ident { modules: [$($module:ident),*], $($field:ident),+ $(,)? }) => {
        impl<F: ndarray::NdFloat> $crate::params::Params<F> for $ty<F> {
            fn visit(&self, f: &mut dyn FnMut(&str, ndarray::ArrayViewD<F>)) {
                $( $crate::params::visit_in(stringify!($module), &self.$module, f); )*
                $( f(stringify!($field), self.$field.view().into_dyn()); )+
            }
            fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ndarray::ArrayViewMutD<F>)) {
                $( $crate::params::visit_in_mut(stringify!($module), &mut self.$module, f); )*
                $( f(stringify!($field), self.$field.view_mut().into_dyn()); )+
            }
        }
    };
}

/// A model and extra input tensors (an input, an initial state) under one set of names, so that
/// one gradient check perturbs both: the model's parameters as `model.*`, the inputs by their
/// own names. The gradient function returns `model_grads.nest("model")` plus the inputs'.
pub struct WithInputs<'a, M: ?Sized> {
    pub model: &'a mut M,
    pub inputs: Grads<f64>,
}

impl<'a, M: ?Sized> WithInputs<'a, M> {
    /// `model` with the named input arrays.
    pub fn new<D: ndarray::Dimension>(
        model: &'a mut M,
        inputs: Vec<(&str, ndarray::Array<f64, D>)>,
    ) -> Self {
        let mut g = Grads::new();
        for (n, a) in inputs {
            g.insert(n, a.into_dyn());
        }
        WithInputs { model, inputs: g }
    }

    /// The input `name` as an array of dimension `D` (e.g. `Ix2`).
    pub fn input<D: ndarray::Dimension>(&self, name: &str) -> ndarray::Array<f64, D> {
        self.inputs
            .get(name)
            .clone()
            .into_dimensionality::<D>()
            .unwrap_or_else(|_| panic!("WithInputs: '{name}' has another dimension"))
    }
}

impl<M: Params<f64> + ?Sized> Params<f64> for WithInputs<'_, M> {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<f64>)) {
        visit_in("model", &*self.model, f);
        self.inputs.visit(f);
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<f64>)) {
        visit_in_mut("model", &mut *self.model, f);
        self.inputs.visit_mut(f);
    }
}
