//! `tfs bench transformer`: training throughput of the encoder-decoder transformer on the toy
//! digits-to-words task, the same work as `bench/peers/torch_transformer.py` (PyTorch's
//! `nn.Transformer` of the same configuration): D = 64, 4 heads, FFN 256, 2 + 2 blocks,
//! pre-norm (nn.Transformer's `norm_first=True`, with its final encoder/decoder norms), ReLU,
//! embeddings · √D + sinusoidal positions, an untied output layer; batches of 32 examples with
//! 1-10 source digits each (so padded), teacher forcing, cross-entropy over the real target
//! characters, AdamW (1e-3, decay 0.01) with warmup, clipping at 1. Timed over `steps` steps
//! after 3 warm-up steps; tokens are the real (non-padding) target tokens trained on.
//!
//! [`transformer_framework`] trains the same model, on the same batches with the same recipe, on
//! the Phase 6 framework (tfs-tensor: autograd instead of the hand-written backward), so the two
//! lines compare what the framework's bookkeeping costs.
//!
//! Left out: evaluation and decoding (the peer does not decode either), dropout (0 in the peer).

use serde_json::{json, Value};
use std::time::Instant;
use tfs_math::Rng;
use tfs_nn::optim::{clip_and_step, Optimizer};
use tfs_nn::schedule::cosine_with_warmup;
use tfs_nn::Adam;
use tfs_tensor::nn::transformer::{self as fw, Seq2SeqBatch};
use tfs_tensor::nn::Module;
use tfs_tensor::optim::{groups_decay_all, AdamW};
use tfs_tensor::schedule::Schedule;
use tfs_tensor::train::Trainer;
use tfs_tensor::ParamStore;
use tfs_transformer::train::sample_batch;
use tfs_transformer::{Batch, Config, Norm, Task, Transformer};

/// Steps trained before the clock starts.
const WARMUP: usize = 3;

/// The configuration both paths train.
fn config(task: Task) -> Config {
    Config {
        norm: Norm::Pre,
        ..Config::small(10, task.tgt_vocab())
    }
}

/// Runs `WARMUP + steps` training steps on batches drawn from `rng`, timing the last `steps`;
/// `step(batch, lr)` trains one step and returns its loss. One JSON line, the peer's keys.
fn timed(
    steps: usize,
    batch: usize,
    rng: &mut Rng,
    name: String,
    mut step: impl FnMut(&Batch, f64) -> f64,
) -> Value {
    let (task, cfg) = (Task::Words, config(Task::Words));
    let total = steps + WARMUP;
    let (mut tokens, mut loss) = (0usize, f64::NAN);
    let mut t0 = Instant::now();
    for i in 0..total {
        if i == WARMUP {
            t0 = Instant::now();
            tokens = 0;
        }
        let ex = sample_batch(task, batch, (1, 10), rng);
        let b = Batch::new(&ex, task.bos());
        loss = step(&b, cosine_with_warmup(1e-3, 1e-5, 100, total, i));
        tokens += b.tgt_len.iter().sum::<usize>();
    }
    let secs = t0.elapsed().as_secs_f64();
    json!({
        "impl": name,
        "threads": tfs_kernels::pool::default_threads(),
        "d": cfg.d, "heads": cfg.heads, "ffn": cfg.ffn, "layers": cfg.enc_layers,
        "batch": batch, "steps": steps,
        "tokens_per_s": tokens as f64 / secs,
        "steps_per_s": steps as f64 / secs,
        "final_loss": loss,
    })
}

/// Trains `steps` timed steps with batches of `batch` examples, from `seed`.
pub fn transformer(steps: usize, batch: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let mut m: Transformer<f32> = Transformer::new(config(Task::Words), &mut rng);
    let mut opt = Adam::adamw(1e-3, 0.01);
    timed(steps, batch, &mut rng, crate::impl_name(), |b, lr| {
        opt.set_lr(lr);
        let (l, mut g) = m.loss_and_grads(b);
        clip_and_step(&mut opt, &mut m, &mut g, Some(1.0));
        l
    })
}

/// Phase 5's padded batch as the framework's (the same ids and lengths).
pub fn framework_batch(b: &Batch) -> Seq2SeqBatch {
    Seq2SeqBatch {
        b: b.b,
        ts: b.ts,
        tt: b.tt,
        src: b.src.clone(),
        src_len: b.src_len.clone(),
        tgt_in: b.tgt_in.clone(),
        tgt_out: b.tgt_out.clone(),
        tgt_len: b.tgt_len.clone(),
    }
}

/// The framework twin of Phase 5's configuration (no dropout).
pub fn framework_config(c: &Config) -> fw::Config {
    use tfs_nn::Activation;
    fw::Config {
        src_vocab: c.src_vocab,
        tgt_vocab: c.tgt_vocab,
        d: c.d,
        heads: c.heads,
        ffn: c.ffn,
        enc_layers: c.enc_layers,
        dec_layers: c.dec_layers,
        act: match c.act {
            Activation::Relu => fw::Act::Relu,
            Activation::GeluTanh => fw::Act::Gelu,
            Activation::Gelu => fw::Act::GeluErf,
            a => panic!("the framework transformer has no {a:?} FFN"),
        },
        norm: match c.norm {
            Norm::Post => fw::Norm::Post,
            Norm::Pre => fw::Norm::Pre,
            Norm::None => fw::Norm::None,
        },
        residual: c.residual,
        tie: c.tie,
        max_len: c.max_len,
        dropout: 0.0,
    }
}

/// [`transformer`] on the Phase 6 framework: the same model, batches, recipe and clock.
pub fn transformer_framework(steps: usize, batch: usize, seed: u64) -> Value {
    let mut rng = Rng::new(seed);
    let cfg = framework_config(&config(Task::Words));
    let (m, store) = ParamStore::build(|| fw::Transformer::new(cfg, &mut rng), |m| m.parameters());
    let params = m.parameters();
    let opt = AdamW::new(1e-3, &groups_decay_all(&params, 0.01));
    // The learning rate comes from `timed`'s schedule, shared with the hand-written run.
    let mut trainer = Trainer::new(opt, Schedule::Constant(1e-3))
        .clip(1.0)
        .with_store(store);
    let name = format!("{} framework", crate::impl_name());
    timed(steps, batch, &mut rng, name, |b, lr| {
        let micro = |_| Ok(m.loss(&framework_batch(b)));
        match trainer.step_with(&params, lr as f32, micro, |_| {}) {
            Ok(s) => s.loss,
            Err(_) => f64::NAN,
        }
    })
}

/// Copies every parameter of a Phase 5 model into its framework twin (names through
/// [`fw::phase5_name`], matrices transposed where the layouts differ), so that both start from
/// the same point.
pub fn load_from_phase5(f: &fw::Transformer, h: &Transformer<f32>) {
    use std::collections::HashMap;
    use tfs_nn::Params;
    let mut vals: HashMap<String, (Vec<f32>, Vec<f32>)> = HashMap::new();
    h.visit(&mut |n: &str, a| {
        let stored = a.iter().copied().collect();
        let transposed = if a.ndim() == 2 {
            a.t().iter().copied().collect()
        } else {
            Vec::new()
        };
        vals.insert(n.to_string(), (stored, transposed));
    });
    for (name, t) in f.parameters() {
        let (n5, transposed) = fw::phase5_name(&name);
        let (stored, tr) = vals
            .get(&n5)
            .unwrap_or_else(|| panic!("Phase 5 has no '{n5}' for '{name}'"));
        t.assign(if transposed { tr } else { stored });
    }
}
