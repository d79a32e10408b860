//! `tfs bench mlp`: the MNIST MLP recipe timed, printed as one JSON line with the same keys as
//! the PyTorch peer (`bench/peers/torch_mlp.py`), so the two can be compared in one session.

use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use tfs_nn::mnist::{arrays, pixel_stats, train_recipe, Recipe};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// MNIST MLP training throughput (peer: bench/peers/torch_mlp.py)
    Mlp {
        /// Epochs to train (the recipe's 15 by default)
        #[arg(long)]
        epochs: Option<usize>,
        /// Dataset folder (default: $TFS_DATA_DIR, else ./data)
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// GPT-2 encoding throughput and BPE training time (peer: bench/peers/tokenizers.py)
    Tokenizer {
        #[arg(long, default_value_t = 8192)]
        vocab_size: usize,
        /// Dataset folder (default: $TFS_DATA_DIR, else ./data)
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Char-level LSTM training throughput (peer: bench/peers/torch_lstm.py)
    Lstm {
        #[arg(long, default_value_t = 100)]
        steps: usize,
        #[arg(long, default_value_t = 256)]
        hidden: usize,
        /// Dataset folder (default: $TFS_DATA_DIR, else ./data)
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Mlp {
            epochs,
            data_dir,
            seed,
        } => {
            let data = tfs_data::mnist::load_mnist(&tfs_lab::data_dir(data_dir.as_deref()))?;
            let mut recipe = Recipe::full();
            if let Some(e) = epochs {
                anyhow::ensure!(e > 0, "--epochs must be at least 1");
                recipe.epochs = e;
            }
            let stats = pixel_stats(&data.train);
            let train = arrays(&data.train, usize::MAX, stats);
            let test = arrays(&data.test, usize::MAX, stats);
            let (_, recs) = train_recipe(&recipe, &train, &test, seed, &mut |r| {
                eprintln!(
                    "epoch {:>2}  loss {:.4}  test acc {:.4}  {:.2}s",
                    r.epoch, r.train_loss, r.test_accuracy, r.seconds
                );
            });
            let train_s: f64 = recs.iter().map(|r| r.seconds).sum();
            let samples = (train.y.len() / recipe.batch * recipe.batch * recipe.epochs) as f64;
            let line = serde_json::json!({
                "impl": format!("tfs {}", env!("CARGO_PKG_VERSION")),
                "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
                "epochs": recipe.epochs,
                "batch": recipe.batch,
                "samples_per_s": samples / train_s,
                "epoch_seconds": train_s / recipe.epochs as f64,
                "test_accuracy": recs.last().map_or(0.0, |r| r.test_accuracy),
            });
            println!("{line}");
            Ok(())
        }
        BenchCommand::Tokenizer {
            vocab_size,
            data_dir,
        } => tokenizer(data_dir, vocab_size),
        BenchCommand::Lstm {
            steps,
            hidden,
            data_dir,
        } => {
            anyhow::ensure!(
                steps > 0 && hidden > 0,
                "--steps and --hidden must be at least 1"
            );
            lstm(data_dir, steps, hidden)
        }
    }
}

/// `tfs bench lstm`: the char-LM LSTM of `bench/peers/torch_lstm.py`, timed over `steps` steps
/// after 3 warm-up steps; prints one JSON line with the peer's keys.
pub fn lstm(data_dir: Option<PathBuf>, steps: usize, hidden: usize) -> Result<()> {
    use tfs_seq::charlm_train::{train_char_lm, Corpus, LmRecipe};
    let text = tfs_data::text::load_tiny_shakespeare(&tfs_lab::data_dir(data_dir.as_deref()))?;
    let corpus = Corpus::new(&text, 200_000, 0.0);
    let r = LmRecipe {
        hidden,
        seq_len: 64,
        batch: 32,
        steps: steps + 3,
        lr: 3e-3,
        clip: 5.0,
        eval_every: usize::MAX,
    };
    let mut t0 = std::time::Instant::now();
    let run = train_char_lm(tfs_seq::CellKind::Lstm, &corpus, &r, 0, 0, &mut |s| {
        if s == 3 {
            t0 = std::time::Instant::now();
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "impl": format!("tfs {}", env!("CARGO_PKG_VERSION")),
        "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "hidden": hidden, "seq_len": r.seq_len, "batch": r.batch, "steps": steps,
        "tokens_per_s": (steps * r.seq_len * r.batch) as f64 / secs,
        "final_loss": run.train_curve.last().map(|p| p.1),
    });
    println!("{line}");
    Ok(())
}

/// Splits `text` into about `n` chunks at line boundaries (the documents of the batch benchmark;
/// the peer script splits the same way).
pub fn chunks(text: &str, n: usize) -> Vec<&str> {
    let target = text.len() / n.max(1) + 1;
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + target).min(text.len());
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// Best of `reps` timings of `f`, in seconds.
fn best_of(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// `tfs bench tokenizer`: GPT-2 encoding throughput (one thread; all threads over 64 chunks) and
/// BPE training time on Tiny Shakespeare; peer: `bench/peers/tokenizers.py` (tiktoken, HF tokenizers).
pub fn tokenizer(data_dir: Option<PathBuf>, vocab_size: usize) -> Result<()> {
    use tfs_tokenizers::{BpeTokenizer, Split};
    let text = tfs_data::text::load_tiny_shakespeare(&tfs_lab::data_dir(data_dir.as_deref()))?;
    let mb = text.len() as f64 / 1e6;
    let gpt2 = tfs_tokenizers::gpt2::gpt2()?;
    let n_tokens = gpt2.encode_ordinary(&text).len();
    let one = best_of(5, || {
        std::hint::black_box(gpt2.encode_ordinary(&text));
    });
    let docs = chunks(&text, 64);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let all = best_of(5, || {
        let per = docs.len().div_ceil(threads);
        std::thread::scope(|s| {
            for part in docs.chunks(per) {
                let g = &gpt2;
                s.spawn(move || {
                    part.iter()
                        .map(|d| g.encode_ordinary(d).len())
                        .sum::<usize>()
                });
            }
        });
    });
    let train = best_of(3, || {
        std::hint::black_box(
            BpeTokenizer::train(&[&text], vocab_size, Split::Gpt2, &[]).expect("valid size"),
        );
    });
    let line = serde_json::json!({
        "impl": format!("tfs {}", env!("CARGO_PKG_VERSION")),
        "threads": threads,
        "corpus_mb": mb,
        "gpt2_tokens": n_tokens,
        "encode_mb_per_s_1thread": mb / one,
        "encode_mb_per_s_all_threads": mb / all,
        "train_vocab_size": vocab_size,
        "train_seconds": train,
    });
    println!("{line}");
    Ok(())
}
