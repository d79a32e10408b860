//! `tfs gpt prepare`: text, JSON Lines and Parquet files → a directory of token shards
//! ([`crate::shards`]) that training memory-maps.
//!
//! **Pipeline.** One reader thread streams the inputs in order ([`crate::inputs`]) and cuts the
//! documents into batches of about `chunk_bytes` of text; `threads` workers tokenize batches in
//! parallel; this thread puts the results back in input order and writes them. At most
//! `4 × threads` batches are in flight, so memory stays bounded whatever the input size, and the
//! output bytes do not depend on the thread count (batches are cut by the reader alone).
//!
//! **Tokens.** `gpt2`: our byte-level BPE equal to tiktoken's GPT-2 ([`crate::vocab::gpt2`]),
//! document text encoded as ordinary text (a literal `<|endoftext|>` inside a document is just
//! text), and `<|endoftext|>` (50256) written *before* every document, as llm.c's and nanoGPT's
//! FineWeb scripts do, so the stream starts with it and every document follows one. `char`: a
//! first pass over the inputs collects the sorted set of characters (at most 65 536, to fit u16);
//! the second encodes each character as its rank; documents are concatenated with nothing between
//! them (a character vocabulary has no end-of-text symbol), so one text file gives exactly Phase
//! 7's ids.
//!
//! **Split.** By tokens: of the N tokens of the whole stream, the first ⌊N·(1 − f)⌋ are the
//! training split and the rest the validation split (f = `val_fraction`, default 0.1). For one
//! document (Tiny Shakespeare) that is the last 10% of its tokens, as Phase 7's split; for many,
//! the last documents (the split may cut one). The stream is written as training shards first;
//! the tail is then moved into validation shards ([`crate::shards::split_tail`]), a second pass
//! over only the validation fraction.
//!
//! **Atomicity.** Everything is written into `OUT.tmp-PID/` and renamed onto `OUT` at the end;
//! any error (or panic) removes the temporary directory, so a failed prepare leaves nothing where
//! the dataset goes. An existing `OUT` is replaced only if it is empty or a prepared dataset
//! (it has our `meta.json`); anything else is an error, never deleted.
//!
//! Left out: deduplication, filtering, shuffling documents, and resuming an interrupted prepare.

use crate::data::CharVocab;
use crate::inputs::{perr, read, Format, PrepareError, Sink, Stop, Where};
use crate::shards::{split_tail, ShardError, ShardWriter, META_FORMAT, VERSION};
use crate::vocab::{gpt2, Vocab, GPT2_EOT};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Options of [`prepare`].
#[derive(Clone, Debug)]
pub struct PrepareOptions {
    /// Fraction of the tokens (the last ones) that form the validation split, in [0, 1).
    pub val_fraction: f64,
    /// Tokens per shard file (the last shard of a split may hold fewer).
    pub shard_tokens: u64,
    /// Tokenizing threads; 0 = one per core.
    pub threads: usize,
    /// Text per batch of work, in bytes (and the size of the pieces a long text is cut into).
    pub chunk_bytes: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            val_fraction: 0.1,
            shard_tokens: 100_000_000,
            threads: 0,
            chunk_bytes: 256 << 10,
            progress: false,
        }
    }
}

/// What [`prepare`] did.
#[derive(Clone, Debug)]
pub struct Report {
    pub out: PathBuf,
    pub tokenizer: String,
    pub vocab_size: usize,
    pub documents: u64,
    pub input_bytes: u64,
    pub train_tokens: u64,
    pub val_tokens: u64,
    pub train_shards: usize,
    pub val_shards: usize,
    pub threads: usize,
    pub seconds: f64,
}

impl Report {
    /// Input megabytes (10⁶ bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.input_bytes as f64 / 1e6 / self.seconds.max(1e-9)
    }

    pub fn to_json(&self) -> Value {
        json!({"out": self.out.display().to_string(), "tokenizer": self.tokenizer,
               "vocab_size": self.vocab_size, "documents": self.documents,
               "input_bytes": self.input_bytes, "train_tokens": self.train_tokens,
               "val_tokens": self.val_tokens, "train_shards": self.train_shards,
               "val_shards": self.val_shards, "threads": self.threads,
               "seconds": self.seconds, "mb_per_s": self.mb_per_s(),
               "tokens_per_s": (self.train_tokens + self.val_tokens) as f64 / self.seconds.max(1e-9)})
    }
}

impl From<ShardError> for PrepareError {
    fn from(e: ShardError) -> PrepareError {
        PrepareError {
            path: e.path,
            at: e.offset.map_or(Where::File, Where::Byte),
            msg: e.msg,
        }
    }
}

/// Tokenizes `inputs` with `tokenizer` ("gpt2" or "char") into token shards in `out`.
pub fn prepare(
    inputs: &[PathBuf],
    tokenizer: &str,
    out: &Path,
    opts: &PrepareOptions,
) -> Result<Report, PrepareError> {
    let t0 = Instant::now();
    let fail = |m: String| perr(out, Where::File, m);
    if !(0.0..1.0).contains(&opts.val_fraction) {
        return Err(fail(format!(
            "--val-fraction {} must be in [0, 1)",
            opts.val_fraction
        )));
    }
    if opts.shard_tokens == 0 {
        return Err(fail("--shard-tokens must be positive".into()));
    }
    if inputs.is_empty() {
        return Err(fail("no input files".into()));
    }
    let mut sizes = Vec::new();
    for p in inputs {
        Format::of(p)?;
        let m = std::fs::metadata(p).map_err(|e| perr(p, Where::File, e.to_string()))?;
        if !m.is_file() {
            return Err(perr(p, Where::File, "not a file"));
        }
        sizes.push(m.len());
    }
    check_replaceable(out)?;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let total_bytes: u64 = sizes.iter().sum();
    let vocab = match tokenizer {
        "gpt2" => Vocab::Gpt2(gpt2().map_err(|m| fail(format!("GPT-2 tokenizer: {m}")))?),
        "char" => {
            let bar = bar(opts.progress, total_bytes, "characters");
            let mut set = BTreeSet::new();
            let work = |b: &[Piece]| -> BTreeSet<char> {
                b.iter()
                    .flat_map(|p| match p {
                        Piece::Text(s) => s.chars().collect::<Vec<_>>(),
                        Piece::Doc => Vec::new(),
                    })
                    .collect()
            };
            pipeline(inputs, threads, opts.chunk_bytes, &work, &mut |s, n| {
                set.extend(s);
                bar.inc(n);
                Ok(())
            })?;
            bar.finish_and_clear();
            if set.len() > 1 << 16 {
                return Err(fail(format!(
                    "{} distinct characters: more than the 65536 ids of u16 shards",
                    set.len()
                )));
            }
            if set.is_empty() {
                return Err(fail("the inputs hold no text".into()));
            }
            Vocab::Char(CharVocab {
                chars: set.into_iter().collect(),
            })
        }
        other => return Err(fail(format!("unknown tokenizer '{other}' (gpt2 or char)"))),
    };

    let name = out
        .file_name()
        .ok_or_else(|| fail("not a directory name".into()))?;
    let tmp = out.with_file_name(format!(
        "{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| perr(&tmp, Where::File, e.to_string()))?;
    let guard = RemoveOnDrop(Some(tmp.clone()));

    let mut train = ShardWriter::new(&tmp, "train", vocab.name(), vocab.len(), opts.shard_tokens);
    let bar = bar(opts.progress, total_bytes, "tokenizing");
    let mut documents = 0u64;
    let ascii: Vec<u16> = match &vocab {
        Vocab::Char(v) => (0..128u8)
            .map(|b| {
                v.chars
                    .binary_search(&(b as char))
                    .map_or(u16::MAX, |i| i as u16)
            })
            .collect(),
        Vocab::Gpt2(_) => Vec::new(),
    };
    let work = |b: &[Piece]| -> (Vec<u16>, u64) { tokenize(&vocab, &ascii, b) };
    pipeline(
        inputs,
        threads,
        opts.chunk_bytes,
        &work,
        &mut |(toks, docs), n| {
            documents += docs;
            train.push(&toks)?;
            bar.inc(n);
            bar.set_message(format!("{} tokens", train.total()));
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let total = train.total();
    let keep = ((total as f64) * (1.0 - opts.val_fraction)).floor() as u64;
    let mut val = ShardWriter::new(&tmp, "val", vocab.name(), vocab.len(), opts.shard_tokens);
    let train_files = split_tail(&tmp, train.finish()?, keep.min(total), &mut val)?;
    let val_files = val.finish()?;

    let split_json = |files: &[(String, u64)]| {
        json!({"tokens": files.iter().map(|f| f.1).sum::<u64>(),
               "shards": files.iter().map(|(f, n)| json!({"file": f, "tokens": n})).collect::<Vec<_>>()})
    };
    let mut meta = json!({
        "format": META_FORMAT, "version": VERSION,
        "vocab_size": vocab.len(),
        "eot": if vocab.name() == "gpt2" { json!(GPT2_EOT) } else { Value::Null },
        "documents": documents, "val_fraction": opts.val_fraction,
        "shard_tokens": opts.shard_tokens,
        "splits": {"train": split_json(&train_files), "val": split_json(&val_files)},
        "inputs": inputs.iter().zip(&sizes)
            .map(|(p, n)| json!({"path": p.display().to_string(), "bytes": n}))
            .collect::<Vec<_>>(),
    });
    if let (Some(m), Value::Object(v)) = (meta.as_object_mut(), vocab.to_json()) {
        m.extend(v);
    }
    let mp = tmp.join("meta.json");
    let text = serde_json::to_string_pretty(&meta).expect("json") + "\n";
    std::fs::write(&mp, text).map_err(|e| perr(&mp, Where::File, e.to_string()))?;
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| fail(e.to_string()))?;
    }
    std::fs::rename(&tmp, out).map_err(|e| fail(format!("renaming {}: {e}", tmp.display())))?;
    std::mem::forget(guard);
    Ok(Report {
        out: out.to_path_buf(),
        tokenizer: vocab.name().to_string(),
        vocab_size: vocab.len(),
        documents,
        input_bytes: total_bytes,
        train_tokens: keep.min(total),
        val_tokens: total - keep.min(total),
        train_shards: train_files.len(),
        val_shards: val_files.len(),
        threads,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Errors unless `out` is absent, an empty directory, or a prepared dataset (safe to replace).
fn check_replaceable(out: &Path) -> Result<(), PrepareError> {
    if !out.exists() {
        return Ok(());
    }
    let ours = std::fs::read_to_string(out.join("meta.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|m| m["format"] == META_FORMAT);
    let empty = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_none());
    if out.is_dir() && (ours || empty) {
        Ok(())
    } else {
        Err(perr(
            out,
            Where::File,
            "exists and is not a prepared dataset: not replacing it (choose another --out)",
        ))
    }
}

/// Removes a directory when dropped (a failed or panicking prepare); `forget` it on success.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

fn bar(show: bool, total: u64, what: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "  {prefix:11} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    b.set_style(style);
    b.set_prefix(what.to_string());
    b
}

/// The ids of a batch and its number of documents.
fn tokenize(vocab: &Vocab, ascii: &[u16], batch: &[Piece]) -> (Vec<u16>, u64) {
    let mut out = Vec::new();
    let mut docs = 0;
    for p in batch {
        match (p, vocab) {
            (Piece::Doc, Vocab::Gpt2(_)) => {
                docs += 1;
                out.push(GPT2_EOT as u16);
            }
            (Piece::Doc, Vocab::Char(_)) => docs += 1,
            (Piece::Text(s), Vocab::Gpt2(t)) => {
                out.extend(t.encode_ordinary(s).into_iter().map(|i| i as u16))
            }
            (Piece::Text(s), Vocab::Char(v)) => out.extend(s.chars().map(|c| {
                match ascii.get(c as usize) {
                    Some(&i) if i != u16::MAX => i,
                    // Every character was collected by the first pass.
                    _ => v
                        .chars
                        .binary_search(&c)
                        .expect("collected in the first pass") as u16,
                }
            })),
        }
    }
    (out, docs)
}

/// A document start or a piece of its text.
enum Piece {
    Doc,
    Text(String),
}

/// A batch of work: pieces in input order, the input bytes they came from, their sequence number.
struct Batch {
    seq: u64,
    pieces: Vec<Piece>,
    bytes: u64,
}

/// The reader side: fills batches and hands them to the workers, at most as many ahead of the
/// writer as there are permits.
struct Batcher {
    tx: SyncSender<Batch>,
    permits: Receiver<()>,
    cur: Vec<Piece>,
    text: usize,
    bytes: u64,
    seq: u64,
    chunk: usize,
}

impl Batcher {
    fn flush(&mut self) -> Result<(), Stop> {
        if self.cur.is_empty() && self.bytes == 0 {
            return Ok(());
        }
        self.permits.recv().map_err(|_| Stop::Cancelled)?;
        let b = Batch {
            seq: self.seq,
            pieces: std::mem::take(&mut self.cur),
            bytes: std::mem::take(&mut self.bytes),
        };
        self.seq += 1;
        self.text = 0;
        self.tx.send(b).map_err(|_| Stop::Cancelled)
    }
}

impl Sink for Batcher {
    fn doc(&mut self) -> Result<(), Stop> {
        self.cur.push(Piece::Doc);
        Ok(())
    }
    fn text(&mut self, s: String) -> Result<(), Stop> {
        self.text += s.len();
        self.cur.push(Piece::Text(s));
        if self.text >= self.chunk {
            self.flush()?;
        }
        Ok(())
    }
    fn consumed(&mut self, bytes: u64) {
        self.bytes += bytes;
    }
}

/// Runs `work` over the batches of `inputs` on `threads` threads and hands the results to
/// `consume` in input order, with the input bytes each covers.
fn pipeline<R: Send>(
    inputs: &[PathBuf],
    threads: usize,
    chunk: usize,
    work: &(dyn Fn(&[Piece]) -> R + Sync),
    consume: &mut dyn FnMut(R, u64) -> Result<(), PrepareError>,
) -> Result<(), PrepareError> {
    let in_flight = 4 * threads.max(1);
    let (batch_tx, batch_rx) = sync_channel::<Batch>(threads.max(1));
    // Shared by the workers only: when the last one stops, the reader's sends fail.
    let batch_rx = Arc::new(Mutex::new(batch_rx));
    let (res_tx, res_rx) = channel::<(u64, Option<R>, u64)>();
    let (permit_tx, permit_rx) = sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        permit_tx.send(()).expect("the receiver is here");
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || -> Result<(), Stop> {
            let mut b = Batcher {
                tx: batch_tx,
                permits: permit_rx,
                cur: Vec::new(),
                text: 0,
                bytes: 0,
                seq: 0,
                chunk: chunk.max(1),
            };
            for p in inputs {
                read(p, chunk, &mut b)?;
            }
            b.flush()
        });
        for _ in 0..threads.max(1) {
            let (res_tx, batch_rx) = (res_tx.clone(), Arc::clone(&batch_rx));
            s.spawn(move || loop {
                let next = batch_rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                let Ok(b) = next else { break };
                // A panic in `work` (a bug) becomes an error here rather than a hang.
                let r = std::panic::catch_unwind(AssertUnwindSafe(|| work(&b.pieces))).ok();
                if res_tx.send((b.seq, r, b.bytes)).is_err() {
                    break;
                }
            });
        }
        drop(batch_rx);
        drop(res_tx);
        let mut waiting = BTreeMap::new();
        let mut next = 0u64;
        let mut result = Ok(());
        'recv: for (seq, r, bytes) in res_rx.iter() {
            waiting.insert(seq, (r, bytes));
            while let Some((r, bytes)) = waiting.remove(&next) {
                let done = match r {
                    Some(r) => consume(r, bytes),
                    None => Err(perr(
                        Path::new("prepare"),
                        Where::File,
                        "a tokenizing thread panicked",
                    )),
                };
                if let Err(e) = done {
                    result = Err(e);
                    break 'recv;
                }
                next += 1;
                let _ = permit_tx.send(());
            }
        }
        // On an error here, closing the channels stops the reader and the workers.
        drop(res_rx);
        drop(permit_tx);
        let read = match reader.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        result?;
        match read {
            Ok(()) => Ok(()),
            Err(Stop::Bad(e)) => Err(e),
            Err(Stop::Cancelled) => Err(perr(
                Path::new("prepare"),
                Where::File,
                "the reader stopped without an error (internal)",
            )),
        }
    })
}
