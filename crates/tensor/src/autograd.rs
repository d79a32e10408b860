//! Reverse-mode automatic differentiation: the graph walk, and the one `match` that gives every
//! op's backward.
//!
//! `loss.backward()` on a scalar L:
//!
//! ```text
//!   order = the nodes that need gradients, inputs before outputs (depth-first post-order)
//!   ḡ[L] = 1
//!   for node in reversed(order):          every consumer of a node comes before it here,
//!       ḡ = take ḡ[node]                  so ḡ[node] is complete when it is taken (and freed)
//!       leaf?  keep ḡ as the result
//!       else   for (input, ḡᵢ) in backward(node.op, node, ḡ):  ḡ[input] += ḡᵢ
//! ```
//!
//! This is the chain rule, `∂L/∂x = Σ_consumers y of x  (∂y/∂x)ᵀ ∂L/∂y`, evaluated once per
//! node. A node's gradient is dropped as soon as its inputs' gradients are made, so the gradient
//! buffers alive at once are those of the graph's current "frontier", not of every node.
//! Gradients are plain values (no graph of the backward pass: no second derivatives).
//!
//! Performance notes (2-core AVX-512 machine; the before/after loop timings were taken with other
//! work sharing the machine, so only their ratios mean much; quiet numbers are in
//! `p6-autograd-overhead`):
//! - Freed buffers go to a per-thread cache (`tensor::cache`) instead of the allocator: `perf`
//!   put page faults and `memmove` at about a third of an add-with-backward at 16K elements,
//!   and the loop's time fell from 69 to 24 µs; a vectorisable f64 sum took it to 16 µs. On the
//!   quiet machine the same op now costs 5.1 µs against 4.3 µs for the direct kernel calls.
//! - A leaf's gradient is the walk's own buffer, not a copy; ops whose input gradient is the
//!   incoming one (same-shape add/sub, scale, dropout, masked fill, reshape) hand the buffer on.
//!   Together with copying whole runs when heads are split and merged (`backend::cpu::gather_strided`:
//!   15% of a GPT step before, ~2% after), the `baby` GPT step went from ≈ 56 to ≈ 30 ms (both
//!   measured with other work on the machine).
//! - Not measured against its alternative: attention spreads its heads over the kernel threads
//!   (one GEMM thread each) because a head's products (64×64×32 in the baby GPT) are far below
//!   the size at which `sgemm` wakes a second thread.
//!
//! Every arm below calls the backend (`crate::backend`) on storages: the calculus is written
//! here once, the arithmetic once per device.

use crate::backend;
use crate::op::{AttnInputs, Op};
use crate::ops::{matmul, shape, split_at_axis};
use crate::storage::Storage;
use crate::store::ParamStore;
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};

/// The gradients of the leaves that need them, by tensor.
#[derive(Default)]
pub struct Grads {
    map: HashMap<usize, Tensor>,
}

impl Grads {
    /// `∂L/∂t` for a leaf `t` (None if L does not depend on it).
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }
    /// `∂L/∂t`, or zeros of `t`'s shape when L does not depend on it.
    pub fn get_or_zeros(&self, t: &Tensor) -> Tensor {
        self.get(t)
            .cloned()
            .unwrap_or_else(|| Tensor::zeros(t.shape()))
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Adds `other`'s gradients into these (gradient accumulation over micro-batches).
    pub fn accumulate(&mut self, other: Grads) {
        for (id, g) in other.map {
            match self.map.get(&id) {
                Some(mine) => backend::add_assign(mine.view_mut().dst(), g.view().src()),
                None => {
                    self.map.insert(id, g);
                }
            }
        }
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// Sets `∂L/∂t` for the leaf with id `id`.
    pub(crate) fn insert(&mut self, id: usize, g: Tensor) {
        self.map.insert(id, g);
    }
}

/// One node of a recorded graph, for drawing and teaching.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    pub id: usize,
    /// The op that made it, or `"leaf"` (a variable) / `"const"` (data without gradient).
    pub op: &'static str,
    pub shape: Vec<usize>,
    /// Ids of the op's inputs.
    pub inputs: Vec<usize>,
    pub requires_grad: bool,
}

impl Tensor {
    /// Every node the graph behind `self` holds, inputs before the nodes that use them.
    pub fn graph(&self) -> Vec<GraphNode> {
        let mut out: Vec<GraphNode> = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(self.clone(), false)];
        while let Some((t, expanded)) = stack.pop() {
            let inputs: Vec<Tensor> = t
                .op()
                .map_or(Vec::new(), |op| op.inputs().into_iter().cloned().collect());
            if expanded {
                out.push(GraphNode {
                    id: t.id(),
                    op: t
                        .op()
                        .map_or(if t.requires_grad() { "leaf" } else { "const" }, |o| {
                            o.name()
                        }),
                    shape: t.shape().to_vec(),
                    inputs: inputs.iter().map(Tensor::id).collect(),
                    requires_grad: t.requires_grad(),
                });
                continue;
            }
            if !seen.insert(t.id()) {
                continue;
            }
            stack.push((t.clone(), true));
            for x in inputs.into_iter().rev() {
                if !seen.contains(&x.id()) {
                    stack.push((x, false));
                }
            }
        }
        out
    }
}

/// Nodes reachable from `root` that need gradients, inputs before the nodes that use them.
fn topo_order(root: &Tensor) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !t.requires_grad() || !seen.insert(t.id()) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(op) = t.op() {
            for x in op.inputs() {
                if x.requires_grad() && !seen.contains(&x.id()) {
                    stack.push((x.clone(), false));
                }
            }
        }
    }
    order
}

// ANCHOR: walk
impl Tensor {
    /// Gradients of this scalar with respect to every leaf it depends on that needs one.
    pub fn backward(&self) -> Grads {
        self.walk(None)
    }

    /// [`Tensor::backward`] for a model in a flat store: each of the store's parameters has its
    /// gradient added into its window of the store's flat gradient as soon as the walk completes
    /// it (copied for the step's first micro-batch, added in place for the next ones), and its
    /// own buffer handed back at once; the returned gradients are those of other leaves.
    pub fn backward_to(&self, store: &ParamStore) -> Grads {
        self.walk(Some(store))
    }

    fn walk(&self, store: Option<&ParamStore>) -> Grads {
        assert_eq!(
            self.numel(),
            1,
            "backward: the output must be a scalar, got shape {:?}",
            self.shape()
        );
        let mut grads = Grads::default();
        let mut pending: HashMap<usize, Storage> = HashMap::new();
        pending.insert(self.id(), backend::full(self.device(), 1, 1.0));
        for node in topo_order(self).iter().rev() {
            let Some(g) = pending.remove(&node.id()) else {
                continue;
            };
            let Some(op) = node.op() else {
                match store.and_then(|s| s.entry_of(node)) {
                    Some(i) => store.expect("entry").take_grad(i, g),
                    None => grads.insert(node.id(), Tensor::from_storage(g, node.shape())),
                }
                continue;
            };
            let inputs = op.inputs();
            let input_grads = backward_of(op, node, g);
            for (x, gx) in inputs.into_iter().zip(input_grads) {
                let Some(gx) = gx.filter(|_| x.requires_grad()) else {
                    continue;
                };
                debug_assert_eq!(gx.len(), x.numel(), "backward of {}", op.name());
                match pending.get_mut(&x.id()) {
                    Some(acc) => backend::add_assign(acc.into(), (&gx).into()),
                    None => {
                        pending.insert(x.id(), gx);
                    }
                }
            }
        }
        grads
    }
}
// ANCHOR_END: walk

/// The gradient of each input of `op` (None where not computed) given the op's output `out`
/// and the gradient `g` flowing into it (consumed: ops whose input gradient is the incoming one
/// hand it on, and a buffer not handed on goes back to the cache when dropped).
fn backward_of(op: &Op, out: &Tensor, mut g: Storage) -> Vec<Option<Storage>> {
    let ys = out.shape();
    match op {
        Op::Binary(kind, a, b) => {
            let need = (a.requires_grad(), b.requires_grad());
            let (ga, gb) = backend::binary_backward(
                *kind,
                (a.view().src(), a.shape()),
                (b.view().src(), b.shape()),
                (out.view().src(), ys),
                g,
                need,
            );
            vec![ga, gb]
        }
        Op::Affine { mul, .. } => {
            backend::scale((&mut g).into(), *mul);
            vec![Some(g)]
        }
        Op::Unary(kind, x) => vec![Some(backend::unary_backward(
            *kind,
            x.view().src(),
            out.view().src(),
            (&g).into(),
        ))],
        Op::Sum { x, axis, scale } => {
            let d = axis.map(|a| split_at_axis(x.shape(), a));
            vec![Some(backend::sum_backward(
                d,
                x.numel(),
                *scale,
                (&g).into(),
            ))]
        }
        Op::Max { x, axis, argmax } => {
            let d = split_at_axis(x.shape(), *axis);
            vec![Some(backend::max_backward(d, argmax.into(), (&g).into()))]
        }
        // ANCHOR: matmul_arm
        Op::MatMul(a, b) => {
            let d = matmul::dims(a.shape(), b.shape());
            let need = (a.requires_grad(), b.requires_grad());
            let (ga, gb) =
                backend::matmul_backward(a.view().src(), b.view().src(), (&g).into(), d, need);
            vec![ga, gb]
        }
        // ANCHOR_END: matmul_arm
        Op::Linear { x, w, b } => {
            let rb = b.as_ref().is_some_and(|b| b.requires_grad());
            let (n_out, n_in) = (w.dim(0), w.dim(1));
            let dims = (x.numel() / n_in.max(1), n_in, n_out);
            let need = (x.requires_grad(), w.requires_grad(), rb);
            let (gx, gw, gb) =
                backend::linear_backward(x.view().src(), w.view().src(), (&g).into(), dims, need);
            let mut v = vec![gx, gw];
            if b.is_some() {
                v.push(gb);
            }
            v
        }
        Op::Softmax(_) => vec![Some(backend::softmax_backward(
            out.view().src(),
            (&g).into(),
            ys[ys.len() - 1],
        ))],
        Op::LogSoftmax(_) => vec![Some(backend::log_softmax_backward(
            out.view().src(),
            (&g).into(),
            ys[ys.len() - 1],
        ))],
        Op::CrossEntropy { dlogits, .. } => {
            vec![Some(backend::scale_by(dlogits.into(), (&g).into()))]
        }
        Op::LayerNorm {
            x, w, mean, rstd, ..
        } => {
            let c = x.dim(-1);
            let rc = (x.numel() / c.max(1), c);
            let (gx, gw, gb) = backend::layer_norm_backward(
                x.view().src(),
                w.view().src(),
                (mean.into(), rstd.into()),
                (&g).into(),
                rc,
            );
            vec![Some(gx), Some(gw), Some(gb)]
        }
        Op::IndexSelect { x, ids } => {
            let w = x.numel() / x.dim(0).max(1);
            vec![Some(backend::index_add(
                (&g).into(),
                ids.into(),
                w,
                x.dim(0),
            ))]
        }
        Op::RmsNorm { x, w, rstd } => {
            let c = x.dim(-1);
            let rc = (x.numel() / c.max(1), c);
            let (gx, gw) = backend::rms_norm_backward(
                x.view().src(),
                w.view().src(),
                rstd.into(),
                (&g).into(),
                rc,
            );
            vec![Some(gx), Some(gw)]
        }
        Op::Rope { x, start, theta } => {
            let td = (x.dim(-2), x.dim(-1));
            vec![Some(backend::rope((&g).into(), td, *start, *theta, -1.0))]
        }
        Op::IndexAdd { x, ids } => {
            let w = x.numel() / x.dim(0).max(1);
            vec![Some(backend::index_select((&g).into(), ids.into(), w))]
        }
        Op::Dropout { mask, .. } => {
            backend::mul_assign((&mut g).into(), mask.into());
            vec![Some(g)]
        }
        Op::MaskedFill { mask, .. } => {
            backend::zero_where((&mut g).into(), mask.into());
            vec![Some(g)]
        }
        Op::Reshape(_) => vec![Some(g)],
        Op::Transpose { a, b, .. } => vec![Some(backend::transpose((&g).into(), ys, *a, *b))],
        Op::Cat { xs, axis } => {
            let (widths, outer) = shape::cat_widths(xs, *axis);
            backend::cat_backward(&widths, outer, (&g).into())
                .into_iter()
                .map(Some)
                .collect()
        }
        Op::Narrow { x, axis, start } => {
            let d = split_at_axis(x.shape(), *axis);
            vec![Some(backend::narrow_backward(d, *start, (&g).into()))]
        }
        Op::Attention {
            inputs,
            dims,
            mask,
            kernel,
            saved,
        } => match inputs {
            AttnInputs::Split { q, k, v } => {
                let (gq, gk, gv) = backend::attention_backward(
                    (q.view().src(), k.view().src(), v.view().src()),
                    out.view().src(),
                    saved.into(),
                    (&g).into(),
                    *dims,
                    mask,
                    *kernel,
                );
                vec![Some(gq), Some(gk), Some(gv)]
            }
            AttnInputs::Packed(qkv) => vec![Some(backend::attention_packed_backward(
                qkv.view().src(),
                saved.into(),
                (&g).into(),
                *dims,
                mask,
            ))],
        },
    }
}
