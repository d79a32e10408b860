//! Tests of tfs-bench that need no dataset: how the batch benchmark splits its text.

use tfs_bench::tokenizer::chunks;

#[test]
fn chunks_cover_the_text_in_order_and_end_at_line_boundaries() {
    let text = "first line\nsecond, a bit longer\nthird\né accented\nlast without newline";
    for n in [1, 2, 3, 7, 100] {
        let parts = chunks(text, n);
        assert_eq!(parts.concat(), text, "n = {n}");
        for p in &parts[..parts.len() - 1] {
            assert!(p.ends_with('\n'), "n = {n}: {p:?}");
        }
    }
    assert!(chunks("", 4).is_empty());
}

/// `tfs bench transformer` prints the keys its peer prints (checked against the peer's source).
#[test]
fn transformer_bench_has_the_peers_keys() {
    let line = tfs_bench::transformer::transformer(2, 4, 0);
    let peer = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/peers/torch_transformer.py"
    ))
    .expect("peer script");
    let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
    for k in &keys {
        assert!(peer.contains(&format!("\"{k}\"")), "peer lacks key {k}");
    }
    assert!(line["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(keys.len(), 11);
}
