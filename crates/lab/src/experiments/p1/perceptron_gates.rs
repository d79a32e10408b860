//! `p1-perceptron-gates`: Rosenblatt's perceptron on AND, OR and XOR.
//!
//! AND and OR are linearly separable and the learning rule converges in a few epochs; XOR is not,
//! and accuracy never reaches 100%: the rule keeps correcting one mistake by making another.

use crate::figures::decision_field;
use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_nn::perceptron::Perceptron;

pub(crate) const DESCRIPTION: &str = "perceptron learning rule on AND, OR (converge) and XOR (never does)";

const EPOCHS: usize = 30;

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let pts = [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)];
    let xs: Vec<Vec<f64>> = pts.iter().map(|&(a, b)| vec![a, b]).collect();
    type Gate = (&'static str, fn(u8, u8) -> u8);
    let gates: [Gate; 3] = [
        ("AND", |a, b| a & b),
        ("OR", |a, b| a | b),
        ("XOR", |a, b| a ^ b),
    ];
    let mut chart = LineChart::new(
        "Perceptron accuracy per epoch",
        "epoch",
        "training accuracy (4 points)",
    )
    .y_range(0.0, 1.05)
    .integer_x()
    .legend(LegendPosition::LowerRight);
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (name, g) in gates {
        let ys: Vec<u8> = pts.iter().map(|&(a, b)| g(a as u8, b as u8)).collect();
        let mut p = Perceptron::new(2);
        let mut acc = vec![(0.0, p.accuracy(&xs, &ys))];
        let mut converged = None;
        for epoch in 1..=EPOCHS {
            let updates = p.epoch(&xs, &ys, 0.1);
            acc.push((epoch as f64, p.accuracy(&xs, &ys)));
            if updates == 0 && converged.is_none() {
                converged = Some(epoch);
            }
        }
        let best = acc.iter().map(|a| a.1).fold(0.0, f64::max);
        rows.push(vec![
            name.to_string(),
            converged.map_or(format!("never (in {EPOCHS})"), |e| format!("{e}")),
            format!("{:.0}%", 100.0 * best),
            format!("w = ({:.2}, {:.2}), b = {:.2}", p.w[0], p.w[1], p.b),
        ]);
        records.push(
            json!({"gate": name, "accuracy_per_epoch": acc.iter().map(|a| a.1).collect::<Vec<_>>(),
            "converged_epoch": converged, "best_accuracy": best, "w": p.w, "b": p.b}),
        );
        chart = chart.series(Series::new(name, acc).with_markers());
        let labelled: Vec<(f64, f64, u8)> =
            pts.iter().zip(&ys).map(|(&(a, b), &y)| (a, b, y)).collect();
        decision_field(
            &ctx.figure(&format!("boundary_{}.svg", name.to_lowercase())),
            &format!("{name}: perceptron after {EPOCHS} epochs"),
            ("x₁", "x₂"),
            (-0.5, 1.5),
            &|a, b| p.predict(&[a, b]) as f64,
            &labelled,
        )?;
    }
    chart.draw(&ctx.figure("accuracy.svg"))?;
    ctx.set("gates", json!(records));
    ctx.table(
        &[
            "gate",
            "epochs to converge",
            "best accuracy",
            "final weights",
        ],
        &rows,
    );
    ctx.md(&format!(
        "AND and OR are learned in a few passes: a line separates the ones from the zeros. XOR \
         never classifies all four points (best here: {}): (0,1) and (1,0) must be on one side of \
         a line and (0,0) and (1,1) on the other, and no line does that, so every epoch still makes \
         a mistake and the weights keep cycling (Minsky and Papert's 1969 objection).",
        rows[2][2]
    ));
    Ok(())
}
