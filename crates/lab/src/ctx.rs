//! The context an experiment runs in: where it writes, its seed, its size, and what it records.
//!
//! An experiment records numbers with [`Ctx::set`], draws figures into [`Ctx::figure`] paths, and
//! writes the markdown a blog post includes with [`Ctx::md`] and [`Ctx::table`]. When it returns,
//! the runner writes `results.json` (the recorded numbers at the top level, beside the id, seed,
//! mode and machine) and `summary.md`.

use crate::error::{io, LabError};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use tfs_math::Rng;

/// Keys the runner writes itself; an experiment may not set them.
pub const RESERVED_KEYS: [&str; 8] = [
    "id",
    "phase",
    "description",
    "seed",
    "quick",
    "machine",
    "figures",
    "seconds",
];

/// The fewest MNIST training images the lab accepts: the largest batch of its recipes.
pub const MNIST_MIN_TRAIN: usize = 128;

/// One experiment's run.
pub struct Ctx {
    /// The experiment's id.
    pub id: &'static str,
    /// The folder it writes into (`OUT/ID`).
    pub dir: PathBuf,
    /// Seconds-sized run for the test suite.
    pub quick: bool,
    /// The seed of every random draw.
    pub seed: u64,
    /// Print more while running (e.g. weights every epoch).
    pub verbose: bool,
    /// Where datasets are found.
    pub data_dir: PathBuf,
    /// Whether a missing dataset is downloaded on first use.
    pub fetch: tfs_data::fetch::Fetch,
    pub(crate) results: Map<String, Value>,
    pub(crate) summary: String,
    pub(crate) figures: Vec<String>,
}

impl Ctx {
    pub(crate) fn new(id: &'static str, dir: PathBuf, opts: &crate::RunOptions) -> Self {
        Ctx {
            id,
            dir,
            quick: opts.quick,
            seed: opts.seed,
            verbose: opts.verbose,
            data_dir: opts.data_dir.clone(),
            fetch: opts.fetch,
            results: Map::new(),
            summary: String::new(),
            figures: Vec::new(),
        }
    }

    /// This experiment's error for a problem `e` with its data or configuration.
    pub fn fail(&self, e: impl std::fmt::Display) -> LabError {
        LabError::Experiment {
            id: self.id.to_string(),
            message: e.to_string(),
        }
    }

    /// A generator seeded from the run's seed.
    pub fn rng(&self) -> Rng {
        Rng::new(self.seed)
    }

    /// Picks the full or the quick value.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }

    /// Records a number (or any JSON value) at the top level of results.json.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        assert!(
            !RESERVED_KEYS.contains(&key),
            "experiment {} set the reserved results key '{key}'",
            self.id
        );
        self.results.insert(key.to_string(), value.into());
    }

    /// The path of a figure file `name` (e.g. "loss.svg") in this experiment's folder.
    pub fn figure(&mut self, name: &str) -> PathBuf {
        self.figures.push(name.to_string());
        self.dir.join(name)
    }

    /// Appends a paragraph of markdown to summary.md.
    pub fn md(&mut self, text: &str) {
        self.summary.push_str(text.trim());
        self.summary.push_str("\n\n");
    }

    /// Appends a markdown table to summary.md.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) {
        let mut t = format!("| {} |\n|", headers.join(" | "));
        for _ in headers {
            t.push_str("---|");
        }
        t.push('\n');
        for r in rows {
            assert_eq!(
                r.len(),
                headers.len(),
                "table row has the wrong number of cells"
            );
            t.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        self.summary.push_str(&t);
        self.summary.push('\n');
    }

    /// A progress bar of `len` steps, drawn on stderr when it is a terminal.
    pub fn progress(&self, len: u64, what: &str) -> ProgressBar {
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix:>24} {msg:<20} [{bar:30}] {pos}/{len} {elapsed}<{eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        pb.set_prefix(self.id);
        pb.set_message(what.to_string());
        pb
    }

    /// MNIST from the data folder; a missing file is [`LabError::DataMissing`] naming this
    /// experiment. Fewer than [`MNIST_MIN_TRAIN`] training images (one batch of the largest
    /// recipe) is an error.
    pub fn mnist(&self) -> Result<tfs_data::mnist::Mnist, LabError> {
        let data = tfs_data::mnist::load_mnist_fetching(&self.data_dir, self.fetch)
            .map_err(|e| LabError::from_data(self.id, e))?;
        if data.train.n < MNIST_MIN_TRAIN {
            return Err(self.fail(format!(
                "{}: {} training images, fewer than one batch of {MNIST_MIN_TRAIN}",
                data.dir.display(),
                data.train.n
            )));
        }
        Ok(data)
    }

    /// Tiny Shakespeare from the data folder, as [`Ctx::mnist`] for errors.
    pub fn tiny_shakespeare(&self) -> Result<String, LabError> {
        tfs_data::text::load_tiny_shakespeare_fetching(&self.data_dir, self.fetch)
            .map_err(|e| LabError::from_data(self.id, e))
    }

    /// Writes a text file (e.g. generated samples) into the experiment's folder.
    pub fn write_file(&mut self, name: &str, contents: &str) -> Result<(), LabError> {
        let path = self.dir.join(name);
        io(&path, std::fs::write(&path, contents))
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}
