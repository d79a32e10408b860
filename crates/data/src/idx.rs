//! The IDX file format of MNIST and Fashion-MNIST, raw or gzip-compressed.
//!
//! ```text
//!   offset 0: 0x00 0x00 TYPE NDIM     magic: two zero bytes, element type (0x08 = u8), rank
//!   offset 4: NDIM × u32 big-endian   the size of each dimension
//!   then:     Π sizes elements        row-major data
//! ```
//!
//! MNIST images are `(n, 28, 28)` u8 (magic 0x00000803), labels `(n,)` u8 (magic 0x00000801).
//! Everything is checked: magic, element type, rank, and that the data is exactly as long as the
//! header says (a truncated download and trailing garbage are both errors).
//!
//! A gzip file is read as a stream (all of its members, as `gzip -d` does) and never decompressed
//! past what its header promises plus one byte, so a small file that inflates to gigabytes costs
//! no more memory than the array it claims to be; arrays over [`MAX_IDX_BYTES`] are refused.
//!
//! Left out: element types other than u8 (no dataset of this project uses them).

use crate::DataError;
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;

/// The largest IDX file (header and data) read: 1 GiB, 20 times MNIST's training images.
pub const MAX_IDX_BYTES: usize = 1 << 30;

/// An IDX array of u8: its dimensions and its row-major data.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

fn read_raw(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                path: path.to_path_buf(),
                hint: "check the path".into(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

fn is_gz(raw: &[u8]) -> bool {
    raw.starts_with(&[0x1f, 0x8b])
}

/// Appends at most `n` more decompressed bytes to `out`.
fn take_into(
    dec: &mut MultiGzDecoder<&[u8]>,
    n: usize,
    out: &mut Vec<u8>,
    path: &Path,
) -> Result<(), DataError> {
    dec.take(n as u64)
        .read_to_end(out)
        .map_err(|e| DataError::Corrupt {
            path: path.to_path_buf(),
            offset: 0,
            message: format!(
                "gzip stream is damaged or truncated after {} decompressed bytes: {e}",
                out.len()
            ),
        })
        .map(|_| ())
}

/// Reads a file, decompressing it when it is gzip (by content, not by name), keeping at most
/// `cap` bytes: longer contents are cut at `cap`, so a gzip bomb costs at most `cap` bytes.
/// Callers pass the length they expect plus one, so that "too long" stays detectable.
pub fn read_maybe_gz_capped(path: &Path, cap: usize) -> Result<Vec<u8>, DataError> {
    let raw = read_raw(path)?;
    if !is_gz(&raw) {
        return Ok(raw);
    }
    let mut out = Vec::new();
    take_into(&mut MultiGzDecoder::new(&raw[..]), cap, &mut out, path)?;
    Ok(out)
}

/// Reads a whole file, decompressing it when it is gzip (unbounded: prefer
/// [`read_maybe_gz_capped`] for anything read from outside).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    read_maybe_gz_capped(path, usize::MAX)
}

/// The total length (header + data) an IDX header promises, once the bytes hold a whole valid
/// header; `None` when they do not (then [`parse_idx`] says why).
fn promised_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 || bytes[3] == 0 {
        return None;
    }
    let header = 4 + 4 * bytes[3] as usize;
    let dims = bytes.get(4..header)?;
    dims.chunks(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize)
        .try_fold(1usize, |a, d| a.checked_mul(d))?
        .checked_add(header)
}

/// Parses IDX bytes; `path` only names the file in errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let corrupt = |offset: usize, message: String| DataError::Corrupt {
        path: path.to_path_buf(),
        offset: offset as u64,
        message,
    };
    if bytes.len() < 4 {
        return Err(corrupt(
            0,
            format!("{} bytes is too short for an IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(corrupt(
            0,
            format!(
                "bad magic {:02x}{:02x}: an IDX file starts with two zero bytes",
                bytes[0], bytes[1]
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(corrupt(
            2,
            format!("element type 0x{:02x} is not u8 (0x08)", bytes[2]),
        ));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(corrupt(3, "rank 0".into()));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(corrupt(
            bytes.len(),
            format!(
                "header of rank {ndim} needs {header} bytes, file has {}",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let n: usize = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| corrupt(4, format!("dimensions {dims:?} overflow")))?;
    if n > MAX_IDX_BYTES - header {
        return Err(corrupt(
            4,
            format!("dimensions {dims:?} promise {n} bytes, more than the {MAX_IDX_BYTES} this reader accepts"),
        ));
    }
    let have = bytes.len() - header;
    if have > n {
        return Err(corrupt(
            header + n,
            format!("dimensions {dims:?} need {n} data bytes, the file has more (trailing data)"),
        ));
    }
    if have != n {
        return Err(corrupt(
            header,
            format!("dimensions {dims:?} need {n} data bytes, file has {have}"),
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads and parses an IDX file (raw or gzip). A gzip file is decompressed header first, then
/// no further than the header promises plus one byte (see the module comment).
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    parse_idx_file(&read_raw(path)?, path)
}

/// [`read_idx`] on a file's bytes (raw or gzip); `path` only names the file in errors.
pub fn parse_idx_file(raw: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    if !is_gz(raw) {
        return parse_idx(raw, path);
    }
    let mut dec = MultiGzDecoder::new(raw);
    let mut bytes = Vec::new();
    take_into(&mut dec, 4, &mut bytes, path)?;
    if bytes.len() == 4 {
        take_into(&mut dec, 4 * bytes[3] as usize, &mut bytes, path)?;
    }
    // A bad header or an absurd size: one more byte is enough for parse_idx to say why.
    let cap = promised_len(&bytes)
        .filter(|&n| n <= MAX_IDX_BYTES)
        .unwrap_or(bytes.len());
    take_into(&mut dec, cap - bytes.len() + 1, &mut bytes, path)?;
    parse_idx(&bytes, path)
}

/// Encodes an IDX array (for tests and tools).
pub fn encode_idx(arr: &IdxArray) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, arr.dims.len() as u8];
    for &d in &arr.dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&arr.data);
    out
}
