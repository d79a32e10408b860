//! The CLI against hostile input (issue 17): one case per defect, each of which panicked, lost a
//! file or printed a wrong answer with exit 0 before its fix. Every failure must be one line on
//! stderr, a non-zero exit, and no panic.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tfs_data::idx::{encode_idx, IdxArray};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tfs-cli-hostile-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(args: &[&str], data: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tfs"));
    c.args(args)
        .env("TFS_OFFLINE", "1")
        .env_remove("TFS_DATA_MIRROR");
    if let Some(d) = data {
        c.env("TFS_DATA_DIR", d);
    }
    c.output().unwrap()
}

/// Asserts a one-line error containing `what`; returns the line.
fn fails(out: &Output, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(what), "expected '{what}' in: {err}");
    lines[0].to_string()
}

fn shakespeare(text: &str) -> PathBuf {
    let d = dir(&format!("ts-{}", text.len()));
    std::fs::create_dir_all(d.join("tinyshakespeare")).unwrap();
    std::fs::write(d.join("tinyshakespeare/input.txt"), text).unwrap();
    d
}

/// A fake MNIST of 4×4 images; `gz_train` as given (to plant a bomb or a multi-member file).
fn mnist(name: &str, n_train: usize, n_test: usize, gz_train: Option<Vec<u8>>) -> PathBuf {
    let d = dir(name);
    let m = d.join("mnist");
    std::fs::create_dir_all(&m).unwrap();
    let img = |n: usize| {
        encode_idx(&IdxArray {
            dims: vec![n, 4, 4],
            data: vec![9; n * 16],
        })
    };
    let lbl = |n: usize| {
        encode_idx(&IdxArray {
            dims: vec![n],
            data: (0..n).map(|i| (i % 10) as u8).collect(),
        })
    };
    match gz_train {
        Some(z) => std::fs::write(m.join("train-images-idx3-ubyte.gz"), z).unwrap(),
        None => std::fs::write(m.join("train-images-idx3-ubyte"), img(n_train)).unwrap(),
    }
    std::fs::write(m.join("train-labels-idx1-ubyte"), lbl(n_train)).unwrap();
    std::fs::write(m.join("t10k-images-idx3-ubyte"), img(n_test)).unwrap();
    std::fs::write(m.join("t10k-labels-idx1-ubyte"), lbl(n_test)).unwrap();
    d
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

// 1. Short but valid data.

#[test]
fn short_text_is_an_error_for_every_char_lm() {
    for text in ["", "a", "To be, or not to be"] {
        let d = shakespeare(text);
        let out_dir = d.join("out");
        let o = out_dir.to_str().unwrap();
        for id in ["p2-char-rnn", "p2-cell-comparison"] {
            fails(
                &run(&["lab", "run", id, "--quick", "--out", o], Some(&d)),
                "too short for the context",
            );
            // 5. A failed run strands nothing.
            assert!(!out_dir.join(format!("{id}.partial")).exists());
        }
        fails(
            &run(&["bench", "lstm", "--steps", "1"], Some(&d)),
            "too short for the context",
        );
    }
}

#[test]
fn mnist_smaller_than_a_batch_or_empty_is_an_error() {
    let d = mnist("mnist-small", 3, 2, None);
    fails(
        &run(&["bench", "mlp", "--epochs", "1"], Some(&d)),
        "fewer than one batch",
    );
    let o = d.join("out");
    fails(
        &run(
            &[
                "lab",
                "run",
                "p1-mnist-mlp",
                "--quick",
                "--out",
                o.to_str().unwrap(),
            ],
            Some(&d),
        ),
        "fewer than one batch",
    );
    // 7. No test images: an error, not "0.00 %" with exit 0.
    let d = mnist("mnist-no-test", 200, 0, None);
    fails(
        &run(&["bench", "mlp", "--epochs", "1"], Some(&d)),
        "no images",
    );
}

#[test]
fn bench_tokenizer_refuses_a_zero_vocabulary_and_an_empty_corpus() {
    let d = shakespeare("some text to train on");
    fails(
        &run(&["bench", "tokenizer", "--vocab-size", "0"], Some(&d)),
        "vocabulary size 0",
    );
    let d = shakespeare("");
    fails(&run(&["bench", "tokenizer"], Some(&d)), "corpus is empty");
}

// 2. Standard output closed or full.

fn trained_model(d: &Path) -> PathBuf {
    let text = d.join("train.txt");
    std::fs::write(&text, "ABBA abba AB BA to be or not to be").unwrap();
    let model = d.join("m.tok");
    let out = run(
        &[
            "tokenizer",
            "train",
            "--input",
            text.to_str().unwrap(),
            "--vocab-size",
            "270",
            "--out",
            model.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    model
}

#[test]
fn a_closed_stdout_ends_quietly_and_a_full_one_is_an_error() {
    let d = dir("pipe");
    let model = trained_model(&d);
    let big = d.join("big.txt");
    std::fs::write(&big, "to be or not to be\n".repeat(200_000)).unwrap();
    let args = [
        "tokenizer",
        "encode",
        "--lines",
        "--model",
        model.to_str().unwrap(),
        big.to_str().unwrap(),
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_tfs"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(err.is_empty(), "{err}");

    if !cfg!(target_os = "linux") {
        return; // /dev/full is Linux's
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tfs"))
        .args(args)
        .stdout(full)
        .output()
        .unwrap();
    fails(&out, "No space left on device");
}

// 3, 4. Malformed, duplicated, truncated tokenizer files.

#[test]
fn doctored_model_files_are_errors_with_their_line() {
    let d = dir("models");
    let model = trained_model(&d);
    let good = std::fs::read_to_string(&model).unwrap();
    let m = model.to_str().unwrap();
    let encode = |text: &str| {
        std::fs::write(&model, text).unwrap();
        run(
            &[
                "tokenizer",
                "encode",
                "--model",
                m,
                "--lines",
                d.join("train.txt").to_str().unwrap(),
            ],
            None,
        )
    };
    // A non-ASCII character inside a hex field (token 97 = 'a', line 101).
    let e = fails(
        &encode(&good.replace("token 97 61\n", "token 97 0é0\n")),
        "not hex",
    );
    assert!(e.contains(":101:"), "{e}");
    // A duplicated byte token: 'B' replaced by a second 'A' (it encoded "ABBA" with id 4294967295).
    let e = fails(
        &encode(&good.replace("token 66 42\n", "token 66 41\n")),
        "same bytes",
    );
    assert!(e.contains(":70:"), "{e}");
    // Truncated at a line boundary: it loaded as a smaller vocabulary.
    let cut = &good[..good[..good.len() - 1].rfind('\n').unwrap() + 1];
    fails(&encode(cut), "truncated");
}

#[test]
fn empty_or_truncated_gpt2_files_are_errors() {
    let d = dir("gpt2");
    let probe = d.join("p.txt");
    std::fs::write(&probe, "ABBA").unwrap();
    let encode = || {
        Command::new(env!("CARGO_BIN_EXE_tfs"))
            .args(["tokenizer", "encode", "--gpt2", probe.to_str().unwrap()])
            .env("TFS_GPT2_DIR", &d)
            .output()
            .unwrap()
    };
    std::fs::write(d.join("r50k_base.tiktoken"), "").unwrap();
    fails(&encode(), "50256 mergeable tokens");
    std::fs::write(d.join("r50k_base.tiktoken"), "IQ== 0\nIg== 1\n").unwrap();
    fails(&encode(), "has 2");
}

// 5. Atomic replacement.

#[test]
fn train_out_replaces_the_model_by_rename_not_in_place() {
    let d = dir("atomic");
    let model = trained_model(&d);
    // A second name for the old file: an in-place rewrite (or a truncation by a full disk)
    // would change what it holds; a rename leaves it whole.
    let keep = d.join("keep.tok");
    std::fs::hard_link(&model, &keep).unwrap();
    let before = std::fs::read(&keep).unwrap();
    let text = d.join("other.txt");
    std::fs::write(&text, "completely different words here").unwrap();
    let out = run(
        &[
            "tokenizer",
            "train",
            "--input",
            text.to_str().unwrap(),
            "--kind",
            "char",
            "--out",
            model.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    assert_eq!(std::fs::read(&keep).unwrap(), before);
    assert_ne!(std::fs::read(&model).unwrap(), before);
    let names: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
}

#[test]
fn a_plain_file_at_the_result_path_is_an_error_up_front() {
    let d = dir("plain");
    std::fs::write(d.join("p0-entropy-kl"), "mine").unwrap();
    fails(
        &run(
            &[
                "lab",
                "run",
                "p0-entropy-kl",
                "--quick",
                "--out",
                d.to_str().unwrap(),
            ],
            None,
        ),
        "not a folder",
    );
    assert_eq!(
        std::fs::read_to_string(d.join("p0-entropy-kl")).unwrap(),
        "mine"
    );
    assert!(!d.join("p0-entropy-kl.partial").exists());
}

// 6. Absurd sizes.

#[test]
fn absurd_vocabulary_sizes_and_a_gzip_bomb_are_errors() {
    let d = dir("sizes");
    let text = d.join("t.txt");
    std::fs::write(&text, "abc").unwrap();
    for v in ["18446744073709551615", "10000000000"] {
        let out = run(
            &[
                "tokenizer",
                "train",
                "--input",
                text.to_str().unwrap(),
                "--vocab-size",
                v,
                "--out",
                d.join("m.tok").to_str().unwrap(),
            ],
            None,
        );
        fails(&out, "above the");
    }
    // 16 bytes of image promised, 256 MiB delivered.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&encode_idx(&IdxArray {
        dims: vec![1, 4, 4],
        data: vec![0; 16],
    }))
    .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..256 {
        e.write_all(&zeros).unwrap();
    }
    let d = mnist("bomb", 1, 1, Some(e.finish().unwrap()));
    fails(
        &run(&["bench", "mlp", "--epochs", "1"], Some(&d)),
        "trailing data",
    );
}

// 7. Degenerate data.

#[test]
fn degenerate_inputs_are_errors_or_named_warnings() {
    let d = shakespeare("");
    let o = d.join("out");
    fails(
        &run(
            &[
                "lab",
                "run",
                "p3-word2vec",
                "--quick",
                "--out",
                o.to_str().unwrap(),
            ],
            Some(&d),
        ),
        "word2vec needs",
    );
    let text = d.join("t.txt");
    std::fs::write(&text, "abc").unwrap();
    let m = d.join("m.tok");
    for kind in ["char", "word"] {
        let out = run(
            &[
                "tokenizer",
                "train",
                "--input",
                text.to_str().unwrap(),
                "--kind",
                kind,
                "--vocab-size",
                "500",
                "--out",
                m.to_str().unwrap(),
            ],
            None,
        );
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("warning: --vocab-size is ignored"), "{err}");
    }
    std::fs::write(&text, " \n").unwrap();
    fails(
        &run(
            &[
                "tokenizer",
                "train",
                "--input",
                text.to_str().unwrap(),
                "--out",
                m.to_str().unwrap(),
            ],
            None,
        ),
        "empty",
    );
}

// 8. Messages.

#[test]
fn messages_say_the_cause_once_and_where() {
    let e = fails(
        &run(&["tokenizer", "encode", "--model", "/no/such/m.tok"], None),
        "No such file",
    );
    assert_eq!(e.matches("No such file").count(), 1, "{e}");
    // A multi-member gzip file (as `cat a.gz b.gz` makes) is read whole.
    let images = encode_idx(&IdxArray {
        dims: vec![200, 4, 4],
        data: vec![3; 200 * 16],
    });
    let (a, b) = images.split_at(100);
    let mut z = gz(a);
    z.extend(gz(b));
    let d = mnist("multi", 200, 10, Some(z));
    let out = run(&["bench", "mlp", "--epochs", "1"], Some(&d));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
