//! Flash attention against its readable reference (every mask shape as key ranges, GQA and MQA,
//! Tq ≠ Tk, sizes around the tiles, 1 and 2 threads), and the reference's backward against
//! central differences.

use super::TestRng;
use tfs_kernels::fused::flash_attention::{
    attention_backward_reference, attention_reference, flash_attention_backward,
    flash_attention_forward, Dims, BK, BQ,
};

fn vec(rng: &mut TestRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.uniform() * scale).collect()
}

/// Max |a − b| / (1 + |b|) ≤ tol.
fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y} (tol {tol})"
        );
    }
}

/// The key ranges of the project's masks (as tfs-tensor's `AttnMask::range` makes them).
#[derive(Clone, Copy, Debug)]
enum Mask {
    None,
    Causal,
    /// Batch b sees its first `len(b)` keys: 0 for b = 0, then growing.
    Padding,
    CausalPadding,
    Window(usize),
}

fn ranges(mask: Mask, b: usize, tq: usize, tk: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for bb in 0..b {
        let len = (bb * (tk / 2 + 1)).min(tk);
        for i in 0..tq {
            let causal = (tk + i + 1).saturating_sub(tq).min(tk);
            out.push(match mask {
                Mask::None => (0, tk),
                Mask::Causal => (0, causal),
                Mask::Padding => (0, len),
                Mask::CausalPadding => (0, len.min(causal)),
                Mask::Window(w) => (causal.saturating_sub(w), causal),
            });
        }
    }
    out
}

/// Runs flash and reference, forward and backward, and compares all four outputs.
fn compare(d: Dims, mask: Mask, threads: usize, seed: u64) {
    let mut rng = TestRng::new(seed);
    let (nq, nk) = (d.b * d.h * d.tq * d.hs, d.b * d.hkv * d.tk * d.hs);
    let (q, k, v) = (
        vec(&mut rng, nq, 2.0),
        vec(&mut rng, nk, 2.0),
        vec(&mut rng, nk, 1.0),
    );
    let dout = vec(&mut rng, nq, 1.0);
    let r = ranges(mask, d.b, d.tq, d.tk);
    let (want_o, want_l) = attention_reference(d, &q, &k, &v, &r);
    let (mut o, mut l) = (vec![f32::NAN; nq], vec![f32::NAN; d.b * d.h * d.tq]);
    flash_attention_forward(d, &q, &k, &v, &r, threads, &mut o, &mut l);
    let what = format!("{d:?} {mask:?} threads {threads}");
    // Sums of up to Tk terms in another order, plus exp_approx's 3e-7: 2e-5 relative.
    close(&o, &want_o, 2e-5, &format!("O {what}"));
    for (x, y) in l.iter().zip(&want_l) {
        assert!(
            x == y || (x - y).abs() <= 2e-5 * (1.0 + y.abs()),
            "L {what}: {x} vs {y}"
        );
    }
    let (wq, wk, wv) = attention_backward_reference(d, &q, &k, &v, &want_l, &dout, &r);
    let (mut dq, mut dk, mut dv) = (vec![f32::NAN; nq], vec![f32::NAN; nk], vec![f32::NAN; nk]);
    flash_attention_backward(
        d, &q, &k, &v, &o, &l, &dout, &r, threads, &mut dq, &mut dk, &mut dv,
    );
    close(&dq, &wq, 1e-4, &format!("dq {what}"));
    close(&dk, &wk, 1e-4, &format!("dk {what}"));
    close(&dv, &wv, 1e-4, &format!("dv {what}"));
}

#[test]
fn flash_attention_equals_reference_for_every_mask_and_size() {
    let masks = [
        Mask::None,
        Mask::Causal,
        Mask::Padding,
        Mask::CausalPadding,
        Mask::Window(5),
        Mask::Window(BK + 3),
    ];
    let mut seed = 0;
    for t in [1, BQ - 1, BQ + 1, 2 * BQ + 3] {
        for mask in masks {
            for threads in [1, 2] {
                seed += 1;
                let d = Dims {
                    b: 2,
                    h: 2,
                    hkv: 2,
                    tq: t,
                    tk: t,
                    hs: 8,
                };
                compare(d, mask, threads, seed);
            }
        }
    }
}

#[test]
fn flash_attention_with_grouped_and_multi_query_heads_and_cross_lengths() {
    let mut seed = 100;
    // GQA (4 query heads over 2 kv heads) and MQA (over 1), keys longer or shorter than queries
    // (causal aligned to the end), tile remainders on both sides, odd head sizes.
    for (h, hkv) in [(4, 2), (4, 1), (3, 3)] {
        for (tq, tk) in [(1, BK + 1), (BQ + 1, 2 * BK + 3), (5, 3), (BQ - 1, 17)] {
            for mask in [Mask::None, Mask::Causal, Mask::Padding, Mask::Window(7)] {
                for threads in [1, 2] {
                    seed += 1;
                    let d = Dims {
                        b: 2,
                        h,
                        hkv,
                        tq,
                        tk,
                        hs: 5,
                    };
                    compare(d, mask, threads, seed);
                }
            }
        }
    }
}

#[test]
fn flash_attention_handles_empty_shapes_and_queries_that_see_nothing() {
    for (b, tq, tk) in [(0, 4, 4), (1, 0, 4), (1, 3, 0), (2, 1, 1)] {
        let d = Dims {
            b,
            h: 2,
            hkv: 1,
            tq,
            tk,
            hs: 4,
        };
        compare(d, Mask::Causal, 2, 7);
        compare(d, Mask::Padding, 1, 8);
    }
    // Batch 0 of Padding sees no key: its output is exactly 0, its L is −∞.
    let d = Dims {
        b: 2,
        h: 1,
        hkv: 1,
        tq: 3,
        tk: 3,
        hs: 2,
    };
    let r = ranges(Mask::Padding, 2, 3, 3);
    assert_eq!(r[0], (0, 0));
    let (q, k, v) = (vec![1.0; 12], vec![1.0; 12], vec![1.0; 12]);
    let (mut o, mut l) = (vec![f32::NAN; 12], vec![f32::NAN; 6]);
    flash_attention_forward(d, &q, &k, &v, &r, 1, &mut o, &mut l);
    assert!(o[..6].iter().all(|&x| x == 0.0));
    assert!(l[..3].iter().all(|&x| x == f32::NEG_INFINITY));
}

#[test]
fn attention_reference_backward_matches_central_differences() {
    // L = Σ w ⊙ O, so Ō = w; perturb every element of q, k and v by ±h.
    let d = Dims {
        b: 2,
        h: 2,
        hkv: 1,
        tq: 3,
        tk: 4,
        hs: 3,
    };
    let mut rng = TestRng::new(11);
    let (nq, nk) = (d.b * d.h * d.tq * d.hs, d.b * d.hkv * d.tk * d.hs);
    let xs = [
        vec(&mut rng, nq, 1.0),
        vec(&mut rng, nk, 1.0),
        vec(&mut rng, nk, 1.0),
    ];
    let w = vec(&mut rng, nq, 1.0);
    for mask in [Mask::Causal, Mask::Padding, Mask::Window(2)] {
        let r = ranges(mask, d.b, d.tq, d.tk);
        let loss = |x: &[Vec<f32>; 3]| -> f64 {
            let (o, _) = attention_reference(d, &x[0], &x[1], &x[2], &r);
            o.iter().zip(&w).map(|(o, w)| (o * w) as f64).sum()
        };
        let (_, l) = attention_reference(d, &xs[0], &xs[1], &xs[2], &r);
        let (dq, dk, dv) = attention_backward_reference(d, &xs[0], &xs[1], &xs[2], &l, &w, &r);
        let h = 1e-2f32;
        // f32 forward: rounding ~1e-6 per loss / 2h = 5e-5; truncation ~h² · |f'''| ≈ 1e-4.
        let tol = 2e-3;
        for (t, grad) in [dq, dk, dv].iter().enumerate() {
            for i in 0..grad.len() {
                let (mut p, mut m) = (xs.clone(), xs.clone());
                p[t][i] += h;
                m[t][i] -= h;
                let fd = (loss(&p) - loss(&m)) / (2.0 * h as f64);
                assert!(
                    (grad[i] as f64 - fd).abs() < tol,
                    "{mask:?} input {t} [{i}]: {} vs {fd}",
                    grad[i]
                );
            }
        }
    }
}
