//! Every op's backward against central differences (`tfs_math::gradcheck`).
//!
//! The framework computes in f32, so the check uses ε = 5·10⁻³ and bounds the relative error at
//! 10⁻² (with a floor of 10⁻² for near-zero gradients): f32 rounding in the forward pass limits the
//! numeric derivative to about 10⁻⁴-10⁻³ relative, while a wrong backward is off by O(1). The
//! scalar is L = Σ wᵢ yᵢ with fixed random weights, so every output element is checked.

use tfs_math::gradcheck::GradCheck;
use tfs_math::Rng;
use tfs_tensor::{sdpa, sdpa_packed, sdpa_reference, AttnMask, Tensor, IGNORE};

/// Checks `f`'s gradients at `inputs` (data, shape).
pub fn check(inputs: &[(Vec<f32>, Vec<usize>)], f: impl Fn(&[Tensor]) -> Tensor) {
    check_tol(inputs, 1e-2, f)
}

pub fn check_tol(inputs: &[(Vec<f32>, Vec<usize>)], tol: f64, f: impl Fn(&[Tensor]) -> Tensor) {
    let params: Vec<Vec<f64>> = inputs
        .iter()
        .map(|(d, _)| d.iter().map(|&v| v as f64).collect())
        .collect();
    let probe = f(&leaves(&params, inputs));
    let w: Vec<f32> = Rng::new(99).uniform_vec_f32(probe.numel(), -1.0, 1.0);
    let cfg = GradCheck {
        eps: 5e-3,
        floor: 1e-2,
        max_per_tensor: Some(40),
        seed: 1,
    };
    let report = cfg.run(&params, |theta| {
        let xs = leaves(theta, inputs);
        let y = f(&xs);
        let loss: f64 = y
            .data()
            .iter()
            .zip(&w)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum();
        let wt = Tensor::new(w.clone(), y.shape());
        let grads = y.mul(&wt).sum_all().backward();
        let g = xs
            .iter()
            .map(|x| {
                grads
                    .get_or_zeros(x)
                    .to_vec()
                    .iter()
                    .map(|&v| v as f64)
                    .collect()
            })
            .collect();
        (loss, g)
    });
    report.assert_below(tol);
}

fn leaves(theta: &[Vec<f64>], inputs: &[(Vec<f32>, Vec<usize>)]) -> Vec<Tensor> {
    theta
        .iter()
        .zip(inputs)
        .map(|(v, (_, s))| Tensor::var(v.iter().map(|&x| x as f32).collect(), s))
        .collect()
}

pub fn rand(shape: &[usize], lo: f32, hi: f32, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let n = shape.iter().product();
    (Rng::new(seed).uniform_vec_f32(n, lo, hi), shape.to_vec())
}

#[test]
fn broadcasting_arithmetic() {
    for (sa, sb) in [
        (vec![3, 4], vec![3, 4]),
        (vec![2, 3, 4], vec![4]),
        (vec![2, 1, 4], vec![3, 1]),
        (vec![3, 4], vec![]),
    ] {
        let (a, b) = (rand(&sa, -1.0, 1.0, 1), rand(&sb, 0.5, 1.5, 2));
        check(&[a.clone(), b.clone()], |x| x[0].add(&x[1]));
        check(&[a.clone(), b.clone()], |x| x[0].sub(&x[1]));
        check(&[a.clone(), b.clone()], |x| x[0].mul(&x[1]));
        check(&[a, b], |x| x[0].div(&x[1]));
    }
}

#[test]
fn unary_functions() {
    let x = rand(&[5, 7], -2.0, 2.0, 3);
    let pos = rand(&[5, 7], 0.5, 2.0, 4);
    check(std::slice::from_ref(&x), |x| x[0].affine_for_test());
    check(std::slice::from_ref(&x), |x| x[0].exp());
    check(std::slice::from_ref(&pos), |x| x[0].log());
    check(&[pos], |x| x[0].sqrt());
    check(std::slice::from_ref(&x), |x| x[0].tanh());
    check(std::slice::from_ref(&x), |x| x[0].gelu());
    check(std::slice::from_ref(&x), |x| x[0].gelu_erf());
    // ReLU away from its kink.
    let away: Vec<f32> =
        x.0.iter()
            .map(|&v| if v.abs() < 0.1 { v + 0.3 } else { v })
            .collect();
    check(&[(away, x.1)], |x| x[0].relu());
}

trait AffineForTest {
    fn affine_for_test(&self) -> Tensor;
}
impl AffineForTest for Tensor {
    fn affine_for_test(&self) -> Tensor {
        self.scale(-1.5).add_scalar(0.25)
    }
}

#[test]
fn reductions() {
    let x = rand(&[3, 4, 5], -1.0, 1.0, 5);
    check(std::slice::from_ref(&x), |x| x[0].sum(1, false));
    check(std::slice::from_ref(&x), |x| x[0].mean(-1, true));
    check(std::slice::from_ref(&x), |x| x[0].sum(0, false));
    check(std::slice::from_ref(&x), |x| x[0].sum_all());
    check(std::slice::from_ref(&x), |x| x[0].mean_all());
    // Distinct values at least 2ε apart so the arg-max does not move under perturbation.
    let distinct: Vec<f32> = (0..60).map(|i| ((i * 37) % 60) as f32 * 0.05).collect();
    check(&[(distinct, vec![3, 4, 5])], |x| x[0].max(1, false));
}

#[test]
fn matmul_and_linear() {
    check(
        &[rand(&[3, 4], -1.0, 1.0, 6), rand(&[4, 5], -1.0, 1.0, 7)],
        |x| x[0].matmul(&x[1]),
    );
    check(
        &[
            rand(&[2, 3, 4], -1.0, 1.0, 8),
            rand(&[2, 4, 5], -1.0, 1.0, 9),
        ],
        |x| x[0].matmul(&x[1]),
    );
    check(
        &[
            rand(&[2, 3, 4], -1.0, 1.0, 10),
            rand(&[4, 5], -1.0, 1.0, 11),
        ],
        |x| x[0].matmul(&x[1]),
    );
    let (x, w, b) = (
        rand(&[2, 3, 4], -1.0, 1.0, 12),
        rand(&[5, 4], -1.0, 1.0, 13),
        rand(&[5], -1.0, 1.0, 14),
    );
    check(&[x.clone(), w.clone(), b], |t| {
        t[0].linear(&t[1], Some(&t[2]))
    });
    check(&[x, w], |t| t[0].linear(&t[1], None));
}

#[test]
fn softmax_family() {
    let x = rand(&[4, 6], -2.0, 2.0, 15);
    check(std::slice::from_ref(&x), |x| x[0].softmax());
    check(std::slice::from_ref(&x), |x| x[0].log_softmax());
    check(std::slice::from_ref(&x), |x| {
        x[0].cross_entropy(&[1, 5, 0, 2])
    });
    check(&[x], |x| x[0].cross_entropy(&[1, IGNORE, 0, IGNORE]));
}

#[test]
fn layer_norm() {
    let (x, w, b) = (
        rand(&[3, 2, 6], -2.0, 2.0, 16),
        rand(&[6], 0.5, 1.5, 17),
        rand(&[6], -0.5, 0.5, 18),
    );
    check(&[x, w, b], |t| t[0].layer_norm(&t[1], &t[2], 1e-5));
}

#[test]
fn gather_dropout_masks() {
    let table = rand(&[5, 3], -1.0, 1.0, 19);
    check(std::slice::from_ref(&table), |t| {
        t[0].index_select(&[4, 0, 4, 2])
    });
    check(&[table], |t| t[0].embedding(&[1, 1, 3, 0, 2, 1], &[2, 3]));
    let x = rand(&[4, 5], -1.0, 1.0, 20);
    check(std::slice::from_ref(&x), |t| {
        t[0].dropout(0.3, &mut Rng::new(7))
    });
    let mask: Vec<bool> = (0..5).map(|i| i % 2 == 0).collect();
    check(&[x], |t| t[0].masked_fill(&mask, -3.0));
}

#[test]
fn shape_ops() {
    let x = rand(&[2, 3, 4], -1.0, 1.0, 21);
    check(std::slice::from_ref(&x), |t| {
        t[0].reshape(&[6, 4]).mul(&t[0].reshape(&[6, 4]))
    });
    check(std::slice::from_ref(&x), |t| t[0].transpose(0, 2));
    check(std::slice::from_ref(&x), |t| t[0].transpose(1, 2));
    check(std::slice::from_ref(&x), |t| t[0].narrow(1, 1, 2));
    check(std::slice::from_ref(&x), |t| {
        let p = t[0].split(2, &[1, 3]);
        p[0].mul(&p[0]).sum_all().add(&p[1].sum_all())
    });
    check(&[x, rand(&[2, 2, 4], -1.0, 1.0, 22)], |t| {
        Tensor::cat(&[t[0].clone(), t[1].clone()], 1)
    });
}

fn masks() -> Vec<AttnMask> {
    vec![
        AttnMask::None,
        AttnMask::Causal,
        AttnMask::Padding(vec![3, 1].into()),
        AttnMask::CausalPadding(vec![2, 4].into()),
        AttnMask::SlidingWindow(2),
    ]
}

#[test]
fn fused_attention_gradients() {
    for mask in masks() {
        let (q, k, v) = (
            rand(&[2, 2, 4, 3], -1.0, 1.0, 23),
            rand(&[2, 2, 4, 3], -1.0, 1.0, 24),
            rand(&[2, 2, 4, 3], -1.0, 1.0, 25),
        );
        check(&[q, k, v], |t| sdpa(&t[0], &t[1], &t[2], &mask));
    }
    // Cross-attention shapes (Tq ≠ Tk), causal aligned to the end.
    let (q, k, v) = (
        rand(&[1, 2, 2, 3], -1.0, 1.0, 26),
        rand(&[1, 2, 5, 3], -1.0, 1.0, 27),
        rand(&[1, 2, 5, 3], -1.0, 1.0, 28),
    );
    check(&[q, k, v], |t| sdpa(&t[0], &t[1], &t[2], &AttnMask::Causal));
}

#[test]
fn grouped_query_attention_gradients_and_reference() {
    // 4 query heads over 2 kv heads (GQA) and over 1 (MQA), causal and sliding window.
    for (hkv, mask) in [
        (2, AttnMask::Causal),
        (1, AttnMask::Causal),
        (2, AttnMask::SlidingWindow(3)),
    ] {
        let (q, k, v) = (
            rand(&[2, 4, 5, 3], -1.0, 1.0, 60),
            rand(&[2, hkv, 5, 3], -1.0, 1.0, 61),
            rand(&[2, hkv, 5, 3], -1.0, 1.0, 62),
        );
        check(&[q.clone(), k.clone(), v.clone()], |t| {
            sdpa(&t[0], &t[1], &t[2], &mask)
        });
        let var = |x: &(Vec<f32>, Vec<usize>)| Tensor::var(x.0.clone(), &x.1);
        fused_equals_reference(&var(&q), &var(&k), &var(&v), &mask, 63);
    }
}

/// `sdpa` against `sdpa_reference`: the outputs, and q̄, k̄, v̄ of a random weighted sum of them.
fn fused_equals_reference(q: &Tensor, k: &Tensor, v: &Tensor, mask: &AttnMask, seed: u64) {
    let w = Tensor::new(rand(q.shape(), -1.0, 1.0, seed).0, q.shape());
    let (yf, yr) = (sdpa(q, k, v, mask), sdpa_reference(q, k, v, mask));
    close(&yf.to_vec(), &yr.to_vec(), 1e-5, "sdpa forward");
    let (gf, gr) = (
        yf.mul(&w).sum_all().backward(),
        yr.mul(&w).sum_all().backward(),
    );
    for (t, name) in [(q, "dq"), (k, "dk"), (v, "dv")] {
        close(
            &gf.get_or_zeros(t).to_vec(),
            &gr.get_or_zeros(t).to_vec(),
            1e-5,
            name,
        );
    }
}

#[test]
fn attention_over_no_keys_is_zero_even_in_a_reused_buffer() {
    // Leave a buffer of the output's size full of 7s in this thread's cache first.
    std::thread::spawn(|| {
        let n = 2 * 3 * 4096 * 2;
        drop(Tensor::new(vec![7.0; n], &[n]));
        let q = Tensor::new(vec![0.5; n], &[2, 3, 4096, 2]);
        let kv = Tensor::zeros(&[2, 3, 0, 2]);
        let y = sdpa(&q, &kv, &kv, &AttnMask::None);
        assert!(y.to_vec().iter().all(|&v| v == 0.0));
    })
    .join()
    .unwrap();
}

#[test]
fn sliding_window_sees_only_the_last_keys() {
    let m = AttnMask::SlidingWindow(3);
    assert_eq!(m.range(0, 0, 6, 6), 0..1);
    assert_eq!(m.range(0, 4, 6, 6), 2..5);
    // Decoding one query against 10 cached keys: the last 3.
    assert_eq!(m.range(0, 0, 1, 10), 7..10);
    assert_eq!(AttnMask::Causal.range(0, 4, 6, 6), 0..5);
}

#[test]
fn fused_attention_equals_reference() {
    for mask in masks()
        .into_iter()
        .chain([AttnMask::Padding(vec![0, 2].into())])
    {
        let make = |s| Tensor::var(rand(&[2, 3, 4, 5], -2.0, 2.0, s).0, &[2, 3, 4, 5]);
        fused_equals_reference(&make(30), &make(31), &make(32), &mask, 33);
    }
}

/// Max |a − b| / (1 + |b|) ≤ tol.
pub fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let (i, err) = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
        .enumerate()
        .fold(
            (0, 0.0f32),
            |m, (i, e)| if e > m.1 || e.is_nan() { (i, e) } else { m },
        );
    assert!(
        err <= tol,
        "{what}: error {err:.2e} > {tol:.0e} at {i}: {} vs {}",
        a[i],
        b[i]
    );
}

#[test]
fn a_wrong_backward_is_caught() {
    // The harness must be able to fail: x·x with its gradient taken as x (not 2x) through a
    // detached factor.
    let x = rand(&[3, 3], 0.5, 1.5, 40);
    let r = std::panic::catch_unwind(|| check(&[x], |t| t[0].mul(&t[0].detach())));
    assert!(
        r.is_err(),
        "gradcheck accepted a gradient off by a factor of 2"
    );
}

#[test]
fn phase9_op_gradients() {
    let x = rand(&[3, 6], -2.0, 2.0, 70);
    check(std::slice::from_ref(&x), |t| t[0].silu());
    check(&[x.clone(), rand(&[6], 0.5, 1.5, 71)], |t| {
        t[0].rms_norm(&t[1], 1e-5)
    });
    // RoPE over (B, H, T, d), from position 0 and from a cache offset.
    let q = rand(&[2, 2, 3, 4], -1.0, 1.0, 72);
    check(std::slice::from_ref(&q), |t| t[0].rope(0, 10000.0));
    check(std::slice::from_ref(&q), |t| t[0].rope(37, 100.0));
    // Scatter-add with a repeated and a missing row.
    check(std::slice::from_ref(&x), |t| t[0].index_add(&[4, 0, 4], 5));
}

#[test]
fn rms_norm_equals_its_definition_from_framework_ops() {
    let (xv, xs) = rand(&[4, 7], -3.0, 3.0, 73);
    let (wv, ws) = rand(&[7], 0.5, 1.5, 74);
    let (x, w) = (Tensor::var(xv, &xs), Tensor::var(wv, &ws));
    let fused = x.rms_norm(&w, 1e-5);
    // x / sqrt(mean(x²) + ε) · w, from mul, mean, affine, sqrt and div.
    let ms = x.mul(&x).mean(-1, true).add_scalar(1e-5).sqrt();
    let reference = x.div(&ms).mul(&w);
    close(
        &fused.to_vec(),
        &reference.to_vec(),
        1e-6,
        "rms_norm forward",
    );
    let wt = Tensor::new(rand(&[4, 7], -1.0, 1.0, 75).0, &[4, 7]);
    let (gf, gr) = (
        fused.mul(&wt).sum_all().backward(),
        reference.mul(&wt).sum_all().backward(),
    );
    for (t, name) in [(&x, "dx"), (&w, "dw")] {
        close(
            &gf.get_or_zeros(t).to_vec(),
            &gr.get_or_zeros(t).to_vec(),
            1e-5,
            name,
        );
    }
}

#[test]
fn rope_scores_depend_only_on_the_offset() {
    // q at position p and k at position s: ⟨R(p)q, R(s)k⟩ is the same for every (p, s) with the
    // same s − p, and differs for another offset.
    let d = 8;
    let (qv, _) = rand(&[d], -1.0, 1.0, 76);
    let (kv, _) = rand(&[d], -1.0, 1.0, 77);
    let at = |v: &[f32], p: usize| {
        Tensor::new(v.to_vec(), &[1, 1, 1, d])
            .rope(p, 10000.0)
            .to_vec()
    };
    let score = |p, s| -> f32 { at(&qv, p).iter().zip(at(&kv, s)).map(|(a, b)| a * b).sum() };
    let base = score(3, 5);
    for (p, s) in [(0, 2), (10, 12), (500, 502), (4000, 4002)] {
        assert!(
            (score(p, s) - base).abs() < 1e-4,
            "offset 2 at ({p}, {s}): {} vs {base}",
            score(p, s)
        );
    }
    assert!(
        (score(3, 9) - base).abs() > 1e-3,
        "another offset gave the same score"
    );
    // Position 0 is the identity; rotation keeps the norm.
    assert_eq!(at(&qv, 0), qv);
    let n = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>();
    assert!((n(&at(&qv, 123)) - n(&qv)).abs() < 1e-5);
    // A cache offset: positions 5..8 of a rope from 5 equal rows 5..8 of a rope from 0.
    let (xv, _) = rand(&[1, 1, 8, d], -1.0, 1.0, 78);
    let full = Tensor::new(xv.clone(), &[1, 1, 8, d])
        .rope(0, 10000.0)
        .to_vec();
    let tail = Tensor::new(xv[5 * d..].to_vec(), &[1, 1, 3, d])
        .rope(5, 10000.0)
        .to_vec();
    close(&tail, &full[5 * d..], 1e-6, "rope offset");
}

/// The route `sdpa_packed` replaces: split the packed q|k|v rows, heads to axis 1, `sdpa`, heads
/// back beside each other.
fn packed_by_parts(qkv: &Tensor, h: usize, hkv: usize, mask: &AttnMask) -> Tensor {
    let (b, t, w) = (qkv.dim(0), qkv.dim(1), qkv.dim(2));
    let hs = w / (h + 2 * hkv);
    let heads = |from: usize, n: usize| {
        qkv.narrow(2, from, n * hs)
            .reshape(&[b, t, n, hs])
            .transpose(1, 2)
    };
    let (q, k, v) = (heads(0, h), heads(h * hs, hkv), heads((h + hkv) * hs, hkv));
    sdpa(&q, &k, &v, mask)
        .transpose(1, 2)
        .reshape(&[b, t, h * hs])
}

/// `sdpa_packed` against `packed_by_parts` on a random (2, T, W) projection: the outputs, and
/// the projection's gradient under a random weighted sum of them.
fn packed_equals_parts(t: usize, h: usize, hkv: usize, mask: &AttnMask) {
    let w = (h + 2 * hkv) * 3;
    let x = Tensor::var(rand(&[2, t, w], -2.0, 2.0, 70 + t as u64).0, &[2, t, w]);
    let (yp, yr) = (
        sdpa_packed(&x, h, hkv, mask),
        packed_by_parts(&x, h, hkv, mask),
    );
    assert_eq!(yp.shape(), yr.shape());
    let what = format!("T {t}, H {h}, Hkv {hkv}, {mask:?}");
    close(
        &yp.to_vec(),
        &yr.to_vec(),
        1e-5,
        &format!("sdpa_packed, {what}"),
    );
    let wt = Tensor::new(rand(yr.shape(), -1.0, 1.0, 71).0, yr.shape());
    let (gp, gr) = (
        yp.mul(&wt).sum_all().backward(),
        yr.mul(&wt).sum_all().backward(),
    );
    close(
        &gp.get_or_zeros(&x).to_vec(),
        &gr.get_or_zeros(&x).to_vec(),
        1e-5,
        &format!("sdpa_packed dqkv, {what}"),
    );
}

#[test]
fn packed_attention_equals_split_heads_then_sdpa() {
    // (H, Hkv): multi-head, GQA, MQA; every mask; hs = 3, T = 4 and 5 (one block of rows).
    for (h, hkv, t) in [(3, 3, 4), (4, 2, 5), (4, 1, 4)] {
        for mask in masks() {
            packed_equals_parts(t, h, hkv, &mask);
        }
    }
}

#[test]
fn packed_attention_in_several_row_blocks_equals_split_heads_then_sdpa() {
    // T = 37: two blocks of query rows (32 and 5), each multiplying only the keys it sees;
    // a padded batch row that sees no key at all, and one that sees 20.
    for (h, hkv) in [(2, 2), (2, 1)] {
        for mask in [
            AttnMask::Causal,
            AttnMask::None,
            AttnMask::SlidingWindow(5),
            AttnMask::Padding(vec![0, 20].into()),
            AttnMask::CausalPadding(vec![30, 9].into()),
        ] {
            packed_equals_parts(37, h, hkv, &mask);
        }
    }
}

#[test]
fn packed_attention_gradients_match_central_differences() {
    // T = 40: two row blocks (32 + 8).
    for (h, hkv, mask, t) in [
        (2, 2, AttnMask::Causal, 4),
        (4, 2, AttnMask::SlidingWindow(2), 4),
        (2, 1, AttnMask::None, 4),
        (2, 1, AttnMask::Causal, 40),
    ] {
        let w = (h + 2 * hkv) * 3;
        let x = rand(&[2, t, w], -1.0, 1.0, 72);
        check(&[x], |t| sdpa_packed(&t[0], h, hkv, &mask));
    }
}

#[test]
#[should_panic(expected = "sdpa_packed: qkv [2, 4, 10] must be (B, T, (H + 2·Hkv)·hs)")]
fn packed_attention_rejects_a_width_that_is_not_whole_heads() {
    let _ = sdpa_packed(&Tensor::zeros(&[2, 4, 10]), 2, 2, &AttnMask::Causal);
}
