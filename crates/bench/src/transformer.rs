//! `tfs bench transformer`: training throughput of the encoder-decoder transformer on the toy
//! digits-to-words task, the same work as `bench/peers/torch_transformer.py` (PyTorch's
//! `nn.Transformer` of the same configuration): D = 64, 4 heads, FFN 256, 2 + 2 blocks,
//! pre-norm (nn.Transformer's `norm_first=True`, with its final encoder/decoder norms), ReLU,
//! embeddings · √D + sinusoidal positions, an untied output layer; batches of 32 examples with
//! 1-10 source digits each (so padded), teacher forcing, cross-entropy over the real target
//! characters, AdamW (1e-3, decay 0.01) with warmup, clipping at 1. Timed over `steps` steps
//! after 3 warm-up steps; tokens are the real (non-padding) target tokens trained on.
//!
//! Left out: evaluation and decoding (the peer does not decode either), dropout (0 in the peer).

use serde_json::{json, Value};
use std::time::Instant;
use tfs_math::Rng;
use tfs_nn::optim::{clip_and_step, Optimizer};
use tfs_nn::schedule::cosine_with_warmup;
use tfs_nn::Adam;
use tfs_transformer::train::sample_batch;
use tfs_transformer::{Batch, Config, Norm, Task, Transformer};

/// Steps trained before the clock starts.
const WARMUP: usize = 3;

/// Trains `steps` timed steps with batches of `batch` examples, from `seed`.
pub fn transformer(steps: usize, batch: usize, seed: u64) -> Value {
    let task = Task::Words;
    let mut rng = Rng::new(seed);
    let cfg = Config {
        norm: Norm::Pre,
        ..Config::small(10, task.tgt_vocab())
    };
    let mut m: Transformer<f32> = Transformer::new(cfg, &mut rng);
    let mut opt = Adam::adamw(1e-3, 0.01);
    let total = steps + WARMUP;
    let (mut tokens, mut loss) = (0usize, f64::NAN);
    let mut t0 = Instant::now();
    for step in 0..total {
        if step == WARMUP {
            t0 = Instant::now();
            tokens = 0;
        }
        let ex = sample_batch(task, batch, (1, 10), &mut rng);
        let b = Batch::new(&ex, task.bos());
        opt.set_lr(cosine_with_warmup(1e-3, 1e-5, 100, total, step));
        let (l, mut g) = m.loss_and_grads(&b);
        clip_and_step(&mut opt, &mut m, &mut g, Some(1.0));
        tokens += b.tgt_len.iter().sum::<usize>();
        loss = l;
    }
    let secs = t0.elapsed().as_secs_f64();
    json!({
        "impl": crate::impl_name(),
        "threads": tfs_math::threads(),
        "d": cfg.d, "heads": cfg.heads, "ffn": cfg.ffn, "layers": cfg.enc_layers,
        "batch": batch, "steps": steps,
        "tokens_per_s": tokens as f64 / secs,
        "steps_per_s": steps as f64 / secs,
        "final_loss": loss,
    })
}
