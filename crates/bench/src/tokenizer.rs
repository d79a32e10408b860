//! `tfs bench tokenizer`: GPT-2 encoding throughput (one thread; all threads over 64 chunks) and
//! BPE training time on Tiny Shakespeare, with the keys of `bench/peers/tokenizers.py` (tiktoken,
//! HF tokenizers).
//!
//! Each timing is the best of a few repetitions (5 for encoding, 3 for training), which is what
//! the peer does too. Left out: decoding, and encoding with special tokens.

use crate::BenchError;
use serde_json::{json, Value};
use std::path::Path;
use tfs_data::fetch::Fetch;
use tfs_tokenizers::{BpeTokenizer, Split};

/// Splits `text` into about `n` chunks at line boundaries (the documents of the batch benchmark;
/// the peer script splits the same way).
pub fn chunks(text: &str, n: usize) -> Vec<&str> {
    let target = text.len() / n.max(1) + 1;
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + target).min(text.len());
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// Best of `reps` timings of `f`, in seconds.
fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Times GPT-2 encoding of Tiny Shakespeare and training a BPE vocabulary of `vocab_size`.
pub fn tokenizer(data_dir: &Path, fetch: Fetch, vocab_size: usize) -> Result<Value, BenchError> {
    tfs_tokenizers::bpe_tokenizer::check_vocab_size(vocab_size, 0)?;
    let text = tfs_data::text::load_tiny_shakespeare_fetching(data_dir, fetch)?;
    if text.is_empty() {
        return Err(BenchError::Input(
            "the corpus is empty: no throughput to measure".into(),
        ));
    }
    let mb = text.len() as f64 / 1e6;
    let gpt2 = tfs_tokenizers::gpt2::gpt2()?;
    let n_tokens = gpt2.encode_ordinary(&text).len();
    let one = best_of(5, || {
        std::hint::black_box(gpt2.encode_ordinary(&text));
    });
    let docs = chunks(&text, 64);
    let threads = tfs_math::threads();
    let all = best_of(5, || {
        let per = docs.len().div_ceil(threads);
        std::thread::scope(|s| {
            for part in docs.chunks(per) {
                let g = &gpt2;
                s.spawn(move || {
                    part.iter()
                        .map(|d| g.encode_ordinary(d).len())
                        .sum::<usize>()
                });
            }
        });
    });
    let train = best_of(3, || {
        std::hint::black_box(
            BpeTokenizer::train(&[&text], vocab_size, Split::Gpt2, &[])
                .expect("the size was checked above"),
        );
    });
    Ok(json!({
        "impl": crate::impl_name(),
        "threads": threads,
        "corpus_mb": mb,
        "gpt2_tokens": n_tokens,
        "encode_mb_per_s_1thread": mb / one,
        "encode_mb_per_s_all_threads": mb / all,
        "train_vocab_size": vocab_size,
        "train_seconds": train,
    }))
}
