//! Training logs as JSON lines: one object per call, flushed at once so that a crash loses
//! nothing already logged and `tail -f` shows progress.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// A JSON-lines log file.
pub struct JsonLog {
    out: BufWriter<File>,
}

impl JsonLog {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path) -> io::Result<JsonLog> {
        Ok(JsonLog {
            out: BufWriter::new(File::create(path)?),
        })
    }

    /// Opens `path` for appending (a resumed run continues its log), creating it if missing.
    pub fn append(path: &Path) -> io::Result<JsonLog> {
        Ok(JsonLog {
            out: BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        })
    }

    /// Writes `{"step": step, key: value, …}` as one line and flushes it.
    pub fn log(&mut self, step: usize, fields: &[(&str, f64)]) -> io::Result<()> {
        let mut obj = serde_json::Map::new();
        obj.insert("step".into(), step.into());
        for &(k, v) in fields {
            // JSON has no NaN or infinity: those are written as null.
            let val = serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into);
            obj.insert(k.into(), val);
        }
        writeln!(self.out, "{}", serde_json::Value::Object(obj))?;
        self.out.flush()
    }
}
