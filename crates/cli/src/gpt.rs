//! `tfs gpt train|sample|prepare`: parses the arguments and calls tfs-gpt.

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
        /// key=value overrides of the preset (n_layer, n_embd, block_size, lr, batch_size, …)
        #[arg(long = "set")]
        set: Vec<String>,
    },
    /// Tokenize text (.txt), JSON Lines (.jsonl/.json, a "text" field) and Parquet (a "text"
    /// column) into memory-mappable token shards with a train/validation split
    Prepare {
        /// gpt2 (GPT-2's BPE, <|endoftext|> before each document) or char
        #[arg(long, default_value = "gpt2")]
        tokenizer: String,
        /// Output folder: meta.json, train_NNNNNN.bin, val_NNNNNN.bin
        #[arg(long)]
        out: PathBuf,
        /// Fraction of the tokens (the last ones) kept for validation
        #[arg(long, default_value_t = 0.1)]
        val_fraction: f64,
        /// Tokens per shard file
        #[arg(long, default_value_t = 100_000_000)]
        shard_tokens: u64,
        /// Tokenizing threads (default: one per core)
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// Input files, read in this order
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
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
            let text = match data {
                Some(path) => {
                    std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?
                }
                None => {
                    tfs_data::text::load_tiny_shakespeare_fetching(&global.data_dir, global.fetch)?
                }
            };
            let r = tfs_gpt::train::train(&text, &p, global.seed, Some(&out), true)
                .map_err(anyhow::Error::msg)?;
            eprintln!("checkpoint: {}", out.join("checkpoint").display());
            let mut stdout = crate::out::stdout();
            stdout.line(json!({"preset": p.name, "parameters": r.parameters, "iterations": r.iterations, "wall_seconds": r.wall_seconds,
                       "tokens_per_s": r.tokens_per_s, "train_loss": r.train_loss, "val_loss": r.val_loss}))?;
            stdout.finish()?;
            Ok(())
        }
        GptCommand::Prepare {
            tokenizer,
            out,
            val_fraction,
            shard_tokens,
            threads,
            inputs,
        } => {
            let opts = tfs_gpt::prepare::PrepareOptions {
                val_fraction,
                shard_tokens,
                threads,
                progress: true,
                ..Default::default()
            };
            let r = tfs_gpt::prepare::prepare(&inputs, &tokenizer, &out, &opts)?;
            let mut stdout = crate::out::stdout();
            stdout.line(r.to_json())?;
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
