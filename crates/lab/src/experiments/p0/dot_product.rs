//! `p0-dot-product`: the dot product and cosine similarity worked by hand on four small vectors,
//! so that a reader can redo every number: each product term, the sum, the norms, the cosine.
//!
//! The vectors are toy "feature" vectors (how furry, how much a pet, how metallic), chosen so
//! that similar things point the same way. A doubled vector shows what the dot product measures
//! besides direction: length.
//!
//! Left out: learned embeddings (post 3 trains real ones).

use crate::{Ctx, LabError};
use serde_json::json;
use tfs_math::linalg::{dot, norm_l2};

pub(crate) const DESCRIPTION: &str =
    "dot products and cosine similarities of four small vectors, every term written out";

const FEATURES: [&str; 3] = ["furry", "pet", "metal"];
const VECTORS: [(&str, [f32; 3]); 4] = [
    ("cat", [0.9, 0.8, 0.1]),
    ("dog", [0.8, 0.9, 0.2]),
    ("car", [0.1, 0.2, 0.9]),
    ("cat, doubled", [1.8, 1.6, 0.2]),
];

/// `x` with at most 3 decimals, trailing zeros dropped.
fn num(x: f32) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    ctx.table(
        &["vector", FEATURES[0], FEATURES[1], FEATURES[2], "length ‖v‖"],
        &VECTORS
            .iter()
            .map(|(n, v)| {
                vec![
                    n.to_string(),
                    num(v[0]),
                    num(v[1]),
                    num(v[2]),
                    num(norm_l2(v)),
                ]
            })
            .collect::<Vec<_>>(),
    );
    let pairs = [(0, 1), (0, 2), (1, 2), (0, 3), (3, 1)];
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (i, j) in pairs {
        let ((a, u), (b, v)) = (VECTORS[i], VECTORS[j]);
        let terms: Vec<String> = u
            .iter()
            .zip(&v)
            .map(|(x, y)| format!("{}·{}", num(*x), num(*y)))
            .collect();
        let d = dot(&u, &v);
        let cos = d / (norm_l2(&u) * norm_l2(&v));
        rows.push(vec![
            format!("{a} · {b}"),
            format!("{} = {}", terms.join(" + "), num(d)),
            format!("{} ÷ ({} × {}) = {}", num(d), num(norm_l2(&u)), num(norm_l2(&v)), num(cos)),
        ]);
        records.push(json!({"a": a, "b": b, "dot": d, "cosine": cos}));
    }
    ctx.table(&["pair", "dot product Σ aᵢbᵢ", "cosine = a·b ÷ (‖a‖ ‖b‖)"], &rows);
    let names: Vec<String> = VECTORS.iter().map(|(n, _)| n.to_string()).collect();
    let cosines: Vec<Vec<f64>> = VECTORS
        .iter()
        .map(|(_, u)| {
            VECTORS
                .iter()
                .map(|(_, v)| (dot(u, v) / (norm_l2(u) * norm_l2(v))) as f64)
                .collect()
        })
        .collect();
    crate::figures::Heatmap {
        title: "Cosine similarity of the four vectors",
        x_label: "",
        y_label: "",
        col_names: names.clone(),
        row_names: names,
        values: cosines,
        annotate: Some(&|v| format!("{v:.2}")),
    }
    .draw(&ctx.figure("cosine.svg"))?;
    ctx.set("vectors", json!(VECTORS.iter().map(|(n, v)| json!({"name": n, "v": v})).collect::<Vec<_>>()));
    ctx.set("pairs", json!(records));
    ctx.md(
        "The dot product adds up the products of matching coordinates: large when two vectors have \
         large values in the same places. Cat and dog share \"furry\" and \"pet\", so their product \
         is large; car shares almost nothing with either. The dot product also grows with length: \
         doubling the cat doubles every dot product with it. The cosine divides length out and \
         keeps only the angle, 1 for the same direction, 0 for perpendicular: the doubled cat has \
         cosine 1 with the cat. Attention (post 4) scores with plain dot products, so length \
         matters there; word similarity (post 3) is usually compared by cosine.",
    );
    Ok(())
}
