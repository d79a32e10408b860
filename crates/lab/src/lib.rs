//! # tfs-lab — every experiment of the roadmap
//!
//! An experiment is code with an id (`p0-matmul-speed`), a phase and a one-line description. Running
//! it writes, into `OUT/ID/`: `results.json` (every number it measured, with the seed and the
//! machine), SVG figures, and `summary.md` (tables and findings a blog post includes verbatim).
//! `--quick` shrinks every experiment to seconds; the test suite runs them all that way.

// `deny`, not `forbid`: ndarray's `s![]` expands to an `allow(unsafe_code)` item.
#![deny(unsafe_code)]

mod ctx;
mod error;
pub mod experiments;
pub mod figures;
pub mod gpt_runs;
pub mod machine;
pub mod plot;

pub use ctx::{Ctx, RESERVED_KEYS};
pub use error::LabError;

use error::io;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;
use tfs_data::fetch::Fetch;

/// An experiment of the roadmap.
#[derive(Clone, Copy)]
pub struct Experiment {
    pub id: &'static str,
    pub phase: u32,
    pub description: &'static str,
    pub run: fn(&mut Ctx) -> Result<(), LabError>,
}

/// Every experiment, in roadmap order.
pub fn registry() -> Vec<Experiment> {
    experiments::all()
}

/// The experiments a target names: an id, a phase `pN`, or `all`.
pub fn select(target: &str) -> Result<Vec<Experiment>, LabError> {
    let all = registry();
    let chosen: Vec<Experiment> = if target == "all" {
        all.clone()
    } else if let Some(phase) = target.strip_prefix('p').and_then(|n| n.parse::<u32>().ok()) {
        all.iter().copied().filter(|e| e.phase == phase).collect()
    } else {
        all.iter().copied().filter(|e| e.id == target).collect()
    };
    if chosen.is_empty() {
        return Err(LabError::UnknownTarget {
            target: target.to_string(),
            known: all.iter().map(|e| e.id.to_string()).collect(),
        });
    }
    Ok(chosen)
}

/// How to run experiments.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub out: PathBuf,
    pub quick: bool,
    pub seed: u64,
    pub verbose: bool,
    /// Where datasets are found (see `tfs_data::data_dir`).
    pub data_dir: PathBuf,
    /// Whether a missing dataset is downloaded on first use (`Online`) or is an error naming
    /// the command that gets it (`Offline`, `--offline`, `$TFS_OFFLINE`).
    pub fetch: Fetch,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            out: PathBuf::from("out/lab"),
            quick: false,
            seed: 0,
            verbose: false,
            data_dir: tfs_data::data_dir(None),
            fetch: Fetch::from_env(false),
        }
    }
}

/// Runs one experiment and writes its outputs into `OUT/ID/`. Returns the folder.
///
/// Outputs are first written to `OUT/ID.partial/`, which is removed when the experiment fails.
/// On success the previous result is renamed to `OUT/ID.old/`, the new one into place, then
/// `ID.old` is removed: at every instant one complete result exists under `ID` or `ID.old`, and a
/// run interrupted between the renames is repaired by the next one (`ID.old` moved back).
/// `OUT/ID` existing as anything but a folder is an error before anything runs.
pub fn run(exp: &Experiment, opts: &RunOptions) -> Result<PathBuf, LabError> {
    io(&opts.out, std::fs::create_dir_all(&opts.out))?;
    let dir = opts.out.join(exp.id);
    let tmp = opts.out.join(format!("{}.partial", exp.id));
    let old = opts.out.join(format!("{}.old", exp.id));
    if let Ok(meta) = std::fs::symlink_metadata(&dir) {
        if !meta.is_dir() {
            return Err(LabError::Io {
                path: dir,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists and is not a folder; move it away or choose another --out",
                ),
            });
        }
    } else if old.is_dir() {
        // A previous run stopped between its two renames: its old result comes back first.
        io(&old, std::fs::rename(&old, &dir))?;
    }
    if tmp.exists() {
        io(&tmp, std::fs::remove_dir_all(&tmp))?;
    }
    io(&tmp, std::fs::create_dir_all(&tmp))?;
    let mut ctx = Ctx::new(exp.id, tmp.clone(), opts);
    let start = Instant::now();
    let outcome = (exp.run)(&mut ctx).and_then(|()| {
        let seconds = start.elapsed().as_secs_f64();
        write_outputs(exp, &ctx, seconds)
    });
    if let Err(e) = outcome {
        std::fs::remove_dir_all(&tmp).ok();
        return Err(e);
    }
    if old.exists() {
        io(&old, std::fs::remove_dir_all(&old))?;
    }
    if dir.exists() {
        io(&dir, std::fs::rename(&dir, &old))?;
    }
    io(&dir, std::fs::rename(&tmp, &dir))?;
    if old.exists() {
        io(&old, std::fs::remove_dir_all(&old))?;
    }
    Ok(dir)
}

fn write_outputs(exp: &Experiment, ctx: &Ctx, seconds: f64) -> Result<(), LabError> {
    let mut doc = serde_json::Map::new();
    doc.insert("id".into(), json!(exp.id));
    doc.insert("phase".into(), json!(exp.phase));
    doc.insert("description".into(), json!(exp.description));
    doc.insert("seed".into(), json!(ctx.seed));
    doc.insert("quick".into(), json!(ctx.quick));
    doc.insert("machine".into(), machine::describe());
    doc.insert("seconds".into(), json!(round(seconds, 3)));
    doc.insert("figures".into(), json!(ctx.figures));
    for (k, v) in &ctx.results {
        doc.insert(k.clone(), v.clone());
    }
    let path = ctx.dir().join("results.json");
    let text = serde_json::to_string_pretty(&Value::Object(doc)).expect("JSON values serialise");
    io(&path, std::fs::write(&path, text + "\n"))?;
    for f in &ctx.figures {
        let p = ctx.dir().join(f);
        if !p.exists() {
            return Err(LabError::Experiment {
                id: exp.id.to_string(),
                message: format!("declared figure {f} was not written"),
            });
        }
    }
    let path = ctx.dir().join("summary.md");
    io(
        &path,
        std::fs::write(&path, ctx.summary.trim_end().to_string() + "\n"),
    )
}

/// `x` rounded to `digits` decimals (for readable JSON and tables).
pub fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// `x` with `sig` significant digits, as text (for tables).
pub fn sig(x: f64, sig: usize) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&mag) {
        return format!("{:.*e}", sig.saturating_sub(1), x);
    }
    let decimals = (sig as i32 - 1 - mag).max(0) as usize;
    format!("{x:.decimals$}")
}

/// Trailing moving average of `values` over `window` points, as `(step, mean)` with step = index
/// + 1, every `every`-th point (for smoothing noisy loss curves in figures).
pub fn moving_average(values: &[f64], window: usize, every: usize) -> Vec<(f64, f64)> {
    (0..values.len())
        .step_by(every.max(1))
        .map(|i| {
            let w = &values[(i + 1).saturating_sub(window.max(1))..=i];
            (i as f64 + 1.0, w.iter().sum::<f64>() / w.len() as f64)
        })
        .collect()
}
