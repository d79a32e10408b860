use tfs_tokenizers::char::CharTokenizer;
use tfs_tokenizers::word::{WordOptions, WordTokenizer};
use tfs_tokenizers::{load, BpeTokenizer, Split, Tokenizer, TokenizerError};

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("tfs-tok-{name}-{}", std::process::id()))
}

#[test]
fn every_kind_saves_and_loads_identically() {
    let corpus = "To be, or not to be: that is the question.\n🙂 ünïcode";
    let (bpe, _) = BpeTokenizer::train(&[corpus], 300, Split::Gpt2, &["<|endoftext|>"]).unwrap();
    let toks: Vec<Box<dyn Tokenizer>> = vec![
        Box::new(bpe),
        Box::new(CharTokenizer::train(corpus)),
        Box::new(WordTokenizer::train(
            corpus,
            WordOptions {
                min_freq: 1,
                lowercase: false,
                split_punctuation: true,
            },
        )),
    ];
    for t in toks {
        let path = temp(t.kind());
        t.save(&path).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(back.kind(), t.kind());
        assert_eq!(back.vocab_size(), t.vocab_size());
        assert_eq!(back.to_file_text(), t.to_file_text());
        let probe = "to be or not, the question 🙂 <|endoftext|>";
        assert_eq!(back.encode(probe), t.encode(probe));
        std::fs::remove_file(&path).ok();
    }
}

fn load_err(text: &str) -> (usize, String) {
    let path = temp("bad");
    std::fs::write(&path, text).unwrap();
    let e = load(&path).err().expect("should fail");
    std::fs::remove_file(&path).ok();
    match e {
        TokenizerError::Format { line, message, .. } => (line, message),
        e => panic!("expected a format error, got {e}"),
    }
}

#[test]
fn malformed_files_are_typed_errors_with_lines() {
    assert!(load_err("").1.contains("empty"));
    assert!(load_err("hello 1\n").1.contains("not a tokenizer file"));
    let (line, msg) = load_err("tfs-tokenizer 3\nkind char\n");
    assert_eq!(line, 1);
    assert!(msg.contains("version 3 is not supported"), "{msg}");
    assert!(load_err("tfs-tokenizer 1\n").1.contains("no 'kind'"));
    assert!(load_err("tfs-tokenizer 1\nkind nope\n")
        .1
        .contains("unknown tokenizer kind"));
    let (line, msg) = load_err("tfs-tokenizer 1\nkind char\ntoken 0 3c756e6b3e\ntoken 2 61\n");
    assert_eq!(line, 4);
    assert!(msg.contains("out of order"), "{msg}");
    let (line, msg) = load_err("tfs-tokenizer 1\nkind char\ntoken 0 3c756e6b3e\ntoken 1 6g\n");
    assert_eq!(line, 4);
    assert!(msg.contains("not hex"), "{msg}");
    assert!(load_err("tfs-tokenizer 1\nkind bpe\ntoken 0 61\n")
        .1
        .contains("256 single bytes"));
    let (line, msg) = load_err("tfs-tokenizer 1\nkind word\nlowercase maybe\n");
    assert_eq!(line, 3);
    assert!(msg.contains("expected true or false"), "{msg}");
}

#[test]
fn a_missing_file_names_the_path() {
    let e = load(std::path::Path::new("/no/such/tokenizer.tok"))
        .err()
        .unwrap();
    assert!(e.to_string().starts_with("/no/such/tokenizer.tok"), "{e}");
}
