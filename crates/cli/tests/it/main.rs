//! The `tfs` binary end to end: exit codes and one-line errors on bad input.

mod gpt;

use std::process::Command;

mod hostile;

// The fetch tests' HTTP server on 127.0.0.1, shared rather than copied.
#[allow(dead_code)]
#[path = "../../../data/tests/it/server.rs"]
mod server;

fn tfs(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tfs"))
        .args(args)
        .output()
        .expect("the tfs binary runs")
}

#[test]
fn lab_list_names_every_phase0_experiment() {
    let out = tfs(&["lab", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for id in [
        "p0-matmul-speed",
        "p0-gradient-epsilon",
        "p0-softmax-temperature",
        "p0-cross-entropy",
        "p0-entropy-kl",
    ] {
        assert!(text.contains(id), "{id} missing from:\n{text}");
    }
}

#[test]
fn unknown_target_is_a_one_line_error() {
    let out = tfs(&["lab", "run", "p0-nope", "--quick"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: unknown experiment or phase 'p0-nope'"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn unwritable_out_dir_is_a_one_line_error() {
    let file = std::env::temp_dir().join(format!("tfs-cli-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, "x").unwrap();
    let out = tfs(&[
        "lab",
        "run",
        "p0-entropy-kl",
        "--quick",
        "--out",
        file.to_str().unwrap(),
    ]);
    std::fs::remove_file(&file).ok();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(file.to_str().unwrap()), "{err}");
}

#[test]
fn bad_flags_fail_without_panic() {
    for args in [
        &["lab", "run", "p0", "--seed", "abc"][..],
        &["lab", "fly"][..],
        &["lab", "run"][..],
    ] {
        let out = tfs(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error:"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn runs_one_experiment_into_the_given_folder() {
    let dir = std::env::temp_dir().join(format!("tfs-cli-run-{}", std::process::id()));
    let out = tfs(&[
        "lab",
        "run",
        "p0-entropy-kl",
        "--quick",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("p0-entropy-kl/results.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn global_seed_and_data_dir_work_before_and_after_the_subcommand() {
    let base = std::env::temp_dir().join(format!("tfs-cli-global-{}", std::process::id()));
    let (a, b) = (base.join("a"), base.join("b"));
    let after = tfs(&[
        "lab",
        "run",
        "p0-entropy-kl",
        "--quick",
        "--out",
        a.to_str().unwrap(),
        "--seed",
        "3",
        "--data-dir",
        "/nonexistent-tfs-data",
    ]);
    let before = tfs(&[
        "--seed",
        "3",
        "--data-dir",
        "/nonexistent-tfs-data",
        "lab",
        "run",
        "p0-entropy-kl",
        "--quick",
        "--out",
        b.to_str().unwrap(),
    ]);
    for out in [&after, &before] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let seed = |d: &std::path::Path| {
        let text = std::fs::read_to_string(d.join("p0-entropy-kl/results.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).unwrap()["seed"].clone()
    };
    assert_eq!(seed(&a), 3);
    assert_eq!(seed(&b), 3);
    std::fs::remove_dir_all(&base).ok();
}

#[test]
fn missing_data_is_skipped_named_and_fails_the_run() {
    let dir = std::env::temp_dir().join(format!("tfs-cli-nodata-{}", std::process::id()));
    let out = tfs(&[
        "lab",
        "run",
        "p1-optimizers",
        "--quick",
        "--out",
        dir.to_str().unwrap(),
        "--data-dir",
        "/nonexistent-tfs-data",
        "--offline",
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("mnist/train-images-idx3-ubyte.gz not found; offline, so not downloaded"),
        "{err}"
    );
    assert!(err.contains("tfs data fetch mnist"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn data_fetch_of_an_unknown_dataset_is_a_one_line_error() {
    let out = tfs(&["data", "fetch", "imagenet"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        err.trim(),
        "error: unknown dataset 'imagenet' (known: mnist, tinyshakespeare, fineweb-edu, tinystories)"
    );
}

fn tfs_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tfs"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn tokenizer_train_encode_decode_round_trip() {
    let dir = std::env::temp_dir().join(format!("tfs-cli-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = dir.join("corpus.txt");
    std::fs::write(
        &corpus,
        "the cat sat on the mat\nthe dog sat on the log\n".repeat(20),
    )
    .unwrap();
    let model = dir.join("tok.tfs");
    let out = tfs(&[
        "tokenizer",
        "train",
        "--input",
        corpus.to_str().unwrap(),
        "--vocab-size",
        "300",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let enc = tfs_stdin(
        &[
            "tokenizer",
            "encode",
            "--model",
            model.to_str().unwrap(),
            "--lines",
        ],
        b"the cat\nthe dog sat\n",
    );
    let ids = String::from_utf8(enc.stdout).unwrap();
    assert_eq!(ids.lines().count(), 2, "{ids}");
    let first = ids.lines().next().unwrap().to_string();
    let dec = tfs_stdin(
        &["tokenizer", "decode", "--model", model.to_str().unwrap()],
        first.as_bytes(),
    );
    assert_eq!(String::from_utf8(dec.stdout).unwrap(), "the cat");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gpt2_encode_matches_known_ids_and_bad_input_is_an_error() {
    let out = tfs_stdin(&["tokenizer", "encode", "--gpt2"], b" Hello world");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "18435 995");
    let bad = tfs_stdin(&["tokenizer", "encode", "--gpt2"], b"ok\xff");
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(bad.stderr).unwrap().trim(),
        "error: stdin: invalid UTF-8 at byte 2"
    );
    let bad = tfs_stdin(&["tokenizer", "decode", "--gpt2"], b"12 x");
    assert_eq!(
        String::from_utf8(bad.stderr).unwrap().trim(),
        "error: stdin:1: 'x' (word 2) is not a token id"
    );
}

/// The main job on a machine without the dataset: the first run downloads it (here from a
/// mirror on 127.0.0.1 serving the real file, `$TFS_DATA_MIRROR`), verifies its checksum, puts it
/// in the data folder and goes on. Needs the real Tiny Shakespeare (its checksum is fixed), so
/// it runs where TFS_DATA_DIR holds it.
#[test]
fn a_missing_dataset_is_fetched_on_first_use_then_the_run_goes_on() {
    let Some(text) = std::env::var_os("TFS_DATA_DIR").and_then(|d| {
        std::fs::read(std::path::Path::new(&d).join("tinyshakespeare/input.txt")).ok()
    }) else {
        eprintln!("skipped: needs TFS_DATA_DIR with tinyshakespeare/input.txt");
        return;
    };
    let srv = server::Server::start(
        vec![(
            "/tinyshakespeare/input.txt",
            server::Reply::Body(text.clone()),
        )],
        1,
    );
    let base = std::env::temp_dir().join(format!("tfs-cli-fetch-{}", std::process::id()));
    let (data, out) = (base.join("data"), base.join("out"));
    let run = Command::new(env!("CARGO_BIN_EXE_tfs"))
        .args(["lab", "run", "p2-char-rnn", "--quick", "--out"])
        .arg(&out)
        .arg("--data-dir")
        .arg(&data)
        .env("TFS_DATA_MIRROR", &srv.base)
        .env_remove("TFS_OFFLINE")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("fetching tinyshakespeare"), "{err}");
    assert_eq!(
        std::fs::read(data.join("tinyshakespeare/input.txt")).unwrap(),
        text
    );
    assert!(!data.join("tinyshakespeare/input.txt.partial").exists());
    assert!(out.join("p2-char-rnn/results.json").exists());
    std::fs::remove_dir_all(&base).ok();
}
