//! Phase 8's loop: gradient accumulation equals the larger batch, a run stopped and resumed from
//! its checkpoint ends with the same bytes as one that never stopped, and a resume with another
//! recipe is refused.

use std::path::{Path, PathBuf};
use tfs_gpt::data::Order;
use tfs_gpt::train::{run, text_data, Data, RunOptions};
use tfs_gpt::Preset;
use tfs_tensor::nn::Module;

fn text() -> String {
    "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n"
        .repeat(40)
}

fn short_text() -> String {
    "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n"
        .repeat(10)
}

fn small(iters: usize) -> Preset {
    let mut p = Preset::get("baby").unwrap();
    for kv in [
        "n_layer=2",
        "n_head=2",
        "n_embd=16",
        "block_size=8",
        "batch_size=3",
        "eval_interval=4",
        "eval_iters=2",
        "sample_interval=5",
        "warmup=2",
        "dropout=0.1",
    ] {
        p.set(kv).unwrap();
    }
    p.train.max_iters = iters;
    p.train.lr_decay_iters = iters;
    p
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tfs-gpt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn go(p: &Preset, out: &Path, resume: bool, stop_after: Option<usize>, order: Order) {
    go_on(&text(), p, out, resume, stop_after, order)
}

fn go_on(
    text: &str,
    p: &Preset,
    out: &Path,
    resume: bool,
    stop_after: Option<usize>,
    order: Order,
) {
    try_run(text, p, out, resume, stop_after, order).unwrap();
}

/// One run of `p` on `text` from seed 5 into `out`.
fn try_run(
    text: &str,
    p: &Preset,
    out: &Path,
    resume: bool,
    stop_after: Option<usize>,
    order: Order,
) -> Result<tfs_gpt::train::TrainReport, String> {
    let (vocab, split) = text_data(text, p.model.block_size).unwrap();
    let data = Data {
        train: &split.train,
        val: &split.val,
        vocab,
        default_order: order,
    };
    let opts = RunOptions {
        out: Some(out),
        progress: false,
        resume,
        stop_after,
    };
    run(&data, p, 5, &opts)
}

fn bytes(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join("checkpoint").join(f)).unwrap()
}

#[test]
fn a_stopped_and_resumed_run_ends_with_the_same_bytes() {
    // Random windows with one micro-batch; sequential windows with two micro-batches on a text
    // short enough that the cursor wraps around (774 training characters, 48 per step).
    for (order, accum, iters, stops) in [
        (Order::Random, 1, 11, [5, 8]),
        (Order::Sequential, 2, 30, [9, 21]),
    ] {
        let mut p = small(iters);
        p.train.checkpoint_every = 3;
        p.train.grad_accum = accum;
        let text = if accum > 1 { short_text() } else { text() };
        let tag = format!("{}-{accum}", order.name());
        let whole = tmp(&format!("whole-{tag}"));
        go_on(&text, &p, &whole, false, None, order);
        let parts = tmp(&format!("parts-{tag}"));
        // Stopped twice after a step that is not a checkpoint (so some steps are computed
        // twice, from the saved state), then run to the end.
        go_on(&text, &p, &parts, true, Some(stops[0]), order);
        go_on(&text, &p, &parts, true, Some(stops[1]), order);
        go_on(&text, &p, &parts, true, None, order);
        for f in ["model.safetensors", "optimizer.safetensors", "state.json"] {
            assert!(
                bytes(&whole, f) == bytes(&parts, f),
                "{f} differs after resuming ({tag})"
            );
        }
        let log = |d: &Path| std::fs::read_to_string(d.join("log.jsonl")).unwrap();
        let strip = |s: String| -> Vec<String> {
            // Throughput and MFU differ between runs; the numbers of training must not.
            s.lines()
                .map(|l| {
                    let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                    let o = v.as_object_mut().unwrap();
                    o.remove("tokens_per_s");
                    o.remove("mfu");
                    v.to_string()
                })
                .collect()
        };
        assert_eq!(strip(log(&whole)), strip(log(&parts)), "the logs agree");
        assert_eq!(
            std::fs::read_to_string(whole.join("samples.txt")).unwrap(),
            std::fs::read_to_string(parts.join("samples.txt")).unwrap()
        );
        let _ = std::fs::remove_dir_all(&whole);
        let _ = std::fs::remove_dir_all(&parts);
    }
}

#[test]
fn a_checkpoint_is_the_same_bytes_for_the_same_state() {
    let p = small(4);
    let (a, b) = (tmp("det-a"), tmp("det-b"));
    go(&p, &a, false, None, Order::Random);
    go(&p, &b, false, None, Order::Random);
    for f in [
        "config.json",
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
    ] {
        assert!(bytes(&a, f) == bytes(&b, f), "{f}");
    }
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn accumulating_two_micro_batches_equals_one_batch_twice_as_large() {
    let mut one = small(3);
    one.set("dropout=0").unwrap();
    one.set("batch_size=6").unwrap();
    let mut two = one.clone();
    two.set("batch_size=3").unwrap();
    two.set("grad_accum=2").unwrap();
    let (a, b) = (tmp("acc-1"), tmp("acc-2"));
    go(&one, &a, false, None, Order::Sequential);
    go(&two, &b, false, None, Order::Sequential);
    let wa =
        tfs_gpt::checkpoint::read_safetensors(&a.join("checkpoint/model.safetensors")).unwrap();
    let wb =
        tfs_gpt::checkpoint::read_safetensors(&b.join("checkpoint/model.safetensors")).unwrap();
    let mut worst = 0.0f32;
    for (name, (_, x)) in &wa {
        let y = &wb[name].1;
        for (u, v) in x.iter().zip(y) {
            worst = worst.max((u - v).abs() / (1.0 + v.abs()));
        }
    }
    // Same rows, same mean; only the order of the float sums differs.
    assert!(worst < 1e-5, "weights differ by {worst}");
    let _ = std::fs::remove_dir_all(&a);
    let _ = std::fs::remove_dir_all(&b);
}

#[test]
fn a_resume_with_another_recipe_is_refused() {
    let mut p = small(6);
    p.train.checkpoint_every = 2;
    let d = tmp("refuse");
    go(&p, &d, false, Some(3), Order::Random);
    p.set("lr=0.002").unwrap();
    let e = try_run(&text(), &p, &d, true, None, Order::Random).unwrap_err();
    assert!(e.contains("lr"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_non_finite_loss_stops_the_run_and_names_the_last_checkpoint() {
    let mut p = small(20);
    p.set("lr=1e30").unwrap();
    p.set("warmup=0").unwrap();
    p.train.checkpoint_every = 1;
    let d = tmp("nan");
    let e = try_run(&text(), &p, &d, false, None, Order::Random).unwrap_err();
    assert!(e.contains("the loss became"), "{e}");
    assert!(e.contains("last good checkpoint"), "{e}");
    // The checkpoint it names is whole and its weights are finite.
    let (m, _) = tfs_gpt::checkpoint::load(&d.join("checkpoint")).unwrap();
    for (name, t) in m.parameters() {
        assert!(
            t.to_vec().iter().all(|v| v.is_finite()),
            "{name} is not finite"
        );
    }
    let _ = std::fs::remove_dir_all(&d);
}
