//! GPT-2 weights in and out of Hugging Face's layout: `tfs gpt import-hf` and `export-hf`.
//!
//! A Hugging Face GPT-2 is a directory with `config.json` (a `GPT2Config`) and
//! `model.safetensors`. Its tensors are ours under two spellings:
//!
//! ```text
//!   the hub's files (GPT2Model's names)   save_pretrained of GPT2LMHeadModel   ours
//!   wte.weight            (V, C)           transformer.wte.weight              transformer.wte.weight   (V, C)
//!   wpe.weight            (T, C)           transformer.wpe.weight              transformer.wpe.weight   (T, C)
//!   h.i.ln_1.weight/bias  (C)              transformer.h.i.ln_1.…              transformer.h.i.ln_1.…   (C)
//!   h.i.attn.c_attn.weight (C, 3C)  ᵀ      transformer.h.i.attn.c_attn.weight  … (3C, C)
//!   h.i.attn.c_proj.weight (C, C)   ᵀ      …                                   … (C, C)
//!   h.i.mlp.c_fc.weight    (C, 4C)  ᵀ      …                                   … (4C, C)
//!   h.i.mlp.c_proj.weight  (4C, C)  ᵀ      …                                   … (C, 4C)
//!   h.i.attn.bias, h.i.attn.masked_bias    (old files: the causal mask, a buffer: skipped)
//!   —                                      lm_head.weight (when written: = wte, tied)
//! ```
//!
//! HF's `Conv1D` computes `x W + b` with `W` stored `(in, out)`; our `Linear` stores `(out, in)`
//! like `nn.Linear`, so the four projection weights are transposed on the way in and out (ᵀ).
//! Biases, gains and embeddings are the same arrays.
//!
//! What the config must say, because our GPT computes exactly one variant: `model_type` gpt2,
//! `activation_function` gelu_new (= gelu_pytorch_tanh, the tanh form our kernel computes),
//! `layer_norm_epsilon` 1e-5 (our LayerNorm's), `n_inner` null or 4·n_embd, scaled attention
//! (`scale_attn_weights`, not `scale_attn_by_inverse_layer_idx`), no cross-attention, tied
//! embeddings, and GPT-2's vocabulary (50257: our checkpoints know only that BPE). Anything
//! else is refused with the key and its value, never loaded into a model that computes
//! something different. `n_positions` (or the older `n_ctx`) becomes `block_size`, `resid_pdrop`
//! the dropout.
//!
//! Only safetensors is read: a `pytorch_model.bin` is a pickle, and unpickling can run code, so
//! a directory that has only that is refused with a message saying why. Tensors may be F32, F16,
//! BF16 or F64 (converted to f32). A source that is not an existing path but looks like a hub id
//! (`openai-community/gpt2`, optionally `@revision`) is fetched into the standard Hugging Face
//! cache ([`tfs_data::hub`]) first.
//!
//! Export writes the save_pretrained layout (F32, names sorted, `{"format": "pt"}` metadata,
//! no `lm_head.weight`: transformers ties it to `wte`) and a config `GPT2LMHeadModel` loads,
//! into a temporary directory renamed into place (an earlier export is moved aside first, then
//! removed). Only a GPT-2-vocabulary checkpoint with biases can be written faithfully; anything
//! else is refused.
//!
//! Left out: sharded checkpoints (`model.safetensors.index.json`; no GPT-2 needs them), other
//! architectures (GPT-Neo, GPT-J, …), and the tokenizer files (we assume GPT-2's BPE, which the
//! vocabulary-size check makes likely but cannot prove).

use crate::checkpoint::{self, safetensors_bytes, CheckpointError, TensorMap};
use crate::config::GptConfig;
use crate::model::Gpt;
use crate::vocab::{self, Vocab, GPT2_VOCAB};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use tfs_data::hub::{is_repo_id, Hub};
use tfs_data::DataError;
use tfs_math::Rng;
use tfs_tensor::nn::Module;

/// What went wrong importing or exporting, and where.
#[derive(Debug)]
pub enum HfError {
    /// A file could not be read or written.
    Io { path: PathBuf, msg: String },
    /// A file is there but wrong (malformed JSON, a missing tensor, a wrong shape).
    Invalid { path: PathBuf, msg: String },
    /// A well-formed model our GPT cannot represent (activation, epsilon, vocabulary, …).
    Unsupported { path: PathBuf, msg: String },
    /// The source is neither a directory nor a hub id, or the hub could not provide it.
    Source { src: String, msg: String },
    /// Reading our checkpoint failed.
    Checkpoint(CheckpointError),
}

impl fmt::Display for HfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HfError::Io { path, msg } | HfError::Invalid { path, msg } => {
                write!(f, "{}: {msg}", path.display())
            }
            HfError::Unsupported { path, msg } => {
                write!(f, "{}: cannot be represented: {msg}", path.display())
            }
            HfError::Source { src, msg } => write!(f, "{src}: {msg}"),
            HfError::Checkpoint(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for HfError {}

impl From<CheckpointError> for HfError {
    fn from(e: CheckpointError) -> Self {
        HfError::Checkpoint(e)
    }
}

fn invalid(path: &Path, msg: impl Into<String>) -> HfError {
    HfError::Invalid {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn unsupported(path: &Path, msg: impl Into<String>) -> HfError {
    HfError::Unsupported {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> HfError + '_ {
    move |e| HfError::Io {
        path: path.to_path_buf(),
        msg: e.to_string(),
    }
}

/// The model (in evaluation mode) and its vocabulary from `src`: an existing directory, else a
/// hub id `ORG/NAME[@REVISION]` fetched through `hub` into its cache.
pub fn import_hf(src: &str, hub: &Hub) -> Result<(Gpt, Vocab), HfError> {
    let path = Path::new(src);
    if path.exists() {
        return import_dir(path);
    }
    let (repo, revision) = src.split_once('@').unwrap_or((src, "main"));
    if !is_repo_id(repo) || revision.is_empty() {
        return Err(HfError::Source {
            src: src.into(),
            msg: "neither an existing directory nor a hub model id (like openai-community/gpt2)"
                .into(),
        });
    }
    let hub_err = |e: DataError| HfError::Source {
        src: src.into(),
        msg: e.to_string(),
    };
    let config = hub.fetch(repo, revision, "config.json").map_err(hub_err)?;
    hub.fetch(repo, revision, "model.safetensors")
        .map_err(|e| match e {
            DataError::Download { ref message, .. } if message.starts_with("HTTP 404") => {
                HfError::Source {
                    src: src.into(),
                    msg: format!(
                        "{e}; only model.safetensors is read (a pytorch_model.bin is a pickle, \
                         and unpickling can run code)"
                    ),
                }
            }
            e => hub_err(e),
        })?;
    import_dir(config.parent().expect("a file in a snapshot"))
}

/// The model (in evaluation mode) and its vocabulary from a directory with `config.json` and
/// `model.safetensors`, in either key layout.
pub fn import_dir(dir: &Path) -> Result<(Gpt, Vocab), HfError> {
    let weights = dir.join("model.safetensors");
    if !weights.exists() {
        let why = if dir.join("model.safetensors.index.json").exists() {
            "a sharded checkpoint (model.safetensors.index.json) is not read".to_string()
        } else if dir.join("pytorch_model.bin").exists() {
            "only pytorch_model.bin is there, and it is not read: it is a pickle, and unpickling \
             can run code (convert it to model.safetensors, e.g. with save_pretrained)"
                .to_string()
        } else {
            "not found".to_string()
        };
        return Err(invalid(&weights, why));
    }
    let cfg = read_config(&dir.join("config.json"))?;
    let vocab = Vocab::Gpt2(vocab::gpt2().map_err(|m| invalid(&weights, m))?);
    let bytes = std::fs::read(&weights).map_err(io(&weights))?;
    let model = model_from_safetensors(&bytes, &weights, cfg)?;
    Ok((model, vocab))
}

/// A `GPT2Config` JSON as our [`GptConfig`], every variant we do not compute refused.
pub fn read_config(path: &Path) -> Result<GptConfig, HfError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| invalid(path, format!("not JSON: {e}")))?;
    config_from_json(&v).map_err(|(bad, msg)| {
        if bad {
            unsupported(path, msg)
        } else {
            invalid(path, msg)
        }
    })
}

/// Err((true, …)) for a config we cannot represent, Err((false, …)) for a malformed one.
fn config_from_json(v: &Value) -> Result<GptConfig, (bool, String)> {
    let size = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| v[*k].as_u64())
            .map(|n| n as usize)
            .ok_or_else(|| {
                (
                    false,
                    format!("'{}' missing or not a whole number", keys[0]),
                )
            })
    };
    let no = |m: String| Err((true, m));
    let model_type = v["model_type"].as_str().unwrap_or("gpt2");
    if model_type != "gpt2" {
        return no(format!("model_type '{model_type}' (only gpt2)"));
    }
    let act = v["activation_function"].as_str().unwrap_or("gelu_new");
    if !matches!(act, "gelu_new" | "gelu_pytorch_tanh") {
        return no(format!(
            "activation_function '{act}' (our GPT computes the tanh GELU: gelu_new)"
        ));
    }
    let eps = v["layer_norm_epsilon"].as_f64().unwrap_or(1e-5);
    if (eps - 1e-5).abs() > 1e-12 {
        return no(format!("layer_norm_epsilon {eps} (ours is 1e-5)"));
    }
    let n_embd = size(&["n_embd"])?;
    if !(v["n_inner"].is_null() || v["n_inner"].as_u64() == Some(4 * n_embd as u64)) {
        return no(format!(
            "n_inner {} (the MLP is 4·n_embd = {} wide)",
            v["n_inner"],
            4 * n_embd
        ));
    }
    for (key, want) in [
        ("scale_attn_weights", true),
        ("scale_attn_by_inverse_layer_idx", false),
        ("add_cross_attention", false),
        ("tie_word_embeddings", true),
    ] {
        if v[key].as_bool().is_some_and(|b| b != want) {
            return no(format!("{key} {} (ours: {want})", !want));
        }
    }
    let vocab_size = size(&["vocab_size"])?;
    if vocab_size != GPT2_VOCAB {
        return no(format!(
            "vocab_size {vocab_size} (only GPT-2's vocabulary of {GPT2_VOCAB} is known)"
        ));
    }
    let ours = json!({
        "n_layer": size(&["n_layer"])?, "n_head": size(&["n_head"])?, "n_embd": n_embd,
        "block_size": size(&["n_positions", "n_ctx"])?, "vocab_size": vocab_size,
        "dropout": v["resid_pdrop"].as_f64().unwrap_or(0.1), "bias": true,
    });
    GptConfig::from_json(&ours).map_err(|m| (false, m))
}

/// Is our parameter `name` (`transformer.h.3.mlp.c_fc.weight`) stored transposed by HF?
fn is_conv1d(name: &str) -> bool {
    name.starts_with("transformer.h.")
        && [
            ".attn.c_attn.weight",
            ".attn.c_proj.weight",
            ".mlp.c_fc.weight",
            ".mlp.c_proj.weight",
        ]
        .iter()
        .any(|s| name.ends_with(s))
}

/// `(rows, cols)` row-major → `(cols, rows)`.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

/// IEEE half precision → f32 (exact).
fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let (e, m) = (((h >> 10) & 0x1f) as i32, (h & 0x3ff) as f32);
    match e {
        0 => sign * m * 2f32.powi(-24),
        31 if m == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + m / 1024.0) * 2f32.powi(e - 15),
    }
}

/// One tensor of a safetensors file: its shape and values as f32.
fn decode(
    v: &Value,
    data: &[u8],
    name: &str,
    path: &Path,
) -> Result<(Vec<usize>, Vec<f32>), HfError> {
    let bad = |m: String| invalid(path, format!("tensor '{name}': {m}"));
    let dtype = v["dtype"].as_str().unwrap_or("?");
    let width = match dtype {
        "F32" => 4,
        "F16" | "BF16" => 2,
        "F64" => 8,
        _ => {
            return Err(unsupported(
                path,
                format!("tensor '{name}': dtype {dtype} (F32, F16, BF16 or F64 are read)"),
            ))
        }
    };
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .ok_or_else(|| bad("no shape".into()))?
        .iter()
        .map(|d| d.as_u64().map(|d| d as usize))
        .collect::<Option<_>>()
        .ok_or_else(|| bad("shape is not whole numbers".into()))?;
    let offs: Vec<u64> = v["data_offsets"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let (b, e) = match offs[..] {
        [b, e] if b <= e && e <= data.len() as u64 => (b as usize, e as usize),
        _ => {
            return Err(bad(format!(
                "data_offsets {} outside the {} data bytes",
                v["data_offsets"],
                data.len()
            )))
        }
    };
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad("shape overflows".into()))?;
    if numel.checked_mul(width) != Some(e - b) {
        return Err(bad(format!(
            "{dtype} shape {shape:?} needs {} bytes, data_offsets give {}",
            numel.saturating_mul(width),
            e - b
        )));
    }
    let raw = &data[b..e];
    let vals = match dtype {
        "F32" => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "F64" => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        "F16" => raw
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        _ => raw
            .chunks_exact(2)
            .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
            .collect(),
    };
    Ok((shape, vals))
}

/// The GPT of config `cfg` with every parameter from safetensors `bytes` (read from `path`,
/// which errors name), in either key layout; see the module header.
pub fn model_from_safetensors(bytes: &[u8], path: &Path, cfg: GptConfig) -> Result<Gpt, HfError> {
    if bytes.len() < 8 {
        return Err(invalid(path, "too short for a safetensors header"));
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    if n > (bytes.len() - 8) as u64 {
        return Err(invalid(
            path,
            format!("header of {n} bytes declared, the file has {}", bytes.len()),
        ));
    }
    let (head, data) = bytes[8..].split_at(n as usize);
    let header: Value = serde_json::from_slice(head)
        .map_err(|e| invalid(path, format!("header is not JSON: {e}")))?;
    let entries = header
        .as_object()
        .ok_or_else(|| invalid(path, "header is not a JSON object"))?;
    let mut model = Gpt::new(cfg, &mut Rng::new(0));
    let params: BTreeMap<String, Vec<usize>> = model
        .parameters()
        .into_iter()
        .map(|(name, t)| (name, t.shape().to_vec()))
        .collect();
    // HF name → (our name), buffers and lm_head set aside.
    let mut found: BTreeMap<String, (String, &Value)> = BTreeMap::new();
    let mut lm_head = None;
    let mut prefixed = false;
    for (hf, v) in entries {
        let short = hf.strip_prefix("transformer.").unwrap_or(hf);
        if hf == "__metadata__"
            || short.ends_with(".attn.bias")
            || short.ends_with(".attn.masked_bias")
        {
            continue;
        }
        if hf == "lm_head.weight" {
            lm_head = Some(v);
            continue;
        }
        prefixed |= hf.starts_with("transformer.");
        let ours = format!("transformer.{short}");
        if !params.contains_key(&ours) {
            return Err(invalid(
                path,
                format!(
                    "unexpected tensor '{hf}' (not a parameter of a {}-layer GPT-2)",
                    cfg.n_layer
                ),
            ));
        }
        if let Some((other, _)) = found.insert(ours.clone(), (hf.clone(), v)) {
            return Err(invalid(
                path,
                format!("'{hf}' and '{other}' are the same parameter"),
            ));
        }
    }
    for (name, t) in model.parameters() {
        let hf_name = if prefixed {
            name.clone()
        } else {
            name["transformer.".len()..].to_string()
        };
        let (hf, v) = found
            .remove(&name)
            .ok_or_else(|| invalid(path, format!("no tensor '{hf_name}'")))?;
        let (shape, vals) = decode(v, data, &hf, path)?;
        let want = t.shape().to_vec();
        let conv = is_conv1d(&name);
        let hf_want = if conv {
            vec![want[1], want[0]]
        } else {
            want.clone()
        };
        if shape != hf_want {
            return Err(invalid(
                path,
                format!("tensor '{hf}' has shape {shape:?}; config.json's sizes need {hf_want:?}"),
            ));
        }
        t.assign(&if conv {
            transpose(&vals, want[1], want[0])
        } else {
            vals
        });
    }
    if let Some(v) = lm_head {
        let (shape, vals) = decode(v, data, "lm_head.weight", path)?;
        if shape != model.wte.shape() || vals != model.wte.to_vec() {
            return Err(unsupported(
                path,
                "lm_head.weight differs from wte.weight: an untied output layer (ours is tied)",
            ));
        }
    }
    model.set_training(false);
    Ok(model)
}

/// The `GPT2Config` of our `cfg` that transformers' `GPT2LMHeadModel.from_pretrained` reads.
pub fn hf_config(cfg: &GptConfig) -> Value {
    let p = cfg.dropout as f64;
    json!({
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        // Our model has no dropout on attention probabilities.
        "attn_pdrop": 0.0, "bos_token_id": vocab::GPT2_EOT, "embd_pdrop": p,
        "eos_token_id": vocab::GPT2_EOT, "initializer_range": 0.02, "layer_norm_epsilon": 1e-5,
        "model_type": "gpt2", "n_ctx": cfg.block_size, "n_embd": cfg.n_embd,
        "n_head": cfg.n_head, "n_inner": null, "n_layer": cfg.n_layer,
        "n_positions": cfg.block_size, "reorder_and_upcast_attn": false, "resid_pdrop": p,
        "scale_attn_by_inverse_layer_idx": false, "scale_attn_weights": true,
        "tie_word_embeddings": true, "use_cache": true, "vocab_size": cfg.vocab_size,
    })
}

/// `model`'s parameters under save_pretrained's names, Conv1D weights transposed to `(in, out)`.
pub fn hf_tensors(model: &Gpt) -> TensorMap {
    model
        .parameters()
        .into_iter()
        .map(|(name, t)| {
            let (shape, data) = (t.shape().to_vec(), t.to_vec());
            if is_conv1d(&name) {
                let d = transpose(&data, shape[0], shape[1]);
                (name, (vec![shape[1], shape[0]], d))
            } else {
                (name, (shape, data))
            }
        })
        .collect()
}

/// safetensors bytes of `tensors` with `{"format": "pt"}` metadata (what transformers writes):
/// the new header (length prefix included) and the data, which is `safetensors_bytes`' own (the
/// offsets count from the end of the header, so they do not change). Two parts, so that a 124M
/// export does not copy half a gigabyte once more.
fn with_pt_metadata(plain: &[u8]) -> (Vec<u8>, &[u8]) {
    let n = u64::from_le_bytes(plain[..8].try_into().expect("8 bytes")) as usize;
    let mut header: Map<String, Value> =
        serde_json::from_slice(&plain[8..8 + n]).expect("our own header");
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut h = Value::Object(header).to_string().into_bytes();
    while !(8 + h.len()).is_multiple_of(8) {
        h.push(b' ');
    }
    let mut head = (h.len() as u64).to_le_bytes().to_vec();
    head.extend_from_slice(&h);
    (head, &plain[8 + n..])
}

/// Writes checkpoint `ck` as a Hugging Face GPT-2 directory `out` (config.json +
/// model.safetensors), atomically. `out` may exist only as an earlier export (nothing else in it).
pub fn export_hf(ck: &Path, out: &Path) -> Result<(), HfError> {
    let (model, vocab) = checkpoint::load(ck)?;
    let cfg = model.cfg;
    if !matches!(vocab, Vocab::Gpt2(_)) || !cfg.bias {
        return Err(unsupported(
            ck,
            format!(
                "a {} vocabulary{}: only GPT-2-vocabulary checkpoints with biases are GPT-2s",
                vocab.name(),
                if cfg.bias { "" } else { " without biases" }
            ),
        ));
    }
    if !cfg.is_gpt2() {
        return Err(unsupported(
            ck,
            "a model with Phase 9 switches (RoPE, RMSNorm, SwiGLU, GQA, a window or experts): \
             Hugging Face's GPT-2 holds only GPT-2's architecture",
        ));
    }
    if out.exists() {
        let entries = std::fs::read_dir(out).map_err(io(out))?;
        for e in entries {
            let name = e.map_err(io(out))?.file_name();
            if name != "config.json" && name != "model.safetensors" {
                return Err(invalid(
                    out,
                    format!("exists and holds {name:?}: not overwritten (choose an empty or new folder)"),
                ));
            }
        }
    }
    let tmp = sibling(out, &format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let write = |name: &str, parts: &[&[u8]]| {
        let p = tmp.join(name);
        let mut f = std::fs::File::create(&p).map_err(io(&p))?;
        parts
            .iter()
            .try_for_each(|b| f.write_all(b))
            .and_then(|()| f.sync_all())
            .map_err(io(&p))
    };
    let config = serde_json::to_string_pretty(&hf_config(&cfg)).expect("json");
    write("config.json", &[config.as_bytes()])?;
    let tensors = hf_tensors(&model);
    drop(model);
    let plain = safetensors_bytes(&tensors);
    drop(tensors);
    let (head, data) = with_pt_metadata(&plain);
    write("model.safetensors", &[&head, data])?;
    // As checkpoints are replaced: the old folder aside, the new one in, the old one removed, so
    // a crash leaves a whole export at `out` or at `out.prev`.
    let prev = sibling(out, "prev");
    if out.exists() {
        let _ = std::fs::remove_dir_all(&prev);
        std::fs::rename(out, &prev).map_err(io(out))?;
    }
    std::fs::rename(&tmp, out).map_err(io(out))?;
    let _ = std::fs::remove_dir_all(&prev);
    Ok(())
}

use crate::checkpoint::sibling;
