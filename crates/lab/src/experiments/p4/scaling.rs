//! `p4-scaling`: why divide by √d_k. Random queries and keys with unit-variance entries; the
//! entropy and the largest weight of softmax(q·K) over 64 keys, with and without the 1/√d_k, as
//! d_k grows. Unscaled, the scores' spread grows like √d_k and softmax collapses to one key.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_math::info::entropy;
use tfs_math::softmax::softmax;

pub(crate) const DESCRIPTION: &str = "softmax entropy and max weight of random QKᵀ scores vs d_k, with and without 1/√d_k";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let mut rng = ctx.rng();
    let (keys, queries) = (64usize, ctx.size(200usize, 20));
    let dks: Vec<usize> = (1..=10).map(|k| 1 << k).collect();
    let (mut ent_s, mut ent_u, mut max_s, mut max_u) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rows = Vec::new();
    for &dk in &dks {
        let (mut es, mut eu, mut ms, mut mu) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..queries {
            let q = rng.normal_vec(dk, 1.0);
            let scores: Vec<f64> = (0..keys)
                .map(|_| {
                    rng.normal_vec(dk, 1.0)
                        .iter()
                        .zip(&q)
                        .map(|(a, b)| a * b)
                        .sum()
                })
                .collect();
            let scaled: Vec<f64> = scores.iter().map(|s| s / (dk as f64).sqrt()).collect();
            let (pu, ps) = (softmax(&scores), softmax(&scaled));
            eu += entropy(&pu);
            es += entropy(&ps);
            mu += pu.iter().cloned().fold(0.0, f64::max);
            ms += ps.iter().cloned().fold(0.0, f64::max);
        }
        let n = queries as f64;
        ent_s.push((dk as f64, es / n));
        ent_u.push((dk as f64, eu / n));
        max_s.push((dk as f64, ms / n));
        max_u.push((dk as f64, mu / n));
        rows.push(vec![
            dk.to_string(),
            format!("{:.2}", es / n),
            format!("{:.2}", eu / n),
            format!("{:.3}", ms / n),
            format!("{:.3}", mu / n),
        ]);
    }
    let uniform = (keys as f64).ln();
    LineChart::new(
        &format!("Entropy of softmax over {keys} random keys"),
        "d_k",
        "entropy (nats)",
    )
    .log2_x()
    .y_range(0.0, uniform * 1.1)
    .legend(LegendPosition::LowerLeft)
    .series(Series::new("scaled: softmax(q·k / √d_k)", ent_s.clone()).with_markers())
    .series(Series::new("unscaled: softmax(q·k)", ent_u.clone()).with_markers())
    .series(Series::new(
        format!("uniform: ln {keys}"),
        vec![(2.0, uniform), (1024.0, uniform)],
    ))
    .draw(&ctx.figure("entropy.svg"))?;
    LineChart::new("Largest attention weight", "d_k", "max_j softmax weight")
        .log2_x()
        .y_range(0.0, 1.05)
        .legend(LegendPosition::UpperLeft)
        .series(Series::new("scaled", max_s.clone()).with_markers())
        .series(Series::new("unscaled", max_u.clone()).with_markers())
        .draw(&ctx.figure("max_weight.svg"))?;
    ctx.set("keys", keys);
    ctx.set("queries_per_point", queries);
    ctx.set("entropy_scaled", json!(ent_s));
    ctx.set("entropy_unscaled", json!(ent_u));
    ctx.set("max_weight_scaled", json!(max_s));
    ctx.set("max_weight_unscaled", json!(max_u));
    ctx.table(
        &[
            "d_k",
            "entropy, scaled",
            "entropy, unscaled",
            "max weight, scaled",
            "max weight, unscaled",
        ],
        &rows,
    );
    ctx.md(&format!(
        "With the 1/√d_k the scores keep unit variance whatever d_k, and the attention stays spread \
         (entropy near its value at small d_k, below the uniform ln {keys} = {uniform:.2}). Without it the \
         scores' standard deviation is √d_k, the largest score wins by a growing margin, and the \
         softmax approaches one-hot; its Jacobian P_i(δ_ij − P_j) then approaches zero, and so does \
         the gradient reaching Q and K."
    ));
    Ok(())
}
