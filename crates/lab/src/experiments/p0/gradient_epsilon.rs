//! `p0-gradient-epsilon`: how small should ε be in a numerical derivative?
//!
//! The error of the forward difference `(f(x+ε) − f(x))/ε` and the central difference
//! `(f(x+ε) − f(x−ε))/2ε` against the exact derivative, for ε from 1e-1 to 1e-13, on f = sin(x²)
//! (exact: 2x cos x²) and f = exp, each at 101 points x in [0.5, 1.5]. The error at one x can
//! cancel by luck at one ε; the median over the points is the typical error. On log-log axes the
//! error is a V: truncation error falls with ε (slope 1 forward, slope 2 central) until round-off,
//! ~u/ε, takes over.

use crate::plot::{LegendPosition, LineChart, Series};
use crate::{sig, Ctx, LabError};
use serde_json::json;
use tfs_math::numgrad::numerical_derivative;

pub(crate) const DESCRIPTION: &str = "error of numerical derivatives vs ε from 1e-1 to 1e-13: the truncation/round-off V";

fn forward(f: impl Fn(f64) -> f64, x: f64, eps: f64) -> f64 {
    (f(x + eps) - f(x)) / eps
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    // ε = 10^(-k/4) for k = 4..=52: four points per decade.
    let eps: Vec<f64> = (4..=52).map(|k| 10f64.powf(-(k as f64) / 4.0)).collect();
    type Case = (&'static str, fn(f64) -> f64, fn(f64) -> f64);
    let cases: [Case; 2] = [
        ("sin(x²)", |x| (x * x).sin(), |x| 2.0 * x * (x * x).cos()),
        ("exp(x)", f64::exp, f64::exp),
    ];
    let xs: Vec<f64> = (0..=100).map(|i| 0.5 + i as f64 / 100.0).collect();
    // The median over the points x of |numeric − exact| at one ε.
    let median_error = |d: &dyn Fn(f64) -> f64, exact: fn(f64) -> f64| {
        let mut e: Vec<f64> = xs.iter().map(|&x| (d(x) - exact(x)).abs()).collect();
        e.sort_by(f64::total_cmp);
        e[e.len() / 2].max(1e-17)
    };
    let mut chart = LineChart::new(
        "Numerical derivative error vs step size ε",
        "step ε",
        "median over x ∈ [0.5, 1.5] of |numeric − exact|",
    )
    .log_x()
    .log_y()
    .legend(LegendPosition::LowerLeft);
    let err_at_1e5 = median_error(&|x| numerical_derivative(cases[0].1, x, 1e-5), cases[0].2);
    let lucky_at_1 = eps
        .iter()
        .map(|&e| (numerical_derivative(cases[0].1, 1.0, e) - cases[0].2(1.0)).abs())
        .fold(f64::INFINITY, f64::min);
    let mut rows = Vec::new();
    let mut records = Vec::new();
    for (name, f, exact) in cases {
        let central: Vec<(f64, f64)> = eps
            .iter()
            .map(|&e| (e, median_error(&|x| numerical_derivative(f, x, e), exact)))
            .collect();
        let fwd: Vec<(f64, f64)> = eps
            .iter()
            .map(|&e| (e, median_error(&|x| forward(f, x, e), exact)))
            .collect();
        let best = |pts: &[(f64, f64)]| {
            pts.iter()
                .copied()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("non-empty")
        };
        let (bc, bf) = (best(&central), best(&fwd));
        rows.push(vec![
            name.to_string(),
            sig(bc.0, 2),
            sig(bc.1, 2),
            sig(bf.0, 2),
            sig(bf.1, 2),
        ]);
        records.push(json!({
            "function": name, "x": "median over 101 points in [0.5, 1.5]",
            "central": central, "forward": fwd,
            "best_central_eps": bc.0, "best_central_error": bc.1,
            "best_forward_eps": bf.0, "best_forward_error": bf.1,
        }));
        chart = chart
            .series(Series::new(format!("central, {name}"), central))
            .series(Series::new(format!("forward, {name}"), fwd));
    }
    chart.draw(&ctx.figure("gradient_epsilon.svg"))?;
    ctx.set("best_single_point_error_sin_at_1", lucky_at_1);
    ctx.set("eps", eps);
    ctx.set("cases", records);
    ctx.table(
        &[
            "function",
            "best ε (central)",
            "its median error",
            "best ε (forward)",
            "its median error",
        ],
        &rows,
    );
    ctx.md(&format!(
        "Typically (the median over 101 points x), the central difference is best near ε ≈ {} \
         with an error of about {}, the forward difference near ε ≈ {} with about {}. (At the single \
         point x = 1 the best central error is {}: a lucky cancellation of rounding errors, not \
         what to expect.) Right of the minimum, the error falls as ε² (central) \
         or ε (forward): truncation. Left of it, it grows as 1/ε: the two f values agree in more and \
         more leading digits and their difference is mostly rounding. This is why gradient checks in \
         this project use ε = 1e-5 in f64: within a decade of the optimum, where the central \
         difference of sin(x²) is typically off by {}.",
        rows[0][1],
        rows[0][2],
        rows[0][3],
        rows[0][4],
        sig(lucky_at_1, 2),
        sig(err_at_1e5, 2)
    ));
    Ok(())
}
