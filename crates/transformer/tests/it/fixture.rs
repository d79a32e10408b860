//! The independent reference: PyTorch (autograd, float64) on the same tiny models, from
//! fixtures/gen/transformer_torch.py. Parameters are loaded by name; logits, loss and every
//! named gradient are compared tensor by tensor.
//!
//! Tolerance: both sides compute in f64 from the same 12-significant-digit values; the JSON keeps
//! 12 significant digits of the results, so agreement is expected to ~1e-11 relative. We allow
//! 1e-9 (relative to max(1, |value|) per tensor): far below any real error.

use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use tfs_nn::params::load;
use tfs_nn::{Activation, Grads, Params};
use tfs_transformer::layernorm::LayerNorm;
use tfs_transformer::{Batch, Config, Norm, Transformer};

fn read(name: &str) -> Value {
    let path = format!(
        "{}/../../fixtures/transformer/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
}

fn tensor(v: &Value) -> ArrayD<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), data).unwrap()
}

fn ids(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn close(what: &str, ours: &ArrayD<f64>, theirs: &ArrayD<f64>) {
    assert_eq!(ours.shape(), theirs.shape(), "{what}: shapes differ");
    let scale = theirs.iter().fold(1.0f64, |a, x| a.max(x.abs()));
    let err = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max)
        / scale;
    assert!(
        err < 1e-9,
        "{what}: relative difference {err:.3e} from PyTorch"
    );
}

#[test]
fn layernorm_matches_torch_nn_layernorm() {
    let f = read("layernorm_torch.json");
    let mut ln: LayerNorm<f64> = LayerNorm::new(6);
    ln.gamma = tensor(&f["gamma"]).into_dimensionality().unwrap();
    ln.beta = tensor(&f["beta"]).into_dimensionality().unwrap();
    ln.eps = f["eps"].as_f64().unwrap();
    let x = tensor(&f["x"])
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let dy = tensor(&f["dy"])
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let (y, c) = ln.forward(x.view());
    let mut g = Grads::zeros_like(&ln);
    let dx = ln.backward(dy.view(), &c, &mut g);
    close("y", &y.into_dyn(), &tensor(&f["y"]));
    close("dx", &dx.into_dyn(), &tensor(&f["dx"]));
    close("dgamma", g.get("gamma"), &tensor(&f["dgamma"]));
    close("dbeta", g.get("beta"), &tensor(&f["dbeta"]));
}

#[test]
fn whole_model_matches_pytorch_tensor_by_tensor() {
    let f = read("transformer_torch.json");
    let cases = f["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let c = &case["config"];
        let u = |k: &str| c[k].as_u64().unwrap() as usize;
        let cfg = Config {
            src_vocab: u("src_vocab"),
            tgt_vocab: u("tgt_vocab"),
            d: u("d"),
            heads: u("heads"),
            ffn: u("ffn"),
            enc_layers: u("enc_layers"),
            dec_layers: u("dec_layers"),
            act: if c["act"] == "relu" {
                Activation::Relu
            } else {
                Activation::Gelu
            },
            norm: if c["norm"] == "pre" {
                Norm::Pre
            } else {
                Norm::Post
            },
            residual: true,
            tie: c["tie"].as_bool().unwrap(),
            max_len: 16,
        };
        let mut m: Transformer<f64> = Transformer::new(cfg, &mut tfs_math::Rng::new(0));
        let mut values = Grads::new();
        let params = case["params"].as_object().unwrap();
        for (k, v) in params {
            values.insert(k, tensor(v));
        }
        assert_eq!(
            m.param_names().len(),
            params.len(),
            "{name}: parameter count"
        );
        load(&mut m, &values);
        let i = &case["inputs"];
        let batch = Batch {
            b: i["b"].as_u64().unwrap() as usize,
            ts: i["ts"].as_u64().unwrap() as usize,
            tt: i["tt"].as_u64().unwrap() as usize,
            src: ids(&i["src"]),
            src_len: ids(&i["src_len"]),
            tgt_in: ids(&i["tgt_in"]),
            tgt_out: ids(&i["tgt_out"]),
            tgt_len: ids(&i["tgt_len"]),
        };
        let (z, cache) = m.forward(&batch);
        close(
            &format!("{name}: logits"),
            &z.clone().into_dyn(),
            &tensor(&case["logits"]),
        );
        let (loss, dz) = m.loss(z.view(), &batch);
        let want = case["loss"].as_f64().unwrap();
        assert!(
            (loss - want).abs() < 1e-9 * want.abs().max(1.0),
            "{name}: loss {loss} vs {want}"
        );
        let g = m.backward(dz.view(), &batch, &cache);
        let grads = case["grads"].as_object().unwrap();
        for n in m.param_names() {
            close(&format!("{name}: δ{n}"), g.get(&n), &tensor(&grads[&n]));
        }
    }
}
