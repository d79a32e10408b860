//! Text corpora: Tiny Shakespeare (about 1.1 MB of plays, the character-level benchmark of
//! Karpathy's char-rnn), read as UTF-8 from `DATA_DIR/tinyshakespeare/input.txt`;
//! [`load_tiny_shakespeare_fetching`] downloads it first when it is missing (see [`crate::fetch`]).
//!
//! Left out: other corpora (they arrive with the phases that need them), encodings besides UTF-8.

use crate::fetch::{ensure, Fetch, TINY_SHAKESPEARE};
use crate::DataError;
use std::path::Path;

/// Reads a UTF-8 text file; a missing file names `hint`, invalid UTF-8 names the byte offset.
pub fn read_text(path: &Path, hint: &str) -> Result<String, DataError> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            DataError::Missing {
                path: path.to_path_buf(),
                hint: hint.to_string(),
            }
        } else {
            DataError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    text_from_bytes(bytes, path)
}

/// A file's bytes as UTF-8 text; invalid UTF-8 is `Corrupt` naming the byte offset.
pub fn text_from_bytes(bytes: Vec<u8>, path: &Path) -> Result<String, DataError> {
    String::from_utf8(bytes).map_err(|e| DataError::Corrupt {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to() as u64,
        message: "invalid UTF-8".into(),
    })
}

/// Tiny Shakespeare from `DATA_DIR/tinyshakespeare/input.txt`.
pub fn load_tiny_shakespeare(data_dir: &Path) -> Result<String, DataError> {
    read_text(
        &data_dir.join("tinyshakespeare").join("input.txt"),
        "run `tfs data fetch tinyshakespeare` (or set --data-dir / TFS_DATA_DIR to a folder holding tinyshakespeare/)",
    )
}

/// Tiny Shakespeare, fetched into `DATA_DIR/tinyshakespeare/` first if it is missing and `mode`
/// allows (`$TFS_OFFLINE` forces offline); offline or without network, a one-line `Missing` error.
pub fn load_tiny_shakespeare_fetching(data_dir: &Path, mode: Fetch) -> Result<String, DataError> {
    ensure(&TINY_SHAKESPEARE, data_dir, mode)?;
    load_tiny_shakespeare(data_dir)
}
