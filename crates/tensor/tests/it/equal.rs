//! The proof of equality: each framework module, given the same weights and input as its Phase 5
//! hand-written twin (tfs-transformer), gives the same outputs and the same gradients; and the
//! framework reproduces a PyTorch training step (loss, every gradient, every weight after one
//! AdamW step) from a committed fixture (fixtures/gen/framework_torch.py).
//!
//! Both sides compute in f32 here; the bound is |a − b| ≤ 2·10⁻⁴ (1 + |b|) for outputs and
//! gradients (the two sides sum in different orders, and the fused kernels' exp differs from
//! libm's by ≤ 3·10⁻⁷ relative). Against PyTorch's float64 the same bound holds.

use super::grad::close;
use ndarray::{Array2, ArrayD, Ix2};
use serde_json::Value;
use std::collections::HashMap;
use tfs_attention::sdpa::Mask;
use tfs_math::Rng;
use tfs_nn::{Activation, Grads as P5Grads, Params};
use tfs_tensor::nn::attention::MultiHeadAttention;
use tfs_tensor::nn::transformer::{self as fw, Act, DecoderBlock, EncoderBlock, Ffn, Seq2SeqBatch};
use tfs_tensor::nn::{join, LayerNorm, Module};
use tfs_tensor::optim::{groups_decay_matrices, AdamW, Optimizer};
use tfs_tensor::{AttnMask, Tensor};
use tfs_transformer as p5;

const TOL: f32 = 2e-4;

use tfs_tensor::nn::transformer::phase5_name as p5_name;

fn values<P: Params<f32>>(m: &P) -> HashMap<String, ArrayD<f32>> {
    let mut v = HashMap::new();
    m.visit(&mut |n: &str, a| {
        v.insert(n.to_string(), a.to_owned());
    });
    v
}

/// Sets every Phase 5 parameter to seeded random values (biases and gains included, so that none
/// is a trivial 0 or 1).
fn randomise<P: Params<f32>>(m: &mut P, seed: u64) {
    let mut rng = Rng::new(seed);
    m.visit_mut(&mut |n: &str, mut a| {
        let gain = n.ends_with("gamma");
        a.iter_mut().for_each(|v| {
            let r = rng.uniform_range(-0.5, 0.5) as f32;
            *v = if gain { 1.0 + r } else { r };
        });
    });
}

/// `a` in the framework's layout (matrices transposed), flat.
fn fw_layout(a: &ArrayD<f32>, transpose: bool) -> Vec<f32> {
    if transpose {
        let m = a.view().into_dimensionality::<Ix2>().expect("a matrix");
        m.t().iter().copied().collect()
    } else {
        a.iter().copied().collect()
    }
}

/// Copies Phase 5's parameters into a framework module visited under `prefix` (which Phase 5's
/// names lack).
fn load(fw: &dyn Module, prefix: &str, vals: &HashMap<String, ArrayD<f32>>) {
    let params = named(fw, prefix);
    assert_eq!(params.len(), vals.len(), "parameter counts differ");
    for (name, t) in params {
        let (n5, tr) = local_name(&name, prefix);
        let v = vals
            .get(&n5)
            .unwrap_or_else(|| panic!("Phase 5 has no '{n5}' (framework '{name}')"));
        t.assign(&fw_layout(v, tr));
    }
}

fn named(fw: &dyn Module, prefix: &str) -> Vec<(String, Tensor)> {
    let mut v = Vec::new();
    fw.visit(prefix, &mut |n, t| v.push((n.to_string(), t.clone())));
    v
}

fn local_name(name: &str, prefix: &str) -> (String, bool) {
    let (n5, tr) = p5_name(name);
    let strip = format!("{prefix}.");
    (n5.strip_prefix(&strip).unwrap_or(&n5).to_string(), tr)
}

/// Every framework gradient against Phase 5's.
fn compare_grads(fw: &dyn Module, prefix: &str, grads: &tfs_tensor::Grads, g5: &P5Grads<f32>) {
    for (name, t) in named(fw, prefix) {
        let (n5, tr) = local_name(&name, prefix);
        close(
            &grads.get_or_zeros(&t).to_vec(),
            &fw_layout(g5.get(&n5), tr),
            TOL,
            &name,
        );
    }
}

fn arr(v: &[f32], r: usize, c: usize) -> Array2<f32> {
    Array2::from_shape_vec((r, c), v.to_vec()).expect("shape")
}

fn rand(n: usize, seed: u64) -> Vec<f32> {
    Rng::new(seed).uniform_vec_f32(n, -1.0, 1.0)
}

/// y · dy summed: the scalar whose gradient is dy.
fn dot(y: &Tensor, dy: &[f32]) -> Tensor {
    y.mul(&Tensor::new(dy.to_vec(), y.shape())).sum_all()
}

#[test]
fn names_map_to_phase5() {
    assert_eq!(
        p5_name("enc.0.self_attn.q.weight"),
        ("enc.0.self_attn.w_q".into(), true)
    );
    assert_eq!(
        p5_name("dec.1.cross_attn.o.bias"),
        ("dec.1.cross_attn.b_o".into(), false)
    );
    assert_eq!(
        p5_name("enc.1.ffn.fc2.weight"),
        ("enc.1.ffn.w2".into(), true)
    );
    assert_eq!(
        p5_name("dec.0.ln3.weight"),
        ("dec.0.ln3.gamma".into(), false)
    );
    assert_eq!(p5_name("enc_norm.bias"), ("enc_norm.beta".into(), false));
    assert_eq!(p5_name("out.weight"), ("out.w".into(), true));
    assert_eq!(p5_name("tgt_emb.weight"), ("tgt_emb.weight".into(), false));
}

#[test]
fn layer_norm_equals_phase5() {
    let (r, d) = (6, 8);
    let mut h = p5::layernorm::LayerNorm::<f32>::new(d);
    randomise(&mut h, 1);
    let f = LayerNorm::new(d);
    load(&f, "ln", &values(&h));
    let (x, dy) = (rand(r * d, 3), rand(r * d, 4));
    let (y5, c) = h.forward(arr(&x, r, d).view());
    let mut g5 = P5Grads::zeros_like(&h);
    let dx5 = h.backward(arr(&dy, r, d).view(), &c, &mut g5);
    let xt = Tensor::var(x, &[r, d]);
    let y = f.forward(&xt);
    close(&y.to_vec(), y5.as_slice().unwrap(), TOL, "layer norm y");
    let g = dot(&y, &dy).backward();
    close(
        &g.get(&xt).unwrap().to_vec(),
        dx5.as_slice().unwrap(),
        TOL,
        "layer norm dx",
    );
    compare_grads(&f, "ln", &g, &g5);
}

#[test]
fn ffn_equals_phase5() {
    for (a5, a) in [
        (Activation::Relu, Act::Relu),
        (Activation::Gelu, Act::GeluErf),
        (Activation::GeluTanh, Act::Gelu),
    ] {
        let (r, d, inner) = (5, 6, 12);
        let mut h = p5::ffn::Ffn::<f32>::new(d, inner, a5, &mut Rng::new(1));
        randomise(&mut h, 2);
        let f = Ffn::new(d, inner, a, &mut Rng::new(3));
        load(&f, "ffn", &values(&h));
        let (x, dy) = (rand(r * d, 4), rand(r * d, 5));
        let (y5, c) = h.forward(arr(&x, r, d).view());
        let mut g5 = P5Grads::zeros_like(&h);
        let dx5 = h.backward(arr(&dy, r, d).view(), &c, &mut g5);
        let xt = Tensor::var(x, &[r, d]);
        let y = f.forward(&xt);
        close(&y.to_vec(), y5.as_slice().unwrap(), TOL, "ffn y");
        let g = dot(&y, &dy).backward();
        close(
            &g.get(&xt).unwrap().to_vec(),
            dx5.as_slice().unwrap(),
            TOL,
            "ffn dx",
        );
        compare_grads(&f, "ffn", &g, &g5);
    }
}

#[test]
fn attention_equals_phase5() {
    let (b, tq, tk, d, heads) = (2, 4, 5, 8, 2);
    let cases = [
        (
            Mask::Padding(vec![5, 2]),
            AttnMask::Padding(vec![5, 2].into()),
            tk,
        ),
        (
            Mask::CausalPadding(vec![3, 4]),
            AttnMask::CausalPadding(vec![3, 4].into()),
            tq,
        ),
        (Mask::None, AttnMask::None, tk),
    ];
    for (m5, m, tk) in cases {
        let mut h = p5::attention::Mha::<f32>::new(d, heads, &mut Rng::new(1));
        randomise(&mut h, 2);
        let f = MultiHeadAttention::new(d, heads, &mut Rng::new(3));
        load(&f, "attn", &values(&h));
        let (xq, xkv, dy) = (
            rand(b * tq * d, 4),
            rand(b * tk * d, 5),
            rand(b * tq * d, 6),
        );
        let (y5, c) = h.forward(
            arr(&xq, b * tq, d).view(),
            arr(&xkv, b * tk, d).view(),
            b,
            &m5,
        );
        let mut g5 = P5Grads::zeros_like(&h);
        let (dq5, dkv5) = h.backward(arr(&dy, b * tq, d).view(), &c, &mut g5);
        let (q, kv) = (Tensor::var(xq, &[b, tq, d]), Tensor::var(xkv, &[b, tk, d]));
        let y = f.forward(&q, &kv, &m);
        close(&y.to_vec(), y5.as_slice().unwrap(), TOL, "attention y");
        let g = dot(&y, &dy).backward();
        close(
            &g.get(&q).unwrap().to_vec(),
            dq5.as_slice().unwrap(),
            TOL,
            "attention dxq",
        );
        close(
            &g.get(&kv).unwrap().to_vec(),
            dkv5.as_slice().unwrap(),
            TOL,
            "attention dxkv",
        );
        compare_grads(&f, "attn", &g, &g5);
    }
}

fn fw_config(c: &p5::Config) -> fw::Config {
    fw::Config {
        src_vocab: c.src_vocab,
        tgt_vocab: c.tgt_vocab,
        d: c.d,
        heads: c.heads,
        ffn: c.ffn,
        enc_layers: c.enc_layers,
        dec_layers: c.dec_layers,
        act: match c.act {
            Activation::Relu => Act::Relu,
            Activation::Gelu => Act::GeluErf,
            Activation::GeluTanh => Act::Gelu,
            a => panic!("no framework twin for {a:?}"),
        },
        norm: match c.norm {
            p5::Norm::Post => fw::Norm::Post,
            p5::Norm::Pre => fw::Norm::Pre,
            p5::Norm::None => fw::Norm::None,
        },
        residual: c.residual,
        tie: c.tie,
        max_len: c.max_len,
        dropout: 0.0,
    }
}

fn configs() -> Vec<p5::Config> {
    let base = p5::Config::small(9, 8);
    vec![
        p5::Config {
            d: 16,
            heads: 2,
            ffn: 24,
            ..base
        },
        p5::Config {
            d: 16,
            heads: 4,
            ffn: 24,
            norm: p5::Norm::Pre,
            act: Activation::Gelu,
            tie: true,
            enc_layers: 1,
            dec_layers: 3,
            ..base
        },
        p5::Config {
            d: 8,
            heads: 2,
            ffn: 8,
            norm: p5::Norm::None,
            residual: false,
            ..base
        },
    ]
}

#[test]
fn blocks_equal_phase5() {
    let (b, ts, tt) = (2, 5, 4);
    for c5 in configs() {
        let (bc, c) = (c5.block(), fw_config(&c5));
        let (d, src_len, tgt_len) = (c.d, vec![5, 3], vec![4, 2]);
        // Encoder block.
        let mut h = p5::block::EncoderLayer::<f32>::new(bc, &mut Rng::new(1));
        randomise(&mut h, 2);
        let f = EncoderBlock::new(&c, &mut Rng::new(3));
        load(&f, "blk", &values(&h));
        let (x, dy) = (rand(b * ts * d, 4), rand(b * ts * d, 5));
        let (y5, cache) = h.forward(
            arr(&x, b * ts, d).view(),
            b,
            &Mask::Padding(src_len.clone()),
        );
        let mut g5 = P5Grads::zeros_like(&h);
        let dx5 = h.backward(arr(&dy, b * ts, d), &cache, &mut g5);
        let xt = Tensor::var(x, &[b, ts, d]);
        let y = f.forward(&xt, &AttnMask::Padding(src_len.clone().into()));
        close(&y.to_vec(), y5.as_slice().unwrap(), TOL, "encoder block y");
        let g = dot(&y, &dy).backward();
        close(
            &g.get(&xt).unwrap().to_vec(),
            dx5.as_slice().unwrap(),
            TOL,
            "encoder block dx",
        );
        compare_grads(&f, "blk", &g, &g5);
        // Decoder block.
        let mut h = p5::block::DecoderLayer::<f32>::new(bc, &mut Rng::new(6));
        randomise(&mut h, 7);
        let f = DecoderBlock::new(&c, &mut Rng::new(8));
        load(&f, "blk", &values(&h));
        let (x, mem, dy) = (
            rand(b * tt * d, 9),
            rand(b * ts * d, 10),
            rand(b * tt * d, 11),
        );
        let (sm, mm) = (
            Mask::CausalPadding(tgt_len.clone()),
            Mask::Padding(src_len.clone()),
        );
        let (y5, cache) = h.forward(
            arr(&x, b * tt, d).view(),
            arr(&mem, b * ts, d).view(),
            b,
            &sm,
            &mm,
        );
        let mut g5 = P5Grads::zeros_like(&h);
        let (dx5, dmem5) = h.backward(arr(&dy, b * tt, d), &cache, &mut g5);
        let (xt, mt) = (Tensor::var(x, &[b, tt, d]), Tensor::var(mem, &[b, ts, d]));
        let y = f.forward(
            &xt,
            &mt,
            &AttnMask::CausalPadding(tgt_len.clone().into()),
            &AttnMask::Padding(src_len.clone().into()),
        );
        close(&y.to_vec(), y5.as_slice().unwrap(), TOL, "decoder block y");
        let g = dot(&y, &dy).backward();
        close(
            &g.get(&xt).unwrap().to_vec(),
            dx5.as_slice().unwrap(),
            TOL,
            "decoder block dx",
        );
        close(
            &g.get(&mt).unwrap().to_vec(),
            dmem5.as_slice().unwrap(),
            TOL,
            "decoder block dmem",
        );
        compare_grads(&f, "blk", &g, &g5);
    }
}

fn fw_batch(b: &p5::Batch) -> Seq2SeqBatch {
    Seq2SeqBatch {
        b: b.b,
        ts: b.ts,
        tt: b.tt,
        src: b.src.clone(),
        src_len: b.src_len.clone(),
        tgt_in: b.tgt_in.clone(),
        tgt_out: b.tgt_out.clone(),
        tgt_len: b.tgt_len.clone(),
    }
}

/// The full model: logits, loss and every named gradient, for three configurations (post-norm
/// ReLU untied; pre-norm exact-GELU tied with 1 + 3 layers; no norm, no residual).
#[test]
fn transformer_equals_phase5() {
    let task = p5::Task::Reverse;
    for (i, c5) in configs().into_iter().enumerate() {
        let c5 = p5::Config {
            src_vocab: p5::tasks::SRC_VOCAB,
            tgt_vocab: task.tgt_vocab(),
            ..c5
        };
        let mut h = p5::Transformer::<f32>::new(c5, &mut Rng::new(i as u64));
        randomise(&mut h, 10 + i as u64);
        let f = fw::Transformer::new(fw_config(&c5), &mut Rng::new(99));
        load(&f, "", &values(&h));
        let ex = p5::train::sample_batch(task, 3, (2, 7), &mut Rng::new(5));
        let batch = p5::Batch::new(&ex, task.bos());
        let (z5, _) = h.forward(&batch);
        let (loss5, g5) = h.loss_and_grads(&batch);
        let fb = fw_batch(&batch);
        close(
            &f.forward(&fb).to_vec(),
            z5.as_slice().unwrap(),
            TOL,
            "logits",
        );
        let loss = f.loss(&fb);
        close(&[loss.item()], &[loss5 as f32], TOL, "loss");
        compare_grads(&f, "", &loss.backward(), &g5);
    }
}

fn tensor_of(v: &Value) -> (Vec<f32>, Vec<usize>) {
    let shape = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let data = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    (data, shape)
}

/// PyTorch's float64 training step, matched tensor by tensor: loss, gradients, weights after one
/// AdamW step with matrices decayed and biases/gains not.
#[test]
fn training_step_equals_pytorch() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/tensor/train_step_torch.json"
    );
    let fx: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let cfg = &fx["config"];
    let n = |k: &str| cfg[k].as_u64().unwrap() as usize;
    let c = fw::Config {
        src_vocab: n("src_vocab"),
        tgt_vocab: n("tgt_vocab"),
        d: n("d"),
        heads: n("heads"),
        ffn: n("ffn"),
        enc_layers: n("enc_layers"),
        dec_layers: n("dec_layers"),
        act: Act::Relu,
        norm: fw::Norm::Post,
        residual: true,
        tie: false,
        max_len: 16,
        dropout: 0.0,
    };
    let f = fw::Transformer::new(c, &mut Rng::new(0));
    let by5 = |key: &str| -> HashMap<String, ArrayD<f32>> {
        fx[key]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let (d, s) = tensor_of(v);
                (k.clone(), ArrayD::from_shape_vec(s, d).unwrap())
            })
            .collect()
    };
    load(&f, "", &by5("params"));
    let inp = &fx["inputs"];
    let ids = |k: &str| {
        inp[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect::<Vec<_>>()
    };
    let batch = Seq2SeqBatch {
        b: inp["b"].as_u64().unwrap() as usize,
        ts: inp["ts"].as_u64().unwrap() as usize,
        tt: inp["tt"].as_u64().unwrap() as usize,
        src: ids("src"),
        src_len: ids("src_len"),
        tgt_in: ids("tgt_in"),
        tgt_out: ids("tgt_out"),
        tgt_len: ids("tgt_len"),
    };
    let loss = f.loss(&batch);
    close(
        &[loss.item()],
        &[fx["loss"].as_f64().unwrap() as f32],
        TOL,
        "loss",
    );
    let grads = loss.backward();
    let (g_torch, after) = (by5("grads"), by5("after"));
    let params = f.parameters();
    assert_eq!(params.len(), g_torch.len());
    for (name, t) in &params {
        let (n5, tr) = p5_name(name);
        close(
            &grads.get(t).unwrap().to_vec(),
            &fw_layout(&g_torch[&n5], tr),
            TOL,
            name,
        );
    }
    let lr = fx["lr"].as_f64().unwrap() as f32;
    let wd = fx["weight_decay"].as_f64().unwrap() as f32;
    let mut opt = AdamW::new(lr, &groups_decay_matrices(&params, wd));
    opt.step(&params, &grads);
    let before = by5("params");
    for (name, t) in &params {
        let (n5, tr) = p5_name(name);
        let (got, want) = (t.to_vec(), fw_layout(&after[&n5], tr));
        let (g, w0) = (fw_layout(&g_torch[&n5], tr), fw_layout(&before[&n5], tr));
        for i in 0..got.len() {
            if g[i].abs() < 1e-6 {
                // The key biases' gradient is 0 in exact arithmetic (softmax ignores a shift of a
                // whole row of scores): both sides hold rounding noise, which Adam's first step
                // g/(|g| + ε) turns into ±lr. Only the size of the step is defined.
                let bound = lr * (1.01 + wd * w0[i].abs());
                assert!(
                    (got[i] - w0[i]).abs() <= bound,
                    "{name}[{i}] moved more than lr"
                );
                continue;
            }
            // One step moves each weight by about lr = 1e-2; the bound is 1e-3 of that.
            close(
                &got[i..=i],
                &want[i..=i],
                1e-5,
                &format!("{name}[{i}] after AdamW"),
            );
        }
    }
}

#[test]
fn module_names_are_pytorch_style() {
    let c = fw_config(&configs()[1]);
    let names: Vec<String> = fw::Transformer::new(c, &mut Rng::new(0))
        .parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    for want in [
        "src_emb.weight",
        "enc.0.self_attn.q.weight",
        "dec.2.cross_attn.v.bias",
        "dec.0.ffn.fc1.weight",
        "dec.2.ln3.bias",
        "dec_norm.weight",
        "out.bias",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "no parameter '{want}' in {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n == "out.weight"),
        "tied model has no out.weight"
    );
    assert_eq!(join("", "a"), "a");
}
