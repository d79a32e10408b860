//! `tfs data fetch NAME [--data-dir DIR]`: download a dataset and verify its checksums.

use anyhow::{anyhow, Result};
use clap::Subcommand;
use std::path::PathBuf;
use tfs_data::fetch::{fetch, http_download, Fetched, DATASETS};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Download a dataset (mnist, tinyshakespeare) into DATA_DIR/NAME, verifying SHA-256 checksums
    Fetch {
        name: String,
        /// Dataset folder (default: $TFS_DATA_DIR, else ./data)
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Fetch { name, data_dir } => {
            let spec = DATASETS.iter().find(|d| d.name == name).ok_or_else(|| {
                let known: Vec<&str> = DATASETS.iter().map(|d| d.name).collect();
                anyhow!("unknown dataset '{name}' (known: {})", known.join(", "))
            })?;
            let dir = tfs_data::data_dir(data_dir.as_deref());
            for f in fetch(spec, &dir, &http_download)? {
                match f {
                    Fetched::Cached(p) => println!("cached     {}", p.display()),
                    Fetched::Downloaded(p) => println!("downloaded {}", p.display()),
                }
            }
            Ok(())
        }
    }
}
