//! `p5-shapes`: the shape of every tensor through the transformer on a tiny input, read off the
//! real arrays of one forward pass (`tfs_transformer::trace`), and every named parameter with
//! its shape.

use crate::{Ctx, LabError};
use serde_json::json;
use tfs_nn::{Activation, Params};
use tfs_transformer::trace::shape_trace;
use tfs_transformer::{Batch, Config, Example, Norm, Transformer};

pub(crate) const DESCRIPTION: &str =
    "the shape of every tensor through the encoder-decoder on a tiny input, and every parameter name";

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    // The same tiny model in both modes: it takes milliseconds.
    let cfg = Config {
        src_vocab: 10,
        tgt_vocab: 12,
        d: 16,
        heads: 4,
        ffn: 64,
        enc_layers: 2,
        dec_layers: 2,
        act: Activation::Relu,
        norm: Norm::Post,
        residual: true,
        tie: false,
        max_len: 32,
    };
    let m: Transformer<f32> = Transformer::new(cfg, &mut ctx.rng());
    let ex = [
        Example { src: vec![4, 0, 7], tgt: vec![7, 0, 4, 11] },
        Example { src: vec![1, 2, 3, 4, 5], tgt: vec![5, 4, 3, 2, 1, 11] },
    ];
    let batch = Batch::new(&ex, 10);
    let trace = shape_trace(&m, &batch);
    let fmt = |s: &[usize]| format!("({})", s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "));
    let rows: Vec<Vec<String>> = trace
        .iter()
        .map(|r| vec![format!("`{}`", r.name), fmt(&r.shape), r.dims.to_string()])
        .collect();
    ctx.md(&format!(
        "A batch of B = {} reversal examples (sources `4 0 7` and `1 2 3 4 5`, so Ts = {} with one \
         source padded; Tt = {}), through a model with D = {}, H = {} heads (d_k = {}), FFN width \
         F = {}, {} encoder and {} decoder blocks, V_tgt = {}. Every shape below is read off the \
         arrays a forward pass computed.",
        batch.b, batch.ts, batch.tt, cfg.d, cfg.heads, cfg.d / cfg.heads, cfg.ffn,
        cfg.enc_layers, cfg.dec_layers, cfg.tgt_vocab
    ));
    ctx.table(&["tensor", "shape", "dimensions"], &rows);
    let mut params = Vec::new();
    m.visit(&mut |n, p| params.push((n.to_string(), p.shape().to_vec())));
    let layer0: Vec<Vec<String>> = params
        .iter()
        .filter(|(n, _)| !n.starts_with("enc.1") && !n.starts_with("dec.1"))
        .map(|(n, s)| vec![format!("`{n}`"), fmt(s)])
        .collect();
    ctx.md(&format!(
        "The model's {} named parameters ({} numbers); blocks `enc.1` and `dec.1` repeat \
         `enc.0` and `dec.0`:",
        params.len(),
        m.num_params()
    ));
    ctx.table(&["parameter", "shape"], &layer0);
    ctx.set("config", json!({"d": cfg.d, "heads": cfg.heads, "ffn": cfg.ffn, "enc_layers": cfg.enc_layers, "dec_layers": cfg.dec_layers, "src_vocab": cfg.src_vocab, "tgt_vocab": cfg.tgt_vocab}));
    ctx.set("trace", json!(trace.iter().map(|r| json!({"name": r.name, "shape": r.shape, "dims": r.dims})).collect::<Vec<_>>()));
    ctx.set("parameters", json!(params.iter().map(|(n, s)| json!({"name": n, "shape": s})).collect::<Vec<_>>()));
    ctx.set("num_params", m.num_params());
    let path = ctx.figure("architecture.svg");
    let svg = diagram(&cfg, &trace);
    crate::error::io(&path, std::fs::write(&path, svg))?;
    Ok(())
}

/// The architecture as SVG, drawn from code: every box names its parameters and the shape it
/// outputs, symbolic and as measured on the traced batch.
fn diagram(cfg: &Config, trace: &[tfs_transformer::trace::TraceRow]) -> String {
    let shape = |name: &str| {
        trace
            .iter()
            .find(|r| r.name == name)
            .map(|r| {
                let n: Vec<String> = r.shape.iter().map(|d| d.to_string()).collect();
                format!("{} = ({})", r.dims, n.join(", "))
            })
            .unwrap_or_default()
    };
    let esc = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut out = String::from(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="960" height="900" viewBox="0 0 960 900" font-family="sans-serif" font-size="13">
<defs><marker id="a" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>
<rect width="960" height="900" fill="white"/>
"##,
    );
    let mut bx = |x: f64, y: f64, w: f64, h: f64, fill: &str, lines: &[String]| {
        out.push_str(&format!(
            r##"<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{fill}" stroke="#333"/>
"##
        ));
        for (i, l) in lines.iter().enumerate() {
            let (weight, size) = if i == 0 { ("bold", 13) } else { ("normal", 11) };
            out.push_str(&format!(
                r##"<text x="{}" y="{}" text-anchor="middle" font-weight="{weight}" font-size="{size}">{}</text>
"##,
                x + w / 2.0,
                y + 17.0 + 15.0 * i as f64,
                esc(l)
            ));
        }
    };
    let t = |s: &str| s.to_string();
    // Encoder column (left), bottom to top.
    let (ex, dx, w) = (40.0, 500.0, 400.0);
    bx(ex, 820.0, w, 40.0, "#eeeeee", &[t("source ids"), shape("src ids")]);
    bx(ex, 740.0, w, 55.0, "#fde9c9", &[t("src_emb.weight (V_src, D) · √D + sinusoidal PE"), shape("src_emb·√D + PE")]);
    bx(ex - 15.0, 330.0, w + 30.0, 390.0, "#f4f8fc", &[format!("enc.i, i = 0 … {} (post-norm shown)", cfg.enc_layers - 1)]);
    bx(ex, 620.0, w, 70.0, "#cfe3f7", &[t("enc.i.self_attn: w_q b_q w_k b_k w_v b_v w_o b_o"), t("Q, K, V per head: (B, H, Ts, d_k)"), format!("weights {} (padding mask)", shape("enc.0.self_attn weights"))]);
    bx(ex, 560.0, w, 40.0, "#e3f1e3", &[t("add & norm: enc.i.ln1 (gamma, beta)"), t("LN(x + SelfAttn(x))")]);
    bx(ex, 460.0, w, 80.0, "#cfe3f7", &[t("enc.i.ffn: w1 (D, F) b1, w2 (F, D) b2"), t("W2·act(W1·x + b1) + b2"), format!("hidden {}", shape("enc.0.ffn hidden"))]);
    bx(ex, 400.0, w, 40.0, "#e3f1e3", &[t("add & norm: enc.i.ln2"), t("LN(x + FFN(x))")]);
    bx(ex, 280.0, w, 40.0, "#ffffff", &[t("memory M"), shape("memory (encoder output)")]);
    // Decoder column (right).
    bx(dx, 820.0, w, 40.0, "#eeeeee", &[t("target ids, shifted: BOS y1 … y(T-1)"), shape("tgt_in ids (BOS + shifted target)")]);
    bx(dx, 740.0, w, 55.0, "#fde9c9", &[t("tgt_emb.weight (V_tgt, D) · √D + sinusoidal PE"), shape("tgt_emb·√D + PE")]);
    bx(dx - 15.0, 150.0, w + 30.0, 570.0, "#f4f8fc", &[format!("dec.i, i = 0 … {}", cfg.dec_layers - 1)]);
    bx(dx, 620.0, w, 70.0, "#cfe3f7", &[t("dec.i.self_attn (causal + padding mask)"), t("w_q b_q … w_o b_o"), format!("weights {}", shape("dec.0.self_attn weights (causal)"))]);
    bx(dx, 560.0, w, 40.0, "#e3f1e3", &[t("add & norm: dec.i.ln1")]);
    bx(dx, 460.0, w, 80.0, "#cfe3f7", &[t("dec.i.cross_attn: Q from the decoder,"), t("K, V from the memory M (source padding mask)"), format!("weights {}", shape("dec.0.cross_attn weights"))]);
    bx(dx, 400.0, w, 40.0, "#e3f1e3", &[t("add & norm: dec.i.ln2")]);
    bx(dx, 285.0, w, 95.0, "#cfe3f7", &[t("dec.i.ffn: w1 (D, F) b1, w2 (F, D) b2"), format!("hidden {}", shape("dec.0.ffn hidden")), format!("block output {}", shape("dec.0 output"))]);
    bx(dx, 225.0, w, 40.0, "#e3f1e3", &[t("add & norm: dec.i.ln3")]);
    bx(dx, 90.0, w, 45.0, "#fde9c9", &[t("out.w (D, V_tgt), out.b (tied: tgt_emb.weightᵀ)"), shape("logits")]);
    bx(dx, 25.0, w, 45.0, "#eeeeee", &[t("softmax → cross-entropy over real positions"), t("loss: scalar")]);
    let arrow = |o: &mut String, x1: f64, y1: f64, x2: f64, y2: f64| {
        o.push_str(&format!(
            r##"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#333" stroke-width="1.5" marker-end="url(#a)"/>
"##
        ));
    };
    for c in [ex + w / 2.0, dx + w / 2.0] {
        arrow(&mut out, c, 820.0, c, 795.0);
        arrow(&mut out, c, 740.0, c, 690.0);
        arrow(&mut out, c, 620.0, c, 600.0);
        arrow(&mut out, c, 560.0, c, 540.0);
        arrow(&mut out, c, 460.0, c, 440.0);
    }
    arrow(&mut out, ex + w / 2.0, 400.0, ex + w / 2.0, 320.0);
    arrow(&mut out, dx + w / 2.0, 400.0, dx + w / 2.0, 380.0);
    arrow(&mut out, dx + w / 2.0, 285.0, dx + w / 2.0, 265.0);
    arrow(&mut out, dx + w / 2.0, 225.0, dx + w / 2.0, 135.0);
    arrow(&mut out, dx + w / 2.0, 90.0, dx + w / 2.0, 70.0);
    // Memory into every decoder block's cross-attention.
    out.push_str(&format!(
        r##"<path d="M{} 300 L470 300 L470 500 L{} 500" fill="none" stroke="#1f5fa8" stroke-width="2" marker-end="url(#a)"/>
<text x="470" y="290" text-anchor="middle" fill="#1f5fa8" font-size="11">M → K, V</text>
"##,
        ex + w,
        dx
    ));
    out.push_str(&format!(
        r##"<text x="{}" y="40" text-anchor="middle" font-size="15" font-weight="bold">The encoder-decoder transformer of tfs-transformer</text>
<text x="{}" y="60" text-anchor="middle" font-size="11">D = {}, H = {}, d_k = {}, F = {}; shapes measured on a traced batch</text>
<text x="{}" y="76" text-anchor="middle" font-size="11">pre-norm: x + Sublayer(LN(x)), plus enc_norm / dec_norm</text>
"##,
        ex + w / 2.0,
        ex + w / 2.0,
        cfg.d,
        cfg.heads,
        cfg.d / cfg.heads,
        cfg.ffn,
        ex + w / 2.0
    ));
    out.push_str("</svg>\n");
    out
}
