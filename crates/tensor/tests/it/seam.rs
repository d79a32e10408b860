//! The backend seam: devices and dtypes are real (held by the storage, checked by ops), casts
//! round as bf16 must, ids are i32, and the device-axis helper compares every device with the
//! CPU. Today the CPU is the only device, so the helper runs each body once.

use tfs_math::Rng;
use tfs_tensor::testing::{devices, on_each_device};
use tfs_tensor::{attention, sdpa, AttnKernel, AttnMask, DType, Device, Tensor};

fn rand(n: usize, seed: u64) -> Vec<f32> {
    Rng::new(seed).uniform_vec_f32(n, -1.0, 1.0)
}

#[test]
fn storage_holds_device_and_dtype() {
    let x = Tensor::new(vec![1.0, 2.0, 3.0], &[3]);
    assert_eq!((x.device(), x.dtype()), (Device::Cpu, DType::F32));
    assert_eq!(x.view().len(), 3);
    assert_eq!(x.view().bytes(), 12);
    // Already there: the same tensor (no copy), as PyTorch's `.to`.
    let y = x.to(Device::Cpu);
    assert_eq!(y.id(), x.id());
    let ids = Tensor::ids(&[4, 0, 7], &[3]);
    assert_eq!(ids.dtype(), DType::I32);
    assert_eq!(ids.to_vec(), vec![4.0, 0.0, 7.0]);
    assert_eq!("cpu".parse::<Device>(), Ok(Device::Cpu));
    let e = "gpu:1".parse::<Device>().unwrap_err();
    assert!(e.contains("gpu:1") && e.contains("cpu"), "{e}");
}

#[test]
fn bf16_casts_round_to_nearest_even() {
    // 1 + 2⁻⁸ is halfway between two bf16 neighbours (1 and 1 + 2⁻⁷): ties go to the even one, 1;
    // 1 + 3·2⁻⁸ is halfway between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶ (even): up.
    let v = vec![
        1.0,
        1.0 + 2f32.powi(-8),
        1.0 + 3.0 * 2f32.powi(-8),
        -2.5,
        65280.0,
        1e-40,
    ];
    let x = Tensor::new(v.clone(), &[6]);
    let h = x.to_dtype(DType::BF16);
    assert_eq!(h.dtype(), DType::BF16);
    assert_eq!(h.view().bytes(), 12);
    let back = h.to_dtype(DType::F32).to_vec();
    assert_eq!(back[0], 1.0);
    assert_eq!(back[1], 1.0);
    assert_eq!(back[2], 1.0 + 2f32.powi(-6));
    assert_eq!(back[3], -2.5);
    assert_eq!(back[4], 65280.0);
    // A subnormal: bf16's spacing there is 2⁻¹³³ ≈ 9.2·10⁻⁴¹, so half of it at most.
    assert!((back[5] - 1e-40).abs() <= 2f32.powi(-134));
    // Every bf16 value survives a round trip exactly.
    assert_eq!(
        Tensor::new(back.clone(), &[6])
            .to_dtype(DType::BF16)
            .to_vec(),
        back
    );
    let nan = Tensor::new(vec![f32::NAN], &[1])
        .to_dtype(DType::BF16)
        .to_vec();
    assert!(nan[0].is_nan());
}

#[test]
#[should_panic(expected = "expected an f32 buffer, found bf16")]
fn ops_refuse_a_dtype_they_do_not_compute_in() {
    let h = Tensor::new(vec![1.0; 4], &[4]).to_dtype(DType::BF16);
    let _ = h.exp();
}

#[test]
fn the_backend_chooses_the_attention_kernel_by_size() {
    // Small: the naive kernel (its saved weights are B·H·T·T floats); the forced kernels agree.
    let (b, h, t, hs) = (2, 2, 9, 4);
    let mk = |s| Tensor::var(rand(b * h * t * hs, s), &[b, h, t, hs]);
    let (q, k, v) = (mk(1), mk(2), mk(3));
    let auto = attention(&q, &k, &v, &AttnMask::Causal, None);
    let flash = attention(&q, &k, &v, &AttnMask::Causal, Some(AttnKernel::Flash));
    let naive = sdpa(&q, &k, &v, &AttnMask::Causal);
    assert_eq!(auto.to_vec(), naive.to_vec());
    for (a, f) in auto.to_vec().iter().zip(flash.to_vec()) {
        assert!((a - f).abs() < 1e-5);
    }
    assert_eq!(auto.saved_bytes(), b * h * t * t * 4);
    assert_eq!(flash.saved_bytes(), b * h * t * 4);
    let big = tfs_tensor::backend::AttnDims {
        b: 4,
        h: 12,
        hkv: 12,
        tq: 1024,
        tk: 1024,
        hs: 64,
    };
    assert_eq!(tfs_tensor::backend::choose_kernel(big), AttnKernel::Flash);
}

#[test]
fn a_training_step_agrees_on_every_device() {
    // Forward and backward of a small block on each device, the CPU's results the oracle.
    assert_eq!(devices()[0], Device::Cpu);
    let out = on_each_device(1e-5, |dev| {
        let x = Tensor::new(rand(2 * 5 * 8, 7), &[2, 5, 8]).to(dev);
        let w = Tensor::var(rand(24 * 8, 8), &[24, 8]).to(dev);
        let ln_w = Tensor::var(vec![1.0; 8], &[8]).to(dev);
        let ln_b = Tensor::var(vec![0.0; 8], &[8]).to(dev);
        let h = x.layer_norm(&ln_w, &ln_b, 1e-5).linear(&w, None);
        let y = tfs_tensor::sdpa_packed(&h, 2, 1, &AttnMask::Causal).gelu();
        let loss = y
            .reshape(&[10, 12])
            .cross_entropy(&[0, 1, 2, 3, 4, 5, 6, 7, 11, 10]);
        let g = loss.backward();
        vec![
            loss.to_vec(),
            g.get(&w).expect("w").to_vec(),
            g.get(&ln_w).expect("ln_w").to_vec(),
        ]
    });
    assert!(out[0][0].is_finite() && out[1].iter().any(|&v| v != 0.0));
}

/// A two-layer model for the store tests: `tanh(x W₁ᵀ + b₁) W₂ᵀ`, plus a parameter the loss
/// never reaches (`unused`, as an expert no token was routed to).
struct Tiny {
    l1: tfs_tensor::nn::Linear,
    l2: tfs_tensor::nn::Linear,
    unused: Tensor,
}

impl Tiny {
    fn new(seed: u64) -> Tiny {
        let mut rng = Rng::new(seed);
        Tiny {
            l1: tfs_tensor::nn::Linear::new(6, 8, true, &mut rng),
            l2: tfs_tensor::nn::Linear::new(8, 5, false, &mut rng),
            unused: Tensor::var(rand(4, seed + 1), &[4]),
        }
    }
    fn loss(&self, x: &Tensor, targets: &[usize]) -> Tensor {
        self.l2
            .forward(&self.l1.forward(x).tanh())
            .cross_entropy(targets)
    }
}

impl tfs_tensor::nn::Module for Tiny {
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        use tfs_tensor::nn::join;
        self.l1.visit(&join(prefix, "l1"), f);
        self.l2.visit(&join(prefix, "l2"), f);
        f(&join(prefix, "unused"), &self.unused);
    }
}

/// Trains `Tiny` for 4 steps of 2 micro-batches with clipping, in a flat store or not: the
/// parameters after each step, the norms, and the optimizer's moments by name at the end.
/// (parameters after each step, gradient norms, (name, m, v) of every moment).
type TinyRun = (Vec<Vec<f32>>, Vec<f32>, Vec<(String, Vec<f32>, Vec<f32>)>);

/// How `tiny_run` builds and steps the model.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Separate tensors.
    Plain,
    /// In a flat store, stepped through it (flat gradient, one call per update).
    Store,
    /// In a flat store, stepped with per-tensor gradients (as `fit` does with any model).
    StoreUnused,
}

fn tiny_run(mode: Mode) -> TinyRun {
    use tfs_tensor::nn::Module;
    use tfs_tensor::optim::{groups_decay_matrices, AdamW};
    use tfs_tensor::schedule::Schedule;
    use tfs_tensor::train::Trainer;
    use tfs_tensor::ParamStore;
    let (model, store) = if mode != Mode::Plain {
        let (m, s) = ParamStore::build(|| Tiny::new(3), |m| m.parameters());
        (m, Some(s))
    } else {
        (Tiny::new(3), None)
    };
    let params = model.parameters();
    let opt = AdamW::new(1e-2, &groups_decay_matrices(&params, 0.1));
    let mut tr = Trainer::new(opt, Schedule::Constant(1e-2))
        .clip(0.05)
        .accumulate(2);
    if let (Some(s), Mode::Store) = (store, mode) {
        tr = tr.with_store(s);
    }
    let (mut after, mut norms) = (Vec::new(), Vec::new());
    for step in 0..4 {
        let stats = tr
            .step(&params, step, |i| {
                let x = Tensor::new(rand(3 * 6, 10 + 2 * step as u64 + i as u64), &[3, 6]);
                Ok(model.loss(&x, &[i, 4, (step + i) % 5]))
            })
            .expect("finite");
        norms.push(stats.grad_norm);
        after.push(params.iter().flat_map(|(_, p)| p.to_vec()).collect());
    }
    let moments = tr
        .opt
        .moment_names()
        .into_iter()
        .map(|n| {
            let (m, v) = tr.opt.moments(&n).expect("listed");
            (n, m, v)
        })
        .collect();
    (after, norms, moments)
}

#[test]
fn a_flat_store_trains_bit_for_bit_like_separate_tensors() {
    let (a, na, ma) = tiny_run(Mode::Plain);
    for mode in [Mode::Store, Mode::StoreUnused] {
        let (b, nb, mb) = tiny_run(mode);
        assert_eq!(na, nb, "gradient norms");
        assert_eq!(a, b, "parameters after each step");
        assert_eq!(ma, mb, "moments by name");
    }
    // The parameter the loss never reaches has no moments and never moved.
    assert!(ma.iter().all(|(n, _, _)| n != "unused"));
    assert!(na.iter().all(|&n| n > 0.05), "clipping was exercised");
}

#[test]
fn a_store_holds_every_parameter_in_one_buffer() {
    use tfs_tensor::nn::Module;
    use tfs_tensor::ParamStore;
    let (m, store) = ParamStore::build(|| Tiny::new(5), |m| m.parameters());
    let plain = Tiny::new(5);
    let (ps, qs) = (m.parameters(), plain.parameters());
    let total: usize = ps.iter().map(|(_, p)| p.numel()).sum();
    assert_eq!(store.len(), total);
    let mut off = 0;
    for (e, ((n, p), (_, q))) in store.entries().iter().zip(ps.iter().zip(&qs)) {
        assert_eq!((&e.name, e.off, e.len), (n, off, p.numel()));
        assert_eq!(p.to_vec(), q.to_vec(), "{n}: same values as built alone");
        assert_eq!(
            store.entry_of(p),
            Some(store.entries().iter().position(|x| &x.name == n).unwrap())
        );
        off += p.numel();
    }
    assert_eq!(
        store.entry_of(&qs[0].1),
        None,
        "a tensor of another model is not in the store"
    );
    // Writing through a view changes the store's buffer and nothing else.
    ps[1].1.assign(&[7.0; 8]);
    assert_eq!(m.l1.bias.as_ref().unwrap().to_vec(), vec![7.0; 8]);
    assert_eq!(ps[0].1.to_vec(), qs[0].1.to_vec());
}
