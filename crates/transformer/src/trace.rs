//! The shape of every tensor through the model on one batch: a forward pass that records, layer
//! by layer, what it computed, read off the real arrays (not derived from the config).
//!
//! ```text
//!   src (B, Ts) → embed (B, Ts, D) → per encoder block: Q/K/V (B, H, Ts, d_k), weights
//!   (B, H, Ts, Ts), FFN hidden (B, Ts, F), output (B, Ts, D) → memory (B, Ts, D)
//!   tgt_in (B, Tt) → embed → per decoder block: self weights (B, H, Tt, Tt), cross weights
//!   (B, H, Tt, Ts), FFN hidden, output → logits (B, Tt, V_tgt) → loss ()
//! ```
//!
//! The model stores a batch as `(B·T, C)` matrices; the trace reports them as `(B, T, C)` and a
//! head's slice of Q as `(B, H, T, d_k)`. `p5-shapes` prints it; a test pins it.
//!
//! Left out: the backward pass (every δ has the shape of what it is the gradient of).

use crate::model::{Batch, Transformer};
use ndarray::NdFloat;
use tfs_attention::sdpa::Mask;

/// One traced tensor: its name, shape, and what the dimensions are.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
    pub name: String,
    pub shape: Vec<usize>,
    pub dims: &'static str,
}

fn row(name: impl Into<String>, shape: &[usize], dims: &'static str) -> TraceRow {
    TraceRow {
        name: name.into(),
        shape: shape.to_vec(),
        dims,
    }
}

/// Runs `m` on `batch`, recording every layer's output shape.
pub fn shape_trace<F: NdFloat>(m: &Transformer<F>, batch: &Batch) -> Vec<TraceRow> {
    let (b, ts, tt) = (batch.b, batch.ts, batch.tt);
    let (d, nh) = (m.cfg.d, m.cfg.heads);
    let btd = |t: usize, n: usize| [b, t, n];
    let mut rows = vec![row("src ids", &[b, ts], "(B, Ts)")];
    let mut x = m.embed(&m.src_emb, &batch.src, ts);
    rows.push(row("src_emb·√D + PE", &btd(ts, x.ncols()), "(B, Ts, D)"));
    let src_mask = Mask::Padding(batch.src_len.clone());
    for (i, layer) in m.enc.iter().enumerate() {
        let (y, c) = layer.forward(x.view(), b, &src_mask);
        let hd = [b, nh, ts, d / nh];
        rows.push(row(
            format!("enc.{i}.self_attn Q, K, V"),
            &hd,
            "(B, H, Ts, d_k)",
        ));
        rows.push(row(
            format!("enc.{i}.self_attn weights"),
            c.attn.p.shape(),
            "(B, H, Ts, Ts)",
        ));
        rows.push(row(
            format!("enc.{i}.ffn hidden"),
            &btd(ts, c.ffn.h.ncols()),
            "(B, Ts, F)",
        ));
        rows.push(row(
            format!("enc.{i} output"),
            &btd(ts, y.ncols()),
            "(B, Ts, D)",
        ));
        x = y;
    }
    let (mem, _, _) = m.encode(&batch.src, &batch.src_len, ts);
    rows.push(row(
        "memory (encoder output)",
        &btd(ts, mem.ncols()),
        "(B, Ts, D)",
    ));
    rows.push(row(
        "tgt_in ids (BOS + shifted target)",
        &[b, tt],
        "(B, Tt)",
    ));
    let mut y = m.embed(&m.tgt_emb, &batch.tgt_in, tt);
    rows.push(row("tgt_emb·√D + PE", &btd(tt, y.ncols()), "(B, Tt, D)"));
    let self_mask = Mask::CausalPadding(batch.tgt_len.clone());
    for (i, layer) in m.dec.iter().enumerate() {
        let (o, c) = layer.forward(y.view(), mem.view(), b, &self_mask, &src_mask);
        rows.push(row(
            format!("dec.{i}.self_attn weights (causal)"),
            c.self_attn.p.shape(),
            "(B, H, Tt, Tt)",
        ));
        rows.push(row(
            format!("dec.{i}.cross_attn weights"),
            c.cross_attn.p.shape(),
            "(B, H, Tt, Ts)",
        ));
        rows.push(row(
            format!("dec.{i}.ffn hidden"),
            &btd(tt, c.ffn.h.ncols()),
            "(B, Tt, F)",
        ));
        rows.push(row(
            format!("dec.{i} output"),
            &btd(tt, o.ncols()),
            "(B, Tt, D)",
        ));
        y = o;
    }
    let (z, _) = m.forward(batch);
    rows.push(row("logits", &btd(tt, z.ncols()), "(B, Tt, V_tgt)"));
    rows.push(row("loss", &[], "()"));
    rows
}
