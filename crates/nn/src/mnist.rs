//! MNIST as arrays for the MLP, and the MLP recipe shared by `p1-mnist-mlp`, `tfs bench mlp` and
//! the PyTorch peer.
//!
//! Pixels are scaled to [0, 1] and standardised with the training set's mean and standard
//! deviation over all pixels (≈ 0.1307 and 0.3081 for MNIST), computed here rather than assumed.
//! Loading the files is left to the caller (`tfs_data::mnist::load_mnist`), which owns the
//! data-missing and fetch behaviour.

use ndarray::Array2;
use tfs_data::mnist::Split;

/// Inputs `(N, 784)` f32 and labels `(N,)`.
pub struct Arrays {
    pub x: Array2<f32>,
    pub y: Vec<usize>,
}

/// Mean and standard deviation of all training pixels in [0, 1].
pub fn pixel_stats(train: &Split) -> (f32, f32) {
    let n = train.images.len() as f64;
    let mean = train.images.iter().map(|&p| p as f64 / 255.0).sum::<f64>() / n;
    let var = train
        .images
        .iter()
        .map(|&p| (p as f64 / 255.0 - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean as f32, var.sqrt() as f32)
}

/// The first `limit` examples of a split as standardised arrays.
pub fn arrays(split: &Split, limit: usize, (mean, std): (f32, f32)) -> Arrays {
    let n = split.n.min(limit);
    let d = split.images.len() / split.n.max(1);
    let x = Array2::from_shape_fn((n, d), |(i, j)| {
        (split.images[i * d + j] as f32 / 255.0 - mean) / std
    });
    Arrays {
        x,
        y: split.labels[..n].iter().map(|&l| l as usize).collect(),
    }
}

/// The MNIST MLP recipe shared by `p1-mnist-mlp` and `tfs bench mlp` (and the PyTorch peer,
/// bench/peers/torch_mlp.py, which must be kept equal to it).
#[derive(Clone, Debug)]
pub struct Recipe {
    pub hidden: Vec<usize>,
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub warmup: usize,
}

impl Recipe {
    /// The full recipe: 784-512-256-10 ReLU, He init, AdamW, warmup then cosine decay.
    pub fn full() -> Self {
        Recipe {
            hidden: vec![512, 256],
            epochs: 15,
            batch: 128,
            lr: 1e-3,
            weight_decay: 1e-4,
            warmup: 200,
        }
    }

    /// A seconds-sized version for the test suite.
    pub fn quick() -> Self {
        Recipe {
            hidden: vec![64],
            epochs: 2,
            batch: 64,
            lr: 2e-3,
            weight_decay: 0.0,
            warmup: 10,
        }
    }
}

/// One epoch of a recipe run.
#[derive(Clone, Debug)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub test_accuracy: f64,
    /// Training seconds of this epoch (evaluation excluded).
    pub seconds: f64,
}

/// Trains the recipe's MLP on `train`, evaluating on `test` after every epoch.
pub fn train_recipe(
    recipe: &Recipe,
    train: &Arrays,
    test: &Arrays,
    seed: u64,
    on_epoch: &mut dyn FnMut(&EpochRecord),
) -> (crate::Mlp<f32>, Vec<EpochRecord>) {
    use crate::schedule::cosine_with_warmup;
    use crate::train::{accuracy, train_classifier};
    use crate::{Activation, Adam, Init, Mlp};
    let mut rng = tfs_math::Rng::new(seed);
    let mut sizes = vec![train.x.ncols()];
    sizes.extend(&recipe.hidden);
    sizes.push(10);
    let mut mlp: Mlp<f32> = Mlp::new(&sizes, Activation::Relu, Init::HeNormal, &mut rng);
    let mut opt = Adam::adamw(recipe.lr, recipe.weight_decay);
    let total = recipe.epochs * (train.y.len() / recipe.batch);
    let (lr, warmup) = (recipe.lr, recipe.warmup);
    let schedule = move |step| cosine_with_warmup(lr, 0.0, warmup, total, step);
    let mut records = Vec::new();
    train_classifier(
        &mut mlp,
        &mut opt,
        &schedule,
        train.x.view(),
        &train.y,
        recipe.batch,
        recipe.epochs,
        &mut rng,
        &mut |_, _| {},
        &mut |stats, m| {
            let rec = EpochRecord {
                epoch: stats.epoch,
                train_loss: stats.train_loss,
                test_accuracy: accuracy(m, test.x.view(), &test.y),
                seconds: stats.seconds,
            };
            on_epoch(&rec);
            records.push(rec);
        },
    );
    (mlp, records)
}
