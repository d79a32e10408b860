//! `tfs gpt train|sample`: parses the arguments and calls tfs-gpt.

use crate::Global;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;
use tfs_gpt::sample::{generate, Sampling};
use tfs_gpt::{Preset, PRESETS};
use tfs_math::Rng;

#[derive(Subcommand)]
pub enum GptCommand {
    /// Train a character-level GPT (default data: Tiny Shakespeare) and save a checkpoint
    Train {
        /// One of: baby, shakespeare-char, 1m, 10m, 50m
        #[arg(long, default_value = "baby")]
        preset: String,
        /// A text file to train on (default: Tiny Shakespeare from the data folder)
        #[arg(long)]
        data: Option<PathBuf>,
        /// Output folder: log.jsonl, samples.txt, checkpoint/
        #[arg(long, default_value = "out/gpt")]
        out: PathBuf,
        /// Iterations (overrides the preset)
        #[arg(long)]
        max_iters: Option<usize>,
        /// key=value overrides of the preset (n_layer, n_embd, block_size, lr, batch_size,
        /// grad_accum, data_order, …)
        #[arg(long = "set")]
        set: Vec<String>,
        /// Save a resumable checkpoint every N steps (overrides the preset; 0: only at the end)
        #[arg(long)]
        checkpoint_every: Option<usize>,
        /// Continue from OUT/checkpoint if it holds a training state (bit for bit the run that
        /// was interrupted); without one, start at step 0
        #[arg(long)]
        resume: bool,
    },
    /// Generate text from a checkpoint
    Sample {
        #[arg(long, default_value = "out/gpt/checkpoint")]
        checkpoint: PathBuf,
        #[arg(long, default_value = "\n")]
        prompt: String,
        #[arg(long, default_value_t = 500)]
        tokens: usize,
        /// Always the most likely next token
        #[arg(long)]
        greedy: bool,
        #[arg(long, default_value_t = 1.0)]
        temperature: f32,
        #[arg(long)]
        top_k: Option<usize>,
        /// Nucleus sampling: the smallest set of tokens whose probability reaches P
        #[arg(long)]
        top_p: Option<f32>,
    },
}

pub fn run(cmd: GptCommand, global: &Global) -> Result<()> {
    match cmd {
        GptCommand::Train {
            preset,
            data,
            out,
            max_iters,
            set,
            checkpoint_every,
            resume,
        } => {
            let mut p = Preset::get(&preset).with_context(|| {
                format!("unknown preset '{preset}' (one of: {})", PRESETS.join(", "))
            })?;
            if p.model.vocab_size > 256 {
                bail!("preset '{preset}' needs GPT-2 token shards (Phase 8); train a character-level preset");
            }
            if let Some(n) = max_iters {
                p.train.max_iters = n;
                p.train.lr_decay_iters = n;
            }
            for kv in &set {
                p.set(kv).map_err(anyhow::Error::msg)?;
            }
            if let Some(n) = checkpoint_every {
                p.train.checkpoint_every = n;
            }
            let text = match data {
                Some(path) => {
                    std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?
                }
                None => {
                    tfs_data::text::load_tiny_shakespeare_fetching(&global.data_dir, global.fetch)?
                }
            };
            let (vocab, split) =
                tfs_gpt::train::text_data(&text, p.model.block_size).map_err(anyhow::Error::msg)?;
            let data = tfs_gpt::train::Data {
                train: &split.train,
                val: &split.val,
                vocab,
                default_order: tfs_gpt::data::Order::Random,
            };
            let opts = tfs_gpt::train::RunOptions {
                out: Some(&out),
                progress: true,
                resume,
                stop_after: None,
            };
            let r =
                tfs_gpt::train::run(&data, &p, global.seed, &opts).map_err(anyhow::Error::msg)?;
            eprintln!("checkpoint: {}", out.join("checkpoint").display());
            let mut stdout = crate::out::stdout();
            stdout.line(json!({"preset": p.name, "parameters": r.parameters, "iterations": r.iterations, "start_step": r.start_step,
                       "wall_seconds": r.wall_seconds, "tokens_per_s": r.tokens_per_s, "mfu": r.mfu,
                       "train_loss": r.train_loss, "val_loss": r.val_loss}))?;
            stdout.finish()?;
            Ok(())
        }
        GptCommand::Sample {
            checkpoint,
            prompt,
            tokens,
            greedy,
            temperature,
            top_k,
            top_p,
        } => {
            if temperature.is_nan()
                || temperature < 0.0
                || top_p.is_some_and(|p| p.is_nan() || p <= 0.0 || p > 1.0)
                || top_k == Some(0)
            {
                bail!("--temperature must be ≥ 0, --top-p in (0, 1] and --top-k at least 1");
            }
            let (model, vocab) = tfs_gpt::checkpoint::load(&checkpoint)?;
            let ids = vocab
                .encode(&prompt)
                .map_err(|m| anyhow::anyhow!("--prompt: {m}"))?;
            if ids.is_empty() {
                bail!("--prompt is empty");
            }
            let s = Sampling {
                greedy,
                temperature,
                top_k,
                top_p,
            };
            let out = generate(&model, &ids, tokens, &s, &mut Rng::new(global.seed));
            let mut stdout = crate::out::stdout();
            stdout.line(vocab.decode(&out))?;
            stdout.finish()?;
            Ok(())
        }
    }
}
