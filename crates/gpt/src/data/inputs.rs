//! Reading the inputs of `tfs gpt prepare` as a stream of documents, in bounded memory.
//!
//! Every reader pushes, in input order, [`Sink::doc`] at the start of each non-empty document,
//! then the document's text in one or more [`Sink::text`] pieces, and [`Sink::consumed`] for the
//! input bytes read (for the progress bar). Empty documents are skipped in every format.
//!
//! - **`.txt`**: one document per file, read line by line. A line that is exactly
//!   `<|endoftext|>` (TinyStories' separator) ends a document; it and the line break before it
//!   belong to neither document. A long document is passed on in pieces of about `chunk_bytes`,
//!   each cut just before a whitespace character that follows a non-whitespace one. GPT-2's
//!   pre-tokenizer (`'s|'t|…| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`) always ends a
//!   piece there: no alternative puts whitespace after a non-whitespace character in one piece,
//!   and none looks past the whitespace to end the piece before it. So encoding the pieces one by
//!   one gives exactly the tokens of encoding the whole text (a test checks it on Tiny
//!   Shakespeare with tiny pieces). Only text with no such place in `4 × chunk_bytes` (no
//!   whitespace after a word for megabytes) is cut at a character boundary, where tokens may
//!   differ from a whole-text encoding.
//! - **`.jsonl` / `.json`**: JSON Lines, one object per line with a string field `text` (blank
//!   lines skipped); lines of at most 256 MiB.
//! - **`.parquet`**: the column `text` (BYTE_ARRAY, normally annotated as a UTF-8 string) read
//!   row group by row group, 256 rows at a time, through the parquet crate's column reader;
//!   snappy- or zstd-compressed (zstd not in macOS builds, see Cargo.toml) or uncompressed.
//!
//! Errors name the file and the place: the byte offset of invalid UTF-8, the line of a bad JSON
//! line or missing `text`, the row group and row of a null or non-UTF-8 Parquet value, the
//! columns of a Parquet file without a string `text` column.
//!
//! Left out: JSON arrays (`[{…}, …]`), compressed text (`.gz`, `.zst`), other column names.

use parquet::basic::Type as PhysicalType;
use parquet::column::reader::ColumnReader;
use parquet::data_type::ByteArray;
use parquet::file::reader::{FileReader, SerializedFileReader};
use serde_json::Value;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where in a file an error is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Where {
    /// The file as a whole.
    File,
    /// A byte offset from the start of the file.
    Byte(u64),
    /// A line, counted from 1.
    Line(u64),
    /// A Parquet row: its row group and its row within the file, both from 0.
    Row { row_group: usize, row: u64 },
}

/// What went wrong preparing a dataset, and where.
#[derive(Debug)]
pub struct PrepareError {
    pub path: PathBuf,
    pub at: Where,
    pub msg: String,
}

impl fmt::Display for PrepareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.at {
            Where::File => write!(f, "{p}: {}", self.msg),
            Where::Byte(b) => write!(f, "{p}: byte {b}: {}", self.msg),
            Where::Line(l) => write!(f, "{p}: line {l}: {}", self.msg),
            Where::Row { row_group, row } => {
                write!(f, "{p}: row group {row_group}, row {row}: {}", self.msg)
            }
        }
    }
}

impl std::error::Error for PrepareError {}

pub(crate) fn perr(path: &Path, at: Where, msg: impl Into<String>) -> PrepareError {
    PrepareError {
        path: path.to_path_buf(),
        at,
        msg: msg.into(),
    }
}

/// Why a reader stopped early: a bad input, or the consumer went away (its error wins).
#[derive(Debug)]
pub(crate) enum Stop {
    Bad(PrepareError),
    Cancelled,
}

impl From<PrepareError> for Stop {
    fn from(e: PrepareError) -> Stop {
        Stop::Bad(e)
    }
}

/// Where readers put documents.
pub(crate) trait Sink {
    fn doc(&mut self) -> Result<(), Stop>;
    fn text(&mut self, s: String) -> Result<(), Stop>;
    fn consumed(&mut self, bytes: u64);
}

/// The input formats, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    JsonLines,
    Parquet,
}

impl Format {
    /// The format of `path` by its extension, or an error naming the file.
    pub fn of(path: &Path) -> Result<Format, PrepareError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("txt") => Ok(Format::Text),
            Some("jsonl" | "json") => Ok(Format::JsonLines),
            Some("parquet") => Ok(Format::Parquet),
            _ => Err(perr(
                path,
                Where::File,
                "unknown input type: expected .txt, .jsonl, .json or .parquet",
            )),
        }
    }
}

/// Longest JSON line read.
pub const MAX_LINE: u64 = 256 << 20;

/// Pushes the documents of `path` into `sink`.
pub(crate) fn read(path: &Path, chunk_bytes: usize, sink: &mut dyn Sink) -> Result<(), Stop> {
    let open = |p: &Path| File::open(p).map_err(|e| perr(p, Where::File, e.to_string()));
    match Format::of(path)? {
        Format::Text => read_text(path, open(path)?, chunk_bytes, sink),
        Format::JsonLines => read_jsonl(path, open(path)?, sink),
        Format::Parquet => read_parquet(path, open(path)?, sink),
    }
}

const SEPARATOR: &[u8] = b"<|endoftext|>";

fn is_separator(line: &[u8]) -> bool {
    let l = line.strip_suffix(b"\n").unwrap_or(line);
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    l == SEPARATOR
}

/// The last place in `s` where a whitespace character follows a non-whitespace one.
fn safe_cut(s: &str) -> Option<usize> {
    let mut next_is_space = false;
    for (i, c) in s.char_indices().rev() {
        let space = c.is_whitespace();
        if !space && next_is_space {
            return Some(i + c.len_utf8());
        }
        next_is_space = space;
    }
    None
}

/// The largest char boundary of `s` at or below `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Sends `pending[..n]` as text of the current document (opening it first), keeping the rest.
fn emit(
    sink: &mut dyn Sink,
    pending: &mut String,
    n: usize,
    doc_open: &mut bool,
) -> Result<(), Stop> {
    if n == 0 {
        return Ok(());
    }
    if !*doc_open {
        sink.doc()?;
        *doc_open = true;
    }
    let rest = pending.split_off(n);
    sink.text(std::mem::replace(pending, rest))
}

fn read_text(path: &Path, f: File, chunk: usize, sink: &mut dyn Sink) -> Result<(), Stop> {
    let chunk = chunk.max(64);
    let mut r = BufReader::with_capacity(1 << 16, f);
    let (mut pending, mut line, mut carry) = (String::new(), Vec::new(), Vec::new());
    let (mut offset, mut at_line_start, mut doc_open) = (0u64, true, false);
    loop {
        line.clear();
        line.append(&mut carry);
        let start = offset - line.len() as u64;
        let n = (&mut r)
            .take(chunk as u64)
            .read_until(b'\n', &mut line)
            .map_err(|e| perr(path, Where::Byte(offset), e.to_string()))?;
        offset += n as u64;
        sink.consumed(n as u64);
        if line.is_empty() {
            break;
        }
        let eol = line.ends_with(b"\n");
        // A whole line: it ends with a line break, or at the end of the file.
        let complete = eol || n < chunk;
        if at_line_start && complete && is_separator(&line) {
            // The line break before the separator belongs to it.
            if pending.ends_with('\n') {
                pending.pop();
                if pending.ends_with('\r') {
                    pending.pop();
                }
            }
            let n = pending.len();
            emit(sink, &mut pending, n, &mut doc_open)?;
            doc_open = false;
            continue;
        }
        at_line_start = eol;
        let valid = match std::str::from_utf8(&line) {
            Ok(s) => s,
            // A character cut by the size limit: keep its first bytes for the next read.
            Err(e) if e.error_len().is_none() && !eol && n > 0 => {
                carry = line.split_off(e.valid_up_to());
                std::str::from_utf8(&line).expect("valid up to here")
            }
            Err(e) => {
                return Err(perr(
                    path,
                    Where::Byte(start + e.valid_up_to() as u64),
                    "invalid UTF-8",
                )
                .into())
            }
        };
        pending.push_str(valid);
        if pending.len() >= chunk {
            let cut = match safe_cut(&pending) {
                Some(c) => c,
                None if pending.len() >= 4 * chunk => floor_boundary(&pending, chunk),
                None => 0,
            };
            emit(sink, &mut pending, cut, &mut doc_open)?;
        }
    }
    let n = pending.len();
    emit(sink, &mut pending, n, &mut doc_open)
}

fn read_jsonl(path: &Path, f: File, sink: &mut dyn Sink) -> Result<(), Stop> {
    let mut r = BufReader::with_capacity(1 << 16, f);
    let (mut buf, mut offset, mut lineno) = (Vec::new(), 0u64, 0u64);
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|e| perr(path, Where::Byte(offset), e.to_string()))?;
        if n == 0 {
            return Ok(());
        }
        lineno += 1;
        if n as u64 > MAX_LINE {
            return Err(perr(path, Where::Line(lineno), "line longer than 256 MiB").into());
        }
        let line = std::str::from_utf8(&buf).map_err(|e| {
            perr(
                path,
                Where::Byte(offset + e.valid_up_to() as u64),
                format!("invalid UTF-8 (line {lineno})"),
            )
        })?;
        offset += n as u64;
        sink.consumed(n as u64);
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            let hint = if line.trim_start().starts_with('[') {
                " (a JSON array? expected JSON Lines: one object per line)"
            } else {
                ""
            };
            perr(path, Where::Line(lineno), format!("not JSON: {e}{hint}"))
        })?;
        let text = match v.get("text") {
            Some(Value::String(s)) => s,
            Some(other) => {
                let kind = match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::Array(_) => "an array",
                    _ => "an object",
                };
                return Err(perr(
                    path,
                    Where::Line(lineno),
                    format!("\"text\" is {kind}, not a string"),
                )
                .into());
            }
            None if v.is_object() => {
                return Err(perr(path, Where::Line(lineno), "no \"text\" field").into())
            }
            None => {
                return Err(perr(
                    path,
                    Where::Line(lineno),
                    "not a JSON object (JSON Lines: one object with a \"text\" field per line)",
                )
                .into())
            }
        };
        if !text.is_empty() {
            sink.doc()?;
            sink.text(text.clone())?;
        }
    }
}

/// Rows read from a Parquet column at a time.
const PARQUET_BATCH: usize = 256;

fn read_parquet(path: &Path, f: File, sink: &mut dyn Sink) -> Result<(), Stop> {
    let file_bytes = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bad = |at: Where, m: String| Stop::Bad(perr(path, at, m));
    let reader = SerializedFileReader::new(f)
        .map_err(|e| bad(Where::File, format!("not a readable Parquet file: {e}")))?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let columns: Vec<String> = (0..schema.num_columns())
        .map(|i| schema.column(i).path().string())
        .collect();
    let col = columns.iter().position(|c| c == "text").ok_or_else(|| {
        bad(
            Where::File,
            format!("no \"text\" column (columns: {})", columns.join(", ")),
        )
    })?;
    let descr = schema.column(col);
    if descr.physical_type() != PhysicalType::BYTE_ARRAY || descr.max_rep_level() != 0 {
        return Err(bad(
            Where::File,
            format!(
                "column \"text\" is {}{}, not a string (columns: {})",
                descr.physical_type(),
                if descr.max_rep_level() != 0 {
                    " (repeated)"
                } else {
                    ""
                },
                columns.join(", ")
            ),
        ));
    }
    let total_rows = meta.file_metadata().num_rows().max(1) as u64;
    let (mut row, mut reported) = (0u64, 0u64);
    let (mut values, mut defs) = (Vec::<ByteArray>::new(), Vec::<i16>::new());
    for g in 0..reader.num_row_groups() {
        let pq =
            |e: parquet::errors::ParquetError| bad(Where::Row { row_group: g, row }, e.to_string());
        let rg = reader.get_row_group(g).map_err(pq)?;
        let ColumnReader::ByteArrayColumnReader(mut cr) = rg.get_column_reader(col).map_err(pq)?
        else {
            return Err(bad(Where::File, "column \"text\" is not BYTE_ARRAY".into()));
        };
        loop {
            values.clear();
            defs.clear();
            let (records, _, levels) = cr
                .read_records(PARQUET_BATCH, Some(&mut defs), None, &mut values)
                .map_err(|e| bad(Where::Row { row_group: g, row }, e.to_string()))?;
            if records == 0 {
                break;
            }
            let mut vals = values.iter();
            for i in 0..records {
                let here = Where::Row {
                    row_group: g,
                    row: row + i as u64,
                };
                let present = descr.max_def_level() == 0
                    || (i < levels && defs.get(i) == Some(&descr.max_def_level()));
                if !present {
                    return Err(bad(here, "\"text\" is null".into()));
                }
                let v = vals
                    .next()
                    .ok_or_else(|| bad(here.clone(), "missing value".into()))?;
                let s = std::str::from_utf8(v.data()).map_err(|e| {
                    bad(
                        here.clone(),
                        format!("invalid UTF-8 at byte {} of the value", e.valid_up_to()),
                    )
                })?;
                if !s.is_empty() {
                    sink.doc()?;
                    sink.text(s.to_string())?;
                }
            }
            row += records as u64;
            let now = file_bytes * row.min(total_rows) / total_rows;
            sink.consumed(now - reported);
            reported = now;
        }
    }
    sink.consumed(file_bytes - reported);
    Ok(())
}
