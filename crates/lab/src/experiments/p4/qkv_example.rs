//! `p4-qkv-example`: scaled dot-product attention on three tokens, every intermediate array
//! printed, so that a reader can follow (and redo) one attention step with numbers.
//!
//! Three tokens with 4-number embeddings, projections to d_k = d_v = 2 with small hand-picked
//! weights; Q, K, V, the scores QKᵀ/√d_k, the softmax weights P and the output PV. The output is
//! then computed again by the library's `attention` (and with a causal mask), and the two must
//! agree.
//!
//! Left out: training (the weights are chosen, not learned), batches, several heads.

use crate::{Ctx, LabError};
use ndarray::{array, Array2, Axis};
use serde_json::json;
use tfs_attention::sdpa::{attention, Mask};
use tfs_math::softmax::softmax;

pub(crate) const DESCRIPTION: &str =
    "one attention step on three tokens with every number shown: Q, K, V, scores, weights, output";

const TOKENS: [&str; 3] = ["the", "cat", "sat"];

fn rows(m: &Array2<f64>, names: &[&str]) -> Vec<Vec<String>> {
    m.outer_iter()
        .zip(names)
        .map(|(r, n)| {
            std::iter::once(n.to_string())
                .chain(r.iter().map(|v| format!("{v:.2}")))
                .collect()
        })
        .collect()
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    // X: (3, 4), one row per token.
    let x: Array2<f64> = array![[1., 0., 1., 0.], [0., 2., 0., 1.], [1., 1., 1., 1.]];
    // W_Q, W_K, W_V: (4, 2).
    let wq: Array2<f64> = array![[1., 0.], [0., 1.], [1., 0.], [0., 0.]];
    let wk: Array2<f64> = array![[0., 1.], [1., 0.], [0., 1.], [1., 0.]];
    let wv: Array2<f64> = array![[1., 0.], [0., 1.], [0., 0.], [1., 0.]];
    let (q, k, v) = (x.dot(&wq), x.dot(&wk), x.dot(&wv));
    let dk = q.ncols() as f64;
    let scores = q.dot(&k.t()) / dk.sqrt();
    let mut p = Array2::zeros(scores.dim());
    for (i, row) in scores.outer_iter().enumerate() {
        let w = softmax(&row.to_vec());
        p.row_mut(i).assign(&ndarray::Array1::from(w));
    }
    let out = p.dot(&v);
    // The library on the same arrays, as a batch of one.
    let to3 = |m: &Array2<f64>| m.clone().insert_axis(Axis(0));
    let (lib, _) = attention(to3(&q).view(), to3(&k).view(), to3(&v).view(), &Mask::None);
    let (lib_causal, cache) =
        attention(to3(&q).view(), to3(&k).view(), to3(&v).view(), &Mask::Causal);
    let diff = (&lib.index_axis(Axis(0), 0) - &out)
        .iter()
        .fold(0.0f64, |m, d| m.max(d.abs()));
    assert!(diff < 1e-12, "the library and the worked example disagree by {diff}");
    let causal: Array2<f64> = lib_causal.index_axis(Axis(0), 0).to_owned();
    let causal_p: Array2<f64> = cache.weights.index_axis(Axis(0), 0).to_owned();

    let toks: Vec<&str> = TOKENS.to_vec();
    let names: Vec<String> = toks.iter().map(|t| t.to_string()).collect();
    crate::figures::Heatmap {
        title: "Attention weights P of the three tokens (no mask)",
        x_label: "key",
        y_label: "query",
        col_names: names.clone(),
        row_names: names,
        values: p.outer_iter().map(|r| r.to_vec()).collect(),
        annotate: Some(&|v| format!("{v:.2}")),
    }
    .draw_scaled(&ctx.figure("weights.svg"), &|v| v)?;
    ctx.md("**X**, the three tokens' vectors (3 × 4), and the projections **W_Q**, **W_K**, **W_V** (4 × 2):");
    ctx.table(&["token", "x₁", "x₂", "x₃", "x₄"], &rows(&x, &toks));
    let w_rows: Vec<Vec<String>> = (0..4)
        .map(|r| {
            let mut row = vec![format!("row {}", r + 1)];
            for m in [&wq, &wk, &wv] {
                row.push(format!("{:.0}, {:.0}", m[[r, 0]], m[[r, 1]]));
            }
            row
        })
        .collect();
    ctx.table(&["", "W_Q", "W_K", "W_V"], &w_rows);
    ctx.md("**Q = X W_Q**, **K = X W_K**, **V = X W_V** (each 3 × 2, one row per token):");
    let qkv_rows: Vec<Vec<String>> = (0..3)
        .map(|i| {
            vec![
                toks[i].to_string(),
                format!("{:.0}, {:.0}", q[[i, 0]], q[[i, 1]]),
                format!("{:.0}, {:.0}", k[[i, 0]], k[[i, 1]]),
                format!("{:.0}, {:.0}", v[[i, 0]], v[[i, 1]]),
            ]
        })
        .collect();
    ctx.table(&["token", "q", "k", "v"], &qkv_rows);
    ctx.md(&format!(
        "**Scores QKᵀ / √d_k** (3 × 3, d_k = {dk}): row i, column j is how well query i matches key j."
    ));
    let mut h = vec!["query ↓ key →"];
    h.extend(toks.iter());
    ctx.table(&h, &rows(&scores, &toks));
    ctx.md("**P = softmax of each row** (each row sums to 1):");
    ctx.table(&h, &rows(&p, &toks));
    ctx.md("**Output P V** (3 × 2): each token's output is the P-weighted average of the value rows.");
    ctx.table(&["token", "out₁", "out₂"], &rows(&out, &toks));
    ctx.md(&format!(
        "The library's batched `attention` gives the same output (largest difference {diff:.1e}). \
         With a causal mask (a token sees only itself and earlier tokens) the weights become:"
    ));
    ctx.table(&h, &rows(&causal_p, &toks));
    ctx.md("and the outputs:");
    ctx.table(&["token", "out₁", "out₂"], &rows(&causal, &toks));
    let m = |a: &Array2<f64>| a.outer_iter().map(|r| r.to_vec()).collect::<Vec<_>>();
    ctx.set("x", json!(m(&x)));
    ctx.set("w_q", json!(m(&wq)));
    ctx.set("w_k", json!(m(&wk)));
    ctx.set("w_v", json!(m(&wv)));
    ctx.set("q", json!(m(&q)));
    ctx.set("k", json!(m(&k)));
    ctx.set("v", json!(m(&v)));
    ctx.set("scores", json!(m(&scores)));
    ctx.set("weights", json!(m(&p)));
    ctx.set("output", json!(m(&out)));
    ctx.set("causal_weights", json!(m(&causal_p)));
    ctx.set("causal_output", json!(m(&causal)));
    ctx.set("library_max_difference", diff);
    Ok(())
}
