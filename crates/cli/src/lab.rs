//! `tfs lab list` and `tfs lab run ID|pN|all [--out DIR] [--quick] [--verbose]` (with the global
//! `--seed N` and `--data-dir DIR`).

use crate::Global;
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;
use std::time::Instant;
use tfs_lab::{registry, select, LabError, RunOptions};

#[derive(Subcommand)]
pub enum LabCommand {
    /// Print every experiment: id, phase, description
    List,
    /// Run experiments and write results.json, SVG figures and summary.md per experiment
    Run {
        /// An experiment id, a phase (p0, p1, …) or `all`
        target: String,
        /// Output folder; each experiment writes into DIR/ID
        #[arg(long, default_value = "out/lab")]
        out: PathBuf,
        /// Shrink every experiment to seconds (what the test suite runs)
        #[arg(long)]
        quick: bool,
        /// Print more while running
        #[arg(long)]
        verbose: bool,
    },
}

pub fn run(cmd: LabCommand, global: &Global) -> Result<()> {
    match cmd {
        LabCommand::List => {
            let mut out = crate::out::stdout();
            for e in registry() {
                out.line(format!("{:<28} p{}  {}", e.id, e.phase, e.description))?;
            }
            Ok(out.finish()?)
        }
        LabCommand::Run {
            target,
            out,
            quick,
            verbose,
        } => {
            let chosen = select(&target)?;
            let opts = RunOptions {
                out,
                quick,
                seed: global.seed,
                verbose,
                data_dir: global.data_dir.clone(),
                fetch: global.fetch,
            };
            let mut skipped = Vec::new();
            let mut out = crate::out::stdout();
            for e in &chosen {
                let start = Instant::now();
                match tfs_lab::run(e, &opts) {
                    Ok(dir) => out.line_now(format!(
                        "{:<28} {:>7.1}s  -> {}",
                        e.id,
                        start.elapsed().as_secs_f64(),
                        dir.display()
                    ))?,
                    // A missing dataset does not stop the other experiments; it fails the run at the end.
                    Err(LabError::DataMissing { message, .. }) => {
                        eprintln!("{:<28} skipped: {message}", e.id);
                        skipped.push(e.id);
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            out.finish()?;
            anyhow::ensure!(
                skipped.is_empty(),
                "{} experiment(s) skipped for missing data ({}); see the lines above",
                skipped.len(),
                skipped.join(", ")
            );
            Ok(())
        }
    }
}
