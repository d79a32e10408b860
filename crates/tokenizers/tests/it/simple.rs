use tfs_tokenizers::char::{CharTokenizer, UNK};
use tfs_tokenizers::word::{WordOptions, WordTokenizer};
use tfs_tokenizers::Tokenizer;

#[test]
fn char_tokenizer_round_trips_and_marks_unknowns() {
    let t = CharTokenizer::train("hello world");
    assert_eq!(t.vocab_size(), 9); // <unk> + " dehlorw"
    let ids = t.encode("hello");
    assert_eq!(t.decode(&ids).unwrap(), "hello");
    let ids = t.encode("hex!");
    assert_eq!(ids[2], UNK);
    assert_eq!(ids[3], UNK);
    assert_eq!(t.decode(&ids).unwrap(), "he\u{FFFD}\u{FFFD}");
    assert!(t.decode(&[99]).is_err());
}

#[test]
fn word_tokenizer_options_min_freq_and_oov() {
    let corpus = "The cat sat. The cat ran! A dog sat.";
    let t = WordTokenizer::train(
        corpus,
        WordOptions {
            min_freq: 2,
            ..WordOptions::default()
        },
    );
    // the(2) cat(2) sat(2) .(2) — ran, !, a, dog once.
    assert_eq!(t.words, vec![".", "cat", "sat", "the"]);
    assert_eq!(t.encode("THE CAT flew."), vec![7, 5, 1, 4]);
    assert_eq!(t.decode(&[2, 7, 5, 3]).unwrap(), "<bos> the cat <eos>");
    assert!((t.oov_rate("the dog") - 0.5).abs() < 1e-12);
    let keep_case = WordTokenizer::train(
        corpus,
        WordOptions {
            lowercase: false,
            split_punctuation: false,
            min_freq: 1,
        },
    );
    assert!(keep_case.words.contains(&"sat.".to_string()));
    assert!(keep_case.words.contains(&"The".to_string()));
}
