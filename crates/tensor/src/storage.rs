//! Where a tensor's elements live and what they are: [`Device`] × [`DType`] → [`Storage`].
//!
//! ```text
//!   Storage::Cpu(CpuBuffer::F32 | Bf16 | I32)     one variant per device; a GPU is one more variant
//!   f32   the numbers of every op
//!   bf16  16-bit floats (the upper half of an f32), for mixed precision: cast in and out
//!   i32   ids and indices (embedding rows, arg-max, masks as 0/1)
//! ```
//!
//! The framework computes in f32; a bf16 or i32 storage enters an op only where that op says so
//! (ids), and otherwise through [`crate::Tensor::to_dtype`]. Every buffer counts its bytes into a
//! process-wide counter ([`memory`]); freed f32 buffers wait in a per-thread cache ([`cache`])
//! for the next step to reuse.
//!
//! A tensor reads a contiguous window of its storage ([`Src`], [`Dst`]: an offset and a length),
//! which is how a model's parameters are windows of one flat buffer (`crate::store`).
//!
//! Left out: strided views (every window is contiguous), a second device (the GPU issue adds
//! `Storage::Gpu`).

use std::fmt;

/// Where a tensor's elements live. Only the host exists so far; an op's output lives where its
/// inputs live, and an op given inputs on two devices panics naming itself and both devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;
    /// `cpu`; anything else is an error naming what exists.
    fn from_str(s: &str) -> Result<Device, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            other => Err(format!(
                "unknown device '{other}': this build has 'cpu' only"
            )),
        }
    }
}

/// The element type of a storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    /// bfloat16: an f32's sign, exponent and top 7 mantissa bits (rounded to nearest even).
    BF16,
    /// Ids and indices.
    I32,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::BF16 => 2,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::BF16 => "bf16",
            DType::I32 => "i32",
        })
    }
}

/// Live and peak bytes of every tensor and gradient buffer of the process.
pub mod memory {
    use std::sync::atomic::{AtomicUsize, Ordering};

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

/// A host buffer of one dtype that counts its bytes in [`memory`] (f32 buffers go back to the
/// [`cache`] when dropped).
pub enum CpuBuffer {
    F32(Vec<f32>),
    Bf16(Vec<u16>),
    I32(Vec<i32>),
}

impl CpuBuffer {
    /// An f32 buffer over `v` (counted).
    pub fn new(v: Vec<f32>) -> Self {
        memory::add(v.capacity() * 4);
        CpuBuffer::F32(v)
    }
    pub fn bf16(v: Vec<u16>) -> Self {
        memory::add(v.capacity() * 2);
        CpuBuffer::Bf16(v)
    }
    pub fn i32(v: Vec<i32>) -> Self {
        memory::add(v.capacity() * 4);
        CpuBuffer::I32(v)
    }
    pub(crate) fn capacity_bytes(&self) -> usize {
        match self {
            CpuBuffer::F32(v) => v.capacity() * 4,
            CpuBuffer::Bf16(v) => v.capacity() * 2,
            CpuBuffer::I32(v) => v.capacity() * 4,
        }
    }
    pub fn dtype(&self) -> DType {
        match self {
            CpuBuffer::F32(_) => DType::F32,
            CpuBuffer::Bf16(_) => DType::BF16,
            CpuBuffer::I32(_) => DType::I32,
        }
    }
    pub fn len(&self) -> usize {
        match self {
            CpuBuffer::F32(v) => v.len(),
            CpuBuffer::Bf16(v) => v.len(),
            CpuBuffer::I32(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The f32 elements (a panic naming the dtype otherwise).
    pub fn as_slice(&self) -> &[f32] {
        match self {
            CpuBuffer::F32(v) => v,
            other => panic!("expected an f32 buffer, found {}", other.dtype()),
        }
    }
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        match self {
            CpuBuffer::F32(v) => v,
            other => panic!("expected an f32 buffer, found {}", other.dtype()),
        }
    }
    /// The i32 elements (a panic naming the dtype otherwise).
    pub fn as_i32(&self) -> &[i32] {
        match self {
            CpuBuffer::I32(v) => v,
            other => panic!("expected an i32 buffer, found {}", other.dtype()),
        }
    }
    /// The bf16 elements as their bits.
    pub fn as_bf16(&self) -> &[u16] {
        match self {
            CpuBuffer::Bf16(v) => v,
            other => panic!("expected a bf16 buffer, found {}", other.dtype()),
        }
    }
    /// The f32 vector, no longer counted (the caller owns it).
    pub fn into_vec(mut self) -> Vec<f32> {
        let bytes = self.capacity_bytes();
        match &mut self {
            CpuBuffer::F32(v) => {
                memory::sub(bytes);
                std::mem::take(v)
            }
            other => panic!("expected an f32 buffer, found {}", other.dtype()),
        }
    }
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        memory::sub(self.capacity_bytes());
        match self {
            CpuBuffer::F32(v) => cache::give(std::mem::take(v)),
            CpuBuffer::Bf16(v) => *v = Vec::new(),
            CpuBuffer::I32(v) => *v = Vec::new(),
        }
    }
}

/// The elements of a tensor (or of a buffer an op saves for its backward), on their device.
/// Backend functions take and return these, never tensors.
pub enum Storage {
    Cpu(CpuBuffer),
}

impl Storage {
    /// Host f32 elements, counted.
    pub fn cpu(v: Vec<f32>) -> Storage {
        Storage::Cpu(CpuBuffer::new(v))
    }
    /// Host ids, counted.
    pub fn cpu_i32(v: Vec<i32>) -> Storage {
        Storage::Cpu(CpuBuffer::i32(v))
    }
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(b) => b.dtype(),
        }
    }
    /// Elements held.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Bytes of the elements.
    pub fn bytes(&self) -> usize {
        self.len() * self.dtype().size()
    }
    /// The host f32 elements: a panic naming the device or dtype when they are not that.
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
    /// The host ids.
    pub fn ids(&self) -> &[i32] {
        match self {
            Storage::Cpu(b) => b.as_i32(),
        }
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Storage({}, {}, {})",
            self.device(),
            self.dtype(),
            self.len()
        )
    }
}

/// A window of a storage: `len` elements from `off`. Tensors that are views into a larger buffer
/// (parameters in the flat store, their gradients) hand these to the backend; a whole storage
/// converts with `.into()`.
#[derive(Clone, Copy)]
pub struct Src<'a> {
    pub storage: &'a Storage,
    pub off: usize,
    pub len: usize,
}

impl<'a> Src<'a> {
    pub fn new(storage: &'a Storage, off: usize, len: usize) -> Src<'a> {
        assert!(
            off + len <= storage.len(),
            "a window of {len} elements at {off} of a storage of {}",
            storage.len()
        );
        Src { storage, off, len }
    }
    /// The host f32 elements of the window.
    pub fn slice(self) -> &'a [f32] {
        &self.storage.slice()[self.off..self.off + self.len]
    }
    /// The host ids of the window.
    pub fn ids(self) -> &'a [i32] {
        &self.storage.ids()[self.off..self.off + self.len]
    }
    pub fn device(self) -> Device {
        self.storage.device()
    }
    pub fn dtype(self) -> DType {
        self.storage.dtype()
    }
    pub fn len(self) -> usize {
        self.len
    }
    pub fn is_empty(self) -> bool {
        self.len == 0
    }
}

impl<'a> From<&'a Storage> for Src<'a> {
    fn from(s: &'a Storage) -> Src<'a> {
        Src {
            storage: s,
            off: 0,
            len: s.len(),
        }
    }
}

/// A window of a storage to write in place (a gradient being accumulated, a parameter being
/// updated).
pub struct Dst<'a> {
    pub storage: &'a mut Storage,
    pub off: usize,
    pub len: usize,
}

impl<'a> Dst<'a> {
    pub fn new(storage: &'a mut Storage, off: usize, len: usize) -> Dst<'a> {
        assert!(
            off + len <= storage.len(),
            "a window of {len} elements at {off} of a storage of {}",
            storage.len()
        );
        Dst { storage, off, len }
    }
    /// The host f32 elements of the window, to write.
    pub fn slice_mut(&mut self) -> &mut [f32] {
        let (off, len) = (self.off, self.len);
        &mut self.storage.slice_mut()[off..off + len]
    }
    /// The window for the rest of its borrow.
    pub fn into_slice(self) -> &'a mut [f32] {
        let (off, len) = (self.off, self.len);
        &mut self.storage.slice_mut()[off..off + len]
    }
    pub fn device(&self) -> Device {
        self.storage.device()
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The same window, read.
    pub fn src(&self) -> Src<'_> {
        Src {
            storage: self.storage,
            off: self.off,
            len: self.len,
        }
    }
}

impl<'a> From<&'a mut Storage> for Dst<'a> {
    fn from(s: &'a mut Storage) -> Dst<'a> {
        let len = s.len();
        Dst {
            storage: s,
            off: 0,
            len,
        }
    }
}
