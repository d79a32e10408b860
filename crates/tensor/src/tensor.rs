//! The tensor: an n-dimensional array of f32 in contiguous row-major storage, plus the node of
//! the autograd graph that produced it.
//!
//! ```text
//!   Tensor ──Rc──▶ Node { id, shape, storage: Rc<RefCell<Storage>>, off, op: Option<Op>, requires_grad }
//!                  the elements are storage[off .. off + numel]
//!   Storage::Cpu(CpuBuffer)      one variant per device; a GPU backend is one more variant, not a type parameter
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
//! Device and dtype: a tensor's [`Storage`] says where its elements live ([`Device`]) and what
//! they are ([`DType`]). Ops compute on f32; [`Tensor::to_dtype`] casts, [`Tensor::to`] moves.
//! [`Tensor::data`] and [`Tensor::update`] are host views of f32 storage; [`Tensor::to_vec`] is
//! the way to read any tensor back.
//!
//! Left out: strided views other than reshape, sharing between threads (tensors are `Rc`; the
//! kernels parallelise inside each op).

use crate::op::Op;
pub use crate::storage::{cache, memory, CpuBuffer, DType, Device, Dst, Src, Storage};
use std::cell::{Cell, Ref, RefCell, RefMut};
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// Where this tensor's elements start in `storage` (0 except for views into a flat store).
    pub(crate) off: usize,
    pub(crate) op: Option<Op>,
    pub(crate) requires_grad: bool,
}

/// A tensor's window of its storage, borrowed for reading.
pub struct View<'a> {
    guard: Ref<'a, Storage>,
    off: usize,
    len: usize,
}

impl View<'_> {
    /// The window, as backend functions take it.
    pub fn src(&self) -> Src<'_> {
        Src::new(&self.guard, self.off, self.len)
    }
    /// Elements in the window.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Bytes of the window's elements.
    pub fn bytes(&self) -> usize {
        self.len * self.guard.dtype().size()
    }
}

/// A tensor's window of its storage, borrowed for writing.
pub struct ViewMut<'a> {
    guard: RefMut<'a, Storage>,
    off: usize,
    len: usize,
}

impl ViewMut<'_> {
    /// The window, as in-place backend functions take it.
    pub fn dst(&mut self) -> Dst<'_> {
        Dst::new(&mut self.guard, self.off, self.len)
    }
}

/// The device shared by `xs`, or a panic naming the op and both devices (mixing devices is a
/// programming error: nothing moves between devices unless asked with [`Tensor::to`]).
pub(crate) fn same_device(op: &str, xs: &[&Tensor]) -> Device {
    let d = xs.first().map_or(Device::Cpu, |x| x.device());
    for x in xs {
        assert!(
            x.device() == d,
            "{op}: inputs on different devices ({d} and {})",
            x.device()
        );
    }
    d
}

/// An n-dimensional array and its place in the autograd graph.
#[derive(Clone)]
pub struct Tensor(pub(crate) Rc<Node>);

impl Tensor {
    fn build(shape: &[usize], storage: Rc<RefCell<Storage>>, op: Option<Op>, rg: bool) -> Tensor {
        Tensor::build_at(shape, storage, 0, op, rg)
    }

    fn build_at(
        shape: &[usize],
        storage: Rc<RefCell<Storage>>,
        off: usize,
        op: Option<Op>,
        rg: bool,
    ) -> Tensor {
        Tensor(Rc::new(Node {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shape: shape.to_vec(),
            storage,
            off,
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
        Tensor::from_storage(Storage::cpu(data), shape)
    }

    /// A constant over a storage of any device and dtype (gradients handed out by `backward`,
    /// the outputs of ops).
    pub fn from_storage(s: Storage, shape: &[usize]) -> Tensor {
        assert_eq!(
            s.len(),
            shape.iter().product::<usize>(),
            "Tensor::from_storage: {} elements for shape {shape:?}",
            s.len()
        );
        Tensor::build(shape, Rc::new(RefCell::new(s)), None, false)
    }

    /// Ids as an i32 tensor (a constant): what [`Tensor::index_select`] reads.
    pub fn ids(ids: &[usize], shape: &[usize]) -> Tensor {
        let v = ids
            .iter()
            .map(|&i| {
                i32::try_from(i).unwrap_or_else(|_| panic!("Tensor::ids: id {i} exceeds i32"))
            })
            .collect();
        Tensor::from_storage(Storage::cpu_i32(v), shape)
    }

    /// A leaf that needs its gradient (a parameter or an input under test). Inside
    /// [`crate::store::ParamStore::build`] it is a view into the store's flat buffer instead of
    /// a buffer of its own.
    pub fn var(data: Vec<f32>, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            data.len(),
            n,
            "Tensor::var: {} elements for shape {shape:?} ({n})",
            data.len()
        );
        if let Some((flat, off)) = crate::store::collect(&data) {
            return Tensor::build_at(shape, flat, off, None, true);
        }
        let t = Tensor::new(data, shape);
        Tensor::build(shape, t.0.storage.clone(), None, true)
    }

    /// A view of `n` elements at `off` of a shared buffer (the flat store's parameters and
    /// gradients).
    pub(crate) fn view_of(
        storage: Rc<RefCell<Storage>>,
        off: usize,
        shape: &[usize],
        requires_grad: bool,
    ) -> Tensor {
        Tensor::build_at(shape, storage, off, None, requires_grad)
    }

    /// The buffer this tensor's elements are a window of.
    pub(crate) fn buffer(&self) -> &Rc<RefCell<Storage>> {
        &self.0.storage
    }

    /// Whether `self` and `other` are windows of the same buffer.
    pub(crate) fn same_buffer(&self, other: &Rc<RefCell<Storage>>) -> bool {
        Rc::ptr_eq(&self.0.storage, other)
    }

    /// Where this tensor's elements start in its buffer.
    pub(crate) fn offset(&self) -> usize {
        self.0.off
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
        data: Storage,
        shape: &[usize],
        rg: bool,
        op: impl FnOnce() -> Op,
    ) -> Tensor {
        let t = Tensor::from_storage(data, shape);
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
        Tensor::build_at(shape, self.0.storage.clone(), self.0.off, op, rg)
    }

    /// The same storage as a constant leaf: no graph behind it, no gradient.
    pub fn detach(&self) -> Tensor {
        Tensor::build_at(
            self.shape(),
            self.0.storage.clone(),
            self.0.off,
            None,
            false,
        )
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
        self.0.storage.borrow().dtype()
    }
    pub fn device(&self) -> Device {
        self.0.storage.borrow().device()
    }
    /// The elements' window of their storage, borrowed: `view().src()` is what backend
    /// functions take.
    pub fn view(&self) -> View<'_> {
        View {
            guard: self.0.storage.borrow(),
            off: self.0.off,
            len: self.numel(),
        }
    }
    /// The window to write in place (optimizers, gradient accumulation): only between steps.
    pub fn view_mut(&self) -> ViewMut<'_> {
        ViewMut {
            guard: self.0.storage.borrow_mut(),
            off: self.0.off,
            len: self.numel(),
        }
    }

    /// This tensor on `device`: itself when it is already there (as PyTorch's `.to`), else a
    /// copy whose gradient flows back to this one.
    pub fn to(&self, device: Device) -> Tensor {
        if self.device() == device {
            return self.clone();
        }
        unreachable!("one device exists in this build")
    }

    /// The elements cast to `dtype` (a constant: casts are not differentiated). f32 → bf16 rounds
    /// to the nearest even 16-bit float; bf16 → f32 is exact; i32 ↔ f32 converts the values.
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if self.dtype() == dtype {
            return self.detach();
        }
        let s = crate::backend::cast(self.view().src(), dtype);
        Tensor::from_storage(s, self.shape())
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

    /// The elements, row-major, as a host view of f32 storage (a panic naming the device or
    /// dtype otherwise: [`Tensor::to_vec`] reads any tensor).
    pub fn data(&self) -> Ref<'_, [f32]> {
        let r = self.0.off..self.0.off + self.numel();
        Ref::map(self.0.storage.borrow(), |s| &s.slice()[r])
    }
    /// The elements as f32 on the host, whatever the device and dtype.
    pub fn to_vec(&self) -> Vec<f32> {
        crate::backend::to_host_f32(self.view().src())
    }
    /// The value of a one-element tensor.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.numel(),
            1,
            "item: tensor of shape {:?} is not a scalar",
            self.shape()
        );
        self.to_vec()[0]
    }

    /// Mutable access for optimizers and weight loading: changes the values every view and every
    /// recorded graph sees, so only between steps.
    pub fn update(&self) -> RefMut<'_, [f32]> {
        let r = self.0.off..self.0.off + self.numel();
        RefMut::map(self.0.storage.borrow_mut(), |s| &mut s.slice_mut()[r])
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
        let d = self.to_vec();
        let head: Vec<f32> = d.iter().take(8).copied().collect();
        write!(
            f,
            "Tensor(shape={:?}, {}, {}, grad={}, op={}, data={head:?}{})",
            self.shape(),
            self.device(),
            self.dtype(),
            self.requires_grad(),
            self.op().map_or("leaf", |o| o.name()),
            if d.len() > 8 { "…" } else { "" }
        )
    }
}
