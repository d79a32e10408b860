//! `p3-one-hot-vs-embedding`: a short demonstration with numbers that an embedding lookup is the
//! product of a one-hot matrix with the embedding matrix, and what each costs.

use crate::figures::Heatmap;
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_embeddings::embedding::{one_hot, Embedding};

pub(crate) const DESCRIPTION: &str = "an embedding lookup equals one-hot × E, shown with numbers";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let mut rng = ctx.rng();
    let (v, d) = (6, 4);
    let e: Embedding<f64> = Embedding::new(v, d, &mut rng);
    let e = Embedding {
        weight: e.weight.mapv(|x| (x * 100.0).round() / 100.0),
    };
    let ids = [4usize, 1, 4];
    let oh = one_hot::<f64>(&ids, v);
    let prod = oh.dot(&e.weight);
    let look = e.forward(&ids);
    let max_diff = (&prod - &look).iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let row = |r: ndarray::ArrayView1<f64>| {
        r.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let e_rows: Vec<Vec<String>> = (0..v)
        .map(|i| vec![i.to_string(), format!("[{}]", row(e.weight.row(i)))])
        .collect();
    let rows: Vec<Vec<String>> = ids
        .iter()
        .enumerate()
        .map(|(n, &id)| {
            vec![
                id.to_string(),
                format!("[{}]", row(oh.row(n))),
                format!("[{}]", row(prod.row(n))),
                format!("[{}]", row(look.row(n))),
            ]
        })
        .collect();
    Heatmap {
        title: "one-hot(ids) for ids = [4, 1, 4]: one 1 per row",
        x_label: "vocabulary id",
        y_label: "position in the sequence",
        col_names: (0..v).map(|i| i.to_string()).collect(),
        row_names: (0..ids.len()).map(|i| i.to_string()).collect(),
        values: oh.outer_iter().map(|r| r.to_vec()).collect(),
        annotate: Some(&|x| format!("{x:.0}")),
    }
    .draw(&ctx.figure("one_hot.svg"))?;
    ctx.set("max_abs_difference", max_diff);
    ctx.set("ids", json!(ids));
    ctx.set(
        "embedding",
        json!(e
            .weight
            .outer_iter()
            .map(|r| r.to_vec())
            .collect::<Vec<_>>()),
    );
    ctx.md(&format!(
        "An embedding matrix E with V = {v} tokens of dimension D = {d}:"
    ));
    ctx.table(&["id", "row of E"], &e_rows);
    ctx.md(
        "For the sequence of ids [4, 1, 4], the one-hot product and the lookup give the same rows:",
    );
    ctx.table(
        &["id", "one-hot row", "one-hot · E", "E[id] (lookup)"],
        &rows,
    );
    let (gv, gd) = (50_257usize, 768usize);
    ctx.md(&format!(
        "The largest difference between the two is {max_diff}. The product spends V·D multiply-adds per \
         token, almost all of them on zeros; the lookup copies D numbers. For GPT-2 (V = {gv}, \
         D = {gd}) that is {:.1} million multiply-adds against {gd} copies per token.",
        (gv * gd) as f64 / 1e6
    ));
    Ok(())
}
