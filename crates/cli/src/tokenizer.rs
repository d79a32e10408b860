//! `tfs tokenizer train|encode|decode`: tokenizers from the command line.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use tfs_tokenizers::char::CharTokenizer;
use tfs_tokenizers::word::{WordOptions, WordTokenizer};
use tfs_tokenizers::{BpeTokenizer, Split, Tokenizer};

#[derive(Subcommand)]
pub enum TokenizerCommand {
    /// Train a tokenizer on text files and save it
    Train {
        /// Training text (UTF-8); several files allowed
        #[arg(long, required = true, num_args = 1..)]
        input: Vec<PathBuf>,
        /// Vocabulary size (BPE: 256 bytes + merges + specials)
        #[arg(long, default_value_t = 1024)]
        vocab_size: usize,
        /// bpe, char or word
        #[arg(long, default_value = "bpe")]
        kind: String,
        /// Special tokens for BPE (e.g. "<|endoftext|>")
        #[arg(long)]
        special: Vec<String>,
        /// Minimum count for the word tokenizer
        #[arg(long, default_value_t = 1)]
        min_freq: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the token ids of a text file (stdin when no file)
    Encode {
        #[command(flatten)]
        which: Which,
        file: Option<PathBuf>,
        /// One output line of ids per input line
        #[arg(long)]
        lines: bool,
    },
    /// Print the text of whitespace-separated ids (stdin when no file)
    Decode {
        #[command(flatten)]
        which: Which,
        file: Option<PathBuf>,
    },
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Which {
    /// GPT-2's tokenizer (r50k_base)
    #[arg(long)]
    gpt2: bool,
    /// A tokenizer saved by `tfs tokenizer train`
    #[arg(long)]
    model: Option<PathBuf>,
}

fn tokenizer(w: &Which) -> Result<Box<dyn Tokenizer>> {
    Ok(match (&w.model, w.gpt2) {
        (Some(p), _) => tfs_tokenizers::load(p)?,
        (None, true) => Box::new(tfs_tokenizers::gpt2::gpt2()?),
        (None, false) => bail!("give --gpt2 or --model FILE"),
    })
}

fn read_input(file: &Option<PathBuf>) -> Result<String> {
    let mut bytes = Vec::new();
    let name = match file {
        Some(p) => {
            bytes = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
            p.display().to_string()
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading stdin")?;
            "stdin".to_string()
        }
    };
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{name}: invalid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        )
    })
}

fn ids_line(ids: &[u32]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn run(cmd: TokenizerCommand) -> Result<()> {
    match cmd {
        TokenizerCommand::Train {
            input,
            vocab_size,
            kind,
            special,
            min_freq,
            out,
        } => {
            let texts: Vec<String> = input
                .iter()
                .map(|p| read_input(&Some(p.clone())))
                .collect::<Result<_>>()?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let t0 = std::time::Instant::now();
            let tok: Box<dyn Tokenizer> = match kind.as_str() {
                "bpe" => {
                    let sp: Vec<&str> = special.iter().map(String::as_str).collect();
                    Box::new(BpeTokenizer::train(&refs, vocab_size, Split::Gpt2, &sp)?.0)
                }
                "char" => Box::new(CharTokenizer::train(&texts.concat())),
                "word" => Box::new(WordTokenizer::train(
                    &texts.join("\n"),
                    WordOptions {
                        min_freq,
                        ..WordOptions::default()
                    },
                )),
                k => bail!("unknown tokenizer kind '{k}' (expected bpe, char or word)"),
            };
            tok.save(&out)?;
            eprintln!(
                "trained a {} tokenizer of {} tokens in {:.2}s -> {}",
                tok.kind(),
                tok.vocab_size(),
                t0.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(())
        }
        TokenizerCommand::Encode { which, file, lines } => {
            let tok = tokenizer(&which)?;
            let text = read_input(&file)?;
            if lines {
                for line in text.lines() {
                    println!("{}", ids_line(&tok.encode(line)));
                }
            } else {
                println!("{}", ids_line(&tok.encode(&text)));
            }
            Ok(())
        }
        TokenizerCommand::Decode { which, file } => {
            let tok = tokenizer(&which)?;
            let text = read_input(&file)?;
            let ids: Vec<u32> = text
                .split_whitespace()
                .map(|s| {
                    s.parse::<u32>()
                        .map_err(|_| anyhow::anyhow!("'{s}' is not a token id"))
                })
                .collect::<Result<_>>()?;
            print!("{}", tok.decode(&ids)?);
            Ok(())
        }
    }
}
