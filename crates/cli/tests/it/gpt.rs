//! `tfs gpt train` and `tfs gpt sample` end to end on a small text, and a run killed with SIGKILL
//! and resumed; `tfs gpt dpo` from a small checkpoint; `import-hf`, `score` and `export-hf` on the transformers fixture (fixtures/hf_gpt2);
//! `tfs data fetch tinystories` from a hub stand-in on 127.0.0.1, then `tfs gpt prepare` on it.

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
    let line = json_line(
        &tfs(&args),
        &[
            "iterations",
            "wall_seconds",
            "tokens_per_s",
            "train_loss",
            "val_loss",
        ],
    );
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
    // Within the context (5 + 10 ≤ 16 characters), the KV cache gives the text the full re-run
    // gives.
    let short = |extra: &[&str]| {
        let mut a = vec![
            "--seed",
            "3",
            "gpt",
            "sample",
            "--checkpoint",
            ck,
            "--prompt",
            "to be",
        ];
        a.extend_from_slice(&["--tokens", "10", "--top-k", "5"]);
        a.extend_from_slice(extra);
        let o = tfs(&a);
        assert!(
            o.status.success() && o.stdout.len() > 5,
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    assert_eq!(short(&[]), short(&["--no-kv-cache"]));
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
    for (r, msg) in [
        (bad_p, "--top-p"),
        (bad_prompt, "is not in the model's vocabulary"),
    ] {
        let err = String::from_utf8_lossy(&r.stderr).to_string();
        assert_eq!(r.status.code(), Some(1), "{err}");
        assert!(err.contains(msg) && err.lines().count() == 1, "{err}");
    }
    // A second run into the same folder without --resume would discard the first: refused.
    let r = tfs(&args);
    let err = String::from_utf8_lossy(&r.stderr).to_string();
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("already holds a training run"), "{err}");
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

/// `tfs gpt dpo` from a small trained checkpoint: one log line per step, a checkpoint that
/// samples, one JSON line; sizes that do not fit the context and a used --out are one-line errors.
#[test]
fn dpo_from_a_trained_checkpoint() {
    let dir = std::env::temp_dir().join(format!("tfs-cli-gpt-dpo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("text.txt");
    std::fs::write(
        &data,
        "the quick brown fox jumps over the lazy dog; he never sees the end. ".repeat(60),
    )
    .unwrap();
    let (run, dpo) = (dir.join("run"), dir.join("dpo"));
    let (d, r, o) = (
        data.to_str().unwrap(),
        run.to_str().unwrap(),
        dpo.to_str().unwrap(),
    );
    let sets = [
        "n_layer=1",
        "n_embd=16",
        "n_head=2",
        "block_size=16",
        "eval_iters=2",
    ];
    let mut args = vec!["gpt", "train", "--data", d, "--out", r, "--max-iters", "10"];
    for kv in &sets {
        args.extend(["--set", kv]);
    }
    let t = tfs(&args);
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let ck = run.join("checkpoint");
    let ck = ck.to_str().unwrap();
    let dpo_args = |completion: &'static str| {
        vec![
            "gpt",
            "dpo",
            "--checkpoint",
            ck,
            "--out",
            o,
            "--data",
            d,
            "--steps",
            "4",
            "--lr",
            "1e-3",
            "--batch-pairs",
            "4",
            "--prompts",
            "16",
            "--heldout-prompts",
            "6",
            "--prompt-len",
            "4",
            "--completion-len",
            completion,
            "--samples",
            "3",
        ]
    };
    let line = json_line(
        &tfs(&dpo_args("8")),
        &[
            "train_pairs",
            "heldout_pairs",
            "heldout_accuracy",
            "heldout_margin",
            "kl",
            "wall_seconds",
        ],
    );
    assert_eq!(line["steps"], 4);
    let log = std::fs::read_to_string(dpo.join("log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 4, "{log}");
    let s = tfs(&[
        "gpt",
        "sample",
        "--checkpoint",
        dpo.join("checkpoint").to_str().unwrap(),
        "--tokens",
        "5",
        "--prompt",
        "the",
    ]);
    assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stderr));
    // A used --out is refused; so is a prompt + completion longer than the context (4 + 20 − 1 > 16).
    let again = tfs(&dpo_args("8"));
    std::fs::remove_dir_all(&dpo).unwrap();
    let long = tfs(&dpo_args("20"));
    for (r, msg) in [
        (again, "already holds a checkpoint"),
        (long, "context of 16"),
    ] {
        let err = String::from_utf8_lossy(&r.stderr).to_string();
        assert_eq!(r.status.code(), Some(1), "{err}");
        assert!(err.contains(msg) && err.lines().count() == 1, "{err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A training run killed with SIGKILL at random moments and resumed each time ends with the same
/// checkpoint bytes as a run that was never interrupted.
#[cfg(unix)]
#[test]
fn a_run_killed_at_random_moments_and_resumed_ends_with_the_same_bytes() {
    use std::time::{Duration, Instant};
    let dir = std::env::temp_dir().join(format!("tfs-cli-gpt-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("text.txt");
    std::fs::write(
        &data,
        "all the world's a stage, and all the men and women merely players; ".repeat(80),
    )
    .unwrap();
    let args = |out: &std::path::Path| -> Vec<String> {
        [
            "gpt",
            "train",
            "--preset",
            "baby",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--max-iters",
            "300",
            "--checkpoint-every",
            "7",
            "--resume",
            "--set",
            "n_layer=2",
            "--set",
            "n_embd=32",
            "--set",
            "n_head=2",
            "--set",
            "block_size=32",
            "--set",
            "eval_iters=2",
            "--set",
            "eval_interval=20",
            "--set",
            "dropout=0.1",
            "--set",
            "sample_interval=25",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |out: &std::path::Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_tfs"))
            .args(args(out))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let whole = dir.join("whole");
    let t0 = Instant::now();
    run(&whole);
    let full = t0.elapsed();
    eprintln!("the uninterrupted run took {full:?}");
    // Kill points: five random steps in increasing order (a fixed pseudo-random sequence, so a
    // failure repeats), each plus a random fraction of a step, so the kill lands anywhere —
    // inside a step, between steps, or while a checkpoint is being written.
    let killed = dir.join("killed");
    let step_time = full.as_secs_f64() / 300.0;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut at: Vec<usize> = (0..5).map(|_| 10 + (next() % 270) as usize).collect();
    at.sort_unstable();
    let logged = |d: &std::path::Path| {
        std::fs::read_to_string(d.join("log.jsonl"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    let mut kills = 0;
    for &step in &at {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tfs"))
            .args(args(&killed))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while logged(&killed) < step
            && t.elapsed() < full * 3
            && child.try_wait().unwrap().is_none()
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_secs_f64(
            step_time * (next() % 1000) as f64 / 1000.0,
        ));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        kills >= 3,
        "only {kills} of 5 runs were still going when killed"
    );
    run(&killed);
    for f in ["model.safetensors", "optimizer.safetensors", "state.json"] {
        let a = std::fs::read(whole.join("checkpoint").join(f)).unwrap();
        let b = std::fs::read(killed.join("checkpoint").join(f)).unwrap();
        assert!(a == b, "{f} differs after {kills} kills and resumes");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn import_hf_score_export_hf() {
    let root = std::env::temp_dir().join(format!("tfs-cli-hf-{}", std::process::id()));
    std::fs::remove_dir_all(&root).ok();
    std::fs::create_dir_all(&root).unwrap();
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hf_gpt2");
    let (ck, hf, text) = (root.join("ck"), root.join("hf"), root.join("t.txt"));
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let ok = |args: &[&str]| {
        let out = tfs(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("one JSON line")
    };
    let line = ok(&[
        "gpt",
        "import-hf",
        &s(&fixture.join("model")),
        "--out",
        &s(&ck),
    ]);
    assert_eq!(line["n_layer"], 2);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap())
            .unwrap();
    std::fs::write(&text, expected["score"]["text"].as_str().unwrap()).unwrap();
    let line = ok(&[
        "gpt",
        "score",
        "--checkpoint",
        &s(&ck),
        "--text-file",
        &s(&text),
    ]);
    assert_eq!(line["tokens"], expected["score"]["predicted"]);
    let want = expected["score"]["mean_loss"].as_f64().unwrap();
    assert!(
        (line["mean_loss"].as_f64().unwrap() - want).abs() < 1e-6,
        "{line}"
    );
    ok(&["gpt", "export-hf", &s(&ck), "--out", &s(&hf)]);
    assert!(hf.join("config.json").exists() && hf.join("model.safetensors").exists());
    // Errors: one line, non-zero exit.
    for args in [
        vec!["gpt", "import-hf", "not a/valid id", "--out", "x"],
        vec![
            "gpt",
            "score",
            "--checkpoint",
            &s(&ck),
            "--text-file",
            "/nonexistent/t.txt",
        ],
    ] {
        let out = tfs(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.trim().lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    std::fs::remove_dir_all(&root).ok();
}

#[test]
fn fetch_tinystories_then_prepare() {
    use crate::server::{Reply, Server};
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    let dir = std::env::temp_dir().join(format!("tfs-cli-prepare-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    let story = |i: usize| format!("Once upon a time, story {i}.\nThe end.");
    let train: String = (0..40).map(|i| story(i) + "\n<|endoftext|>\n").collect();
    let valid: String = (40..45).map(|i| story(i) + "\n<|endoftext|>\n").collect();
    let hub = |body: String, cut: usize| Reply::Hub {
        sha256: tfs_data::fetch::sha256_hex(body.as_bytes()),
        cut_at: body.len() / 2,
        body: body.into_bytes(),
        cut_gets: Arc::new(AtomicUsize::new(cut)),
    };
    let route = |f: &str| format!("/datasets/roneneldan/TinyStories/resolve/main/{f}");
    let (rt, rv) = (
        route("TinyStoriesV2-GPT4-train.txt"),
        route("TinyStoriesV2-GPT4-valid.txt"),
    );
    let server = Server::start(
        vec![(rt.as_str(), hub(train, 1)), (rv.as_str(), hub(valid, 0))],
        20,
    );
    let data = dir.join("data");
    let fetch = || {
        Command::new(env!("CARGO_BIN_EXE_tfs"))
            .args([
                "data",
                "fetch",
                "tinystories",
                "--data-dir",
                data.to_str().unwrap(),
            ])
            .env("HF_ENDPOINT", &server.base)
            .env_remove("TFS_OFFLINE")
            .output()
            .unwrap()
    };
    let first = fetch();
    assert_eq!(first.status.code(), Some(1), "the first transfer is cut");
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("run the command again to resume"), "{err}");
    let second = fetch();
    let text = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(text.matches("downloaded").count(), 2, "{text}");
    assert_eq!(text.matches("[sha256]").count(), 2, "{text}");

    let ts = data.join("tinystories");
    let out = dir.join("shards");
    let r = tfs(&[
        "gpt",
        "prepare",
        "--tokenizer",
        "gpt2",
        "--out",
        out.to_str().unwrap(),
        "--shard-tokens",
        "100",
        ts.join("TinyStoriesV2-GPT4-train.txt").to_str().unwrap(),
        ts.join("TinyStoriesV2-GPT4-valid.txt").to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let line = String::from_utf8(r.stdout).unwrap();
    assert_eq!(line.lines().count(), 1, "{line}");
    let j: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(j["documents"], 45);
    assert_eq!(j["tokenizer"], "gpt2");
    for k in [
        "train_tokens",
        "val_tokens",
        "train_shards",
        "val_shards",
        "seconds",
        "mb_per_s",
    ] {
        assert!(j[k].as_f64().is_some_and(|v| v > 0.0), "{k}: {line}");
    }
    let p = tfs_gpt::shards::open(&out).unwrap();
    assert_eq!(p.train.len() as u64, j["train_tokens"].as_u64().unwrap());

    // A malformed input: one line on stderr naming the file and line, status 1, no output.
    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"text\": \"ok\"}\n{\"title\": \"no text\"}\n").unwrap();
    let out2 = dir.join("shards2");
    let r = tfs(&[
        "gpt",
        "prepare",
        "--out",
        out2.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8(r.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.jsonl: line 2: no \"text\" field"),
        "{err}"
    );
    assert!(!out2.exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bench_generate_on_the_hf_fixture() {
    // The 2-layer Hugging Face fixture (context 32): 16 prompt ids + 8 new, ours alone; the
    // cached and uncached generations must agree, and the cache must hold 23 positions of
    // 2 layers × (k, v) × 8 floats.
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hf_gpt2/model");
    let out = tfs(&[
        "bench",
        "generate",
        "--model",
        fixture.to_str().unwrap(),
        "--no-peer",
        "--new-tokens",
        "8",
        "--repeats",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(line["ids"].as_array().unwrap().len(), 24);
    assert_eq!(line["ids_equal_without_cache"], true);
    assert_eq!(line["cache_bytes"], 2 * 2 * 8 * 23 * 4);
    assert!(line["tokens_per_s_cache"].as_f64().unwrap() > 0.0);
    // Past the context: a one-line error, no panic.
    let out = tfs(&[
        "bench",
        "generate",
        "--model",
        fixture.to_str().unwrap(),
        "--no-peer",
        "--new-tokens",
        "17",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("exceed the model's context of 32"),
        "{err}"
    );
}

/// The one JSON line a successful command printed, with every key in `keys` a number.
fn json_line(out: &std::process::Output, keys: &[&str]) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    for key in keys {
        assert!(line[*key].is_number(), "{key} missing from {line}");
    }
    line
}
