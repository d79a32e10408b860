use crate::{random_strings, varied_corpus};
use std::collections::HashMap;
use tfs_tokenizers::bpe::{merge_heap, merge_simple, train, Merge};
use tfs_tokenizers::{BpeTokenizer, Split, Tokenizer};

/// The textbook trainer: recount every pair of every word after each merge. The incremental
/// trainer must learn exactly the same merges.
fn naive_train(pieces: &HashMap<Vec<u8>, u64>, n: usize) -> Vec<Merge> {
    let mut words: Vec<(Vec<u32>, u64)> = pieces
        .iter()
        .map(|(p, &c)| (p.iter().map(|&b| b as u32).collect(), c))
        .collect();
    let mut merges = Vec::new();
    for k in 0..n {
        let mut counts: HashMap<(u32, u32), u64> = HashMap::new();
        for (w, c) in &words {
            for p in w.windows(2) {
                *counts.entry((p[0], p[1])).or_default() += c;
            }
        }
        let Some((&pair, &count)) = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        else {
            break;
        };
        let new = 256 + k as u32;
        for (w, _) in words.iter_mut() {
            let mut out = Vec::new();
            let mut i = 0;
            while i < w.len() {
                if i + 1 < w.len() && (w[i], w[i + 1]) == pair {
                    out.push(new);
                    i += 2;
                } else {
                    out.push(w[i]);
                    i += 1;
                }
            }
            *w = out;
        }
        merges.push(Merge {
            left: pair.0,
            right: pair.1,
            count,
        });
    }
    merges
}

#[test]
fn incremental_training_learns_the_same_merges_as_recounting() {
    let mut pieces: HashMap<Vec<u8>, u64> = HashMap::new();
    for s in varied_corpus().iter().chain(random_strings(300, 1).iter()) {
        for p in tfs_tokenizers::pretokenize::split_gpt2(s) {
            *pieces.entry(p.as_bytes().to_vec()).or_default() += 1;
        }
    }
    let (fast, tokens) = train(&pieces, 150);
    assert_eq!(fast, naive_train(&pieces, 150));
    assert_eq!(tokens.len(), 256 + fast.len());
}

#[test]
fn first_merges_on_a_toy_corpus() {
    let (tok, merges) = BpeTokenizer::train(&["aaab aaab aab"], 259, Split::None, &[]).unwrap();
    // "aa" is the most frequent pair (4 + 4 + ... occurrences), then "aa"+"a" or "aa"+"b".
    assert_eq!(
        (merges[0].left, merges[0].right),
        (b'a' as u32, b'a' as u32)
    );
    assert_eq!(tok.vocab_size(), 259);
    assert_eq!(tok.decode(&tok.encode("aaab aab")).unwrap(), "aaab aab");
}

#[test]
fn heap_and_simple_merging_agree() {
    let text: String = varied_corpus().concat();
    let (tok, _) = BpeTokenizer::train(&[&text], 600, Split::None, &[]).unwrap();
    for s in varied_corpus().iter().chain(random_strings(200, 2).iter()) {
        let b = s.as_bytes();
        assert_eq!(
            merge_simple(&tok.bpe.ranks, b),
            merge_heap(&tok.bpe.ranks, b),
            "{s:?}"
        );
    }
}

#[test]
fn round_trips_any_text() {
    let text: String = varied_corpus().concat();
    let specials = ["<|endoftext|>"];
    let (tok, _) = BpeTokenizer::train(&[&text], 500, Split::Gpt2, &specials).unwrap();
    for s in varied_corpus().iter().chain(random_strings(2000, 3).iter()) {
        let ids = tok.encode(s);
        assert_eq!(&tok.decode(&ids).unwrap(), s);
        assert!(ids.iter().all(|&i| (i as usize) < tok.vocab_size()));
    }
    let ids = tok.encode("a<|endoftext|>b");
    assert!(ids.contains(&499), "{ids:?}");
    assert!(!tok.encode_ordinary("a<|endoftext|>b").contains(&499));
}

#[test]
fn a_vocabulary_below_the_base_is_refused() {
    let err = BpeTokenizer::train(&["x"], 200, Split::Gpt2, &[]).unwrap_err();
    assert!(
        err.to_string().contains("below the 256 base tokens"),
        "{err}"
    );
}

#[test]
fn decode_reports_cut_characters_and_unknown_ids() {
    let (tok, _) = BpeTokenizer::train(&["hi"], 256, Split::None, &[]).unwrap();
    let ids = tok.encode("é"); // two bytes, two tokens
    assert_eq!(ids.len(), 2);
    assert!(matches!(
        tok.decode(&ids[..1]),
        Err(tfs_tokenizers::TokenizerError::InvalidUtf8 { valid_up_to: 0 })
    ));
    assert!(tok.decode(&[256]).is_err());
}
