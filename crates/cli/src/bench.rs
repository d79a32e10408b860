//! `tfs bench mlp|lstm|tokenizer|transformer`: parses the arguments, runs the benchmark in `tfs-bench` and
//! prints its one JSON line (same keys as the peer in bench/peers/).

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
    },
}

pub fn run(cmd: BenchCommand, global: &Global) -> Result<()> {
    let line = match cmd {
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
        BenchCommand::Transformer { steps, batch } => {
            anyhow::ensure!(
                steps > 0 && batch > 0,
                "--steps and --batch must be at least 1"
            );
            tfs_bench::transformer::transformer(steps, batch, global.seed)
        }
    };
    println!("{line}");
    Ok(())
}
