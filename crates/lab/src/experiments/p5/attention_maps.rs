//! `p5-attention-maps`: where a trained transformer looks. Encoder self-attention, decoder
//! (causal) self-attention and cross-attention heatmaps for one reversal and one digits-to-words
//! example, last block, every head averaged and the sharpest head alone.

use crate::figures::Heatmap;
use crate::{Ctx, LabError};
use ndarray::{s, Array2};
use serde_json::json;
use tfs_math::Rng;
use tfs_transformer::tasks::digits;
use tfs_transformer::train::{evaluate, train, Recipe};
use tfs_transformer::{Batch, Config, Example, Task, Transformer};

pub(crate) const DESCRIPTION: &str =
    "encoder self-, decoder self- and cross-attention heatmaps of trained models (reversal, digits→words)";

fn rows(p: &Array2<f32>) -> Vec<Vec<f64>> {
    p.rows().into_iter().map(|r| r.iter().map(|&x| x as f64).collect()).collect()
}

pub(crate) fn run(ctx: &mut Ctx) -> Result<(), LabError> {
    let (d, steps) = ctx.size((64, 1500), (16, 10));
    let mut records = Vec::new();
    let mut table = Vec::new();
    for (task, src) in [(Task::Reverse, vec![3, 1, 4, 1, 5, 9, 2, 6]), (Task::Words, vec![4, 0, 7, 2])] {
        let mut rng = Rng::new(ctx.seed);
        let cfg = Config { d, ffn: 4 * d, ..Config::small(10, task.tgt_vocab()) };
        let mut m: Transformer<f32> = Transformer::new(cfg, &mut rng);
        let recipe = Recipe { warmup: 200.min(steps / 5), ..Recipe::new(steps, 32, (1, 10)) };
        let pb = ctx.progress(steps as u64, task.name());
        train(&mut m, task, &recipe, &mut rng, &mut |_, _, _| pb.inc(1));
        pb.finish_and_clear();
        let acc = evaluate(&m, task, &task.test_set(&[src.len()], 50, 2025))[0].1;
        let out = m.greedy(&[src.as_slice()], task.bos(), task.eos(), 80).remove(0);
        // Teacher-force the model's own output to read its attention weights.
        let mut tgt = out.clone();
        tgt.push(task.eos());
        let batch = Batch::new(&[Example { src: src.clone(), tgt: tgt.clone() }], task.bos());
        let (_, cache) = m.forward(&batch);
        let src_names: Vec<String> = src.iter().map(|d| d.to_string()).collect();
        let tgt_tokens: Vec<String> = tgt
            .iter()
            .map(|&t| if t == task.eos() { "EOS".into() } else { task.render(&[t]).replace(' ', "␣") })
            .collect();
        let in_names: Vec<String> = std::iter::once("BOS".to_string()).chain(tgt_tokens[..tgt_tokens.len() - 1].iter().cloned()).collect();
        let last = cfg.enc_layers - 1;
        let tag = if task == Task::Reverse { "reverse" } else { "words" };
        let mean = |p: &ndarray::Array4<f32>| p.slice(s![0, .., .., ..]).mean_axis(ndarray::Axis(0)).expect("heads");
        let maps = [
            ("encoder self-attention", format!("{tag}_enc_self.svg"), mean(&cache.enc[last].attn.p), &src_names, &src_names, "key (source token)", "query (source token)"),
            ("decoder self-attention (causal)", format!("{tag}_dec_self.svg"), mean(&cache.dec[last].self_attn.p), &in_names, &in_names, "key (decoder input)", "query (decoder input)"),
            ("cross-attention", format!("{tag}_cross.svg"), mean(&cache.dec[last].cross_attn.p), &src_names, &tgt_tokens, "source token", "output token being predicted"),
        ];
        for (what, file, p, cols, rws, xl, yl) in maps {
            Heatmap {
                title: &format!("{}: {what}, block {last}, mean of heads", task.name()),
                x_label: xl,
                y_label: yl,
                col_names: cols.clone(),
                row_names: rws.clone(),
                values: rows(&p),
                annotate: None,
            }
            .draw(&ctx.figure(&file))?;
        }
        // Each cross-attention head on its own: the heads split the work.
        let cross = &cache.dec[last].cross_attn.p;
        for h in 0..cfg.heads {
            let p = cross.slice(s![0, h, .., ..]).to_owned();
            Heatmap {
                title: &format!("{}: cross-attention head {h}, block {last}", task.name()),
                x_label: "source token",
                y_label: "output token being predicted",
                col_names: src_names.clone(),
                row_names: tgt_tokens.clone(),
                values: rows(&p),
                annotate: None,
            }
            .draw(&ctx.figure(&format!("{tag}_cross_head{h}.svg")))?;
        }
        table.push(vec![task.name().to_string(), format!("`{}`", digits(&src)), format!("`{}`", task.render(&out)), format!("{:.0}%", 100.0 * acc)]);
        records.push(json!({"task": task.name(), "source": digits(&src), "output": task.render(&out), "exact_match_at_length": acc,
            "cross_attention_mean": rows(&mean(&cache.dec[last].cross_attn.p))}));
    }
    ctx.set("setup", json!({"d": d, "heads": 4, "layers": "2 + 2", "norm": "post", "steps": steps, "batch": 32, "train_lengths": [1, 10]}));
    ctx.set("examples", json!(records));
    ctx.md(&format!(
        "Two post-norm transformers (D = {d}, 4 heads, 2 + 2 blocks), {steps} steps each. The maps \
         are the last block's weights on the model's own greedy output, teacher-forced back in \
         (rows sum to 1; the decoder's are lower-triangular by the causal mask)."
    ));
    ctx.table(&["task", "source", "greedy output", "exact match at this length (50 held-out)"], &table);
    Ok(())
}
