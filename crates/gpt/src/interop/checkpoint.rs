//! Checkpoints: a directory with `config.json` (the architecture and the vocabulary, see [`Vocab`])
//! and `model.safetensors` (every named parameter).
//!
//! safetensors (the Hugging Face format): an 8-byte little-endian header length N, N bytes of JSON
//! `{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}`, then the raw
//! little-endian data, offsets counted from the end of the header. Names are written sorted, so
//! the same weights give the same bytes. The directory is written under a temporary name and
//! renamed into place, so a crash never leaves a half-written checkpoint where a good one was.
//! Reading checks every declared size and offset against the file before trusting it.
//!
//! A training checkpoint adds `optimizer.safetensors` (AdamW's moments, `exp_avg.NAME` and
//! `exp_avg_sq.NAME`) and `state.json` (step, data cursor, generator states), written by
//! [`crate::train`] through [`save_with`].

use crate::config::GptConfig;
use crate::model::Gpt;
use crate::vocab::Vocab;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use tfs_math::Rng;
use tfs_tensor::nn::Module;

/// Named tensors: name → (shape, row-major data).
pub type TensorMap = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// What went wrong reading or writing a checkpoint, and where.
#[derive(Debug)]
pub struct CheckpointError {
    pub path: PathBuf,
    pub msg: String,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.msg)
    }
}

impl std::error::Error for CheckpointError {}

fn err(path: &Path, msg: impl Into<String>) -> CheckpointError {
    CheckpointError {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// The bytes of a safetensors file holding `tensors` (name → (shape, data)).
pub fn safetensors_bytes(tensors: &TensorMap) -> Vec<u8> {
    let mut header = Map::new();
    let mut off = 0usize;
    for (name, (shape, data)) in tensors {
        let end = off + data.len() * 4;
        header.insert(
            name.clone(),
            json!({"dtype": "F32", "shape": shape, "data_offsets": [off, end]}),
        );
        off = end;
    }
    let mut h = Value::Object(header).to_string().into_bytes();
    // Pad the header with spaces so the data starts 8-byte aligned (as the format recommends).
    while !(8 + h.len()).is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + off);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    for (_, data) in tensors.values() {
        data.iter()
            .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    }
    out
}

/// The tensors of a safetensors file (F32 only), every size and offset checked.
pub fn read_safetensors(path: &Path) -> Result<TensorMap, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
    parse_safetensors(&bytes, path)
}

/// The tensors of safetensors `bytes` (read from `path`, which errors name).
pub fn parse_safetensors(bytes: &[u8], path: &Path) -> Result<TensorMap, CheckpointError> {
    if bytes.len() < 8 {
        return Err(err(
            path,
            format!("{} bytes: too short for a safetensors header", bytes.len()),
        ));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n > (bytes.len() - 8) as u64 {
        return Err(err(
            path,
            format!("header of {n} bytes declared, the file has {}", bytes.len()),
        ));
    }
    let data = &bytes[8 + n as usize..];
    let header: Value = serde_json::from_slice(&bytes[8..8 + n as usize])
        .map_err(|e| err(path, format!("header is not JSON: {e}")))?;
    let obj = header
        .as_object()
        .ok_or_else(|| err(path, "header is not a JSON object"))?;
    let mut out = BTreeMap::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            continue;
        }
        let bad = |m: &str| err(path, format!("tensor '{name}': {m}"));
        if v["dtype"] != "F32" {
            return Err(bad(&format!("dtype {} (only F32 is read)", v["dtype"])));
        }
        let shape: Vec<usize> = v["shape"]
            .as_array()
            .ok_or_else(|| bad("no shape"))?
            .iter()
            .map(|d| {
                d.as_u64()
                    .map(|d| d as usize)
                    .ok_or_else(|| bad("shape is not whole numbers"))
            })
            .collect::<Result<_, _>>()?;
        let offs = v["data_offsets"]
            .as_array()
            .ok_or_else(|| bad("no data_offsets"))?;
        let (b, e) = match (
            offs.first().and_then(Value::as_u64),
            offs.get(1).and_then(Value::as_u64),
        ) {
            (Some(b), Some(e)) if offs.len() == 2 && b <= e && e <= data.len() as u64 => {
                (b as usize, e as usize)
            }
            _ => {
                return Err(bad(&format!(
                    "data_offsets {offs:?} outside the {} data bytes",
                    data.len()
                )))
            }
        };
        let numel = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad("shape overflows"))?;
        if numel.checked_mul(4) != Some(e - b) {
            return Err(bad(&format!(
                "shape {shape:?} needs {} bytes, offsets give {}",
                numel.saturating_mul(4),
                e - b
            )));
        }
        let vals = data[b..e]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        out.insert(name.clone(), (shape, vals));
    }
    Ok(out)
}

/// Writes `dir/` atomically with `config.json`, `model.safetensors` and `extra` files.
///
/// The files go into `dir.tmp-PID/` (each synced), then the old `dir` is renamed to `dir.prev`,
/// the new one renamed to `dir`, and `dir.prev` removed. A crash at any moment leaves either
/// `dir` or `dir.prev` whole; [`recover`] renames `dir.prev` back when `dir` is missing.
pub fn save_with(
    dir: &Path,
    model: &Gpt,
    vocab: &Vocab,
    extra: &[(&str, Vec<u8>)],
) -> Result<(), CheckpointError> {
    let tmp = sibling(dir, &format!("tmp-{}", std::process::id()));
    remove_stale_temporaries(dir);
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| err(&tmp, e.to_string()))?;
    let tensors: TensorMap = model
        .parameters()
        .into_iter()
        .map(|(n, t)| (n, (t.shape().to_vec(), t.to_vec())))
        .collect();
    let mut config = json!({"format": "tfs-gpt checkpoint 1", "model": model.cfg.to_json()});
    if let (Some(c), Value::Object(v)) = (config.as_object_mut(), vocab.to_json()) {
        c.extend(v);
    }
    let write = |name: &str, bytes: &[u8]| -> Result<(), CheckpointError> {
        let p = tmp.join(name);
        let mut f = std::fs::File::create(&p).map_err(|e| err(&p, e.to_string()))?;
        f.write_all(bytes)
            .and_then(|_| f.sync_all())
            .map_err(|e| err(&p, e.to_string()))
    };
    write(
        "config.json",
        serde_json::to_string_pretty(&config)
            .expect("json")
            .as_bytes(),
    )?;
    write("model.safetensors", &safetensors_bytes(&tensors))?;
    for (name, bytes) in extra {
        write(name, bytes)?;
    }
    let prev = sibling(dir, "prev");
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&prev);
        std::fs::rename(dir, &prev).map_err(|e| err(dir, e.to_string()))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| err(dir, e.to_string()))?;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Make the renames themselves durable.
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    let _ = std::fs::remove_dir_all(&prev);
    Ok(())
}

/// `dir` with `.suffix` appended to its last component (`checkpoint` → `checkpoint.tmp-PID`).
pub(crate) fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

/// After a crash between [`save_with`]'s two renames `dir` is missing and `dir.prev` holds the
/// last whole checkpoint: rename it back. Returns whether `dir` exists afterwards.
pub fn recover(dir: &Path) -> bool {
    let prev = sibling(dir, "prev");
    if !dir.exists() && prev.exists() {
        let _ = std::fs::rename(&prev, dir);
    }
    remove_stale_temporaries(dir);
    dir.exists()
}

/// Removes `dir.tmp-PID` folders that processes killed while saving left behind (not this
/// process's own).
fn remove_stale_temporaries(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!("{}.tmp-", name.to_string_lossy());
    let mine = format!("{prefix}{}", std::process::id());
    for e in std::fs::read_dir(parent).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if n.starts_with(&prefix) && n != mine {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Writes a checkpoint of the weights (no training state) atomically; see [`save_with`].
pub fn save(dir: &Path, model: &Gpt, vocab: &Vocab) -> Result<(), CheckpointError> {
    save_with(dir, model, vocab, &[])
}

/// Reads a checkpoint directory: the model (in evaluation mode) and its vocabulary.
pub fn load(dir: &Path) -> Result<(Gpt, Vocab), CheckpointError> {
    let cp = dir.join("config.json");
    let text = std::fs::read_to_string(&cp).map_err(|e| err(&cp, e.to_string()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| err(&cp, format!("not JSON: {e}")))?;
    let cfg = GptConfig::from_json(&v["model"]).map_err(|m| err(&cp, m))?;
    let vocab = Vocab::from_json(&v).map_err(|m| err(&cp, m))?;
    if vocab.len() != cfg.vocab_size {
        return Err(err(
            &cp,
            format!(
                "a {} vocabulary of {} ids for a model of {}",
                vocab.name(),
                vocab.len(),
                cfg.vocab_size
            ),
        ));
    }
    let wp = dir.join("model.safetensors");
    let mut tensors = read_safetensors(&wp)?;
    let mut model = Gpt::new(cfg, &mut Rng::new(0));
    for (name, t) in model.parameters() {
        let (shape, data) = tensors
            .remove(&name)
            .ok_or_else(|| err(&wp, format!("no tensor '{name}'")))?;
        if shape != t.shape() {
            return Err(err(
                &wp,
                format!(
                    "'{name}' has shape {shape:?}, the model needs {:?}",
                    t.shape()
                ),
            ));
        }
        t.assign(&data);
    }
    if let Some(extra) = tensors.keys().next() {
        return Err(err(&wp, format!("unexpected tensor '{extra}'")));
    }
    model.set_training(false);
    Ok((model, vocab))
}
