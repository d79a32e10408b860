//! `p0-entropy-kl`: the entropy of a coin against its bias, and KL divergence's asymmetry.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{sig, Ctx, LabError};
use serde_json::json;
use tfs_math::info::{entropy_bits, kl_divergence};

pub(crate) const DESCRIPTION: &str = "entropy of a coin vs its bias, and a table of KL(P‖Q) vs KL(Q‖P)";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let biases: Vec<f64> = (0..=200).map(|k| k as f64 / 200.0).collect();
    let h: Vec<(f64, f64)> = biases
        .iter()
        .map(|&p| (p, entropy_bits(&[p, 1.0 - p])))
        .collect();
    LineChart::new("Entropy of a biased coin", "P(heads)", "entropy H (bits)")
        .series(Series::new("H(p) = −p log₂ p − (1−p) log₂(1−p)", h.clone()))
        .y_range(0.0, 1.1)
        .draw(&ctx.figure("coin_entropy.svg"))?;

    // KL(Bern(p) ‖ Bern(0.5)) and KL(Bern(0.5) ‖ Bern(p)) as p moves: two different curves.
    let ps: Vec<f64> = (1..200).map(|k| k as f64 / 200.0).collect();
    let half = [0.5, 0.5];
    let kl_pq: Vec<(f64, f64)> = ps
        .iter()
        .map(|&p| (p, kl_divergence(&[p, 1.0 - p], &half)))
        .collect();
    let kl_qp: Vec<(f64, f64)> = ps
        .iter()
        .map(|&p| (p, kl_divergence(&half, &[p, 1.0 - p])))
        .collect();
    LineChart::new(
        "KL divergence is not symmetric: P = Bernoulli(p), Q = fair coin",
        "P(heads) of P",
        "divergence (nats)",
    )
    .series(Series::new("KL(P‖Q)", kl_pq))
    .series(Series::new("KL(Q‖P)", kl_qp))
    .y_range(0.0, 2.0)
    .legend(LegendPosition::UpperMiddle)
    .draw(&ctx.figure("kl_asymmetry.svg"))?;

    let pairs: [(&str, Vec<f64>, Vec<f64>); 4] = [
        ("P=(0.9, 0.1), Q=(0.5, 0.5)", vec![0.9, 0.1], vec![0.5, 0.5]),
        (
            "P=(0.99, 0.01), Q=(0.5, 0.5)",
            vec![0.99, 0.01],
            vec![0.5, 0.5],
        ),
        (
            "P=(0.5, 0.4, 0.1), Q=(0.1, 0.4, 0.5)",
            vec![0.5, 0.4, 0.1],
            vec![0.1, 0.4, 0.5],
        ),
        (
            "P=(0.7, 0.2, 0.1), Q=(1/3, 1/3, 1/3)",
            vec![0.7, 0.2, 0.1],
            vec![1.0 / 3.0; 3],
        ),
    ];
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (name, p, q) in &pairs {
        let (a, b) = (kl_divergence(p, q), kl_divergence(q, p));
        rows.push(vec![name.to_string(), sig(a, 4), sig(b, 4)]);
        records.push(json!({"pair": name, "kl_p_q": a, "kl_q_p": b}));
    }
    ctx.set("coin_entropy_bits", json!(h));
    ctx.set("kl_table", records);
    ctx.md(
        "A fair coin carries the most uncertainty, 1 bit per toss; a coin that always lands heads \
         carries none. Entropy is symmetric in the bias and steepest near 0 and 1.",
    );
    ctx.table(&["pair", "KL(P‖Q) (nats)", "KL(Q‖P) (nats)"], &rows);
    ctx.md(
        "KL(P‖Q) weighs the log-ratio by P, so it punishes Q most where P has mass that Q lacks. \
         The two directions differ except in special cases such as the third row, where Q is P \
         mirrored and the two divergences coincide. Training with cross-entropy \
         minimises KL(data‖model): the model is pushed to cover everything the data does.",
    );
    Ok(())
}
