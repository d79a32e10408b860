//! `flash_sdpa` against the fused naive `sdpa` (forward and all three gradients, every mask,
//! GQA and MQA, Tq ≠ Tk, lengths around the kernel's tiles, 1 and 2 threads), against central
//! differences, and what it saves for backward.
//!
//! Tolerance against `sdpa`: max |a − b| / (1 + |b|) ≤ 2·10⁻⁵ for the output and 10⁻⁴ for the
//! gradients. Both are f32 with the same `exp_approx`; only the order of the sums differs
//! (tiles of keys, the online rescaling, L = m + ln l instead of dividing by l), which moves
//! results by a few ulps per term over up to 259 keys.

use super::grad::{check, close, rand};
use tfs_kernels::fused::flash_attention::{BK, BQ};
use tfs_kernels::pool;
use tfs_tensor::{flash_sdpa, sdpa, AttnMask, Tensor};

/// Compares flash with naive for q (b, h, tq, hs), k and v (b, hkv, tk, hs).
fn compare(shape: (usize, usize, usize, usize, usize, usize), mask: &AttnMask, seed: u64) {
    let (b, h, hkv, tq, tk, hs) = shape;
    let var = |s: &[usize], seed| Tensor::var(rand(s, -2.0, 2.0, seed).0, s);
    let (q, k, v) = (
        var(&[b, h, tq, hs], seed),
        var(&[b, hkv, tk, hs], seed + 1),
        var(&[b, hkv, tk, hs], seed + 2),
    );
    let w = Tensor::new(
        rand(&[b, h, tq, hs], -1.0, 1.0, seed + 3).0,
        &[b, h, tq, hs],
    );
    let (yf, yn) = (flash_sdpa(&q, &k, &v, mask), sdpa(&q, &k, &v, mask));
    let what = format!("{shape:?} {mask:?} threads {}", pool::default_threads());
    close(&yf.to_vec(), &yn.to_vec(), 2e-5, &format!("forward {what}"));
    let (gf, gn) = (
        yf.mul(&w).sum_all().backward(),
        yn.mul(&w).sum_all().backward(),
    );
    for (t, name) in [(&q, "dq"), (&k, "dk"), (&v, "dv")] {
        close(
            &gf.get_or_zeros(t).to_vec(),
            &gn.get_or_zeros(t).to_vec(),
            1e-4,
            &format!("{name} {what}"),
        );
    }
}

#[test]
fn flash_sdpa_equals_sdpa_forward_and_gradients() {
    let mut seed = 200;
    for threads in [1, 2] {
        pool::set_threads(Some(threads));
        for t in [1, BQ - 1, BQ + 1, BK + 1, 2 * BK + 3] {
            let masks = [
                AttnMask::None,
                AttnMask::Causal,
                // Batch 0 sees no key at all: its output and gradients are 0.
                AttnMask::Padding(vec![0, t / 2 + 1].into()),
                AttnMask::CausalPadding(vec![t, (t / 3).max(1)].into()),
                AttnMask::SlidingWindow(5),
                AttnMask::SlidingWindow(BK + 2),
            ];
            for mask in &masks {
                seed += 4;
                compare((2, 2, 2, t, t, 8), mask, seed);
            }
        }
        // GQA and MQA, and cross lengths (causal aligned to the end when Tq ≠ Tk).
        for (h, hkv) in [(4, 2), (4, 1)] {
            for (tq, tk) in [(5, 5), (3, BK + 2), (BQ + 6, 2 * BK + 3), (BK + 1, 7)] {
                for mask in [AttnMask::Causal, AttnMask::SlidingWindow(9), AttnMask::None] {
                    seed += 4;
                    compare((2, h, hkv, tq, tk, 6), &mask, seed);
                }
            }
        }
    }
    pool::set_threads(None);
}

#[test]
fn flash_sdpa_gradients_match_central_differences() {
    // The `check` helper of grad.rs: ε = 5·10⁻³, relative error ≤ 10⁻² (floor 10⁻²).
    for mask in [
        AttnMask::None,
        AttnMask::Causal,
        AttnMask::Padding(vec![0, 3].into()),
        AttnMask::CausalPadding(vec![2, 4].into()),
        AttnMask::SlidingWindow(2),
    ] {
        let (q, k, v) = (
            rand(&[2, 2, 4, 3], -1.0, 1.0, 70),
            rand(&[2, 2, 4, 3], -1.0, 1.0, 71),
            rand(&[2, 2, 4, 3], -1.0, 1.0, 72),
        );
        check(&[q, k, v], |t| flash_sdpa(&t[0], &t[1], &t[2], &mask));
    }
    // GQA (4 query heads over 2 kv heads), MQA, and Tq ≠ Tk.
    for (hkv, tq, tk) in [(2, 5, 5), (1, 5, 5), (2, 2, 6)] {
        let (q, k, v) = (
            rand(&[1, 4, tq, 3], -1.0, 1.0, 73),
            rand(&[1, hkv, tk, 3], -1.0, 1.0, 74),
            rand(&[1, hkv, tk, 3], -1.0, 1.0, 75),
        );
        check(&[q, k, v], |t| {
            flash_sdpa(&t[0], &t[1], &t[2], &AttnMask::Causal)
        });
    }
}

#[test]
fn flash_sdpa_saves_one_float_per_query_row() {
    let (b, h, t, hs) = (1, 3, 100, 8);
    let x = |seed| Tensor::var(rand(&[b, h, t, hs], -1.0, 1.0, seed).0, &[b, h, t, hs]);
    let (q, k, v) = (x(1), x(2), x(3));
    let flash = flash_sdpa(&q, &k, &v, &AttnMask::Causal);
    let naive = sdpa(&q, &k, &v, &AttnMask::Causal);
    assert_eq!(flash.saved_bytes(), b * h * t * 4);
    assert_eq!(naive.saved_bytes(), b * h * t * t * 4);
    // Without gradients nothing is recorded.
    let y = tfs_tensor::no_grad(|| flash_sdpa(&q, &k, &v, &AttnMask::Causal));
    assert_eq!(y.saved_bytes(), 0);
}
