//! `tfs`: the command line of Transformers From Scratch. Thin: it parses arguments and calls the
//! library crates; every error ends as one line on stderr and a non-zero exit.

mod bench;
mod data;
mod lab;
mod tokenizer;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "tfs",
    version,
    about = "Transformers From Scratch: every idea from a dot product to GPT-2, by hand"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lab(cmd) => lab::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Data(cmd) => data::run(cmd),
        Command::Tokenizer(cmd) => tokenizer::run(cmd),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
