//! `p1-mnist-mlp`: a two-hidden-layer MLP on MNIST (and Fashion-MNIST when it is installed).
//!
//! 784-512-256-10, ReLU, He init, AdamW with warmup and cosine decay (the recipe in
//! `tfs_nn::mnist::Recipe`, shared with `tfs bench mlp` and the PyTorch peer). Records
//! `test_accuracy` (a fraction) and `train_seconds` at the top level, accuracy per epoch, a
//! confusion matrix and a grid of misclassified test digits.

use crate::figures::{image_grid, Heatmap};
use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_nn::mnist::{arrays, pixel_stats, train_recipe, EpochRecord, Recipe};
use tfs_nn::train::predict_all;
use tfs_nn::Params;

pub(crate) const DESCRIPTION: &str = "784-512-256-10 ReLU MLP on MNIST: accuracy per epoch, confusion matrix, mistakes";

fn records_json(recs: &[EpochRecord]) -> serde_json::Value {
    json!(recs
        .iter()
        .map(|r| json!({"epoch": r.epoch, "train_loss": r.train_loss, "test_accuracy": r.test_accuracy, "seconds": r.seconds}))
        .collect::<Vec<_>>())
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let data = ctx.mnist()?;
    let recipe = ctx.size(Recipe::full(), Recipe::quick());
    let (n_train, n_test) = ctx.size((usize::MAX, usize::MAX), (4000, 1000));
    let stats = pixel_stats(&data.train);
    let train = arrays(&data.train, n_train, stats);
    let test = arrays(&data.test, n_test, stats);
    let pb = ctx.progress(recipe.epochs as u64, "MNIST epochs");
    let (mlp, recs) = train_recipe(&recipe, &train, &test, ctx.seed, &mut |r| {
        pb.set_message(format!("acc {:.4}", r.test_accuracy));
        pb.inc(1);
    });
    pb.finish_and_clear();
    let final_acc = recs.last().map_or(0.0, |r| r.test_accuracy);
    let train_seconds: f64 = recs.iter().map(|r| r.seconds).sum();
    ctx.set("test_accuracy", final_acc);
    ctx.set("train_seconds", train_seconds);
    ctx.set(
        "samples_per_second",
        (train.y.len() / recipe.batch * recipe.batch * recipe.epochs) as f64 / train_seconds,
    );
    ctx.set("pixel_mean_std", json!([stats.0, stats.1]));
    ctx.set("recipe", json!({"sizes": mlp.sizes(), "params": mlp.num_params(), "epochs": recipe.epochs, "batch": recipe.batch,
        "lr": recipe.lr, "weight_decay": recipe.weight_decay, "warmup_steps": recipe.warmup, "optimizer": "AdamW",
        "schedule": "linear warmup then cosine to 0", "activation": "ReLU", "init": "He normal"}));
    ctx.set("epochs", records_json(&recs));

    // Accuracy per epoch.
    let acc: Vec<(f64, f64)> = recs
        .iter()
        .map(|r| (r.epoch as f64, 100.0 * r.test_accuracy))
        .collect();
    let mut chart = LineChart::new(
        "MNIST test accuracy per epoch",
        "epoch",
        "test accuracy (%)",
    )
    .series(Series::new("MNIST, 784-512-256-10 MLP", acc).with_markers())
    .integer_x()
    .legend(LegendPosition::LowerRight);

    // Confusion matrix and mistakes.
    let pred = predict_all(&mlp, test.x.view());
    let mut confusion = vec![vec![0.0; 10]; 10];
    for (&p, &y) in pred.iter().zip(&test.y) {
        confusion[y][p] += 1.0;
    }
    let digits: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    Heatmap {
        title: &format!("MNIST confusion matrix ({} test images)", test.y.len()),
        x_label: "predicted digit",
        y_label: "true digit",
        col_names: digits.clone(),
        row_names: digits,
        values: confusion.clone(),
        annotate: Some(&|v| format!("{v:.0}")),
    }
    .draw(&ctx.figure("confusion.svg"))?;
    let mistakes: Vec<(Vec<u8>, String)> = pred
        .iter()
        .zip(&test.y)
        .enumerate()
        .filter(|(_, (p, y))| p != y)
        .take(40)
        .map(|(i, (p, y))| (data.test.image(i).to_vec(), format!("{y} → {p}")))
        .collect();
    image_grid(
        &ctx.figure("misclassified.svg"),
        "Misclassified test digits (true → predicted)",
        &mistakes,
        10,
        data.cols,
        data.rows,
    )?;
    ctx.set("confusion", json!(confusion));
    ctx.set(
        "mistakes",
        pred.iter().zip(&test.y).filter(|(p, y)| p != y).count(),
    );

    // Fashion-MNIST with the same recipe, when installed.
    let fashion = tfs_data::mnist::load_fashion_mnist(&ctx.data_dir);
    let mut fashion_row = None;
    match fashion {
        Ok(f) => {
            let st = pixel_stats(&f.train);
            let (ftrain, ftest) = (arrays(&f.train, n_train, st), arrays(&f.test, n_test, st));
            let pb = ctx.progress(recipe.epochs as u64, "Fashion epochs");
            let (_, frecs) = train_recipe(&recipe, &ftrain, &ftest, ctx.seed, &mut |_| pb.inc(1));
            pb.finish_and_clear();
            let facc = frecs.last().map_or(0.0, |r| r.test_accuracy);
            ctx.set("fashion_test_accuracy", facc);
            ctx.set("fashion_epochs", records_json(&frecs));
            let pts = frecs
                .iter()
                .map(|r| (r.epoch as f64, 100.0 * r.test_accuracy))
                .collect();
            chart = chart.series(Series::new("Fashion-MNIST, same recipe", pts).with_markers());
            fashion_row = Some(facc);
        }
        Err(e) => ctx.set("fashion_test_accuracy_unavailable", e.to_string()),
    }
    chart.draw(&ctx.figure("accuracy.svg"))?;

    let mut rows: Vec<Vec<String>> = recs
        .iter()
        .map(|r| {
            vec![
                r.epoch.to_string(),
                format!("{:.4}", r.train_loss),
                format!("{:.2}%", 100.0 * r.test_accuracy),
                format!("{:.2}", r.seconds),
            ]
        })
        .collect();
    if rows.len() > 6 {
        rows.drain(3..rows.len() - 3);
    }
    ctx.table(
        &[
            "epoch",
            "train loss",
            "MNIST test accuracy",
            "epoch seconds",
        ],
        &rows,
    );
    let mut text = format!(
        "The {} MLP ({} parameters) reaches **{:.2}%** test accuracy on MNIST after {} epochs, in {:.1} s of \
         training on this machine ({}), {} of the {} test digits wrong.",
        mlp.sizes().iter().map(|s| s.to_string()).collect::<Vec<_>>().join("-"),
        mlp.num_params(),
        100.0 * final_acc,
        recipe.epochs,
        train_seconds,
        crate::machine::cpu_model(),
        pred.iter().zip(&test.y).filter(|(p, y)| p != y).count(),
        test.y.len()
    );
    if let Some(f) = fashion_row {
        text.push_str(&format!(
            " The same recipe on Fashion-MNIST reaches {:.2}%: clothes are harder than digits.",
            100.0 * f
        ));
    }
    ctx.md(&text);
    Ok(())
}
