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
//!   Together with copying whole runs when heads are split and merged (`ops::gather_strided`:
//!   15% of a GPT step before, ~2% after), the `baby` GPT step went from ≈ 56 to ≈ 30 ms (both
//!   measured with other work on the machine).
//! - Not measured against its alternative: attention spreads its heads over the kernel threads
//!   (one GEMM thread each) because a head's products (64×64×32 in the baby GPT) are far below
//!   the size at which `sgemm` wakes a second thread.

use crate::op::{BinaryOp, Op};
use crate::ops::{
    arith, attention, broadcast_strides, flash_attention, gather_strided, matmul, nn, reduce,
    reduce_to, rope, shape,
};
use crate::tensor::cache::{copy, give, CollectBuf};
use crate::tensor::{CpuBuffer, Tensor};
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
                Some(mine) => {
                    let add = g.data();
                    mine.update()
                        .iter_mut()
                        .zip(add.iter())
                        .for_each(|(a, b)| *a += b);
                }
                None => {
                    self.map.insert(id, g);
                }
            }
        }
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
        assert_eq!(
            self.numel(),
            1,
            "backward: the output must be a scalar, got shape {:?}",
            self.shape()
        );
        let mut grads = Grads::default();
        let mut pending: HashMap<usize, CpuBuffer> = HashMap::new();
        pending.insert(self.id(), CpuBuffer::new(vec![1.0]));
        for node in topo_order(self).iter().rev() {
            let Some(g) = pending.remove(&node.id()) else {
                continue;
            };
            let Some(op) = node.op() else {
                grads
                    .map
                    .insert(node.id(), Tensor::from_buffer(g, node.shape()));
                continue;
            };
            let inputs = op.inputs();
            let input_grads = backward_of(op, node, g.into_vec());
            for (x, gx) in inputs.into_iter().zip(input_grads) {
                let Some(gx) = gx.filter(|_| x.requires_grad()) else {
                    continue;
                };
                debug_assert_eq!(gx.len(), x.numel(), "backward of {}", op.name());
                match pending.get_mut(&x.id()) {
                    Some(acc) => {
                        acc.as_mut_slice()
                            .iter_mut()
                            .zip(&gx)
                            .for_each(|(a, b)| *a += b);
                        give(gx);
                    }
                    None => {
                        pending.insert(x.id(), CpuBuffer::new(gx));
                    }
                }
            }
        }
        grads
    }
}
// ANCHOR_END: walk

/// `ȳ` of `x` broadcast to `shape`, contiguous.
fn expand(x: &Tensor, shape: &[usize]) -> Vec<f32> {
    if x.shape() == shape {
        return copy(&x.data());
    }
    gather_strided(&x.data(), shape, &broadcast_strides(x.shape(), shape))
}

/// An incoming gradient that goes back to the buffer cache when the op's backward is done with
/// it, unless the op hands it on ([`Recycle::take`]). As a plain `Vec` it went back to the
/// allocator, so the next step's outputs of that size were fresh allocations, zero-filled
/// (`memset` was 1.3% of the baby GPT's samples, on the calling thread alone).
struct Recycle(Vec<f32>);

impl Recycle {
    /// The buffer, handed on to an input.
    fn take(&mut self) -> Vec<f32> {
        std::mem::take(&mut self.0)
    }
}

impl std::ops::Deref for Recycle {
    type Target = Vec<f32>;
    fn deref(&self) -> &Vec<f32> {
        &self.0
    }
}

impl std::ops::DerefMut for Recycle {
    fn deref_mut(&mut self) -> &mut Vec<f32> {
        &mut self.0
    }
}

impl Drop for Recycle {
    fn drop(&mut self) {
        give(self.take());
    }
}

/// The gradient of each input of `op` (None where not computed) given the op's output `out`
/// and the gradient `dy` flowing into it.
fn backward_of(op: &Op, out: &Tensor, g: Vec<f32>) -> Vec<Option<Vec<f32>>> {
    let mut g = Recycle(g);
    let ys = out.shape();
    match op {
        // A same-shape add or subtract hands the incoming buffer on to one input (a residual
        // connection's gradient is not copied).
        Op::Binary(kind @ (BinaryOp::Add | BinaryOp::Sub), a, b) if a.shape() == b.shape() => {
            let neg = |mut v: Vec<f32>| {
                if *kind == BinaryOp::Sub {
                    v.iter_mut().for_each(|x| *x = -*x);
                }
                v
            };
            match (a.requires_grad(), b.requires_grad()) {
                (true, true) => vec![Some(copy(&g)), Some(neg(g.take()))],
                (true, false) => vec![Some(g.take()), None],
                (false, true) => vec![None, Some(neg(g.take()))],
                (false, false) => vec![None, None],
            }
        }
        Op::Binary(kind, a, b) => {
            let (ra, rb) = (a.requires_grad(), b.requires_grad());
            let (ga, gb): (Option<Vec<f32>>, Option<Vec<f32>>) = match kind {
                BinaryOp::Add => (ra.then(|| copy(&g)), rb.then(|| copy(&g))),
                BinaryOp::Sub => (
                    ra.then(|| copy(&g)),
                    rb.then(|| g.iter().map(|g| -g).collect_buf()),
                ),
                BinaryOp::Mul => (
                    ra.then(|| {
                        g.iter()
                            .zip(expand(b, ys))
                            .map(|(g, b)| g * b)
                            .collect_buf()
                    }),
                    rb.then(|| {
                        g.iter()
                            .zip(expand(a, ys))
                            .map(|(g, a)| g * a)
                            .collect_buf()
                    }),
                ),
                BinaryOp::Div => {
                    let bv = expand(b, ys);
                    (
                        ra.then(|| g.iter().zip(&bv).map(|(g, b)| g / b).collect_buf()),
                        rb.then(|| {
                            let y = out.data();
                            g.iter()
                                .zip(y.iter())
                                .zip(&bv)
                                .map(|((g, y), b)| -g * y / b)
                                .collect_buf()
                        }),
                    )
                }
            };
            vec![
                ga.map(|g| reduce_to(g, ys, a.shape())),
                gb.map(|g| reduce_to(g, ys, b.shape())),
            ]
        }
        Op::Affine { mul, .. } => {
            g.iter_mut().for_each(|x| *x *= mul);
            vec![Some(g.take())]
        }
        Op::Unary(kind, x) => {
            vec![Some(arith::unary_backward(
                *kind,
                &x.data(),
                &out.data(),
                &g,
            ))]
        }
        Op::Sum { x, axis, scale } => {
            vec![Some(reduce::sum_backward(x.shape(), *axis, *scale, &g))]
        }
        Op::Max { x, axis, argmax } => {
            vec![Some(reduce::max_backward(x.shape(), *axis, argmax, &g))]
        }
        // ANCHOR: matmul_arm
        Op::MatMul(a, b) => {
            let (ga, gb) =
                matmul::matmul_backward(a, b, &g, (a.requires_grad(), b.requires_grad()));
            vec![ga, gb]
        }
        // ANCHOR_END: matmul_arm
        Op::Linear { x, w, b } => {
            let rb = b.as_ref().is_some_and(|b| b.requires_grad());
            let (gx, gw, gb) =
                matmul::linear_backward(x, w, &g, (x.requires_grad(), w.requires_grad(), rb));
            let mut v = vec![gx, gw];
            if b.is_some() {
                v.push(gb);
            }
            v
        }
        Op::Softmax(_) => vec![Some(nn::softmax_backward(
            &out.data(),
            &g,
            ys[ys.len() - 1],
        ))],
        Op::LogSoftmax(_) => vec![Some(nn::log_softmax_backward(
            &out.data(),
            &g,
            ys[ys.len() - 1],
        ))],
        Op::CrossEntropy { dlogits, .. } => {
            vec![Some(dlogits.iter().map(|d| d * g[0]).collect_buf())]
        }
        Op::LayerNorm {
            x, w, mean, rstd, ..
        } => {
            let (gx, gw, gb) = nn::layer_norm_backward(x, w, mean, rstd, &g);
            vec![Some(gx), Some(gw), Some(gb)]
        }
        Op::IndexSelect { x, ids } => vec![Some(nn::index_select_backward(x.shape(), ids, &g))],
        Op::RmsNorm { x, w, rstd } => {
            let (gx, gw) = nn::rms_norm_backward(x, w, rstd, &g);
            vec![Some(gx), Some(gw)]
        }
        Op::Rope { x, start, theta } => {
            let (t, d) = (x.dim(-2), x.dim(-1));
            vec![Some(rope::rotate(&g, t, d, *start, *theta, -1.0))]
        }
        Op::IndexAdd { x, ids } => {
            let w = x.numel() / x.dim(0).max(1);
            vec![Some(nn::index_add_backward(ids, w, &g))]
        }
        Op::Dropout { mask, .. } => {
            g.iter_mut().zip(mask).for_each(|(x, m)| *x *= m);
            vec![Some(g.take())]
        }
        Op::MaskedFill { mask, .. } => {
            g.iter_mut().zip(mask.iter().cycle()).for_each(|(x, &m)| {
                if m {
                    *x = 0.0
                }
            });
            vec![Some(g.take())]
        }
        Op::Reshape(_) => vec![Some(g.take())],
        Op::Transpose { a, b, .. } => vec![Some(shape::transpose_data(&g, ys, *a, *b))],
        Op::Cat { xs, axis } => {
            let refs: Vec<&Tensor> = xs.iter().collect();
            shape::cat_backward(&refs, *axis, &g)
                .into_iter()
                .map(Some)
                .collect()
        }
        Op::Narrow { x, axis, start } => {
            vec![Some(shape::narrow_backward(x.shape(), *axis, *start, &g))]
        }
        Op::Sdpa { q, k, v, probs, .. } => {
            let (gq, gk, gv) = attention::sdpa_backward(q, k, v, probs, &g);
            vec![Some(gq), Some(gk), Some(gv)]
        }
        Op::SdpaPacked {
            qkv,
            heads,
            mask,
            probs,
        } => vec![Some(attention::sdpa_packed_backward(
            qkv, *heads, mask, probs, &g,
        ))],
        Op::FlashSdpa {
            q, k, v, mask, lse, ..
        } => {
            let (gq, gk, gv) = flash_attention::flash_sdpa_backward((q, k, v), mask, out, lse, &g);
            vec![Some(gq), Some(gk), Some(gv)]
        }
    }
}
