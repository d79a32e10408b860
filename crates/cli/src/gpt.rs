//! `tfs gpt train|sample|dpo|prepare|import-hf|export-hf|score`: parses the arguments and calls
//! tfs-gpt.

use crate::Global;
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::json;
use std::path::PathBuf;
use tfs_data::fetch::Fetch;
use tfs_data::hub::Hub;
use tfs_gpt::sample::{generate, generate_cached, Sampling};
use tfs_gpt::train::Dataset;
use tfs_gpt::{Preset, PRESETS};
use tfs_math::Rng;

#[derive(Subcommand)]
pub enum GptCommand {
    /// Train a GPT on a text's characters (default: Tiny Shakespeare) or on prepared token shards,
    /// and save a resumable checkpoint
    Train {
        /// One of: baby, shakespeare-char, 1m, 10m, 50m, gpt2-124m
        #[arg(long, default_value = "baby")]
        preset: String,
        /// A text file to train on by characters, or a folder of token shards made by
        /// `tfs gpt prepare` (default: Tiny Shakespeare's characters from the data folder)
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
        /// was interrupted); without one, start at step 0. Without --resume, an OUT that holds
        /// a run is refused
        #[arg(long)]
        resume: bool,
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
        /// Re-run the whole window for every token instead of keeping a KV cache (the same
        /// text while it fits the context; slower)
        #[arg(long)]
        no_kv_cache: bool,
    },
    /// Simplified DPO from a checkpoint (the SFT model, which also becomes the frozen reference):
    /// preference pairs sampled from it under the rule "fewer letters 'e' is better", then DPO;
    /// writes OUT/log.jsonl (one line per step) and OUT/checkpoint
    Dpo {
        #[arg(long, default_value = "out/gpt/checkpoint")]
        checkpoint: PathBuf,
        /// Output folder: log.jsonl, checkpoint/
        #[arg(long, default_value = "out/dpo")]
        out: PathBuf,
        /// The text prompts are windows of (default: Tiny Shakespeare); training prompts from
        /// its first 90%, held-out prompts from the rest
        #[arg(long)]
        data: Option<PathBuf>,
        #[arg(long, default_value_t = 120)]
        steps: usize,
        /// AdamW's learning rate (constant, no weight decay)
        #[arg(long, default_value_t = 1e-5)]
        lr: f32,
        /// β: how strongly the policy is held to the reference
        #[arg(long, default_value_t = 0.1)]
        beta: f32,
        /// Pairs per step
        #[arg(long, default_value_t = 16)]
        batch_pairs: usize,
        /// Training prompts (each gives at most one pair)
        #[arg(long, default_value_t = 384)]
        prompts: usize,
        /// Held-out prompts (evaluation pairs and the KL probe)
        #[arg(long, default_value_t = 64)]
        heldout_prompts: usize,
        /// Tokens per prompt
        #[arg(long, default_value_t = 16)]
        prompt_len: usize,
        /// Tokens per sampled completion
        #[arg(long, default_value_t = 48)]
        completion_len: usize,
        /// Completions sampled per prompt (the best and the worst make the pair)
        #[arg(long, default_value_t = 4)]
        samples: usize,
    },
    /// Read a Hugging Face GPT-2 (a directory, or a hub id fetched into the HF cache) into a checkpoint
    ImportHf {
        /// A directory with config.json + model.safetensors, or a hub model id
        /// (openai-community/gpt2, optionally @REVISION); HF_ENDPOINT, HF_HOME, HF_HUB_CACHE and
        /// HF_HUB_OFFLINE apply
        src: String,
        /// The checkpoint directory to write
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a checkpoint as a Hugging Face GPT-2 directory (transformers' from_pretrained reads it)
    ExportHf {
        /// A checkpoint directory with GPT-2's vocabulary
        checkpoint: PathBuf,
        /// The directory to write (config.json + model.safetensors)
        #[arg(long)]
        out: PathBuf,
    },
    /// Mean next-token loss (nats) and perplexity of a text under a checkpoint
    Score {
        #[arg(long, default_value = "out/gpt/checkpoint")]
        checkpoint: PathBuf,
        /// A UTF-8 text file
        #[arg(long)]
        text_file: PathBuf,
    },
}

/// Runs one `tfs gpt` verb (each in its own function below).
pub fn run(cmd: GptCommand, global: &Global) -> Result<()> {
    match cmd {
        GptCommand::Train { .. } => train(cmd, global),
        GptCommand::Prepare { .. } => prepare(cmd, global),
        GptCommand::Sample { .. } => sample(cmd, global),
        GptCommand::Dpo { .. } => dpo(cmd, global),
        GptCommand::ImportHf { .. } => import_hf(cmd, global),
        GptCommand::ExportHf { .. } => export_hf(cmd, global),
        GptCommand::Score { .. } => score(cmd, global),
    }
}

/// `tfs gpt train`.
fn train(cmd: GptCommand, global: &Global) -> Result<()> {
    let GptCommand::Train {
        preset,
        data,
        out,
        max_iters,
        set,
        checkpoint_every,
        resume,
    } = cmd
    else {
        unreachable!("dispatched by run")
    };

    let mut p = Preset::get(&preset)
        .with_context(|| format!("unknown preset '{preset}' (one of: {})", PRESETS.join(", ")))?;
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
    let state = out.join("checkpoint").join("state.json");
    if !resume && state.exists() {
        bail!(
                    "{} already holds a training run (its checkpoint has a training state): pass --resume to continue it, or another --out (nothing was changed)",
                    out.display()
                );
    }
    if !data.as_ref().is_some_and(|d| d.is_dir()) && p.model.vocab_size > 256 {
        bail!("preset '{preset}' has the GPT-2 vocabulary: give --data a folder made by `tfs gpt prepare --tokenizer gpt2`");
    }
    let bs = p.model.block_size;
    let dataset = match &data {
        Some(path) => Dataset::open(path, bs),
        None => Dataset::text(
            &tfs_data::text::load_tiny_shakespeare_fetching(&global.data_dir, global.fetch)?,
            bs,
        ),
    }
    .map_err(anyhow::Error::msg)?;
    let data = dataset.data();
    let opts = tfs_gpt::train::RunOptions {
        out: Some(&out),
        progress: true,
        resume,
        stop_after: None,
    };
    let r = tfs_gpt::train::run(&data, &p, global.seed, &opts).map_err(anyhow::Error::msg)?;
    eprintln!("checkpoint: {}", out.join("checkpoint").display());
    let mut stdout = crate::out::stdout();
    stdout.line(json!({"preset": p.name, "parameters": r.parameters, "iterations": r.iterations, "start_step": r.start_step,
                       "wall_seconds": r.wall_seconds, "tokens_per_s": r.tokens_per_s, "mfu": r.mfu,
                       "train_loss": r.train_loss, "val_loss": r.val_loss}))?;
    stdout.finish()?;
    Ok(())
}

/// `tfs gpt prepare`.
fn prepare(cmd: GptCommand, _global: &Global) -> Result<()> {
    let GptCommand::Prepare {
        tokenizer,
        out,
        val_fraction,
        shard_tokens,
        threads,
        inputs,
    } = cmd
    else {
        unreachable!("dispatched by run")
    };

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

/// `tfs gpt sample`.
fn sample(cmd: GptCommand, global: &Global) -> Result<()> {
    let GptCommand::Sample {
        checkpoint,
        prompt,
        tokens,
        greedy,
        temperature,
        top_k,
        top_p,
        no_kv_cache,
    } = cmd
    else {
        unreachable!("dispatched by run")
    };

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
    let run = if no_kv_cache {
        generate
    } else {
        generate_cached
    };
    let out = run(&model, &ids, tokens, &s, &mut Rng::new(global.seed));
    let mut stdout = crate::out::stdout();
    stdout.line(vocab.decode(&out))?;
    stdout.finish()?;
    Ok(())
}

/// `tfs gpt dpo`.
fn dpo(cmd: GptCommand, global: &Global) -> Result<()> {
    let GptCommand::Dpo {
        checkpoint,
        out,
        data,
        steps,
        lr,
        beta,
        batch_pairs,
        prompts,
        heldout_prompts,
        prompt_len,
        completion_len,
        samples,
    } = cmd
    else {
        unreachable!("dispatched by run")
    };

    if !(lr.is_finite() && lr > 0.0 && beta.is_finite() && beta > 0.0)
        || steps == 0
        || batch_pairs == 0
    {
        bail!("--lr and --beta must be positive, --steps and --batch-pairs at least 1");
    }
    if out.join("checkpoint").exists() {
        bail!(
            "{} already holds a checkpoint: choose another --out (nothing was changed)",
            out.display()
        );
    }
    let (mut policy, vocab) = tfs_gpt::checkpoint::load(&checkpoint)?;
    // The reference: a frozen copy of the same weights, in evaluation mode.
    let reference = tfs_gpt::dpo::frozen_copy(&policy);
    let text = match &data {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?
        }
        None => tfs_data::text::load_tiny_shakespeare_fetching(&global.data_dir, global.fetch)?,
    };
    let ids = vocab
        .encode(&text)
        .map_err(|m| anyhow::anyhow!("the prompt text: {m}"))?;
    let split = tfs_gpt::data::Split::new(ids, prompt_len).map_err(anyhow::Error::msg)?;
    let setup = tfs_gpt::dpo_data::PairSetup {
        prompt_len,
        completion_len,
        samples_per_prompt: samples,
        train_prompts: prompts,
        heldout_prompts,
    };
    let score = |c: &[usize]| tfs_gpt::dpo::e_score(&vocab.decode(c));
    setup
        .check(&reference, split.train.len(), split.val.len())
        .map_err(anyhow::Error::msg)?;
    eprintln!("sampling preference pairs from {}", checkpoint.display());
    let prep = tfs_gpt::dpo_data::prepare(
        &reference,
        &split.train,
        &split.val,
        &setup,
        &score,
        &mut Rng::new(global.seed),
    )
    .map_err(anyhow::Error::msg)?;
    let cfg = tfs_gpt::dpo::DpoConfig {
        beta,
        lr,
        steps,
        batch_pairs,
        seed: global.seed,
        ..Default::default()
    };
    std::fs::create_dir_all(&out).with_context(|| format!("{}", out.display()))?;
    let d = tfs_gpt::dpo::DpoData {
        pairs: &prep.pairs,
        held_out: &prep.held_out,
        probe: &prep.probe,
    };
    let r = tfs_gpt::dpo::train(
        &mut policy,
        &reference,
        &d,
        &cfg,
        Some(&out.join("log.jsonl")),
        true,
    )
    .map_err(anyhow::Error::msg)?;
    tfs_gpt::checkpoint::save(&out.join("checkpoint"), &policy, &vocab)?;
    eprintln!("checkpoint: {}", out.join("checkpoint").display());
    let last = r.evals.last().context("no evaluation")?;
    let mut stdout = crate::out::stdout();
    stdout.line(json!({"train_pairs": prep.pairs.len(), "heldout_pairs": prep.held_out.len(), "steps": steps,
                       "wall_seconds": r.wall_seconds, "heldout_loss": last.metrics.loss, "heldout_accuracy": last.metrics.accuracy,
                       "heldout_margin": last.metrics.margin, "reward_chosen": last.metrics.reward_chosen,
                       "reward_rejected": last.metrics.reward_rejected, "kl": last.kl}))?;
    stdout.finish()?;
    Ok(())
}

/// `tfs gpt import-hf`.
fn import_hf(cmd: GptCommand, global: &Global) -> Result<()> {
    let GptCommand::ImportHf { src, out } = cmd else {
        unreachable!("dispatched by run")
    };

    let mut hub = Hub::from_env();
    hub.offline |= global.fetch == Fetch::Offline;
    let (model, vocab) = tfs_gpt::hf::import_hf(&src, &hub)?;
    tfs_gpt::checkpoint::save(&out, &model, &vocab)?;
    let c = model.cfg;
    let mut stdout = crate::out::stdout();
    stdout.line(
        json!({"source": src, "checkpoint": out, "n_layer": c.n_layer, "n_head": c.n_head,
                       "n_embd": c.n_embd, "block_size": c.block_size, "vocab_size": c.vocab_size}),
    )?;
    stdout.finish()?;
    Ok(())
}

/// `tfs gpt export-hf`.
fn export_hf(cmd: GptCommand, _global: &Global) -> Result<()> {
    let GptCommand::ExportHf { checkpoint, out } = cmd else {
        unreachable!("dispatched by run")
    };

    tfs_gpt::hf::export_hf(&checkpoint, &out)?;
    let mut stdout = crate::out::stdout();
    stdout.line(json!({"checkpoint": checkpoint, "out": out}))?;
    stdout.finish()?;
    Ok(())
}

/// `tfs gpt score`.
fn score(cmd: GptCommand, _global: &Global) -> Result<()> {
    let GptCommand::Score {
        checkpoint,
        text_file,
    } = cmd
    else {
        unreachable!("dispatched by run")
    };

    let text =
        std::fs::read_to_string(&text_file).with_context(|| format!("{}", text_file.display()))?;
    let (model, vocab) = tfs_gpt::checkpoint::load(&checkpoint)?;
    let s = tfs_gpt::score::score(&model, &vocab, &text)
        .map_err(|m| anyhow::anyhow!("{}: {m}", text_file.display()))?;
    let mut stdout = crate::out::stdout();
    stdout
        .line(json!({"tokens": s.tokens, "mean_loss": s.mean_loss, "perplexity": s.perplexity}))?;
    stdout.finish()?;
    Ok(())
}
