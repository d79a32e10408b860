//! `p0-softmax-temperature`: one logit vector under softmax(z / T) for T = 0.1, 0.5, 1, 2, 10.

use crate::plot::{LineChart, Series};
use crate::{sig, Ctx, LabError};
use serde_json::json;
use tfs_math::info::entropy_bits;
use tfs_math::softmax::softmax_temperature;

pub(crate) const DESCRIPTION: &str = "one logit vector under softmax temperatures 0.1, 0.5, 1, 2, 10";

const LOGITS: [f64; 6] = [3.0, 2.5, 1.0, 0.5, 0.0, -1.0];
const TEMPERATURES: [f64; 5] = [0.1, 0.5, 1.0, 2.0, 10.0];

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let mut chart = LineChart::new(
        "softmax(z / T) of z = [3, 2.5, 1, 0.5, 0, −1]",
        "class index i",
        "probability p_i",
    )
    .y_range(0.0, 1.0)
    .integer_x();
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for t in TEMPERATURES {
        let p = softmax_temperature(&LOGITS, t);
        let h = entropy_bits(&p);
        let pts = p.iter().enumerate().map(|(i, &v)| (i as f64, v)).collect();
        chart = chart.series(Series::new(format!("T = {t}"), pts).with_markers());
        let mut row = vec![format!("{t}")];
        row.extend(p.iter().map(|v| sig(*v, 3)));
        row.push(format!("{h:.2}"));
        rows.push(row);
        records.push(json!({"temperature": t, "probabilities": p, "entropy_bits": h}));
    }
    chart.draw(&ctx.figure("softmax_temperature.svg"))?;
    ctx.set("logits", LOGITS.to_vec());
    ctx.set("temperatures", records);
    let mut headers = vec!["T".to_string()];
    headers.extend((0..LOGITS.len()).map(|i| format!("p{i} (z={})", LOGITS[i])));
    headers.push("entropy (bits)".into());
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    ctx.table(&headers, &rows);
    let max_bits = (LOGITS.len() as f64).log2();
    ctx.md(&format!(
        "At T = 0.1 nearly all the mass sits on the largest logit (entropy {} bits); at T = 10 the \
         distribution is almost uniform ({} bits, against the maximum log₂ {} = {max_bits:.2}). \
         Dividing by T scales the gaps between logits, and softmax turns gaps into ratios: \
         p_i / p_j = e^((z_i − z_j)/T).",
        rows[0].last().expect("row"),
        rows[4].last().expect("row"),
        LOGITS.len()
    ));
    Ok(())
}
