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
