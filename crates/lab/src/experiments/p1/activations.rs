//! `p1-activations`: every activation function and its derivative, on [−4, 4].

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{Ctx, LabError};
use serde_json::json;
use tfs_nn::Activation;

pub(crate) const DESCRIPTION: &str = "step, sigmoid, tanh, ReLU, LeakyReLU, GELU (exact and tanh), SiLU and their derivatives";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let acts = [
        Activation::Step,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu(0.1),
        Activation::Gelu,
        Activation::GeluTanh,
        Activation::Silu,
    ];
    let xs: Vec<f64> = (0..=400).map(|i| -4.0 + 8.0 * i as f64 / 400.0).collect();
    let mut f_chart = LineChart::new("Activation functions", "x (pre-activation)", "f(x)")
        .y_range(-1.5, 4.0)
        .legend(LegendPosition::UpperLeft);
    let mut d_chart = LineChart::new("Their derivatives", "x (pre-activation)", "f′(x)")
        .y_range(-0.2, 1.3)
        .legend(LegendPosition::UpperLeft);
    let mut records = Vec::new();
    let mut rows = Vec::new();
    for act in acts {
        let f: Vec<(f64, f64)> = xs.iter().map(|&x| (x, act.f(x))).collect();
        let d: Vec<(f64, f64)> = xs.iter().map(|&x| (x, act.df(x))).collect();
        let max_d = d.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        rows.push(vec![
            act.name(),
            format!("{:.3}", act.f(1.0)),
            format!("{:.3}", act.df(0.5)),
            format!("{:.3}", max_d),
        ]);
        records.push(json!({"name": act.name(), "f": f.iter().map(|p| p.1).collect::<Vec<_>>(), "df": d.iter().map(|p| p.1).collect::<Vec<_>>()}));
        f_chart = f_chart.series(Series::new(act.name(), f));
        d_chart = d_chart.series(Series::new(act.name(), d));
    }
    f_chart.draw(&ctx.figure("activations.svg"))?;
    d_chart.draw(&ctx.figure("derivatives.svg"))?;
    ctx.set("x", xs);
    ctx.set("activations", json!(records));
    ctx.table(
        &["activation", "f(1)", "f′(0.5)", "max f′ on [−4, 4]"],
        &rows,
    );
    ctx.md(
        "The step's derivative is zero everywhere it exists, so no gradient flows through it. \
         Sigmoid's derivative never exceeds 0.25: ten sigmoid layers can shrink a gradient by \
         0.25¹⁰ ≈ 1e-6. ReLU passes gradients unchanged where it is active and blocks them where it \
         is not; GELU and SiLU are smooth versions of it that let a little negative signal through.",
    );
    Ok(())
}
