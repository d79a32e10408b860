//! `p1-optimizers`: SGD, momentum, Nesterov, Adam and AdamW on the same network, the same initial
//! weights and the same batches (MNIST subset), each over a sweep of learning rates, compared at
//! each one's best rate (one rate for all would favour whichever rule that rate happens to suit).
//!
//! The sweep doubles as the demonstration of a learning rate that is too small (the loss creeps
//! down), too large (it stalls or diverges) and of dead ReLUs: after a too-large step, hidden
//! units whose pre-activation is negative for every input get no gradient again, ever.
//!
//! Left out: schedules (every run uses a constant rate), tuning β/μ.

use crate::plot::{LegendPosition, LineChart, Marker, Series};
use crate::{sig, Ctx, LabError};
use ndarray::{Array2, ArrayView2, Axis};
use serde_json::json;
use tfs_nn::mnist::{arrays, pixel_stats};
use tfs_nn::optim::{Adam, Momentum, Optimizer, Sgd};
use tfs_nn::train::{accuracy, train_classifier};
use tfs_nn::{Activation, Init, Mlp};

pub(crate) const DESCRIPTION: &str =
    "SGD vs momentum vs Nesterov vs Adam vs AdamW, each at its best of a learning-rate sweep";

/// The share of hidden ReLU units of the first layer that are zero for every row of `x`.
fn dead_fraction(mlp: &Mlp<f32>, x: ArrayView2<f32>) -> f64 {
    let pre: Array2<f32> = x.dot(&mlp.weights[0]) + &mlp.biases[0];
    let max = pre.fold_axis(Axis(0), f32::NEG_INFINITY, |m, &v| m.max(v));
    max.iter().filter(|&&m| m <= 0.0).count() as f64 / max.len() as f64
}

struct Rule {
    name: &'static str,
    rates: &'static [f64],
    make: fn(f64) -> Box<dyn Optimizer<f32>>,
    marker: Marker,
    dashed: bool,
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let started = std::time::Instant::now();
    let data = ctx.mnist()?;
    let (n_train, epochs) = ctx.size((10_000, 3), (2_000, 1));
    let stats = pixel_stats(&data.train);
    let train = arrays(&data.train, n_train, stats);
    let test = arrays(&data.test, 2_000, stats);
    let mut rng = ctx.rng();
    let init: Mlp<f32> = Mlp::new(&[train.x.ncols(), 128, 10], Activation::Relu, Init::HeNormal, &mut rng);
    let batch = 64;
    const SGD_RATES: &[f64] = &[0.003, 0.01, 0.03, 0.1, 0.3, 1.0];
    const ADAM_RATES: &[f64] = &[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2];
    let rules = [
        Rule {
            name: "SGD",
            rates: SGD_RATES,
            make: |lr| Box::new(Sgd { lr }),
            marker: Marker::Circle,
            dashed: false,
        },
        Rule {
            name: "momentum 0.9",
            rates: SGD_RATES,
            make: |lr| Box::new(Momentum::new(lr, 0.9, false)),
            marker: Marker::Square,
            dashed: false,
        },
        Rule {
            name: "Nesterov 0.9",
            rates: SGD_RATES,
            make: |lr| Box::new(Momentum::new(lr, 0.9, true)),
            marker: Marker::Triangle,
            dashed: true,
        },
        Rule {
            name: "Adam",
            rates: ADAM_RATES,
            make: |lr| Box::new(Adam::new(lr)),
            marker: Marker::Circle,
            dashed: false,
        },
        Rule {
            name: "AdamW (λ=1e-2)",
            rates: ADAM_RATES,
            make: |lr| Box::new(Adam::adamw(lr, 1e-2)),
            marker: Marker::Square,
            dashed: true,
        },
    ];
    let steps = (n_train / batch) * epochs;
    let every = (steps / 12).max(1);
    let total: usize = rules.iter().map(|r| r.rates.len()).sum();
    let pb = ctx.progress(total as u64, "optimizer × rate");
    let mut best_chart = LineChart::new(
        "Each optimizer at its best learning rate: training loss",
        "step",
        "training loss (moving average of 20 steps)",
    )
    .log_y();
    let mut sweep_chart = LineChart::new(
        "Final training loss against the learning rate",
        "learning rate η",
        "final training loss (20-step mean)",
    )
    .log_x()
    .log_y()
    .legend(LegendPosition::UpperLeft);
    let mut sgd_chart = LineChart::new(
        "SGD: a learning rate too small, about right, too large",
        "step",
        "training loss (moving average of 20 steps)",
    )
    .log_y();
    let mut best_losses = serde_json::Map::new();
    let mut rows = Vec::new();
    let mut sweep_rows = Vec::new();
    let mut records = Vec::new();
    for (ri, rule) in rules.iter().enumerate() {
        let mut runs = Vec::new();
        for &lr in rule.rates {
            let mut mlp = init.clone();
            let mut opt = (rule.make)(lr);
            // Identical batches for every optimizer and rate.
            let mut batch_rng = tfs_math::Rng::new(ctx.seed ^ 0x5eed);
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
            let dead = dead_fraction(&mlp, test.x.view());
            records.push(json!({"optimizer": rule.name, "lr": lr, "losses": losses,
                "final_smoothed_loss": if last.is_finite() { json!(last) } else { json!(null) },
                "test_accuracy": acc, "dead_relu_fraction": dead}));
            runs.push((lr, smooth, last, acc, dead));
            pb.inc(1);
        }
        let key = |l: f64| if l.is_finite() { l } else { f64::INFINITY };
        let best = runs
            .iter()
            .min_by(|a, b| key(a.2).total_cmp(&key(b.2)))
            .expect("rates");
        let short = rule.name.split([' ', '(']).next().unwrap_or(rule.name).to_lowercase();
        best_losses.insert(short, json!({"lr": best.0, "final_smoothed_loss": best.2}));
        let color = crate::plot::PALETTE[ri];
        let styled = |s: Series| {
            let s = s.marked(rule.marker, every).color(color);
            if rule.dashed {
                s.dashed()
            } else {
                s
            }
        };
        best_chart = best_chart.series(styled(Series::new(
            format!("{} (η={})", rule.name, best.0),
            best.1.clone(),
        )));
        sweep_chart = sweep_chart.series(
            styled(Series::new(
                rule.name,
                runs.iter().map(|r| (r.0, r.2)).collect(),
            ))
            .marked(rule.marker, 1),
        );
        rows.push(vec![
            rule.name.to_string(),
            format!("{}", best.0),
            sig(best.2, 3),
            format!("{:.2}%", 100.0 * best.3),
        ]);
        let mut row = vec![rule.name.to_string()];
        for r in &runs {
            row.push(if r.2.is_finite() {
                sig(r.2, 3)
            } else {
                "diverged".into()
            });
        }
        sweep_rows.push(row);
        if rule.name == "SGD" {
            let smallest = &runs[0];
            let largest = runs.last().expect("rates");
            for (r, what, i) in [
                (smallest, "too small", 7),
                (best, "best", 0),
                (largest, "too large", 3),
            ] {
                sgd_chart = sgd_chart.series(
                    Series::new(
                        format!(
                            "η = {} ({what}): {:.0}% dead ReLUs",
                            r.0,
                            100.0 * r.4
                        ),
                        r.1.clone(),
                    )
                    .color(crate::plot::PALETTE[i]),
                );
            }
            ctx.set(
                "sgd_demo",
                json!({"too_small": smallest.0, "best": best.0, "too_large": largest.0,
                    "dead_relu_fraction": {"too_small": smallest.4, "best": best.4, "too_large": largest.4},
                    "final_loss": {"too_small": smallest.2, "best": best.2, "too_large": if largest.2.is_finite() { json!(largest.2) } else { json!(null) }}}),
            );
        }
    }
    pb.finish_and_clear();
    best_chart.draw(&ctx.figure("optimizers.svg"))?;
    sweep_chart.draw(&ctx.figure("lr_sweep.svg"))?;
    sgd_chart.draw(&ctx.figure("sgd_rates.svg"))?;
    ctx.set("steps", steps);
    ctx.set("best", serde_json::Value::Object(best_losses));
    ctx.set("runs", json!(records));
    ctx.table(
        &[
            &format!("optimizer (784-128-10, {steps} steps of {batch})"),
            "best η of the sweep",
            "final loss (20-step mean)",
            "test accuracy (2000)",
        ],
        &rows,
    );
    let mut headers = vec!["final loss at η = (SGD, momentum, Nesterov / Adam, AdamW)".to_string()];
    headers.extend(
        SGD_RATES
            .iter()
            .zip(ADAM_RATES)
            .map(|(s, a)| format!("{s} / {a}")),
    );
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    ctx.table(&headers, &sweep_rows);
    ctx.md(
        "Every run starts from the same weights and sees the same batches in the same order, so \
         the curves differ only by the update rule and its learning rate. Each rule is shown at the \
         rate of the sweep with the lowest final training loss; \"diverged\" means the loss became \
         infinite or NaN. Momentum accumulates a velocity along directions where gradients agree, \
         so its best rate is smaller than plain SGD's; Adam rescales each weight's step by its \
         gradient's running RMS, so its useful rates are a different range altogether.",
    );
    ctx.md(&format!(
        "This run took {} s on this machine ({} cores).",
        crate::sig(started.elapsed().as_secs_f64(), 2),
        crate::machine::describe()["cores"]
    ));
    Ok(())
}
