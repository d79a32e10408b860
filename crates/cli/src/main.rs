//! `tfs`: the command line of Transformers From Scratch. Thin: it parses arguments and calls the
//! library crates; every error ends as one line on stderr and a non-zero exit.
//!
//! `--data-dir`, `--seed` and `--offline` are global (accepted before or after the subcommand) and
//! resolved once here: the data folder by `tfs_data::data_dir` (the flag, else `$TFS_DATA_DIR`,
//! else `./data`); a dataset missing from it is downloaded on first use (checksummed) unless
//! `--offline` or `$TFS_OFFLINE` says not to. Commands that read no dataset or draw nothing at
//! random ignore them.

#![forbid(unsafe_code)]

mod bench;
mod data;
mod gpt;
mod lab;
mod out;
mod tokenizer;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tfs_data::fetch::Fetch;

#[derive(Parser)]
#[command(
    name = "tfs",
    version,
    about = "Transformers From Scratch: every idea from a dot product to GPT-2, by hand"
)]
struct Cli {
    /// Dataset folder (default: $TFS_DATA_DIR, else ./data)
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Seed of every random draw (lab runs, bench mlp and lstm)
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
    /// Never download: a missing dataset is an error naming the command that gets it
    /// (also $TFS_OFFLINE=1)
    #[arg(long, global = true)]
    offline: bool,
    #[command(subcommand)]
    command: Command,
}

/// The global options, resolved.
pub struct Global {
    /// Where datasets are found.
    pub data_dir: PathBuf,
    pub seed: u64,
    /// Whether a missing dataset is downloaded on first use.
    pub fetch: Fetch,
}

#[derive(Subcommand)]
enum Command {
    /// Experiments of the roadmap: list them, run them
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Benchmarks that print one JSON line, comparable with bench/peers/
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Tokenizers: train, encode, decode
    #[command(subcommand)]
    Tokenizer(tokenizer::TokenizerCommand),
    /// Datasets: fetch them with checksums
    #[command(subcommand)]
    Data(data::DataCommand),
    /// GPT: prepare token shards, train on a text, sample from a checkpoint
    #[command(subcommand)]
    Gpt(gpt::GptCommand),
}

fn main() {
    tfs_tensor::backend::keep_freed_memory();
    let cli = Cli::parse();
    let global = Global {
        data_dir: tfs_data::data_dir(cli.data_dir.as_deref()),
        seed: cli.seed,
        fetch: Fetch::from_env(cli.offline),
    };
    let result = match cli.command {
        Command::Lab(cmd) => lab::run(cmd, &global),
        Command::Bench(cmd) => bench::run(cmd, &global),
        Command::Data(cmd) => data::run(cmd, &global),
        Command::Tokenizer(cmd) => tokenizer::run(cmd),
        Command::Gpt(cmd) => gpt::run(cmd, &global),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
