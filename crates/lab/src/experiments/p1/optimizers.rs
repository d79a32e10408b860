//! `p1-optimizers`: SGD, momentum, Nesterov, Adam and AdamW on the same network, the same initial
//! weights and the same batches (MNIST subset), compared by training loss per step.

use crate::plot::{LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_nn::mnist::{arrays, pixel_stats};
use tfs_nn::optim::{Adam, Momentum, Optimizer, Sgd};
use tfs_nn::train::{accuracy, train_classifier};
use tfs_nn::{Activation, Init, Mlp};

pub(crate) const DESCRIPTION: &str = "SGD vs momentum vs Nesterov vs Adam vs AdamW: same net, init and batches";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let data = ctx.mnist()?;
    let (n_train, epochs) = ctx.size((10_000, 3), (2_000, 1));
    let stats = pixel_stats(&data.train);
    let train = arrays(&data.train, n_train, stats);
    let test = arrays(&data.test, 2_000, stats);
    let mut rng = ctx.rng();
    let init: Mlp<f32> = Mlp::new(&[train.x.ncols(), 128, 10], Activation::Relu, Init::HeNormal, &mut rng);
    let batch = 64;
    let lr_sgd = 0.05;
    let mut opts: Vec<(String, Box<dyn Optimizer<f32>>)> = vec![
        (format!("SGD (η={lr_sgd})"), Box::new(Sgd { lr: lr_sgd })),
        (
            format!("momentum 0.9 (η={lr_sgd})"),
            Box::new(Momentum::new(lr_sgd, 0.9, false)),
        ),
        (
            format!("Nesterov 0.9 (η={lr_sgd})"),
            Box::new(Momentum::new(lr_sgd, 0.9, true)),
        ),
        ("Adam (η=1e-3)".into(), Box::new(Adam::new(1e-3))),
        (
            "AdamW (η=1e-3, λ=1e-2)".into(),
            Box::new(Adam::adamw(1e-3, 1e-2)),
        ),
    ];
    let mut chart = LineChart::new(
        "Same network, same batches: training loss by optimizer",
        "step",
        "training loss (moving average of 20 steps)",
    )
    .log_y();
    let mut rows = Vec::new();
    let mut records = Vec::new();
    let steps_per_epoch = n_train / batch;
    for (name, opt) in opts.iter_mut() {
        let mut mlp = init.clone();
        let mut batch_rng = tfs_math::Rng::new(ctx.seed ^ 0x5eed); // identical batches for every optimizer
        let lr = match name.as_str() {
            n if n.starts_with("Adam") => 1e-3,
            _ => lr_sgd,
        };
        let mut losses = Vec::new();
        train_classifier(
            &mut mlp,
            opt.as_mut(),
            &|_| lr,
            train.x.view(),
            &train.y,
            batch,
            epochs,
            &mut batch_rng,
            &mut |_, l| losses.push(l),
            &mut |_, _| {},
        );
        let smooth = crate::moving_average(&losses, 20, 1);
        let last = smooth.last().map_or(f64::NAN, |p| p.1);
        let acc = accuracy(&mlp, test.x.view(), &test.y);
        rows.push(vec![
            name.clone(),
            format!("{last:.4}"),
            format!("{:.2}%", 100.0 * acc),
        ]);
        records.push(json!({"optimizer": name, "losses": losses, "final_smoothed_loss": last, "test_accuracy": acc}));
        chart = chart.series(Series::new(name.clone(), smooth));
    }
    chart.draw(&ctx.figure("optimizers.svg"))?;
    ctx.set("steps", steps_per_epoch * epochs);
    ctx.set("optimizers", json!(records));
    ctx.set("final_loss", json!({"sgd": records[0]["final_smoothed_loss"], "momentum": records[1]["final_smoothed_loss"],
        "nesterov": records[2]["final_smoothed_loss"], "adam": records[3]["final_smoothed_loss"], "adamw": records[4]["final_smoothed_loss"]}));
    ctx.table(
        &[
            &format!(
                "optimizer (784-128-10, {} steps of {batch})",
                steps_per_epoch * epochs
            ),
            "final loss (20-step mean)",
            "test accuracy (2000)",
        ],
        &rows,
    );
    ctx.md(
        "Every run starts from the same weights and sees the same batches in the same order, so \
         the curves differ only by the update rule. Momentum accumulates a velocity along directions \
         where gradients agree; Adam rescales each weight's step by its gradient's running RMS.",
    );
    Ok(())
}
