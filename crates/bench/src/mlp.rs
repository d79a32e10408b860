//! `tfs bench mlp`: the MNIST MLP recipe (`tfs_nn::mnist::Recipe`) trained on the full training
//! set and timed, with the same keys as the PyTorch peer (`bench/peers/torch_mlp.py`).
//!
//! Throughput counts only training time (evaluation after each epoch is excluded), over the whole
//! batches of every epoch. Left out: warm-up epochs and repeated runs (the peer does neither).

use crate::BenchError;
use serde_json::{json, Value};
use std::path::Path;
use tfs_data::fetch::Fetch;
use tfs_nn::mnist::{arrays, pixel_stats, train_recipe, EpochRecord, Recipe};

/// Trains `epochs` epochs (the recipe's 15 if `None`) with `seed`; `on_epoch` sees every epoch.
pub fn mlp(
    data_dir: &Path,
    fetch: Fetch,
    epochs: Option<usize>,
    seed: u64,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> Result<Value, BenchError> {
    let data = tfs_data::mnist::load_mnist_fetching(data_dir, fetch)?;
    let mut recipe = Recipe::full();
    if let Some(e) = epochs {
        recipe.epochs = e;
    }
    let stats = pixel_stats(&data.train);
    let train = arrays(&data.train, usize::MAX, stats);
    let test = arrays(&data.test, usize::MAX, stats);
    if train.y.len() < recipe.batch {
        return Err(BenchError::Input(format!(
            "{}: {} training images, fewer than one batch of {}",
            data.dir.display(),
            train.y.len(),
            recipe.batch
        )));
    }
    let (_, recs) = train_recipe(&recipe, &train, &test, seed, on_epoch);
    let train_s: f64 = recs.iter().map(|r| r.seconds).sum();
    let samples = (train.y.len() / recipe.batch * recipe.batch * recipe.epochs) as f64;
    Ok(json!({
        "impl": crate::impl_name(),
        "threads": tfs_kernels::pool::default_threads(),
        "epochs": recipe.epochs,
        "batch": recipe.batch,
        "samples_per_s": samples / train_s,
        "epoch_seconds": train_s / recipe.epochs as f64,
        "test_accuracy": recs.last().map_or(0.0, |r| r.test_accuracy),
    }))
}
