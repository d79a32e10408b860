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
        /// Vocabulary size (BPE only: 256 bytes + merges + specials; default 1024, at most 2^20)
        #[arg(long)]
        vocab_size: Option<usize>,
        /// bpe, char or word
        #[arg(long, default_value = "bpe")]
        kind: String,
        /// Special tokens for BPE (e.g. "<|endoftext|>")
        #[arg(long)]
        special: Vec<String>,
        /// Minimum count for the word tokenizer (default 1)
        #[arg(long)]
        min_freq: Option<usize>,
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

/// Ids separated by spaces, built in one string (a Vec<String> of 20 million ids took ~1 GB).
fn ids_line(ids: &[u32]) -> String {
    let mut s = String::with_capacity(ids.len() * 6);
    for (k, id) in ids.iter().enumerate() {
        if k > 0 {
            s.push(' ');
        }
        s.push_str(&id.to_string());
    }
    s
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
            if !["bpe", "char", "word"].contains(&kind.as_str()) {
                bail!("unknown tokenizer kind '{kind}' (expected bpe, char or word)");
            }
            // Options a kind does not use are said to be ignored, not silently dropped.
            let ignored = |flag: &str, given: bool, used_by: &str| {
                if given && kind != used_by {
                    eprintln!("warning: {flag} is ignored by the {kind} tokenizer (only {used_by} uses it)");
                }
            };
            ignored("--vocab-size", vocab_size.is_some(), "bpe");
            ignored("--special", !special.is_empty(), "bpe");
            ignored("--min-freq", min_freq.is_some(), "word");
            let vocab_size = vocab_size.unwrap_or(1024);
            if kind == "bpe" {
                // Before reading gigabytes of text.
                tfs_tokenizers::bpe_tokenizer::check_vocab_size(vocab_size, special.len())?;
            }
            let texts: Vec<String> = input
                .iter()
                .map(|p| read_input(&Some(p.clone())))
                .collect::<Result<_>>()?;
            if texts.iter().all(|t| t.trim().is_empty()) {
                bail!("the training text is empty (or only whitespace): nothing to learn a vocabulary from");
            }
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let t0 = std::time::Instant::now();
            let tok: Box<dyn Tokenizer> = match kind.as_str() {
                "bpe" => {
                    let sp: Vec<&str> = special.iter().map(String::as_str).collect();
                    Box::new(BpeTokenizer::train(&refs, vocab_size, Split::Gpt2, &sp)?.0)
                }
                "char" => Box::new(CharTokenizer::train(&texts.concat())),
                _ => Box::new(WordTokenizer::train(
                    &texts.join("\n"),
                    WordOptions {
                        min_freq: min_freq.unwrap_or(1),
                        ..WordOptions::default()
                    },
                )),
            };
            tok.save(&out)?;
            let short = if kind == "bpe" && tok.vocab_size() < vocab_size {
                format!(" (not {vocab_size}: the text has no more pairs to merge)")
            } else {
                String::new()
            };
            eprintln!(
                "trained a {} tokenizer of {} tokens{short} in {:.2}s -> {}",
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
            let mut out = crate::out::stdout();
            if lines {
                for line in text.lines() {
                    out.line(ids_line(&tok.encode(line)))?;
                }
            } else {
                out.line(ids_line(&tok.encode(&text)))?;
            }
            Ok(out.finish()?)
        }
        TokenizerCommand::Decode { which, file } => {
            let tok = tokenizer(&which)?;
            let text = read_input(&file)?;
            let name = file
                .as_ref()
                .map_or("stdin".to_string(), |p| p.display().to_string());
            let mut ids: Vec<u32> = Vec::new();
            for (n, line) in text.lines().enumerate() {
                for (k, s) in line.split_whitespace().enumerate() {
                    let id = s.parse::<u32>().map_err(|_| {
                        anyhow::anyhow!(
                            "{name}:{}: '{s}' (word {}) is not a token id",
                            n + 1,
                            k + 1
                        )
                    })?;
                    ids.push(id);
                }
            }
            let mut out = crate::out::stdout();
            out.text(tok.decode(&ids)?)?;
            Ok(out.finish()?)
        }
    }
}
