//! The bounded fuzz run of the checkpoint and token-shard readers (issue 17's harness, grown with
//! the new formats): safetensors files, checkpoint configs and token shards mutated by
//! `fuzz/mutate.rs` from fixed seeds. Every read must return, never panic; a file that parses must
//! hold exactly what its header declares.

use crate::mutate::{for_each_systematic, mutate, Kind, Rng};
use std::collections::BTreeMap;
use std::path::Path;
use tfs_gpt::checkpoint::{parse_safetensors, safetensors_bytes, TensorMap};
use tfs_gpt::{Gpt, GptConfig};
use tfs_tensor::nn::Module;

fn seed_file() -> Vec<u8> {
    let cfg = GptConfig {
        n_layer: 1,
        n_head: 2,
        n_embd: 4,
        block_size: 3,
        vocab_size: 5,
        dropout: 0.0,
        bias: true,
        n_kv_head: 2,
        ..GptConfig::default()
    };
    let m = Gpt::new(cfg, &mut tfs_math::Rng::new(1));
    let t: TensorMap = m
        .parameters()
        .into_iter()
        .map(|(n, t)| (n, (t.shape().to_vec(), t.to_vec())))
        .collect();
    safetensors_bytes(&t)
}

fn check(bytes: &[u8]) {
    if let Ok(t) = parse_safetensors(bytes, Path::new("fuzz.safetensors")) {
        for (name, (shape, data)) in &t {
            assert_eq!(shape.iter().product::<usize>(), data.len(), "{name}");
        }
    }
}

#[test]
fn safetensors_files_survive_mutation() {
    let seed = seed_file();
    let mut n = 0;
    for_each_systematic(&seed, Kind::Safetensors, 1, &mut |v| {
        check(v);
        n += 1;
    });
    for cut in 0..seed.len() {
        check(&seed[..cut]);
        n += 1;
    }
    let mut rng = Rng::new(17);
    for _ in 0..30_000 {
        check(&mutate(&seed, Kind::Safetensors, &mut rng));
        n += 1;
    }
    // A few hand-made hostile headers.
    let mut one = BTreeMap::new();
    one.insert("w".to_string(), (vec![2], vec![1.0f32, 2.0]));
    let good = safetensors_bytes(&one);
    let hlen = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&good[8..8 + hlen]).unwrap().to_string();
    for evil in [
        header.replace("[2]", "[18446744073709551615, 2]"),
        header.replace("[0,8]", "[8,0]"),
        header.replace("\"F32\"", "\"F64\""),
        header.replace("[0,8]", "[0,18446744073709551615]"),
        "[1, 2, 3]".to_string(),
    ] {
        let mut v = (evil.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(evil.as_bytes());
        v.extend_from_slice(&good[8 + hlen..]);
        assert!(
            parse_safetensors(&v, Path::new("evil")).is_err(),
            "accepted {evil}"
        );
        n += 1;
    }
    assert!(n > 30_000);
}

/// A token shard of 300 ids below 7 (header + data), as `ShardWriter` writes them.
fn shard_seed() -> Vec<u8> {
    let h = tfs_gpt::shards::Header {
        count: 300,
        vocab_size: 7,
        tokenizer: "char".into(),
    };
    let mut v = h.to_bytes().to_vec();
    (0..300u16).for_each(|i| v.extend_from_slice(&(i % 7).to_le_bytes()));
    v
}

fn check_shard(bytes: &[u8]) {
    use tfs_gpt::shards::HEADER_BYTES;
    if let Ok(h) = tfs_gpt::shards::check_shard(bytes, Path::new("fuzz.bin")) {
        assert_eq!(bytes.len() as u64, HEADER_BYTES as u64 + 2 * h.count);
        assert!(bytes[HEADER_BYTES..]
            .chunks_exact(2)
            .all(|c| (u16::from_le_bytes([c[0], c[1]]) as u32) < h.vocab_size));
    }
}

#[test]
fn token_shards_survive_mutation() {
    let seed = shard_seed();
    check_shard(&seed);
    assert!(tfs_gpt::shards::check_shard(&seed, Path::new("s")).is_ok());
    let mut n = 0;
    for_each_systematic(&seed, Kind::Shard, 1, &mut |v| {
        check_shard(v);
        n += 1;
    });
    for cut in 0..seed.len() {
        check_shard(&seed[..cut]);
        n += 1;
    }
    let mut rng = Rng::new(23);
    for _ in 0..30_000 {
        check_shard(&mutate(&seed, Kind::Shard, &mut rng));
        n += 1;
    }
    assert!(n > 30_000);
    // Through `open`: a prepared dataset whose shard is mutated opens or errors, never panics,
    // and what opens reads back whole.
    let dir = std::env::temp_dir().join(format!("tfs-gpt-fuzz-shards-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("a.txt");
    std::fs::write(&input, "abcdefg ".repeat(40)).unwrap();
    let out = dir.join("s");
    let o = tfs_gpt::prepare::PrepareOptions {
        shard_tokens: 100,
        ..Default::default()
    };
    tfs_gpt::prepare::prepare(&[input], "char", &out, &o).unwrap();
    let path = out.join("train_000001.bin");
    let good = std::fs::read(&path).unwrap();
    for _ in 0..300 {
        std::fs::write(&path, mutate(&good, Kind::Shard, &mut rng)).unwrap();
        if let Ok(p) = tfs_gpt::shards::open(&out) {
            assert_eq!(p.train.to_vec().len(), p.train.len());
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
