//! `tfs data fetch NAME`: download a dataset into the global `--data-dir` and verify its
//! checksums. `fineweb-edu` (`--shards N` Parquet files of its 10BT sample) and `tinystories` come
//! from the Hugging Face hub (`$HF_ENDPOINT` for a mirror), resumable.

use crate::Global;
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use tfs_data::fetch::{fetch, http_download, Fetch, Fetched, DATASETS};
use tfs_data::hf_datasets::{endpoint, fetch_hub, HubDataset};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Download a dataset (mnist, tinyshakespeare, fineweb-edu, tinystories) into DATA_DIR/NAME,
    /// verifying SHA-256 checksums; hub downloads resume where they broke off
    Fetch {
        name: String,
        /// fineweb-edu: how many of its ~2 GB Parquet files (sample/10BT/000_00000.parquet, …)
        #[arg(long)]
        shards: Option<usize>,
    },
}

fn print(out: &mut crate::out::Stdout, f: Fetched, note: &str) -> Result<()> {
    match f {
        Fetched::Cached(p) => out.line(format!("cached     {}{note}", p.display()))?,
        Fetched::Downloaded(p) => out.line(format!("downloaded {}{note}", p.display()))?,
        Fetched::Replaced { path, reason } => out.line(format!(
            "replaced   {}{note} (the cached copy was rejected: {reason})",
            path.display()
        ))?,
    }
    Ok(())
}

pub fn run(cmd: DataCommand, global: &Global) -> Result<()> {
    match cmd {
        DataCommand::Fetch { name, shards } => {
            if let Some(hub) = HubDataset::from_name(&name) {
                if shards.is_some() && hub != HubDataset::FinewebEdu {
                    bail!("--shards applies to fineweb-edu only");
                }
                if shards == Some(0) {
                    bail!("--shards must be at least 1");
                }
                let files = hub.files(shards.unwrap_or(1));
                let offline = global.fetch == Fetch::Offline;
                let got = fetch_hub(hub.name(), &files, &global.data_dir, &endpoint(), offline)?;
                let mut out = crate::out::stdout();
                for f in got {
                    print(&mut out, f.fetched, &format!(" [{}]", f.verified))?;
                }
                return Ok(out.finish()?);
            }
            if shards.is_some() {
                bail!("--shards applies to fineweb-edu only");
            }
            let spec = DATASETS.iter().find(|d| d.name == name).ok_or_else(|| {
                let known: Vec<&str> = DATASETS
                    .iter()
                    .map(|d| d.name)
                    .chain(HubDataset::ALL.iter().map(|d| d.name()))
                    .collect();
                anyhow!("unknown dataset '{name}' (known: {})", known.join(", "))
            })?;
            let mut out = crate::out::stdout();
            for f in fetch(spec, &global.data_dir, &http_download)? {
                print(&mut out, f, "")?;
            }
            Ok(out.finish()?)
        }
    }
}
