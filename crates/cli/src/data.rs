//! `tfs data fetch NAME`: download a dataset into the global `--data-dir` and verify its
//! checksums.

use crate::Global;
use anyhow::{anyhow, Result};
use clap::Subcommand;
use tfs_data::fetch::{fetch, http_download, Fetched, DATASETS};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Download a dataset (mnist, tinyshakespeare) into DATA_DIR/NAME, verifying SHA-256 checksums
    Fetch { name: String },
}

pub fn run(cmd: DataCommand, global: &Global) -> Result<()> {
    match cmd {
        DataCommand::Fetch { name } => {
            let spec = DATASETS.iter().find(|d| d.name == name).ok_or_else(|| {
                let known: Vec<&str> = DATASETS.iter().map(|d| d.name).collect();
                anyhow!("unknown dataset '{name}' (known: {})", known.join(", "))
            })?;
            let mut out = crate::out::stdout();
            for f in fetch(spec, &global.data_dir, &http_download)? {
                match f {
                    Fetched::Cached(p) => out.line(format!("cached     {}", p.display()))?,
                    Fetched::Downloaded(p) => out.line(format!("downloaded {}", p.display()))?,
                    Fetched::Replaced { path, reason } => out.line(format!(
                        "replaced   {} (the cached copy was rejected: {reason})",
                        path.display()
                    ))?,
                }
            }
            Ok(out.finish()?)
        }
    }
}
