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
//! Left out: element types other than u8 (no dataset of this project uses them).

use crate::DataError;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

/// An IDX array of u8: its dimensions and its row-major data.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads a file, decompressing it when it is gzip (by content, not by name).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                path: path.to_path_buf(),
                hint: "check the path".into(),
            }
        } else {
            io(e)
        }
    })?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                message: format!("gzip stream is damaged or truncated: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
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
    let have = bytes.len() - header;
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

/// Reads and parses an IDX file (raw or gzip).
pub fn read_idx(path: &Path) -> Result<IdxArray, DataError> {
    parse_idx(&read_maybe_gz(path)?, path)
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
