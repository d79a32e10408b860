//! `p0-cross-entropy`: the loss as a function of the probability given to the correct class,
//! `L = −ln p`, for p from 0.001 to 1.

use crate::plot::{LineChart, Series};
use crate::{sig, Ctx, LabError};
use tfs_math::loss::cross_entropy;

pub(crate) const DESCRIPTION: &str = "cross-entropy loss as the correct class's probability goes from 0.001 to 1";

/// Two-class logits whose softmax gives the first class probability p: z = [ln p, ln(1 − p)].
fn logits_for(p: f64) -> [f64; 2] {
    [p.ln(), (1.0 - p).ln()]
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    // p = 10^(-3 + 3k/300): log-spaced from 0.001 to 1.
    let ps: Vec<f64> = (0..=300)
        .map(|k| 10f64.powf(-3.0 + 3.0 * k as f64 / 300.0))
        .collect();
    // The loss is computed by the library's cross_entropy from logits, not by the formula.
    let curve: Vec<(f64, f64)> = ps
        .iter()
        .map(|&p| (p, cross_entropy(&logits_for(p), 0)))
        .collect();
    let max_dev = curve
        .iter()
        .map(|(p, l)| (l + p.ln()).abs())
        .fold(0.0, f64::max);
    LineChart::new(
        "Cross-entropy loss vs probability of the correct class",
        "probability assigned to the correct class p",
        "loss −ln p (nats)",
    )
    .series(Series::new("cross-entropy", curve.clone()))
    .series(Series::new(
        "uniform guess over 10 classes (p = 0.1, loss ln 10)",
        vec![(0.1, 0.0), (0.1, 10f64.ln()), (0.0, 10f64.ln())],
    ))
    .x_range(0.0, 1.0)
    .draw(&ctx.figure("cross_entropy.svg"))?;
    let table_ps = [0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 1.0];
    let rows: Vec<Vec<String>> = table_ps
        .iter()
        .map(|&p| {
            let l = cross_entropy(&logits_for(p), 0);
            vec![
                format!("{p}"),
                sig(l, 3),
                sig(l / std::f64::consts::LN_2, 3),
            ]
        })
        .collect();
    ctx.set("curve", serde_json::json!(curve));
    ctx.set("max_deviation_from_minus_ln_p", max_dev);
    ctx.table(&["p(correct)", "loss (nats)", "loss (bits)"], &rows);
    ctx.md(
        "The loss is 0 only for a certain, correct prediction and grows without bound as the \
         probability of the correct class falls: halving p always costs ln 2 ≈ 0.69 nats more. A \
         model that guesses uniformly among 10 classes starts at ln 10 ≈ 2.30, the number to expect \
         at the first step of an MNIST run.",
    );
    Ok(())
}
