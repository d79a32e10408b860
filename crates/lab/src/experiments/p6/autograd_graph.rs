//! `p6-autograd-graph`: the graph autograd records for one tiny expression, drawn from the
//! framework's own record (`Tensor::graph`), with each node's value and each variable's gradient,
//! and the gradients checked against central differences.
//!
//! ```text
//!   h = tanh(x W + b)      L = mean((h − t)²)      x: (1, 3), W: (3, 2), b: (2), t: (1, 2)
//! ```
//!
//! Forward runs left to right; `backward` visits the same nodes right to left (the number on each
//! op is its place in that walk), each op turning the gradient of its output into gradients of its
//! inputs. `sub`'s output feeds `mul` twice, so its gradient is the sum of two contributions.

use crate::{Ctx, LabError};
use serde_json::json;
use std::collections::HashMap;
use std::fmt::Write;
use tfs_tensor::Tensor;

pub(crate) const DESCRIPTION: &str =
    "the recorded graph of tanh(xW + b) under a squared error, drawn with values and gradients; gradients vs central differences";

fn fmt_vals(v: &[f32]) -> String {
    let s: Vec<String> = v.iter().take(6).map(|x| format!("{x:.2}")).collect();
    format!("[{}{}]", s.join(", "), if v.len() > 6 { ", …" } else { "" })
}

/// The loss as a function of W and b (x and t fixed).
fn loss(w: &Tensor, b: &Tensor, x: &Tensor, t: &Tensor) -> Tensor {
    let h = x.matmul(w).add(b).tanh();
    let d = h.sub(t);
    d.mul(&d).mean_all()
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let x = Tensor::new(vec![0.5, -1.0, 2.0], &[1, 3]);
    let t = Tensor::new(vec![1.0, -1.0], &[1, 2]);
    let w = Tensor::var(vec![0.2, -0.4, 0.1, 0.3, -0.2, 0.5], &[3, 2]);
    let b = Tensor::var(vec![0.1, -0.1], &[2]);
    // Keep every intermediate so the figure can show its value.
    let xw = x.matmul(&w);
    let z = xw.add(&b);
    let h = z.tanh();
    let d = h.sub(&t);
    let sq = d.mul(&d);
    let l = sq.mean_all();
    let grads = l.backward();
    let nodes = l.graph();
    let values: HashMap<usize, Vec<f32>> = [&x, &t, &w, &b, &xw, &z, &h, &d, &sq, &l].iter().map(|v| (v.id(), v.to_vec())).collect();
    let names: HashMap<usize, &str> = [(x.id(), "x"), (t.id(), "t"), (w.id(), "W"), (b.id(), "b"), (l.id(), "L")].into_iter().collect();

    // Layout: ops in a row, column = longest path from a leaf; each leaf one column before its
    // first consumer, in the rows below.
    let mut col: HashMap<usize, usize> = HashMap::new();
    for n in nodes.iter().filter(|n| !n.inputs.is_empty()) {
        let c = n.inputs.iter().map(|i| col.get(i).map_or(1, |c| c + 1)).max().unwrap_or(1);
        col.insert(n.id, c);
    }
    for n in nodes.iter().filter(|n| n.inputs.is_empty()) {
        let first = nodes.iter().filter(|m| m.inputs.contains(&n.id)).map(|m| col[&m.id]).min().unwrap_or(1);
        col.insert(n.id, first - 1);
    }
    // Ops top to bottom in the right column; each leaf in the rows above, on the left, at the
    // level just before its first consumer.
    let levels = col.values().max().copied().unwrap_or(0) + 1;
    let mut next_free = 0usize;
    let mut pos: HashMap<usize, (f64, f64)> = HashMap::new();
    let (bw, bh, gx, gy) = (340.0, 88.0, 60.0, 34.0);
    for n in &nodes {
        let lv = col[&n.id];
        let (c, row) = if n.inputs.is_empty() {
            next_free = next_free.max(lv);
            next_free += 1;
            (0.0, next_free - 1)
        } else {
            (1.0, lv)
        };
        pos.insert(n.id, (20.0 + c * (bw + gx), 50.0 + row as f64 * (bh + gy)));
    }
    let levels = levels.max(next_free);
    let height = 50.0 + levels as f64 * (bh + gy);
    let width = 40.0 + 2.0 * (bw + gx);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="14">
<title>Autograd graph of L = mean((tanh(xW + b) − t)²)</title>
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>
<rect width="100%" height="100%" fill="white"/>
<text x="20" y="30" font-size="17">Forward ↓ (values) · backward ↑ (walk order #, gradients in red)</text>
"##
    );
    let walk: Vec<usize> = nodes.iter().rev().filter(|n| !n.inputs.is_empty()).map(|n| n.id).collect();
    for n in &nodes {
        let (x1, y1) = pos[&n.id];
        for (k, i) in n.inputs.iter().enumerate() {
            let (x0, y0) = pos[i];
            let (sx, sy, ex, ey) = if x0 == x1 {
                let off = if n.inputs.len() == 2 && n.inputs[0] == n.inputs[1] { (k as f64 - 0.5) * 40.0 } else { 0.0 };
                (x0 + bw / 2.0 + off, y0 + bh, x1 + bw / 2.0 + off, y1 - 2.0)
            } else {
                (x0 + bw, y0 + bh / 2.0, x1 - 2.0, y1 + bh / 2.0)
            };
            let _ = writeln!(svg, r##"<line x1="{sx}" y1="{sy}" x2="{ex}" y2="{ey}" stroke="#555" stroke-width="1.5" marker-end="url(#arrow)"/>"##);
        }
    }
    for n in &nodes {
        let (px, py) = pos[&n.id];
        let (fill, stroke) = match n.op {
            "leaf" => ("#fde8c8", "#d08a1a"),
            "const" => ("#eeeeee", "#888888"),
            _ => ("#dbe9f6", "#2b6cb0"),
        };
        let title = match (names.get(&n.id), n.op) {
            (Some(nm), "leaf") => format!("{nm}  (variable)"),
            (Some(nm), "const") => format!("{nm}  (input)"),
            (Some(nm), op) => format!("{nm} = {op}"),
            (None, op) => op.to_string(),
        };
        let step = walk.iter().position(|&i| i == n.id).filter(|_| n.op != "leaf" && n.op != "const").map_or(String::new(), |k| format!("   backward #{}", k + 1));
        let _ = writeln!(svg, r##"<rect x="{px}" y="{py}" width="{bw}" height="{bh}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>"##);
        let _ = writeln!(svg, r##"<text x="{}" y="{}" font-weight="bold">{title}{step}</text>"##, px + 8.0, py + 20.0);
        let _ = writeln!(svg, r##"<text x="{}" y="{}">shape {:?}</text>"##, px + 8.0, py + 40.0, n.shape);
        let _ = writeln!(svg, r##"<text x="{}" y="{}">{}</text>"##, px + 8.0, py + 58.0, fmt_vals(values.get(&n.id).map_or(&[][..], |v| v)));
        if n.op == "leaf" {
            let g = grads.get_or_zeros(if n.id == w.id() { &w } else { &b }).to_vec();
            let nm = names.get(&n.id).copied().unwrap_or("");
            let _ = writeln!(svg, r##"<text x="{}" y="{}" fill="#b03a2e">∂L/∂{nm} = {}</text>"##, px + 8.0, py + 78.0, fmt_vals(&g));
        }
    }
    svg.push_str("</svg>\n");
    ctx.figure("graph.svg"); // registers the figure; the SVG is written by hand below
    ctx.write_file("graph.svg", &svg)?;

    // Gradients against central differences (f32, ε = 1e-3).
    let mut rows = Vec::new();
    let mut worst = 0.0f64;
    for (name, var) in [("W", &w), ("b", &b)] {
        let g = grads.get(var).expect("gradient").to_vec();
        let base = var.to_vec();
        for i in 0..base.len() {
            let eval = |delta: f32| {
                let mut p = base.clone();
                p[i] += delta;
                let v = Tensor::new(p, var.shape());
                let (ww, bb) = if name == "W" { (v, b.clone()) } else { (w.clone(), v) };
                loss(&ww, &bb, &x, &t).item() as f64
            };
            let eps = 1e-3;
            let num = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
            let err = (num - g[i] as f64).abs() / (num.abs().max(g[i].abs() as f64).max(1e-3));
            worst = worst.max(err);
            rows.push(vec![format!("{name}[{i}]"), format!("{:.6}", g[i]), format!("{num:.6}"), format!("{err:.1e}")]);
        }
    }
    ctx.set("expression", "L = mean((tanh(x W + b) - t)^2)");
    ctx.set("nodes", json!(nodes.iter().map(|n| json!({"id": n.id, "op": n.op, "shape": n.shape, "inputs": n.inputs})).collect::<Vec<_>>()));
    ctx.set("loss", l.item());
    ctx.set("max_relative_error_vs_central_differences", worst);
    ctx.md(&format!(
        "The graph of L = mean((tanh(xW + b) − t)²) as the framework recorded it: {} nodes, {} of them \
         ops. L = {:.6}. Every gradient from `backward` against a central difference (ε = 10⁻³, in \
         f32): largest relative difference {worst:.1e}.",
        nodes.len(),
        nodes.iter().filter(|n| n.op != "leaf" && n.op != "const").count(),
        l.item()
    ));
    ctx.table(&["parameter", "backward", "central difference", "relative difference"], &rows);
    Ok(())
}
