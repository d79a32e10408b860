//! The `tfs` binary end to end: exit codes and one-line errors on bad input.

use std::process::Command;

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
    ]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("mnist/train-images-idx3-ubyte.gz not found"),
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
        "error: unknown dataset 'imagenet' (known: mnist)"
    );
}
