//! Hugging Face interop against `transformers` (fixtures/gen/hf_gpt2.py): a random tiny GPT-2
//! saved by `save_pretrained`, its logits, losses and a windowed score. Imported in both key
//! layouts (the hub's is made here by renaming the fixture's tensors in memory), from a directory
//! and from a stand-in hub on 127.0.0.1; exported and re-imported bit for bit; and every input we
//! refuse, refused with the file and the tensor or key named.
//!
//! Tolerances: logits within 3e-5 and losses within 1e-5 of transformers' float32 forward, the
//! windowed score (log-softmax in f64) within 1e-6. Measured when written: max |Δlogit| 5.7e-6,
//! max |Δloss| 1.9e-6, Δscore 7e-9 (both sides f32, different summation orders; the tests print
//! theirs).

use crate::hub_server::{File, HubServer, COMMIT};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tfs_data::hub::Hub;
use tfs_gpt::checkpoint::{read_safetensors, save, TensorMap};
use tfs_gpt::hf::{export_hf, import_dir, import_hf, HfError};
use tfs_gpt::score::score;
use tfs_gpt::Gpt;
use tfs_tensor::nn::Module;

const LOGIT_TOL: f64 = 3e-5;
const LOSS_TOL: f64 = 1e-5;
const SCORE_TOL: f64 = 1e-6;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hf_gpt2")
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("expected.json")).unwrap())
        .unwrap()
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tfs-gpt-hf-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A safetensors file of `(name, dtype, shape, raw little-endian bytes)`.
fn st_bytes(entries: &[(String, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in entries {
        let off = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [off, data.len()]}),
        );
    }
    let h = Value::Object(header).to_string().into_bytes();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

fn le(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn fixture_tensors() -> TensorMap {
    read_safetensors(&fixture().join("model/model.safetensors")).unwrap()
}

/// The fixture's tensors as the hub's gpt2 file names them (no `transformer.` prefix), with the
/// old causal-mask buffers, F32.
fn hub_layout(t: &TensorMap) -> Vec<u8> {
    let mut e: Vec<_> = t
        .iter()
        .map(|(n, (s, d))| {
            (
                n["transformer.".len()..].to_string(),
                "F32",
                s.clone(),
                le(d),
            )
        })
        .collect();
    for i in 0..2 {
        let mask: Vec<f32> = (0..32 * 32)
            .map(|k| ((k % 32) <= (k / 32)) as u8 as f32)
            .collect();
        e.push((
            format!("h.{i}.attn.bias"),
            "F32",
            vec![1, 1, 32, 32],
            le(&mask),
        ));
        e.push((
            format!("h.{i}.attn.masked_bias"),
            "F32",
            vec![],
            le(&[-1e4]),
        ));
    }
    st_bytes(&e)
}

fn fixture_config() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("model/config.json")).unwrap())
        .unwrap()
}

/// A model directory with this config and these weights.
fn model_dir(name: &str, config: &Value, weights: &[u8]) -> PathBuf {
    let d = temp(name);
    std::fs::write(d.join("config.json"), config.to_string()).unwrap();
    std::fs::write(d.join("model.safetensors"), weights).unwrap();
    d
}

/// Max |Δlogit| and max |Δloss| against transformers over every fixture case.
fn parity(m: &Gpt) -> (f64, f64) {
    let (mut dz, mut dl) = (0.0f64, 0.0f64);
    let v = m.cfg.vocab_size;
    for c in expected()["cases"].as_array().unwrap() {
        let ids: Vec<usize> = serde_json::from_value(c["ids"].clone()).unwrap();
        let at: Vec<usize> = serde_json::from_value(c["at"].clone()).unwrap();
        let t = ids.len();
        let z = m.forward(&ids, 1, t).to_vec();
        for (p, row) in z.chunks_exact(v).enumerate() {
            let mx = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
            let lse = mx + row.iter().map(|&x| (x as f64 - mx).exp()).sum::<f64>().ln();
            dz = dz.max((lse - c["logsumexp"][p].as_f64().unwrap()).abs());
            for (k, &i) in at.iter().enumerate() {
                dz = dz.max((row[i] as f64 - c["logits_at"][p][k].as_f64().unwrap()).abs());
            }
            assert_eq!(
                tfs_math::argmax(row.iter().copied()),
                c["argmax"][p].as_u64().unwrap() as usize
            );
        }
        if t > 1 {
            let loss = m.loss(&ids[..t - 1], &ids[1..], 1, t - 1).item() as f64;
            dl = dl.max((loss - c["mean_loss"].as_f64().unwrap()).abs());
        }
    }
    (dz, dl)
}

fn assert_parity(m: &Gpt, what: &str) {
    let (dz, dl) = parity(m);
    eprintln!("{what}: max |Δlogit| {dz:.2e}, max |Δloss| {dl:.2e} against transformers");
    assert!(
        dz <= LOGIT_TOL && dl <= LOSS_TOL,
        "{what}: Δlogit {dz:e}, Δloss {dl:e}"
    );
}

#[test]
fn save_pretrained_layout_gives_transformers_logits_and_loss() {
    let (m, vocab) = import_dir(&fixture().join("model")).unwrap();
    assert_eq!(
        (m.cfg.n_layer, m.cfg.n_head, m.cfg.n_embd, m.cfg.block_size),
        (2, 2, 8, 32)
    );
    assert_eq!(vocab.name(), "gpt2");
    assert_parity(&m, "save_pretrained layout");
    // The text case's ids are what tiktoken gave the text.
    let c = &expected()["cases"][2];
    let ids: Vec<usize> = serde_json::from_value(c["ids"].clone()).unwrap();
    assert_eq!(vocab.encode(c["text"].as_str().unwrap()).unwrap(), ids);
}

#[test]
fn hub_layout_with_buffers_and_bf16_and_f16_import() {
    let t = fixture_tensors();
    let d = model_dir("hub-layout", &fixture_config(), &hub_layout(&t));
    let (m, _) = import_dir(&d).unwrap();
    assert_parity(&m, "hub layout");
    // BF16: every weight is read as the bf16 value it is (the top 16 bits of an f32).
    let bf: Vec<_> = t
        .iter()
        .map(|(n, (s, d))| {
            let b = d
                .iter()
                .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes());
            (n.clone(), "BF16", s.clone(), b.collect())
        })
        .collect();
    std::fs::write(d.join("model.safetensors"), st_bytes(&bf)).unwrap();
    let (m, _) = import_dir(&d).unwrap();
    for (name, p) in m.parameters() {
        let (_, src) = &t[&name];
        let got = p.to_vec();
        let rounded: Vec<f32> = src
            .iter()
            .map(|x| f32::from_bits(x.to_bits() & 0xffff_0000))
            .collect();
        if name.contains("c_attn.weight") {
            // transposed: compare as multisets is enough to show values are exact
            let (mut a, mut b) = (got.clone(), rounded.clone());
            a.sort_by(f32::total_cmp);
            b.sort_by(f32::total_cmp);
            assert_eq!(a, b, "{name}");
        } else if !name.contains(".c_") {
            assert_eq!(got, rounded, "{name}");
        }
    }
    // F16: known bit patterns (1, -2, 1/3 rounded, the smallest subnormal, the largest normal).
    let mut e: Vec<_> = t
        .iter()
        .filter(|(n, _)| *n != "transformer.ln_f.weight")
        .map(|(n, (s, d))| (n.clone(), "F32", s.clone(), le(d)))
        .collect();
    let halves: [u16; 8] = [
        0x3C00, 0xC000, 0x3555, 0x0001, 0x7BFF, 0x0000, 0x8000, 0x3800,
    ];
    e.push((
        "transformer.ln_f.weight".into(),
        "F16",
        vec![8],
        halves.iter().flat_map(|h| h.to_le_bytes()).collect(),
    ));
    std::fs::write(d.join("model.safetensors"), st_bytes(&e)).unwrap();
    let (m, _) = import_dir(&d).unwrap();
    let want = [
        1.0,
        -2.0,
        0.333_251_95,
        2f32.powi(-24),
        65504.0,
        0.0,
        -0.0,
        0.5,
    ];
    assert_eq!(m.ln_f.weight().to_vec(), want);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_tied_lm_head_is_accepted_and_an_untied_one_refused() {
    let t = fixture_tensors();
    let mut e: Vec<_> = t
        .iter()
        .map(|(n, (s, d))| (n.clone(), "F32", s.clone(), le(d)))
        .collect();
    let (ws, wd) = &t["transformer.wte.weight"];
    e.push(("lm_head.weight".into(), "F32", ws.clone(), le(wd)));
    let d = model_dir("lm-head", &fixture_config(), &st_bytes(&e));
    assert_parity(&import_dir(&d).unwrap().0, "with lm_head.weight");
    let mut other = wd.clone();
    other[5] += 1.0;
    e.last_mut().unwrap().3 = le(&other);
    std::fs::write(d.join("model.safetensors"), st_bytes(&e)).unwrap();
    let err = import_dir(&d).err().unwrap();
    assert!(matches!(err, HfError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("lm_head.weight"), "{err}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn export_then_import_is_bit_identical_and_our_checkpoint_bytes_survive() {
    let (m, vocab) = import_dir(&fixture().join("model")).unwrap();
    let root = temp("export");
    let (ck, out) = (root.join("ck"), root.join("hf"));
    save(&ck, &m, &vocab).unwrap();
    export_hf(&ck, &out).unwrap();
    export_hf(&ck, &out).unwrap(); // over an earlier export
    let (back, _) = import_dir(&out).unwrap();
    for ((n, a), (_, b)) in m.parameters().iter().zip(back.parameters()) {
        let bits = |v: Vec<f32>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a.to_vec()), bits(b.to_vec()), "{n}");
    }
    let ck2 = root.join("ck2");
    save(&ck2, &back, &vocab).unwrap();
    for f in ["model.safetensors", "config.json"] {
        assert_eq!(
            std::fs::read(ck.join(f)).unwrap(),
            std::fs::read(ck2.join(f)).unwrap(),
            "{f}"
        );
    }
    // The exported file is in save_pretrained's layout: the fixture's names, shapes and values.
    let ours = read_safetensors(&out.join("model.safetensors")).unwrap();
    assert_eq!(ours, fixture_tensors());
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["model_type"], "gpt2");
    assert_eq!(cfg["activation_function"], "gelu_new");
    // A folder holding anything else is not overwritten.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let e = export_hf(&ck, &out).err().unwrap().to_string();
    assert!(e.contains("notes.txt"), "{e}");
    // A character-vocabulary checkpoint is not a GPT-2.
    let chars = tfs_gpt::Vocab::Char(tfs_gpt::data::CharVocab::from_text("abcdefg"));
    let cfg = tfs_gpt::GptConfig {
        vocab_size: 7,
        ..m.cfg
    };
    save(&ck, &Gpt::new(cfg, &mut tfs_math::Rng::new(1)), &chars).unwrap();
    let e = export_hf(&ck, &root.join("hf2")).err().unwrap();
    assert!(
        matches!(e, HfError::Unsupported { .. }) && e.to_string().contains("char"),
        "{e}"
    );
    assert!(!root.join("hf2").exists());
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn score_equals_transformers_windowed_loss() {
    let (m, vocab) = import_dir(&fixture().join("model")).unwrap();
    let s = &expected()["score"];
    let text = s["text"].as_str().unwrap();
    let ids: Vec<usize> = serde_json::from_value(s["ids"].clone()).unwrap();
    assert_eq!(vocab.encode(text).unwrap(), ids);
    let r = score(&m, &vocab, text).unwrap();
    let want = s["mean_loss"].as_f64().unwrap();
    eprintln!(
        "score: {} tokens, mean loss {} (transformers {want}, Δ {:.2e})",
        r.tokens,
        r.mean_loss,
        (r.mean_loss - want).abs()
    );
    assert_eq!(r.tokens as u64, s["predicted"].as_u64().unwrap());
    assert!((r.mean_loss - want).abs() <= SCORE_TOL);
    assert!((r.perplexity - r.mean_loss.exp()).abs() < 1e-9);
    assert!(
        score(&m, &vocab, "Hi").is_err(),
        "one token predicts nothing"
    );
}

#[test]
fn a_hub_id_is_fetched_into_the_hf_cache_through_a_local_server() {
    let files = vec![
        File {
            name: "config.json".into(),
            bytes: std::fs::read(fixture().join("model/config.json")).unwrap(),
            lfs: false,
        },
        File {
            name: "model.safetensors".into(),
            bytes: hub_layout(&fixture_tensors()),
            lfs: true,
        },
    ];
    let server = HubServer::start("tfs-test/tiny-gpt2", Some("old/tiny"), files.clone());
    let cache = temp("hub-cache");
    let hub = Hub {
        endpoint: server.base.clone(),
        cache: cache.clone(),
        offline: false,
    };
    let (m, _) = import_hf("tfs-test/tiny-gpt2", &hub).unwrap();
    assert_parity(&m, "hub id");
    let repo = cache.join("models--tfs-test--tiny-gpt2");
    let snap = repo.join("snapshots").join(COMMIT);
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        COMMIT
    );
    assert!(std::fs::symlink_metadata(snap.join("model.safetensors"))
        .unwrap()
        .file_type()
        .is_symlink());
    let sha = tfs_data::fetch::sha256_hex(&files[1].bytes);
    assert_eq!(
        std::fs::read(repo.join("blobs").join(sha)).unwrap(),
        files[1].bytes
    );
    // Cached: no request the second time, even offline.
    let n = server.requests().len();
    let offline = Hub {
        offline: true,
        ..hub.clone()
    };
    import_hf("tfs-test/tiny-gpt2", &offline).unwrap();
    assert_eq!(server.requests().len(), n);
    // Offline and not cached: an error naming the file.
    let e = import_hf("tfs-test/other", &offline)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("offline") && e.contains("config.json"), "{e}");
    // A renamed repository: a relative redirect, followed.
    import_hf("old/tiny", &hub).unwrap();
    assert!(cache.join("models--old--tiny/refs/main").exists());
    // A repository without model.safetensors (only the pickle): refused, saying why.
    let pickle_only = HubServer::start("tfs-test/pickle", None, vec![files[0].clone()]);
    let hub2 = Hub {
        endpoint: pickle_only.base.clone(),
        ..hub.clone()
    };
    let e = import_hf("tfs-test/pickle", &hub2)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("404") && e.contains("pickle"), "{e}");
    // Neither a path nor an id.
    let e = import_hf("no/such/dir", &hub).err().unwrap();
    assert!(matches!(e, HfError::Source { .. }), "{e}");
    std::fs::remove_dir_all(&cache).ok();
}

#[test]
fn bad_directories_are_refused_naming_the_file_and_tensor() {
    let t = fixture_tensors();
    let entries = |skip: &str| -> Vec<(String, &str, Vec<usize>, Vec<u8>)> {
        t.iter()
            .filter(|(n, _)| n.as_str() != skip)
            .map(|(n, (s, d))| (n.clone(), "F32", s.clone(), le(d)))
            .collect()
    };
    let cfg = fixture_config();
    let check = |name: &str, config: &Value, weights: Vec<u8>, want: &[&str], unsupported: bool| {
        let d = model_dir(name, config, &weights);
        let e = import_dir(&d)
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        let msg = e.to_string();
        for w in want {
            assert!(msg.contains(w), "{name}: {msg}");
        }
        assert_eq!(
            matches!(e, HfError::Unsupported { .. }),
            unsupported,
            "{name}: {msg}"
        );
        std::fs::remove_dir_all(&d).ok();
    };
    let missing = "transformer.h.1.mlp.c_fc.bias";
    check(
        "missing",
        &cfg,
        st_bytes(&entries(missing)),
        &[
            "model.safetensors",
            "no tensor 'transformer.h.1.mlp.c_fc.bias'",
        ],
        false,
    );
    let mut wrong = entries("");
    let i = wrong
        .iter()
        .position(|e| e.0 == "transformer.h.0.attn.c_attn.weight")
        .unwrap();
    wrong[i].2 = vec![24, 8]; // stored (out, in): not HF's Conv1D layout
    check(
        "shape",
        &cfg,
        st_bytes(&wrong),
        &["transformer.h.0.attn.c_attn.weight", "[24, 8]", "[8, 24]"],
        false,
    );
    let mut extra = entries("");
    extra.push((
        "transformer.h.2.ln_1.weight".into(),
        "F32",
        vec![8],
        le(&[0.0; 8]),
    ));
    check(
        "extra",
        &cfg,
        st_bytes(&extra),
        &["unexpected tensor 'transformer.h.2.ln_1.weight'"],
        false,
    );
    let mut i64s = entries("");
    i64s[0].1 = "I64";
    check("dtype", &cfg, st_bytes(&i64s), &["dtype I64"], true);
    let ok = st_bytes(&entries(""));
    for (key, val, word) in [
        (
            "activation_function",
            json!("gelu"),
            "activation_function 'gelu'",
        ),
        ("layer_norm_epsilon", json!(1e-6), "layer_norm_epsilon"),
        ("vocab_size", json!(50304), "vocab_size 50304"),
        ("n_inner", json!(16), "n_inner 16"),
        ("model_type", json!("gpt_neo"), "gpt_neo"),
        (
            "scale_attn_by_inverse_layer_idx",
            json!(true),
            "scale_attn_by_inverse_layer_idx",
        ),
    ] {
        let mut c = cfg.clone();
        c[key] = val;
        check(key, &c, ok.clone(), &["config.json", word], true);
    }
    let mut c = cfg.clone();
    c.as_object_mut().unwrap().remove("n_embd");
    check("no n_embd", &c, ok.clone(), &["'n_embd' missing"], false);
    // pytorch_model.bin only: refused, and never opened.
    let d = temp("pickle");
    std::fs::write(d.join("config.json"), cfg.to_string()).unwrap();
    std::fs::write(d.join("pytorch_model.bin"), b"\x80\x02 not read").unwrap();
    let e = import_dir(&d).err().unwrap().to_string();
    assert!(
        e.contains("pytorch_model.bin") && e.contains("pickle") && e.contains("model.safetensors"),
        "{e}"
    );
    std::fs::remove_dir_all(&d).ok();
}

/// The importer's safetensors reader on mutated files (fuzz/mutate.rs, fixed seeds): every
/// read returns, never panics.
#[test]
fn hf_safetensors_survive_mutation() {
    use crate::mutate::{for_each_systematic, mutate, Kind, Rng};
    let cfg = tfs_gpt::GptConfig {
        n_layer: 1,
        n_head: 2,
        n_embd: 4,
        block_size: 3,
        vocab_size: 5,
        dropout: 0.0,
        bias: true,
        n_kv_head: 2,
        ..tfs_gpt::GptConfig::default()
    };
    let m = Gpt::new(cfg, &mut tfs_math::Rng::new(1));
    let seed = tfs_gpt::checkpoint::safetensors_bytes(&tfs_gpt::hf::hf_tensors(&m));
    let path = Path::new("fuzz/model.safetensors");
    let read = |b: &[u8]| {
        let _ = tfs_gpt::hf::model_from_safetensors(b, path, cfg);
    };
    assert!(tfs_gpt::hf::model_from_safetensors(&seed, path, cfg).is_ok());
    for_each_systematic(&seed, Kind::Safetensors, 1, &mut |v| read(v));
    for cut in 0..seed.len() {
        read(&seed[..cut]);
    }
    let mut rng = Rng::new(14);
    for _ in 0..5_000 {
        read(&mutate(&seed, Kind::Safetensors, &mut rng));
    }
}
