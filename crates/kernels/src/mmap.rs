//! Read-only memory maps of files (token shards, large weight files), the one `unsafe` call the
//! data side of the project needs, kept here with the crate's other `unsafe`.
//!
//! Mapping a file lets training read a dataset larger than memory at the speed of the page cache:
//! the kernel pages the bytes in on first touch and may drop them again under memory pressure.
//!
//! Left out: writable maps, huge-page hints, `madvise`.

use std::fs::File;

pub use memmap2::Mmap;

/// Maps the whole of `file` read-only.
///
/// The contents must not change while the map lives: callers map files that are written once,
/// under a temporary name, and renamed into place (token shards, checkpoints). Another process
/// truncating the file meanwhile makes reads past its new end fault (SIGBUS), as with any mmap.
pub fn map_read_only(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the map is read-only and outlives no borrow of `file`; memmap2's only requirement is
    // that the file is not modified concurrently, which the callers' write-once-then-rename files
    // guarantee within this project (documented above for other processes).
    unsafe { Mmap::map(file) }
}
