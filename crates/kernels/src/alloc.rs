//! The allocator's policy for big buffers, set once per process ([`keep_freed_memory`]).
//!
//! glibc's `malloc` serves a request above its mmap threshold (128 KiB at start, raised as such
//! blocks are freed, up to 32 MiB) with a fresh `mmap`, and hands it back with `munmap` on
//! `free`; it also returns the top of its heap to the system once more than twice that threshold
//! is free there. A training step allocates and frees the same large buffers every step
//! (activations, gradients, packed panels), so each step paid for them again: a page fault per
//! 4 KiB on first touch, the kernel zeroing every page, and, with two threads, a TLB shoot-down
//! interrupt on every `munmap`. Measured on `tfs bench lstm` (2 cores): 3.9 s of its 4.7 s in the
//! kernel (`sys`), `perf` showing page faults, `unmap_page_range` and
//! `smp_call_function_many_cond`.
//!
//! [`keep_freed_memory`] sets the mmap threshold to its maximum (32 MiB: larger blocks still go
//! to `mmap`) and the trim threshold to 1 GiB, so freed buffers stay in the process and are
//! reused by the next step, as PyTorch's caching allocator keeps its blocks. The cost is that
//! the process's resident memory stays near its peak. Only on Linux with glibc; elsewhere it
//! does nothing.

/// Keeps freed big buffers in the process for reuse (see the module notes); returns whether the
/// allocator accepted the settings. Call once, early in `main`.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes two tuning parameters of glibc's allocator; it is safe
        // to call at any time, from any thread, and does not touch memory we hold.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
