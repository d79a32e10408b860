//! `p2-vanishing-gradients`: how far back does a gradient reach?
//!
//! A loss at the last of T steps (a sequence classifier reading delayed-recall sequences, key at
//! step 1, query at step T), and the norm of ∂L/∂h_t at every earlier step, against the distance
//! T − t. For the three cells at initialisation, at one T and as a function of T = 10 … 100 (how
//! trained gates hold is `p2-gating`), then for an untrained RNN with W_hh = ρ·Q, Q a random orthogonal matrix, so
//! that ρ is exactly its spectral radius: below 1 the gradient shrinks geometrically, above 1 it
//! can grow.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{sig, Ctx, LabError};
use ndarray::Array2;
use serde_json::json;
use tfs_math::Rng;
use tfs_seq::classifier::SeqClassifier;
use tfs_seq::rnn::Rnn;
use tfs_seq::tasks::{recall_example, RECALL_KEYS, RECALL_VOCAB};
use tfs_seq::CellKind;

pub(crate) const DESCRIPTION: &str = "‖∂L/∂h_t‖ vs distance from the loss for RNN/LSTM/GRU, and vs the RNN's spectral radius";

/// A random orthogonal (n, n) matrix: Gram–Schmidt on the columns of a Gaussian matrix.
fn orthogonal(n: usize, rng: &mut Rng) -> Array2<f64> {
    let mut q = Array2::from_shape_vec((n, n), rng.normal_vec(n * n, 1.0)).expect("shape");
    for j in 0..n {
        for k in 0..j {
            let d = q.column(j).dot(&q.column(k));
            let ck = q.column(k).to_owned();
            q.column_mut(j).scaled_add(-d, &ck);
        }
        let norm = q.column(j).dot(&q.column(j)).sqrt();
        q.column_mut(j).mapv_inplace(|v| v / norm);
    }
    q
}

/// ‖∂L/∂h_t‖ against distance T − t (1 = the last step), for one batch.
fn profile(m: &SeqClassifier<f64>, inputs: &[Vec<usize>], labels: &[usize]) -> Vec<(f64, f64)> {
    let st = m.loss_and_grads(inputs, labels);
    let t = st.dh_norms.len();
    st.dh_norms
        .iter()
        .enumerate()
        .map(|(i, &n)| ((t - i) as f64, n.max(1e-300)))
        .collect()
}

/// A batch of delayed-recall sequences with k distractors, step-major.
fn recall_batch(k: usize, n: usize, rng: &mut Rng) -> (Vec<Vec<usize>>, Vec<usize>) {
    let ex: Vec<(Vec<usize>, usize)> = (0..n).map(|_| recall_example(k, rng)).collect();
    (
        (0..k + 2)
            .map(|t| ex.iter().map(|e| e.0[t]).collect())
            .collect(),
        ex.iter().map(|e| e.1).collect(),
    )
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let started = std::time::Instant::now();
    let (t_len, hidden, batch) = ctx.size((50, 64, 32), (12, 16, 4));
    let lengths: Vec<usize> = ctx.size(vec![10, 20, 50, 100], vec![10, 20]);
    let inits = ctx.size(5u64, 2);
    let mut rng = ctx.rng();
    let (inputs, labels) = recall_batch(t_len - 2, batch, &mut rng);
    let mut init_chart = LineChart::new(
        &format!("At initialisation: gradient reaching h_t from a loss at step {t_len}"),
        "distance from the loss (steps)",
        "‖∂L/∂h_t‖",
    )
    .log_y()
    .legend(LegendPosition::LowerLeft);
    let mut length_chart = LineChart::new(
        "At initialisation: share of the gradient that reaches the first step",
        "sequence length T (the loss at step T)",
        "‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖ (geometric mean of inits)",
    )
    .log_y()
    .legend(LegendPosition::LowerLeft);
    let ratio = |p: &[(f64, f64)]| {
        p.first().map_or(f64::NAN, |q| q.1) / p.last().map_or(f64::NAN, |q| q.1)
    };
    let mut length_rows = Vec::new();
    let mut cell_records = Vec::new();
    let pb = ctx.progress(3 * lengths.len() as u64, "cells × lengths");
    for kind in CellKind::ALL {
        let mut r = rng.fork();
        let m: SeqClassifier<f64> =
            SeqClassifier::new(kind, RECALL_VOCAB, hidden, RECALL_KEYS, &mut r);
        let before = profile(&m, &inputs, &labels);
        init_chart = init_chart.series(Series::new(kind.name(), before.clone()));
        let mut pts = Vec::new();
        let mut row = vec![kind.name().to_string()];
        let mut per_length = Vec::new();
        for &t in &lengths {
            // A fresh batch of length t, and several initialisations: one draw of the weights
            // decides a lot at large T.
            let mut data_rng = Rng::new(ctx.seed ^ 0x7e57 ^ t as u64);
            let (x, y) = recall_batch(t - 2, batch, &mut data_rng);
            let ratios: Vec<f64> = (0..inits)
                .map(|i| {
                    let mut ri = Rng::new(ctx.seed ^ (i << 20) ^ (t as u64) << 8);
                    let m: SeqClassifier<f64> =
                        SeqClassifier::new(kind, RECALL_VOCAB, hidden, RECALL_KEYS, &mut ri);
                    ratio(&profile(&m, &x, &y))
                })
                .collect();
            let geo = (ratios.iter().map(|v| v.ln()).sum::<f64>() / ratios.len() as f64).exp();
            pts.push((t as f64, geo));
            row.push(sig(geo, 3));
            per_length.push(json!({"length": t, "ratio_first_to_last_per_init": ratios, "geometric_mean": geo}));
            pb.inc(1);
        }
        length_chart = length_chart.series(Series::new(kind.name(), pts).with_markers());
        length_rows.push(row);
        cell_records.push(json!({"cell": kind.name(), "init_distance_norm": before, "by_length": per_length}));
    }
    pb.finish_and_clear();
    init_chart.draw(&ctx.figure("cells_init.svg"))?;
    length_chart.draw(&ctx.figure("vs_length.svg"))?;

    let mut rho_chart = LineChart::new(
        "RNN with W_hh = ρ·(orthogonal): gradient vs distance",
        "distance from the loss (steps)",
        "‖∂L/∂h_t‖",
    )
    .log_y()
    .legend(LegendPosition::UpperLeft);
    let mut rho_records = Vec::new();
    let mut rho_rows = Vec::new();
    for rho in [0.5, 0.9, 1.0, 1.1, 1.5, 2.0] {
        let mut r = rng.fork();
        let mut m: SeqClassifier<f64> =
            SeqClassifier::new(CellKind::Rnn, RECALL_VOCAB, hidden, RECALL_KEYS, &mut r);
        let mut cell = Rnn::new(RECALL_VOCAB, hidden, &mut r);
        cell.w_hh = orthogonal(hidden, &mut r) * rho;
        cell.w_xh.mapv_inplace(|v| 0.1 * v);
        m.cell = Box::new(cell);
        let p = profile(&m, &inputs, &labels);
        let last = p.first().map_or(f64::NAN, |q| q.1) / p.last().map_or(f64::NAN, |q| q.1);
        rho_rows.push(vec![
            format!("{rho}"),
            sig(p.last().map_or(f64::NAN, |q| q.1), 3),
            sig(p.first().map_or(f64::NAN, |q| q.1), 3),
            sig(last, 3),
        ]);
        rho_records.push(json!({"rho": rho, "distance_norm": p}));
        rho_chart = rho_chart.series(Series::new(format!("ρ = {rho}"), p));
    }
    rho_chart.draw(&ctx.figure("spectral_radius.svg"))?;
    ctx.set("setup", json!({"steps": t_len, "lengths": lengths, "inits_per_length": inits, "hidden": hidden, "batch": batch, "vocab": RECALL_VOCAB, "task": "delayed recall, key at step 1, untrained"}));
    ctx.set("cells", json!(cell_records));
    ctx.set("rnn_spectral_radius", json!(rho_records));
    let mut headers = vec![format!(
        "cell, untrained (H={hidden}): ‖∂L/∂h_1‖ ÷ ‖∂L/∂h_T‖"
    )];
    headers.extend(lengths.iter().map(|t| format!("T = {t}")));
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    ctx.table(&headers, &length_rows);
    ctx.table(
        &[
            "RNN, ρ(W_hh)",
            "‖∂L/∂h‖ at distance 1",
            &format!("at {t_len}"),
            &format!("ratio {t_len} / 1"),
        ],
        &rho_rows,
    );
    ctx.md(
        "Each step back multiplies the gradient by the step's Jacobian. For the RNN that is \
         diag(1 − h²)·W_hhᵀ, whose size is set by W_hh's spectral radius ρ and shrunk further by \
         tanh's derivative: with ρ < 1 the gradient decays geometrically, so a loss cannot teach \
         the network anything about inputs far back; with ρ > 1 it grows (second table). The LSTM \
         and GRU multiply instead by their gates (the forget gate f, the update gate u). At \
         initialisation those sit near σ(1) ≈ 0.73 and σ(0) = 0.5, so their gradients decay \
         geometrically with T too, faster than this RNN's (first table: the geometric mean over \
         several initialisations of the share of the gradient that reaches step 1). Gating lets \
         training move the gates toward 1 where memory is needed: p2-gating shows when it does.",
    );
    ctx.md(&format!(
        "This run took {} s on this machine ({} cores).",
        crate::sig(started.elapsed().as_secs_f64(), 2),
        crate::machine::describe()["cores"]
    ));
    Ok(())
}
