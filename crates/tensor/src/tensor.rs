//! The tensor: an n-dimensional array of f32 in contiguous row-major storage, plus the node of
//! the autograd graph that produced it.
//!
//! ```text
//!   Tensor ──Rc──▶ Node { id, shape, storage: Rc<RefCell<Storage>>, op: Option<Op>, requires_grad }
//!   Storage::Cpu(CpuBuffer)      one variant today; a GPU backend is one more variant, not a type parameter
//! ```
//!
//! Cloning a `Tensor` clones a pointer. A tensor's data never changes once an op has read it,
//! except for parameters, which optimizers update in place between steps ([`Tensor::update`]).
//! `reshape` shares the storage (a view); every other op writes a new, contiguous buffer.
//!
//! Memory: every buffer counts its bytes into a process-wide counter ([`memory`]); the live
//! total and its peak are what PyTorch calls `current_allocated_memory` / `max_memory_allocated`.
//!
//! The graph: an op whose inputs need gradients records itself ([`crate::op::Op`]) in the node it
//! returns, holding its inputs (and what its backward needs). Leaves created with
//! [`Tensor::var`] need gradients; [`no_grad`] turns recording off on this thread.
//!
//! Left out: a second dtype (the `DType` enum has room for it), strided views other than
//! reshape, sharing between threads (tensors are `Rc`; the kernels parallelise inside each op).

use crate::op::Op;
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The element type. Only f32 exists; the enum is where bf16 would go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DType {
    F32,
}

/// Live and peak bytes of every tensor and gradient buffer of the process.
pub mod memory {
    use super::*;

    pub(crate) static LIVE: AtomicUsize = AtomicUsize::new(0);
    pub(crate) static PEAK: AtomicUsize = AtomicUsize::new(0);

    /// Bytes held by live buffers now.
    pub fn allocated() -> usize {
        LIVE.load(Ordering::Relaxed)
    }

    /// The largest [`allocated`] seen since start or the last [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.load(Ordering::Relaxed)
    }

    /// Sets the peak to the current live bytes.
    pub fn reset_peak() {
        PEAK.store(allocated(), Ordering::Relaxed);
    }

    pub(crate) fn add(bytes: usize) {
        let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }

    pub(crate) fn sub(bytes: usize) {
        LIVE.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Reuse of freed buffers, so that a training step does not hand its activations back to the
/// operating system only to fault the same pages in again on the next step (measured: page faults
/// and `memmove` were 20-30% of a small op's time without it). Freed buffers of at least
/// [`cache::MIN_CACHED`] elements wait in a per-thread free list keyed by capacity; capacities are
/// rounded up to size classes (at most 25% larger) so that nearby sizes share buffers. The cache
/// holds at most max(256 MiB, the peak of live bytes). Left out: returning memory on demand.
pub mod cache {
    use std::cell::RefCell;
    use std::collections::HashMap;

    /// Smaller buffers go straight back to the allocator (it is fast for them).
    pub const MIN_CACHED: usize = 4096;

    #[derive(Default)]
    struct Free {
        lists: HashMap<usize, Vec<Vec<f32>>>,
        bytes: usize,
    }

    thread_local! {
        static FREE: RefCell<Free> = RefCell::new(Free::default());
    }

    /// The capacity a buffer of `n` elements is allocated with.
    fn class(n: usize) -> usize {
        if n <= MIN_CACHED {
            return n;
        }
        let step = 1usize << (usize::BITS - 1 - n.leading_zeros()).saturating_sub(2);
        n.div_ceil(step) * step
    }

    /// An empty vector with room for `n` elements, reused when one is free.
    pub fn take(n: usize) -> Vec<f32> {
        let mut v = reuse(n);
        v.clear();
        v
    }

    /// `n` elements whose values are left over from the buffer's last use (zeros when it is
    /// new): for an output the caller overwrites in full, which saves [`zeros`]' memset. Free
    /// buffers keep their length, so every element handed out here has been written before (no
    /// uninitialised memory, no `unsafe`).
    pub fn for_overwrite(n: usize) -> Vec<f32> {
        let mut v = reuse(n);
        if v.len() >= n {
            v.truncate(n);
        } else {
            v.resize(n, 0.0);
        }
        v
    }

    /// A free buffer with room for `n` elements, with its old length, or a new empty one.
    fn reuse(n: usize) -> Vec<f32> {
        if n < MIN_CACHED {
            return Vec::with_capacity(n);
        }
        let c = class(n);
        let reused = FREE.try_with(|f| {
            let mut f = f.borrow_mut();
            let v = f.lists.get_mut(&c).and_then(Vec::pop);
            if v.is_some() {
                f.bytes -= c * 4;
            }
            v
        });
        reused
            .ok()
            .flatten()
            .unwrap_or_else(|| Vec::with_capacity(c))
    }

    /// Keeps `v` for reuse (or frees it when the cache is full or it is small).
    pub(crate) fn give(v: Vec<f32>) {
        let c = v.capacity();
        if c < MIN_CACHED {
            return;
        }
        let limit = (256usize << 20).max(super::memory::peak());
        let _ = FREE.try_with(|f| {
            let mut f = f.borrow_mut();
            if f.bytes + c * 4 <= limit {
                f.bytes += c * 4;
                f.lists.entry(c).or_default().push(v);
            }
        });
    }

    /// Bytes waiting in this thread's cache.
    pub fn cached() -> usize {
        FREE.try_with(|f| f.borrow().bytes).unwrap_or(0)
    }

    /// `n` zeros.
    pub fn zeros(n: usize) -> Vec<f32> {
        let mut v = take(n);
        v.resize(n, 0.0);
        v
    }

    /// A copy of `s`.
    pub fn copy(s: &[f32]) -> Vec<f32> {
        let mut v = take(s.len());
        v.extend_from_slice(s);
        v
    }

    /// `collect()` into a reused buffer.
    pub trait CollectBuf: Iterator<Item = f32> + Sized {
        fn collect_buf(self) -> Vec<f32> {
            let mut v = take(self.size_hint().0);
            v.extend(self);
            v
        }
    }
    impl<I: Iterator<Item = f32>> CollectBuf for I {}
}

/// A CPU buffer of f32 that counts itself in [`memory`].
pub struct CpuBuffer(Vec<f32>);

impl CpuBuffer {
    pub fn new(v: Vec<f32>) -> Self {
        memory::add(v.capacity() * 4);
        CpuBuffer(v)
    }
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.0
    }
    /// The vector, no longer counted (the caller owns it).
    pub fn into_vec(mut self) -> Vec<f32> {
        let v = std::mem::take(&mut self.0);
        memory::sub(v.capacity() * 4);
        v
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        memory::sub(self.0.capacity() * 4);
        cache::give(std::mem::take(&mut self.0));
    }
}

/// Where the elements live.
pub enum Storage {
    Cpu(CpuBuffer),
}

impl Storage {
    pub fn slice(&self) -> &[f32] {
        match self {
            Storage::Cpu(b) => b.as_slice(),
        }
    }
    pub fn slice_mut(&mut self) -> &mut [f32] {
        match self {
            Storage::Cpu(b) => b.as_mut_slice(),
        }
    }
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` without recording the graph (inference, evaluation, optimizer updates).
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            GRAD_ENABLED.with(|g| g.set(self.0));
        }
    }
    let _restore = Restore(GRAD_ENABLED.with(|g| g.replace(false)));
    f()
}

/// Whether ops record the graph on this thread now.
pub fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

pub(crate) struct Node {
    pub(crate) id: usize,
    pub(crate) shape: Vec<usize>,
    pub(crate) storage: Rc<RefCell<Storage>>,
    pub(crate) op: Option<Op>,
    pub(crate) requires_grad: bool,
}

impl Drop for Node {
    /// The buffers an op keeps beside its inputs (attention probabilities, dropout masks,
    /// ∂L/∂logits, layer-norm statistics) go back to the cache with the graph, like tensors do,
    /// instead of to the allocator, which unmaps the large ones. (On the shakespeare-char GPT,
    /// page faults stayed at ≈ 15% of the step with this change: they come mostly from elsewhere.)
    fn drop(&mut self) {
        if let Some(op) = self.op.take() {
            op.recycle();
        }
    }
}

/// An n-dimensional f32 array and its place in the autograd graph.
#[derive(Clone)]
pub struct Tensor(pub(crate) Rc<Node>);

impl Tensor {
    fn build(shape: &[usize], storage: Rc<RefCell<Storage>>, op: Option<Op>, rg: bool) -> Tensor {
        Tensor(Rc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape: shape.to_vec(),
            storage,
            op,
            requires_grad: rg,
        }))
    }

    /// A constant (no gradient) from `data` in row-major order.
    pub fn new(data: Vec<f32>, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            data.len(),
            n,
            "Tensor::new: {} elements for shape {shape:?} ({n})",
            data.len()
        );
        let st = Rc::new(RefCell::new(Storage::Cpu(CpuBuffer::new(data))));
        Tensor::build(shape, st, None, false)
    }

    /// A constant over an already counted buffer (gradients handed out by `backward`).
    pub(crate) fn from_buffer(b: CpuBuffer, shape: &[usize]) -> Tensor {
        debug_assert_eq!(b.as_slice().len(), shape.iter().product::<usize>());
        Tensor::build(shape, Rc::new(RefCell::new(Storage::Cpu(b))), None, false)
    }

    /// A leaf that needs its gradient (a parameter or an input under test).
    pub fn var(data: Vec<f32>, shape: &[usize]) -> Tensor {
        let t = Tensor::new(data, shape);
        Tensor::build(shape, t.0.storage.clone(), None, true)
    }

    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::new(vec![0.0; shape.iter().product()], shape)
    }

    pub fn full(shape: &[usize], v: f32) -> Tensor {
        Tensor::new(vec![v; shape.iter().product()], shape)
    }

    pub fn scalar(v: f32) -> Tensor {
        Tensor::new(vec![v], &[])
    }

    /// The result of an op: records `op` if gradients are on and `rg` (some input needs a
    /// gradient).
    pub(crate) fn from_op_if(
        data: Vec<f32>,
        shape: &[usize],
        rg: bool,
        op: impl FnOnce() -> Op,
    ) -> Tensor {
        let t = Tensor::new(data, shape);
        if rg && grad_enabled() {
            let op = op();
            if op.inputs().iter().any(|x| x.requires_grad()) {
                return Tensor::build(shape, t.0.storage.clone(), Some(op), true);
            }
        }
        t
    }

    /// A tensor with this one's storage and another shape of the same size (a view).
    pub(crate) fn share(&self, shape: &[usize], op: Option<Op>) -> Tensor {
        let rg = op.is_some();
        Tensor::build(shape, self.0.storage.clone(), op, rg)
    }

    /// The same storage as a constant leaf: no graph behind it, no gradient.
    pub fn detach(&self) -> Tensor {
        Tensor::build(self.shape(), self.0.storage.clone(), None, false)
    }

    pub fn id(&self) -> usize {
        self.0.id
    }
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    pub fn dims(&self) -> usize {
        self.0.shape.len()
    }
    /// Size of dimension `d` (negative counts from the end).
    pub fn dim(&self, d: isize) -> usize {
        self.0.shape[self.axis(d)]
    }
    pub(crate) fn axis(&self, d: isize) -> usize {
        let n = self.dims() as isize;
        let a = if d < 0 { n + d } else { d };
        assert!(
            (0..n).contains(&a),
            "axis {d} out of range for shape {:?}",
            self.shape()
        );
        a as usize
    }
    pub fn numel(&self) -> usize {
        self.0.shape.iter().product()
    }
    pub fn dtype(&self) -> DType {
        DType::F32
    }
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }
    pub fn is_leaf(&self) -> bool {
        self.0.op.is_none()
    }
    pub(crate) fn op(&self) -> Option<&Op> {
        self.0.op.as_ref()
    }

    /// Bytes the op that made this tensor keeps for its backward in buffers of its own (0 for a
    /// leaf or an op that keeps none): fused attention's weights, flash attention's log-sum-exps.
    pub fn saved_bytes(&self) -> usize {
        self.op().map_or(0, Op::saved_bytes)
    }

    /// The elements, row-major.
    pub fn data(&self) -> Ref<'_, [f32]> {
        Ref::map(self.0.storage.borrow(), |s| s.slice())
    }
    pub fn to_vec(&self) -> Vec<f32> {
        self.data().to_vec()
    }
    /// The value of a one-element tensor.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.numel(),
            1,
            "item: tensor of shape {:?} is not a scalar",
            self.shape()
        );
        self.data()[0]
    }

    /// Mutable access for optimizers and weight loading: changes the values every view and every
    /// recorded graph sees, so only between steps.
    pub fn update(&self) -> RefMut<'_, [f32]> {
        RefMut::map(self.0.storage.borrow_mut(), |s| s.slice_mut())
    }

    /// Replaces the values with `v` (same number of elements).
    pub fn assign(&self, v: &[f32]) {
        let mut d = self.update();
        assert_eq!(
            d.len(),
            v.len(),
            "assign: {} values into shape {:?}",
            v.len(),
            self.shape()
        );
        d.copy_from_slice(v);
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.data();
        let head: Vec<f32> = d.iter().take(8).copied().collect();
        write!(
            f,
            "Tensor(shape={:?}, grad={}, op={}, data={head:?}{})",
            self.shape(),
            self.requires_grad(),
            self.op().map_or("leaf", |o| o.name()),
            if d.len() > 8 { "…" } else { "" }
        )
    }
}
