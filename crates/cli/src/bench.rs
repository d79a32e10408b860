//! `tfs bench mlp|lstm|tokenizer|transformer|gemm|kernels|gpt|generate`: parses the arguments,
//! runs the benchmark in `tfs-bench` and prints its JSON line (same keys as the peer in
//! bench/peers/); `generate` also runs its peer and prints the peer's line after ours.

use crate::Global;
use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// MNIST MLP training throughput (peer: bench/peers/torch_mlp.py)
    Mlp {
        /// Epochs to train (the recipe's 15 by default)
        #[arg(long)]
        epochs: Option<usize>,
    },
    /// GPT-2 encoding throughput and BPE training time (peer: bench/peers/tokenizers.py)
    Tokenizer {
        #[arg(long, default_value_t = 8192)]
        vocab_size: usize,
    },
    /// GEMM GFLOP/s on square and GPT-2 shapes, one line per case (peer: bench/peers/torch_matmul.py)
    Gemm {
        /// Thread counts to measure, comma-separated
        #[arg(long, default_value = "1,2", value_delimiter = ',')]
        threads: Vec<usize>,
        /// Only the cases whose name contains this (e.g. square, gpt2.fc)
        #[arg(long, default_value = "")]
        filter: String,
        /// Seconds of timed runs per case (best and median reported)
        #[arg(long, default_value_t = 0.5)]
        min_seconds: f64,
    },
    /// Greedy generation with GPT-2 124M, batch 1, with and without the KV cache, beside Hugging
    /// Face transformers' generate on the same weights (peer: bench/peers/hf_generate.py); prints
    /// our line, then the peer's
    Generate {
        /// A Hugging Face GPT-2 folder; when it holds no model.safetensors, the peer saves a
        /// random-initialised GPT-2 124M there first
        #[arg(long, default_value = "out/bench/gpt2-124m-random")]
        model: std::path::PathBuf,
        /// New tokens per generation
        #[arg(long, default_value_t = 128)]
        new_tokens: usize,
        /// Timed generations each way (the fastest is reported)
        #[arg(long, default_value_t = 3)]
        repeats: usize,
        /// Do not run the peer (ours alone)
        #[arg(long)]
        no_peer: bool,
        /// The Python that runs the peer (needs torch and transformers)
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Fused kernels: achieved GB/s beside the measured copy bandwidth, one line per kernel
    Kernels {
        /// Seconds of timed runs per kernel
        #[arg(long, default_value_t = 0.3)]
        min_seconds: f64,
    },
    /// Char-level LSTM training throughput (peer: bench/peers/torch_lstm.py)
    Lstm {
        #[arg(long, default_value_t = 100)]
        steps: usize,
        #[arg(long, default_value_t = 256)]
        hidden: usize,
    },
    /// Encoder-decoder transformer training throughput on toy translation
    /// (peer: bench/peers/torch_transformer.py)
    Transformer {
        #[arg(long, default_value_t = 200)]
        steps: usize,
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Train on the Phase 6 framework (autograd) instead of the hand-written backward
        #[arg(long)]
        framework: bool,
    },
    /// GPT on Tiny Shakespeare: a character preset's whole training run with its evaluations, or
    /// GPT-2 124M's training steps with peak memory (peer: bench/peers/torch_gpt.py)
    Gpt {
        /// baby, shakespeare-char or gpt2-124m
        #[arg(long, default_value = "baby")]
        preset: String,
        /// Iterations (default: the preset's; 6 for gpt2-124m)
        #[arg(long)]
        iters: Option<usize>,
        /// Batch size (default: the preset's)
        #[arg(long)]
        batch: Option<usize>,
        /// Context length (default: the preset's)
        #[arg(long)]
        ctx: Option<usize>,
        /// Batches per loss estimate (default: the preset's; 1 for gpt2-124m)
        #[arg(long)]
        eval_iters: Option<usize>,
    },
}

pub fn run(cmd: BenchCommand, global: &Global) -> Result<()> {
    let line = match cmd {
        BenchCommand::Generate {
            model,
            new_tokens,
            repeats,
            no_peer,
            python,
        } => {
            anyhow::ensure!(
                new_tokens > 0 && repeats > 0,
                "--new-tokens and --repeats must be at least 1"
            );
            let a = tfs_bench::generate::GenerateBench {
                model,
                new_tokens,
                repeats,
                peer: !no_peer,
                python,
            };
            let mut out = crate::out::stdout();
            let mut failed = None;
            tfs_bench::generate::generate(&a, &mut |v| {
                if failed.is_none() {
                    failed = out.line_now(v).err();
                }
            })?;
            return match failed {
                Some(e) => Err(e.into()),
                None => Ok(out.finish()?),
            };
        }
        BenchCommand::Gemm {
            threads,
            filter,
            min_seconds,
        } => {
            anyhow::ensure!(
                !threads.is_empty() && threads.iter().all(|&t| t > 0),
                "--threads must list counts of at least 1"
            );
            anyhow::ensure!(min_seconds >= 0.0, "--min-seconds must not be negative");
            let mut out = crate::out::stdout();
            let mut failed = None;
            tfs_bench::gemm::gemm(&threads, &filter, min_seconds, &mut |v| {
                if failed.is_none() {
                    failed = out.line_now(v).err();
                }
            });
            return match failed {
                Some(e) => Err(e.into()),
                None => Ok(out.finish()?),
            };
        }
        BenchCommand::Kernels { min_seconds } => {
            anyhow::ensure!(min_seconds >= 0.0, "--min-seconds must not be negative");
            let mut out = crate::out::stdout();
            let mut failed = None;
            tfs_bench::kernels::kernels(min_seconds, &mut |v| {
                if failed.is_none() {
                    failed = out.line_now(v).err();
                }
            });
            return match failed {
                Some(e) => Err(e.into()),
                None => Ok(out.finish()?),
            };
        }
        BenchCommand::Mlp { epochs } => {
            anyhow::ensure!(epochs != Some(0), "--epochs must be at least 1");
            tfs_bench::mlp::mlp(
                &global.data_dir,
                global.fetch,
                epochs,
                global.seed,
                &mut |r| {
                    eprintln!(
                        "epoch {:>2}  loss {:.4}  test acc {:.4}  {:.2}s",
                        r.epoch, r.train_loss, r.test_accuracy, r.seconds
                    );
                },
            )?
        }
        BenchCommand::Tokenizer { vocab_size } => {
            tfs_bench::tokenizer::tokenizer(&global.data_dir, global.fetch, vocab_size)?
        }
        BenchCommand::Lstm { steps, hidden } => {
            anyhow::ensure!(
                steps > 0 && hidden > 0,
                "--steps and --hidden must be at least 1"
            );
            tfs_bench::lstm::lstm(&global.data_dir, global.fetch, steps, hidden, global.seed)?
        }
        BenchCommand::Transformer {
            steps,
            batch,
            framework,
        } => {
            anyhow::ensure!(
                steps > 0 && batch > 0,
                "--steps and --batch must be at least 1"
            );
            if framework {
                tfs_bench::transformer::transformer_framework(steps, batch, global.seed)
            } else {
                tfs_bench::transformer::transformer(steps, batch, global.seed)
            }
        }
        BenchCommand::Gpt {
            preset,
            iters,
            batch,
            ctx,
            eval_iters,
        } => {
            anyhow::ensure!(
                iters != Some(0) && batch != Some(0) && ctx != Some(0) && eval_iters != Some(0),
                "--iters, --batch, --ctx and --eval-iters must be at least 1"
            );
            let a = tfs_bench::gpt::GptBench {
                preset,
                iters,
                batch,
                ctx,
                eval_iters,
            };
            tfs_bench::gpt::gpt(&global.data_dir, global.fetch, &a, global.seed)
                .map_err(anyhow::Error::msg)?
        }
    };
    let mut out = crate::out::stdout();
    out.line(line)?;
    Ok(out.finish()?)
}
