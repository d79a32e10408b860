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
    assert_eq!(x.storage().len(), 3);
    assert_eq!(x.storage().bytes(), 12);
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
    assert_eq!(h.storage().bytes(), 12);
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
