//! `p4-self-attention`: a one-layer, two-head causal self-attention model trained on a toy task
//! where heads can specialise, and its attention maps, one per head, with the causal mask.
//!
//! Task: a sequence of random tokens; at every position t ≥ 2 the model must output both the
//! previous token x_{t−1} (first output layer) and the one before, x_{t−2} (second). Model:
//! `X = E[tokens] + PE` (learned embeddings, sinusoidal positions), `Y = MHA_causal(X)`,
//! `logits_k = Y W_k`. Only attention can move information between positions, so each answer
//! must be fetched by some head from a fixed offset.

use crate::figures::Heatmap;
use crate::plot::{LineChart, Series};
use crate::{Ctx, LabError};
use ndarray::{s, Array2, Array3, ArrayViewD, ArrayViewMutD, Axis};
use serde_json::json;
use tfs_attention::mha::MultiHead;
use tfs_attention::sdpa::Mask;
use tfs_embeddings::positional::sinusoidal;
use tfs_embeddings::Embedding;
use tfs_math::loss::cross_entropy_batch;
use tfs_nn::init::Init;
use tfs_nn::optim::Optimizer;
use tfs_nn::params::{visit_in, visit_in_mut};
use tfs_nn::{Adam, Grads, Params};

pub(crate) const DESCRIPTION: &str = "two-head causal self-attention on a recall-the-previous-tokens task: one heatmap per head";

const V: usize = 10;

/// The model: embeddings, one multi-head self-attention layer, two output layers; its parameters
/// are `emb.weight`, `mha.w_q` … `mha.w_o`, `out.0`, `out.1`.
struct Probe {
    emb: Embedding<f32>,
    mha: MultiHead<f32>,
    outs: Vec<Array2<f32>>,
}

impl Params<f32> for Probe {
    fn visit(&self, f: &mut dyn FnMut(&str, ArrayViewD<f32>)) {
        visit_in("emb", &self.emb, f);
        visit_in("mha", &self.mha, f);
        for (k, w) in self.outs.iter().enumerate() {
            f(&format!("out.{k}"), w.view().into_dyn());
        }
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ArrayViewMutD<f32>)) {
        visit_in_mut("emb", &mut self.emb, f);
        visit_in_mut("mha", &mut self.mha, f);
        for (k, w) in self.outs.iter_mut().enumerate() {
            f(&format!("out.{k}"), w.view_mut().into_dyn());
        }
    }
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (t, d, heads, b, steps) = ctx.size(
        (12usize, 32usize, 2usize, 32usize, 1500usize),
        (6, 8, 2, 4, 20),
    );
    let mut rng = ctx.rng();
    let mut emb: Embedding<f32> = Embedding::new(V, d, &mut rng);
    emb.weight.mapv_inplace(|x| x * 0.5);
    let pe = sinusoidal(t, d).mapv(|x| x as f32);
    let mha: MultiHead<f32> = MultiHead::new(d, heads, &mut rng);
    let outs: Vec<Array2<f32>> = (0..2)
        .map(|_| Init::XavierUniform.matrix(d, V, &mut rng))
        .collect();
    let mut model = Probe { emb, mha, outs };
    let mut opt = Adam::new(3e-3);
    let mut losses = Vec::new();
    let pb = ctx.progress(steps as u64, "self-attention steps");
    let valid = t - 2;
    let batch = |rng: &mut tfs_math::Rng, b: usize| -> Vec<usize> {
        (0..b * t).map(|_| rng.below(V)).collect()
    };
    let forward = |emb: &Embedding<f32>, mha: &MultiHead<f32>, ids: &[usize], b: usize| {
        let x = emb
            .forward(ids)
            .into_shape_with_order((b, t, d))
            .expect("shape")
            + &pe;
        let (y, cache) = mha.forward(x.view(), &Mask::Causal);
        (y, cache)
    };
    // Rows (b, t ≥ 2) of Y as a matrix, and the targets of each output layer.
    let gather = |y: &Array3<f32>, ids: &[usize], b: usize| {
        let rows = y
            .slice(s![.., 2.., ..])
            .to_owned()
            .into_shape_with_order((b * valid, d))
            .expect("shape");
        let targets: Vec<Vec<usize>> = (1..=2)
            .map(|off| {
                (0..b)
                    .flat_map(|bi| (2..t).map(move |ti| (bi, ti)))
                    .map(|(bi, ti)| ids[bi * t + ti - off])
                    .collect()
            })
            .collect();
        (rows, targets)
    };
    for _ in 0..steps {
        let ids = batch(&mut rng, b);
        let (y, cache) = forward(&model.emb, &model.mha, &ids, b);
        let (rows, targets) = gather(&y, &ids, b);
        let mut dy = Array3::<f32>::zeros(y.dim());
        let mut grads = Grads::zeros_like(&model);
        let mut loss = 0.0;
        for (k, w) in model.outs.iter().enumerate() {
            let (l, dlog) = cross_entropy_batch(rows.dot(w).view(), &targets[k]);
            loss += l as f64;
            grads
                .mat_mut(&format!("out.{k}"))
                .assign(&rows.t().dot(&dlog));
            let drows = dlog
                .dot(&w.t())
                .into_shape_with_order((b, valid, d))
                .expect("shape");
            let mut dys = dy.slice_mut(s![.., 2.., ..]);
            dys += &drows;
        }
        let dx = model
            .mha
            .backward(dy.view(), &cache, grads.group_mut("mha"));
        model.emb.backward(
            &ids,
            dx.into_shape_with_order((b * t, d)).expect("shape").view(),
            grads.group_mut("emb"),
        );
        opt.step(&mut model, &grads);
        losses.push(loss);
        pb.inc(1);
    }
    pb.finish_and_clear();
    // Evaluate and draw.
    let mut eval_rng = tfs_math::Rng::new(ctx.seed ^ 0xe7a1);
    let ids = batch(&mut eval_rng, 256);
    let (y, cache) = forward(&model.emb, &model.mha, &ids, 256);
    let (rows, targets) = gather(&y, &ids, 256);
    let acc: Vec<f64> = model
        .outs
        .iter()
        .zip(&targets)
        .map(|(w, tg)| {
            let logits = rows.dot(w);
            let right = logits
                .outer_iter()
                .zip(tg)
                .filter(|(r, &y)| tfs_math::argmax(r.iter().copied()) == y)
                .count();
            right as f64 / tg.len() as f64
        })
        .collect();
    // Mean weight each head puts on offsets 0, 1, 2 (queries t ≥ 2).
    let mut offset_rows = Vec::new();
    let mut offset_rec = Vec::new();
    for (h, hc) in cache.heads.iter().enumerate() {
        let w = &hc.weights;
        let mean_at = |off: usize| {
            let mut s = 0.0;
            for bi in 0..256 {
                for ti in 2..t {
                    s += w[[bi, ti, ti - off]] as f64;
                }
            }
            s / (256 * valid) as f64
        };
        let m: Vec<f64> = (0..3).map(mean_at).collect();
        offset_rows.push(vec![
            format!("head {h}"),
            format!("{:.2}", m[0]),
            format!("{:.2}", m[1]),
            format!("{:.2}", m[2]),
        ]);
        offset_rec.push(json!({"head": h, "mean_weight_offset_0_1_2": m}));
        let example: Vec<Vec<f64>> = w
            .index_axis(Axis(0), 0)
            .outer_iter()
            .map(|r| r.iter().map(|&x| x as f64).collect())
            .collect();
        let tok = |i: usize| format!("{i}:{}", ids[i]);
        Heatmap {
            title: &format!("Head {h}: attention of each query position (causal)"),
            x_label: "key position : token",
            y_label: "query position : token",
            col_names: (0..t).map(tok).collect(),
            row_names: (0..t).map(tok).collect(),
            values: example,
            annotate: Some(&|x| {
                if x >= 0.05 {
                    format!("{x:.1}")
                } else {
                    String::new()
                }
            }),
        }
        .draw(&ctx.figure(&format!("head_{h}.svg")))?;
    }
    Heatmap {
        title: "The causal mask: query i may attend to keys j ≤ i",
        x_label: "key position",
        y_label: "query position",
        col_names: (0..t).map(|i| i.to_string()).collect(),
        row_names: (0..t).map(|i| i.to_string()).collect(),
        values: Mask::Causal
            .matrix(0, t, t)
            .outer_iter()
            .map(|r| r.to_vec())
            .collect(),
        annotate: None,
    }
    .draw(&ctx.figure("causal_mask.svg"))?;
    let smooth = crate::moving_average(&losses, 50, 1);
    LineChart::new(
        "Self-attention training loss",
        "step",
        "sum of the two cross-entropies (50-step mean)",
    )
    .series(Series::new("loss", smooth))
    .draw(&ctx.figure("loss.svg"))?;
    ctx.set("setup", json!({"positions": t, "d_model": d, "heads": heads, "vocab": V, "batch": b, "steps": steps, "optimizer": "Adam 3e-3"}));
    ctx.set("accuracy_previous_token", acc[0]);
    ctx.set("accuracy_token_before_previous", acc[1]);
    ctx.set("heads", json!(offset_rec));
    ctx.set("final_loss", losses.last().copied().unwrap_or(f64::NAN));
    ctx.md(&format!(
        "After {steps} steps the model names the previous token with {:.1}% accuracy and the one before \
         it with {:.1}% (chance: 10%), on 256 fresh sequences. How much weight each head puts on the \
         query's own position and on the positions one and two back, averaged over those sequences:",
        100.0 * acc[0],
        100.0 * acc[1]
    ));
    ctx.table(
        &["head", "offset 0 (itself)", "offset 1", "offset 2"],
        &offset_rows,
    );
    // The positions alone: each head's scores between the sinusoidal encodings only,
    // softmax((PE W_Q,h)(PE W_K,h)ᵀ / √d_k) under the causal mask. If the offset a head keeps is
    // carried by the positions (the projections turning PE(i) toward PE(i − k)), these weights
    // peak at that offset too, with no token content at all.
    let dk = d / heads;
    let (pq, pk) = (pe.dot(&model.mha.w_q), pe.dot(&model.mha.w_k));
    let mut pos_rows = Vec::new();
    let mut pos_rec = Vec::new();
    for h in 0..heads {
        let cols = s![.., h * dk..(h + 1) * dk];
        let scores = pq.slice(cols).dot(&pk.slice(cols).t()) / (dk as f32).sqrt();
        let mut mean = [0.0f64; 3];
        let mut peak = [0usize; 3];
        for i in 2..t {
            let row: Vec<f64> = (0..=i).map(|j| scores[[i, j]] as f64).collect();
            let p = tfs_math::softmax::softmax(&row);
            for (off, m) in mean.iter_mut().enumerate() {
                *m += p[i - off] / valid as f64;
            }
            let best = tfs_math::argmax(p.iter().copied());
            if i - best < 3 {
                peak[i - best] += 1;
            }
        }
        pos_rows.push(vec![
            format!("head {h}"),
            format!("{:.2}", mean[0]),
            format!("{:.2}", mean[1]),
            format!("{:.2}", mean[2]),
            format!("{}/{valid}, {}/{valid}, {}/{valid}", peak[0], peak[1], peak[2]),
        ]);
        pos_rec.push(json!({"head": h, "mean_weight_offset_0_1_2": mean, "queries_peaking_at_offset_0_1_2": peak}));
    }
    ctx.set("positions_only", json!(pos_rec));
    ctx.md(
        "The same heads scoring the positional encodings alone, without the tokens' embeddings \
         (softmax of (PE W_Q)(PE W_K)ᵀ / √d_k under the causal mask, per head): the mean weight on \
         each offset, and for how many query positions each offset gets the largest weight.",
    );
    ctx.table(
        &[
            "head, positions only",
            "offset 0",
            "offset 1",
            "offset 2",
            "queries whose largest weight is at offset 0, 1, 2",
        ],
        &pos_rows,
    );
    Ok(())
}
