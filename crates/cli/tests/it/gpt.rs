//! `tfs gpt train` and `tfs gpt sample` end to end on a small text.

use std::process::Command;

fn tfs(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tfs"))
        .args(args)
        .output()
        .expect("the tfs binary runs")
}

#[test]
fn train_then_sample() {
    let dir = std::env::temp_dir().join(format!("tfs-cli-gpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("text.txt");
    std::fs::write(
        &data,
        "to be or not to be, that is the question. ".repeat(60),
    )
    .unwrap();
    let out_dir = dir.join("run");
    let (d, o) = (data.to_str().unwrap(), out_dir.to_str().unwrap());
    let sets = [
        "--set",
        "n_layer=1",
        "--set",
        "n_embd=16",
        "--set",
        "n_head=2",
        "--set",
        "block_size=16",
        "--set",
        "eval_iters=2",
    ];
    let mut args = vec![
        "gpt",
        "train",
        "--preset",
        "baby",
        "--data",
        d,
        "--out",
        o,
        "--max-iters",
        "20",
    ];
    args.extend(sets);
    let out = tfs(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    for key in [
        "iterations",
        "wall_seconds",
        "tokens_per_s",
        "train_loss",
        "val_loss",
    ] {
        assert!(line[key].is_number(), "{key} missing from {line}");
    }
    assert_eq!(line["iterations"], 20);
    assert!(
        out_dir.join("log.jsonl").exists() && out_dir.join("checkpoint/model.safetensors").exists()
    );
    let ck = out_dir.join("checkpoint");
    let ck = ck.to_str().unwrap();
    let sample = |extra: &[&str]| {
        let mut a = vec![
            "--seed",
            "3",
            "gpt",
            "sample",
            "--checkpoint",
            ck,
            "--prompt",
            "to be",
            "--tokens",
            "30",
        ];
        a.extend_from_slice(extra);
        tfs(&a)
    };
    let (a, b) = (sample(&["--top-k", "5"]), sample(&["--top-k", "5"]));
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(a.stdout, b.stdout, "the same seed gives the same sample");
    assert!(String::from_utf8_lossy(&a.stdout).starts_with("to be"));
    assert!(sample(&["--greedy"]).status.success());
    // Bad input: one-line errors.
    let bad_p = sample(&["--top-p", "1.5"]);
    let bad_prompt = tfs(&[
        "gpt",
        "sample",
        "--checkpoint",
        ck,
        "--prompt",
        "Z!",
        "--tokens",
        "3",
    ]);
    for (r, msg) in [(bad_p, "--top-p"), (bad_prompt, "vocabulary lacks")] {
        let err = String::from_utf8_lossy(&r.stderr).to_string();
        assert_eq!(r.status.code(), Some(1), "{err}");
        assert!(err.contains(msg) && err.lines().count() == 1, "{err}");
    }
    let r = tfs(&["gpt", "train", "--preset", "huge", "--data", d, "--out", o]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("unknown preset 'huge'"));
    let r = tfs(&["gpt", "sample", "--checkpoint", d]);
    assert_eq!(
        r.status.code(),
        Some(1),
        "a file is not a checkpoint directory"
    );
    std::fs::remove_dir_all(&dir).ok();
}
