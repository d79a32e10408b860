//! Token shards: a prepared dataset on disk, memory-mapped for training (Phase 8).
//!
//! A prepared dataset is a directory (written by [`crate::prepare`]):
//!
//! ```text
//!   meta.json            format version, tokenizer (+ the characters of a char vocabulary),
//!                        vocab_size, tokens per split and per shard, the input files and sizes
//!   train_000000.bin     the first `shard_tokens` tokens of the training split
//!   train_000001.bin     the next ones, …
//!   val_000000.bin       the validation split, likewise
//! ```
//!
//! Each split is one stream of tokens cut into shards of at most `shard_tokens` tokens; a split
//! always has at least one shard file (possibly of 0 tokens). A shard file is a fixed 64-byte
//! header, all little-endian, then the tokens as u16 little-endian (so the data is 64-byte
//! aligned in a page-aligned map):
//!
//! ```text
//!   offset  size  field
//!        0     8  magic b"TFSTOKEN"
//!        8     4  format version (u32) = 1
//!       12     4  bytes per token (u32) = 2
//!       16     8  token count N (u64)
//!       24     4  vocab_size (u32): every token id is below it
//!       28     4  reserved, 0
//!       32    32  tokenizer name, ASCII, NUL-padded ("gpt2", "char")
//!       64   2N   the tokens
//! ```
//!
//! The file's size must be exactly 64 + 2N. [`open`] maps every shard, checks every header against
//! its size and against `meta.json` (tokenizer, vocab_size, token count), and scans every token
//! id once against vocab_size (a sequential read at memory or disk speed: the cost of one pass
//! over the data, paid at open so that [`Tokens::copy`] never sees an out-of-range id). Anything
//! wrong is a [`ShardError`] naming the file and the byte offset, never a panic.
//!
//! [`ShardWriter`] writes a split's stream shard by shard (the header's count is patched when a
//! shard is closed); [`split_tail`] moves the last tokens of the training stream into the
//! validation split once the total is known. Writing happens in a temporary directory that
//! `prepare` renames into place, so readers never see a half-written dataset.
//!
//! Left out: u32 tokens (vocabularies above 65 536 ids; the header's bytes-per-token field leaves
//! room), compression, checksums of the token data.

use crate::vocab::Vocab;
use serde_json::Value;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use tfs_kernels::mmap::{map_read_only, Mmap};

/// The first 8 bytes of every shard.
pub const MAGIC: [u8; 8] = *b"TFSTOKEN";
/// The shard format version written and read.
pub const VERSION: u32 = 1;
/// Size of a shard's header; the tokens start here.
pub const HEADER_BYTES: usize = 64;
/// Longest tokenizer name the header holds.
pub const NAME_BYTES: usize = 32;
/// `meta.json`'s `format` value.
pub const META_FORMAT: &str = "tfs-gpt token shards";

/// What is wrong with a prepared dataset, and where.
#[derive(Debug)]
pub struct ShardError {
    pub path: PathBuf,
    /// Byte offset in the file, when the problem is at one.
    pub offset: Option<u64>,
    pub msg: String,
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{}: byte {o}: {}", self.path.display(), self.msg),
            None => write!(f, "{}: {}", self.path.display(), self.msg),
        }
    }
}

impl std::error::Error for ShardError {}

fn err(path: &Path, offset: Option<u64>, msg: impl Into<String>) -> ShardError {
    ShardError {
        path: path.to_path_buf(),
        offset,
        msg: msg.into(),
    }
}

fn io_err(path: &Path, e: std::io::Error) -> ShardError {
    err(path, None, e.to_string())
}

/// A shard's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub count: u64,
    pub vocab_size: u32,
    pub tokenizer: String,
}

impl Header {
    /// The 64 header bytes. Panics on a tokenizer name that is not 1-32 ASCII bytes (a programming
    /// error: the names are ours).
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let name = self.tokenizer.as_bytes();
        assert!(
            !name.is_empty() && name.len() <= NAME_BYTES && name.is_ascii(),
            "tokenizer name {:?} must be 1-{NAME_BYTES} ASCII bytes",
            self.tokenizer
        );
        let mut h = [0u8; HEADER_BYTES];
        h[..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&2u32.to_le_bytes());
        h[16..24].copy_from_slice(&self.count.to_le_bytes());
        h[24..28].copy_from_slice(&self.vocab_size.to_le_bytes());
        h[32..32 + name.len()].copy_from_slice(name);
        h
    }

    /// Reads and checks the header at the start of `bytes` (from `path`, which errors name).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Header, ShardError> {
        if bytes.len() < HEADER_BYTES {
            return Err(err(
                path,
                Some(bytes.len() as u64),
                format!(
                    "{} bytes: too short for the {HEADER_BYTES}-byte header of a token shard",
                    bytes.len()
                ),
            ));
        }
        if bytes[..8] != MAGIC {
            return Err(err(
                path,
                Some(0),
                format!(
                    "not a token shard: magic {:?}, expected \"TFSTOKEN\"",
                    String::from_utf8_lossy(&bytes[..8])
                ),
            ));
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != VERSION {
            return Err(err(
                path,
                Some(8),
                format!("format version {version}; this build reads version {VERSION}"),
            ));
        }
        let width = u32_at(12);
        if width != 2 {
            return Err(err(
                path,
                Some(12),
                format!("{width} bytes per token; only 2 (u16) is read"),
            ));
        }
        let count = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes"));
        let vocab_size = u32_at(24);
        if vocab_size == 0 || vocab_size > 1 << 16 {
            return Err(err(
                path,
                Some(24),
                format!("vocab_size {vocab_size} does not fit u16 ids (1 to 65536)"),
            ));
        }
        let name = &bytes[32..64];
        let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
        if len == 0
            || !name[..len].iter().all(|b| b.is_ascii_graphic())
            || name[len..].iter().any(|&b| b != 0)
        {
            return Err(err(
                path,
                Some(32),
                "the tokenizer name is not NUL-padded printable ASCII",
            ));
        }
        Ok(Header {
            count,
            vocab_size,
            tokenizer: String::from_utf8_lossy(&name[..len]).into_owned(),
        })
    }
}

/// Checks a whole shard held in `bytes`: its header, its size (exactly 64 + 2·count) and every
/// token id (below vocab_size). Returns the header.
pub fn check_shard(bytes: &[u8], path: &Path) -> Result<Header, ShardError> {
    let h = Header::parse(bytes, path)?;
    let want = h
        .count
        .checked_mul(2)
        .and_then(|n| n.checked_add(HEADER_BYTES as u64));
    if want != Some(bytes.len() as u64) {
        return Err(err(
            path,
            Some(16),
            format!(
                "the header counts {} tokens ({} bytes with the header), the file has {} bytes",
                h.count,
                want.map_or("too many".to_string(), |w| w.to_string()),
                bytes.len()
            ),
        ));
    }
    if let Some(i) = first_out_of_range(&bytes[HEADER_BYTES..], h.vocab_size) {
        let id = u16::from_le_bytes([bytes[HEADER_BYTES + 2 * i], bytes[HEADER_BYTES + 2 * i + 1]]);
        return Err(err(
            path,
            Some((HEADER_BYTES + 2 * i) as u64),
            format!(
                "token {i} is {id}, outside the vocabulary of {}",
                h.vocab_size
            ),
        ));
    }
    Ok(h)
}

/// Index of the first little-endian u16 in `data` that is ≥ `vocab`, if any. A max over blocks
/// (which the compiler vectorises) finds the block; only a bad block is searched.
fn first_out_of_range(data: &[u8], vocab: u32) -> Option<usize> {
    const BLOCK: usize = 4096;
    for (b, chunk) in data.chunks(2 * BLOCK).enumerate() {
        let max = chunk
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .fold(0u16, u16::max);
        if max as u32 >= vocab {
            let i = chunk
                .chunks_exact(2)
                .position(|c| u16::from_le_bytes([c[0], c[1]]) as u32 >= vocab)
                .expect("the block holds the maximum");
            return Some(b * BLOCK + i);
        }
    }
    None
}

/// One shard's tokens: a mapped file (tokens from byte 64 on) or a vector.
enum Shard {
    Mapped(Mmap),
    Owned(Vec<u16>),
}

/// A split: the concatenated stream of its shards' tokens.
pub struct Tokens {
    shards: Vec<Shard>,
    /// `starts[i]` = position of shard i's first token in the stream; one more entry = the length.
    starts: Vec<usize>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tokens({} in {} shards)", self.len(), self.shards.len())
    }
}

impl Tokens {
    /// Tokens held in memory (tests, character-level text).
    pub fn from_vec(ids: Vec<u16>) -> Tokens {
        let n = ids.len();
        Tokens {
            shards: vec![Shard::Owned(ids)],
            starts: vec![0, n],
        }
    }

    /// Total tokens over all shards.
    pub fn len(&self) -> usize {
        *self.starts.last().expect("starts is never empty")
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of shards.
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Appends tokens `pos..pos + n` of the stream (which may span shards) to `out`.
    pub fn copy(&self, pos: usize, n: usize, out: &mut Vec<usize>) {
        assert!(
            pos.checked_add(n).is_some_and(|e| e <= self.len()),
            "Tokens::copy: {pos}..{pos}+{n} outside the {} tokens",
            self.len()
        );
        out.reserve(n);
        let (mut pos, end) = (pos, pos + n);
        // The last shard whose start is ≤ pos (empty shards share a start with the next).
        let mut s = self
            .starts
            .partition_point(|&st| st <= pos)
            .saturating_sub(1);
        while pos < end {
            let (a, b) = (self.starts[s], self.starts[s + 1]);
            let (lo, hi) = (pos - a, end.min(b) - a);
            match &self.shards[s] {
                Shard::Owned(v) => out.extend(v[lo..hi].iter().map(|&t| t as usize)),
                Shard::Mapped(m) => {
                    let d = &m[HEADER_BYTES + 2 * lo..HEADER_BYTES + 2 * hi];
                    out.extend(
                        d.chunks_exact(2)
                            .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize),
                    );
                }
            }
            pos = a + hi;
            s += 1;
        }
    }

    /// The whole stream as ids (for small splits and tests).
    pub fn to_vec(&self) -> Vec<usize> {
        let mut v = Vec::new();
        self.copy(0, self.len(), &mut v);
        v
    }
}

/// A prepared dataset, opened.
#[derive(Debug)]
pub struct Prepared {
    pub train: Tokens,
    pub val: Tokens,
    pub vocab: Vocab,
    /// The whole `meta.json`.
    pub meta: Value,
}

/// Opens the prepared dataset in `dir`: reads `meta.json`, rebuilds the vocabulary, maps every
/// shard listed there and checks it (header, size, counts against the meta, every token id).
pub fn open(dir: &Path) -> Result<Prepared, ShardError> {
    let mp = dir.join("meta.json");
    let text = std::fs::read_to_string(&mp).map_err(|e| io_err(&mp, e))?;
    let meta: Value =
        serde_json::from_str(&text).map_err(|e| err(&mp, None, format!("not JSON: {e}")))?;
    if meta["format"] != META_FORMAT || meta["version"] != VERSION {
        return Err(err(
            &mp,
            None,
            format!(
                "format {} version {}; expected \"{META_FORMAT}\" version {VERSION}",
                meta["format"], meta["version"]
            ),
        ));
    }
    let vocab = Vocab::from_json(&meta).map_err(|m| err(&mp, None, m))?;
    let vocab_size = meta["vocab_size"].as_u64().unwrap_or(0);
    if vocab_size != vocab.len() as u64 || vocab_size > 1 << 16 {
        return Err(err(
            &mp,
            None,
            format!(
                "vocab_size {} for a {} vocabulary of {} ids (at most 65536 fit u16 shards)",
                meta["vocab_size"],
                vocab.name(),
                vocab.len()
            ),
        ));
    }
    let split = |name: &str| -> Result<Tokens, ShardError> {
        let list = meta["splits"][name]["shards"]
            .as_array()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| err(&mp, None, format!("no shard list for split '{name}'")))?;
        let mut t = Tokens {
            shards: Vec::new(),
            starts: vec![0],
        };
        for s in list {
            let (file, count) = match (s["file"].as_str(), s["tokens"].as_u64()) {
                (Some(f), Some(c)) if is_plain_name(f) => (f, c),
                _ => return Err(err(&mp, None, format!("bad shard entry {s} in '{name}'"))),
            };
            let path = dir.join(file);
            let f = File::open(&path).map_err(|e| io_err(&path, e))?;
            let map = map_read_only(&f).map_err(|e| io_err(&path, e))?;
            let h = check_shard(&map, &path)?;
            if h.count != count || h.tokenizer != vocab.name() || h.vocab_size as u64 != vocab_size
            {
                return Err(err(
                    &path,
                    Some(16),
                    format!(
                        "the header says {} tokens of {} (vocab {}), meta.json {count} of {} (vocab {vocab_size})",
                        h.count, h.tokenizer, h.vocab_size, vocab.name()
                    ),
                ));
            }
            let start = *t.starts.last().expect("non-empty");
            t.starts.push(start + count as usize);
            t.shards.push(Shard::Mapped(map));
        }
        let total = meta["splits"][name]["tokens"].as_u64();
        if total != Some(t.len() as u64) {
            return Err(err(
                &mp,
                None,
                format!(
                    "split '{name}' declares {} tokens, its shards hold {}",
                    meta["splits"][name]["tokens"],
                    t.len()
                ),
            ));
        }
        Ok(t)
    };
    Ok(Prepared {
        train: split("train")?,
        val: split("val")?,
        vocab,
        meta,
    })
}

/// A file name without directories (meta.json may not point outside its folder).
fn is_plain_name(f: &str) -> bool {
    !f.is_empty() && !f.contains(['/', '\\']) && f != "." && f != ".."
}

/// The file name of shard `i` of a split: `train_000003.bin`.
pub fn shard_name(split: &str, i: usize) -> String {
    format!("{split}_{i:06}.bin")
}

/// Writes one split's token stream into shards of at most `shard_tokens` tokens in `dir`.
pub struct ShardWriter {
    dir: PathBuf,
    split: &'static str,
    header: Header,
    shard_tokens: u64,
    /// Closed and open shards: (file name, tokens).
    files: Vec<(String, u64)>,
    cur: Option<BufWriter<File>>,
}

impl ShardWriter {
    pub fn new(
        dir: &Path,
        split: &'static str,
        tokenizer: &str,
        vocab_size: usize,
        shard_tokens: u64,
    ) -> ShardWriter {
        assert!(shard_tokens > 0, "shard_tokens must be positive");
        assert!(
            (1..=1 << 16).contains(&vocab_size),
            "vocab_size {vocab_size}"
        );
        ShardWriter {
            dir: dir.to_path_buf(),
            split,
            header: Header {
                count: 0,
                vocab_size: vocab_size as u32,
                tokenizer: tokenizer.to_string(),
            },
            shard_tokens,
            files: Vec::new(),
            cur: None,
        }
    }

    /// Tokens written so far.
    pub fn total(&self) -> u64 {
        self.files.iter().map(|f| f.1).sum()
    }

    /// Appends `toks` to the stream, opening shards as they fill.
    pub fn push(&mut self, mut toks: &[u16]) -> Result<(), ShardError> {
        let mut buf = Vec::new();
        while !toks.is_empty() {
            if self.cur.is_none() || self.files.last().is_some_and(|f| f.1 == self.shard_tokens) {
                self.open_next()?;
            }
            let last = self.files.last_mut().expect("a shard is open");
            let take = toks.len().min((self.shard_tokens - last.1) as usize);
            buf.clear();
            toks[..take]
                .iter()
                .for_each(|t| buf.extend_from_slice(&t.to_le_bytes()));
            let path = self.dir.join(&last.0);
            let w = self.cur.as_mut().expect("a shard is open");
            w.write_all(&buf).map_err(|e| io_err(&path, e))?;
            last.1 += take as u64;
            toks = &toks[take..];
        }
        Ok(())
    }

    fn open_next(&mut self) -> Result<(), ShardError> {
        self.close_current()?;
        let name = shard_name(self.split, self.files.len());
        let path = self.dir.join(&name);
        let mut f =
            BufWriter::with_capacity(1 << 20, File::create(&path).map_err(|e| io_err(&path, e))?);
        f.write_all(&self.header.to_bytes())
            .map_err(|e| io_err(&path, e))?;
        self.files.push((name, 0));
        self.cur = Some(f);
        Ok(())
    }

    /// Flushes the open shard, writes its count into its header and syncs it.
    fn close_current(&mut self) -> Result<(), ShardError> {
        let Some(w) = self.cur.take() else {
            return Ok(());
        };
        let (name, count) = self.files.last().expect("an open shard is listed").clone();
        let path = self.dir.join(&name);
        let mut f = w.into_inner().map_err(|e| io_err(&path, e.into_error()))?;
        let header = Header {
            count,
            ..self.header.clone()
        };
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.write_all(&header.to_bytes()))
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err(&path, e))
    }

    /// Closes the last shard (creating an empty one if nothing was written) and returns every
    /// shard as (file name, tokens).
    pub fn finish(mut self) -> Result<Vec<(String, u64)>, ShardError> {
        if self.files.is_empty() {
            self.open_next()?;
        }
        self.close_current()?;
        Ok(self.files)
    }
}

/// Moves the tokens of `train` (finished shards in `dir`) from position `keep` on into `val`,
/// shortening the shard where `keep` falls and deleting the ones after it. Returns the training
/// shards that remain (at least one, possibly empty). Reads the moved tail once, in 1 MiB blocks.
pub fn split_tail(
    dir: &Path,
    train: Vec<(String, u64)>,
    keep: u64,
    val: &mut ShardWriter,
) -> Result<Vec<(String, u64)>, ShardError> {
    let mut kept = Vec::new();
    let mut start = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut toks: Vec<u16> = Vec::with_capacity(buf.len() / 2);
    for (name, count) in train {
        let path = dir.join(&name);
        let end = start + count;
        if end <= keep {
            kept.push((name, count));
        } else {
            // Tokens [from, count) of this shard move to val.
            let from = keep.saturating_sub(start);
            let mut f = File::open(&path).map_err(|e| io_err(&path, e))?;
            f.seek(SeekFrom::Start(HEADER_BYTES as u64 + 2 * from))
                .map_err(|e| io_err(&path, e))?;
            let mut r = BufReader::new(f).take(2 * (count - from));
            loop {
                let n = read_full(&mut r, &mut buf).map_err(|e| io_err(&path, e))?;
                if n == 0 {
                    break;
                }
                toks.clear();
                toks.extend(
                    buf[..n]
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]])),
                );
                val.push(&toks)?;
            }
            if from > 0 || kept.is_empty() {
                // Shorten this shard to its first `from` tokens.
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| io_err(&path, e))?;
                let header = Header {
                    count: from,
                    ..val.header.clone()
                };
                f.set_len(HEADER_BYTES as u64 + 2 * from)
                    .and_then(|_| f.write_all(&header.to_bytes()))
                    .and_then(|_| f.sync_all())
                    .map_err(|e| io_err(&path, e))?;
                kept.push((name, from));
            } else {
                std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
            }
        }
        start = end;
    }
    Ok(kept)
}

/// Reads until `buf` is full or the reader ends (an even number of bytes, as shards hold).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl crate::data::TokenSource for Tokens {
    fn len(&self) -> usize {
        Tokens::len(self)
    }
    fn copy(&self, pos: usize, n: usize, out: &mut Vec<usize>) {
        Tokens::copy(self, pos, n, out)
    }
}
