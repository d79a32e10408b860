//! The fused kernels against their references (shapes with 0, 1, odd sizes and remainders of the
//! 16-wide loops), and the references' backward passes against central differences.

use super::TestRng;
use tfs_kernels::fused::adamw::{adamw_step, adamw_step_reference, AdamW};
use tfs_kernels::fused::gelu::{
    gelu_backward, gelu_backward_reference, gelu_forward, gelu_forward_reference,
};
use tfs_kernels::fused::layernorm::{
    layernorm_backward, layernorm_backward_reference, layernorm_forward,
    layernorm_forward_reference,
};
use tfs_kernels::fused::softmax::{softmax_rows, softmax_rows_reference, Mask};
use tfs_kernels::fused::{exp_approx, exp_approx_with, Fused, Unfused};

const LENS: [usize; 9] = [0, 1, 2, 15, 16, 17, 33, 100, 769];

fn vec(rng: &mut TestRng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.uniform() * scale).collect()
}

/// |a − b| ≤ tol·(1 + |b|) element-wise.
fn close(a: &[f32], b: &[f32], tol: f32, what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y} (tol {tol})"
        );
    }
}

#[test]
fn exp_approx_is_within_3e7_relative_over_its_range() {
    // e^x is exact to ~1 ulp (6e-8) in f32; the bound leaves room for the polynomial and the
    // reduction, and is what the kernels' tolerances below are built on. Both forms: separate
    // multiplies and adds, and the fused multiply-adds of the FMA builds.
    for (form, exp) in [
        ("unfused", exp_approx_with::<Unfused> as fn(f32) -> f32),
        ("fused", exp_approx_with::<Fused>),
    ] {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 + 175.0 * i as f64 / 200_000.0;
            let got = exp(x as f32) as f64;
            let want = (x as f32 as f64).exp();
            worst = worst.max(((got - want) / want).abs());
        }
        assert!(worst < 3e-7, "{form}: worst relative error {worst:e}");
    }
    assert!(exp_approx(f32::NAN).is_nan());
    assert_eq!(exp_approx(-1000.0), exp_approx(-87.3));
    assert!(exp_approx(1000.0).is_finite());
}

#[test]
fn softmax_matches_reference_and_masks() {
    let mut rng = TestRng::new(1);
    for &cols in &LENS[1..] {
        for rows in [0, 1, 3, 7] {
            for mask in [
                Mask::None,
                Mask::Causal { q_len: cols },
                Mask::Causal { q_len: 1 },
                Mask::Causal { q_len: cols.min(3) },
            ] {
                let x = vec(&mut rng, rows * cols, 10.0);
                let (mut got, mut want) = (x.clone(), x.clone());
                softmax_rows(&mut got, rows, cols, mask);
                softmax_rows_reference(&mut want, rows, cols, mask);
                // Each output is e^(x−m)/Σ: a few relative roundings plus exp_approx's 3e-7.
                close(
                    &got,
                    &want,
                    2e-6,
                    &format!("softmax rows {rows} cols {cols} {mask:?}"),
                );
                for r in 0..rows {
                    let row = &got[r * cols..(r + 1) * cols];
                    let sum: f32 = row.iter().sum();
                    assert!((sum - 1.0).abs() < 1e-5, "row {r} sums to {sum}");
                    if let Mask::Causal { q_len } = mask {
                        let seen = cols - q_len + r % q_len + 1;
                        assert!(
                            row[seen..].iter().all(|&v| v == 0.0),
                            "masked columns not 0"
                        );
                        assert!(row[..seen].iter().all(|&v| v > 0.0));
                    }
                }
            }
        }
    }
}

#[test]
fn softmax_of_large_logits_does_not_overflow() {
    let mut x = vec![1000.0, 1001.0, -1000.0];
    softmax_rows(&mut x, 1, 3, Mask::None);
    assert!(x.iter().all(|v| v.is_finite()));
    assert!((x[1] - 1.0 / (1.0 + (-1.0f32).exp())).abs() < 1e-6);
}

#[test]
fn gelu_matches_reference() {
    let mut rng = TestRng::new(2);
    for n in LENS {
        let x = vec(&mut rng, n, 8.0);
        let dy = vec(&mut rng, n, 1.0);
        let (mut got, mut want) = (vec![0.0; n], vec![0.0; n]);
        gelu_forward(&x, &mut got);
        gelu_forward_reference(&x, &mut want);
        // y = x − x/(e^(2u)+1): s = 1/(e^(2u)+1) has absolute error ~1e-7 (exp_approx's 3e-7 times s), and
        // the output scales it by |x| ≤ 8.
        close(&got, &want, 1e-6, "gelu forward");
        gelu_backward(&x, &dy, &mut got);
        gelu_backward_reference(&x, &dy, &mut want);
        close(&got, &want, 2e-6, "gelu backward");
    }
}

#[test]
fn gelu_reference_backward_matches_central_differences() {
    // In f64 arithmetic on the f32 function's definition: (f(x+h) − f(x−h)) / 2h, h = 1e-3,
    // truncation error h²·|f'''|/6 < 1e-6; f32 rounding of f at ~1e-7 / 2e-3 adds ~1e-4.
    let f = |x: f32| {
        let mut y = [0.0];
        gelu_forward_reference(&[x], &mut y);
        y[0] as f64
    };
    for i in 0..81 {
        let x = -4.0 + 0.1 * i as f32;
        let mut dx = [0.0];
        gelu_backward_reference(&[x], &[1.0], &mut dx);
        let h = 1e-3f32;
        let fd = (f(x + h) - f(x - h)) / (2.0 * h as f64);
        assert!(
            (dx[0] as f64 - fd).abs() < 3e-4,
            "x {x}: analytic {} vs {fd}",
            dx[0]
        );
    }
}

#[test]
fn layernorm_matches_reference() {
    let mut rng = TestRng::new(3);
    for &c in &LENS[1..] {
        for rows in [0, 1, 5] {
            let x: Vec<f32> = vec(&mut rng, rows * c, 3.0)
                .iter()
                .map(|v| v + 2.0)
                .collect();
            let (gamma, beta, dy) = (
                vec(&mut rng, c, 1.0),
                vec(&mut rng, c, 1.0),
                vec(&mut rng, rows * c, 1.0),
            );
            let mut outs = [
                (vec![0.0; rows * c], vec![0.0; rows], vec![0.0; rows]),
                (vec![0.0; rows * c], vec![0.0; rows], vec![0.0; rows]),
            ];
            let [(y1, m1, r1), (y2, m2, r2)] = &mut outs;
            layernorm_forward(&x, &gamma, &beta, 1e-5, y1, m1, r1, rows, c);
            layernorm_forward_reference(&x, &gamma, &beta, 1e-5, y2, m2, r2, rows, c);
            // Sums of c terms in another order: error ~ c·ε relative to the terms' magnitudes.
            let tol = 4e-7 * (c as f32 + 10.0);
            close(y1, y2, tol, "layernorm y");
            close(m1, m2, tol, "layernorm mean");
            close(r1, r2, tol, "layernorm rstd");
            let (mut dx1, mut dx2) = (vec![0.0; rows * c], vec![0.0; rows * c]);
            let (mut dg1, mut db1) = (vec![0.5; c], vec![0.25; c]);
            let (mut dg2, mut db2) = (dg1.clone(), db1.clone());
            layernorm_backward(
                &dy, &x, &gamma, m2, r2, &mut dx1, &mut dg1, &mut db1, rows, c,
            );
            layernorm_backward_reference(
                &dy, &x, &gamma, m2, r2, &mut dx2, &mut dg2, &mut db2, rows, c,
            );
            close(&dx1, &dx2, tol * 4.0, "layernorm dx");
            close(&dg1, &dg2, tol, "layernorm dgamma");
            close(&db1, &db2, tol, "layernorm dbeta");
        }
    }
}

#[test]
fn layernorm_reference_backward_matches_central_differences() {
    // L = Σ w ⊙ y, so dy = w; perturb every x, gamma and beta by ±h and compare dL.
    let (rows, c) = (2, 5);
    let mut rng = TestRng::new(4);
    let x = vec(&mut rng, rows * c, 2.0);
    let (gamma, beta, w) = (
        vec(&mut rng, c, 1.5),
        vec(&mut rng, c, 1.0),
        vec(&mut rng, rows * c, 1.0),
    );
    let loss = |x: &[f32], gamma: &[f32], beta: &[f32]| -> f64 {
        let (mut y, mut m, mut r) = (vec![0.0; rows * c], vec![0.0; rows], vec![0.0; rows]);
        layernorm_forward_reference(x, gamma, beta, 1e-5, &mut y, &mut m, &mut r, rows, c);
        y.iter().zip(&w).map(|(y, w)| (y * w) as f64).sum()
    };
    let (mut y, mut m, mut r) = (vec![0.0; rows * c], vec![0.0; rows], vec![0.0; rows]);
    layernorm_forward_reference(&x, &gamma, &beta, 1e-5, &mut y, &mut m, &mut r, rows, c);
    let (mut dx, mut dg, mut db) = (vec![0.0; rows * c], vec![0.0; c], vec![0.0; c]);
    layernorm_backward_reference(&w, &x, &gamma, &m, &r, &mut dx, &mut dg, &mut db, rows, c);
    let h = 1e-2f32;
    // f32 forward: rounding ~1e-6 per loss / 2h = 5e-5; truncation ~h² = 1e-4.
    let tol = 2e-3;
    for i in 0..rows * c {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let fd = (loss(&xp, &gamma, &beta) - loss(&xm, &gamma, &beta)) / (2.0 * h as f64);
        assert!((dx[i] as f64 - fd).abs() < tol, "dx[{i}] {} vs {fd}", dx[i]);
    }
    for j in 0..c {
        let (mut gp, mut gm) = (gamma.clone(), gamma.clone());
        gp[j] += h;
        gm[j] -= h;
        let fd = (loss(&x, &gp, &beta) - loss(&x, &gm, &beta)) / (2.0 * h as f64);
        assert!(
            (dg[j] as f64 - fd).abs() < tol,
            "dgamma[{j}] {} vs {fd}",
            dg[j]
        );
        let (mut bp, mut bm) = (beta.clone(), beta.clone());
        bp[j] += h;
        bm[j] -= h;
        let fd = (loss(&x, &gamma, &bp) - loss(&x, &gamma, &bm)) / (2.0 * h as f64);
        assert!(
            (db[j] as f64 - fd).abs() < tol,
            "dbeta[{j}] {} vs {fd}",
            db[j]
        );
    }
}

#[test]
fn adamw_matches_reference_over_steps() {
    let h = AdamW {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.95,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let mut rng = TestRng::new(5);
    for n in LENS {
        let mut p1 = vec(&mut rng, n, 1.0);
        let (mut m1, mut v1) = (vec![0.0; n], vec![0.0; n]);
        let (mut p2, mut m2, mut v2) = (p1.clone(), m1.clone(), v1.clone());
        for t in 1..=5 {
            let g = vec(&mut rng, n, 0.1);
            adamw_step(&mut p1, &g, &mut m1, &mut v1, &h, t);
            adamw_step_reference(&mut p2, &g, &mut m2, &mut v2, &h, t);
        }
        close(&p1, &p2, 1e-6, "adamw params");
        close(&m1, &m2, 1e-6, "adamw m");
        close(&v1, &v2, 1e-6, "adamw v");
    }
}

#[test]
fn adamw_first_step_moves_by_lr_against_the_gradient_sign() {
    // At t = 1 the bias-corrected moments are g and g², so the step is lr·g/(|g| + ε).
    let h = AdamW {
        lr: 0.01,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.5,
    };
    let (mut p, g) = (vec![1.0, -2.0], vec![0.3, -0.7]);
    let (mut m, mut v) = (vec![0.0; 2], vec![0.0; 2]);
    adamw_step(&mut p, &g, &mut m, &mut v, &h, 1);
    let want = [
        1.0 * (1.0 - 0.01 * 0.5) - 0.01,
        -2.0 * (1.0 - 0.01 * 0.5) + 0.01,
    ];
    close(&p, &want, 1e-6, "adamw first step");
}

#[test]
fn cross_entropy_matches_reference_and_the_gradient_is_the_derivative() {
    use tfs_kernels::fused::crossentropy::{cross_entropy, cross_entropy_reference};
    let mut rng = TestRng::new(21);
    for &vocab in &[1usize, 2, 15, 16, 17, 65, 769] {
        for &rows in &[0usize, 1, 3, 8] {
            let logits = vec(&mut rng, rows * vocab, 8.0);
            let targets: Vec<usize> = (0..rows).map(|_| rng.range(0, vocab - 1)).collect();
            let (mut d1, mut d2) = (vec![0.0; rows * vocab], vec![0.0; rows * vocab]);
            let l1 = cross_entropy(&logits, &targets, &mut d1, vocab);
            let l2 = cross_entropy_reference(&logits, &targets, &mut d2, vocab);
            // exp_approx is within 3e-7 relative; the loss is a log of sums of ≤ 769 of them.
            assert!(
                (l1 - l2).abs() <= 1e-5 * (1.0 + l2.abs()),
                "V={vocab} R={rows}: {l1} vs {l2}"
            );
            close(&d1, &d2, 1e-6, &format!("dlogits V={vocab} R={rows}"));
        }
    }
    // The reference's gradient against central differences of its loss (f32 logits, so a
    // loose tolerance: ε = 1e-2 on logits of size ~1, loss differences of ~1e-3).
    let (rows, vocab) = (3, 7);
    let logits = vec(&mut rng, rows * vocab, 2.0);
    let targets = [0, 6, 3];
    let mut d = vec![0.0; rows * vocab];
    cross_entropy_reference(&logits, &targets, &mut d, vocab);
    let mut scratch = vec![0.0; rows * vocab];
    for i in 0..rows * vocab {
        let (mut lp, mut lm) = (logits.clone(), logits.clone());
        lp[i] += 1e-2;
        lm[i] -= 1e-2;
        let num = (cross_entropy_reference(&lp, &targets, &mut scratch, vocab)
            - cross_entropy_reference(&lm, &targets, &mut scratch, vocab))
            / 2e-2;
        assert!(
            (num - d[i] as f64).abs() < 1e-4,
            "coordinate {i}: {num} vs {}",
            d[i]
        );
    }
}

#[test]
#[should_panic(expected = "target 7 out of range for vocabulary 7")]
fn cross_entropy_rejects_a_target_outside_the_vocabulary() {
    let mut d = vec![0.0; 7];
    tfs_kernels::fused::crossentropy::cross_entropy(&[0.0; 7], &[7], &mut d, 7);
}

#[test]
fn bias_gelu_and_residual_add_match_references() {
    use tfs_kernels::fused::elementwise::{
        bias_gelu, bias_gelu_reference, residual_add, residual_add_reference,
    };
    let mut rng = TestRng::new(22);
    for &cols in &[1usize, 15, 16, 17, 100] {
        for &rows in &[0usize, 1, 5] {
            let x = vec(&mut rng, rows * cols, 3.0);
            let b = vec(&mut rng, cols, 1.0);
            let (mut p1, mut y1) = (vec![0.0; rows * cols], vec![0.0; rows * cols]);
            let (mut p2, mut y2) = (vec![0.0; rows * cols], vec![0.0; rows * cols]);
            bias_gelu(&x, &b, &mut p1, &mut y1);
            bias_gelu_reference(&x, &b, &mut p2, &mut y2);
            close(&p1, &p2, 0.0, "pre-activation");
            close(&y1, &y2, 1e-5, "bias_gelu");
        }
    }
    for &n in &LENS {
        let (x, r) = (vec(&mut rng, n, 1.0), vec(&mut rng, n, 1.0));
        let (mut y1, mut y2) = (vec![0.0; n], vec![0.0; n]);
        residual_add(&x, &r, &mut y1);
        residual_add_reference(&x, &r, &mut y2);
        close(&y1, &y2, 0.0, "residual_add");
    }
}

#[test]
fn a_nan_logit_makes_its_row_nan_in_softmax_and_cross_entropy() {
    // The fast row maximum may drop a NaN (`max_fast`); the NaN must still reach the output.
    use tfs_kernels::fused::crossentropy::cross_entropy;
    for at in [0, 5, 16, 20, 39] {
        let mut x: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin()).collect();
        x[at] = f32::NAN;
        let mut d = vec![0.0; 40];
        assert!(cross_entropy(&x, &[3], &mut d, 40).is_nan(), "NaN at {at}");
        softmax_rows(&mut x, 1, 40, Mask::None);
        assert!(x.iter().all(|v| v.is_nan()), "NaN at {at}: {x:?}");
    }
}

#[test]
fn sum_squares_matches_reference() {
    use tfs_kernels::fused::elementwise::{sum_squares, sum_squares_reference};
    let mut rng = TestRng::new(9);
    for n in LENS.iter().copied().chain([100_003]) {
        let x = vec(&mut rng, n, 3.0);
        let (got, want) = (sum_squares(&x), sum_squares_reference(&x));
        // f64 sums of ≤ 1e5 positive terms in another order: relative 1e-12 is ample.
        assert!(
            (got - want).abs() <= 1e-12 * want.max(1e-300),
            "n {n}: {got} vs {want}"
        );
    }
    assert!(sum_squares(&[1.0, f32::NAN, 2.0]).is_nan());
    assert_eq!(sum_squares(&[]), 0.0);
}

#[test]
fn lstm_cell_matches_reference() {
    use tfs_kernels::fused::lstm::{
        lstm_cell_backward, lstm_cell_backward_reference, lstm_cell_forward,
        lstm_cell_forward_reference,
    };
    let mut rng = TestRng::new(11);
    for rows in [0, 1, 3] {
        for hidden in [1, 5, 16, 17, 33] {
            let n = rows * hidden;
            // Pre-activations to ±8: both saturated and linear ranges of σ and tanh.
            let z = vec(&mut rng, 4 * n, 8.0);
            let c_prev = vec(&mut rng, n, 2.0);
            let (mut z1, mut z2) = (z.clone(), z.clone());
            let mut o1 = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            let mut o2 = o1.clone();
            {
                let [c, tc, h] = &mut o1;
                lstm_cell_forward(&mut z1, &c_prev, c, tc, h, hidden);
            }
            {
                let [c, tc, h] = &mut o2;
                lstm_cell_forward_reference(&mut z2, &c_prev, c, tc, h, hidden);
            }
            // σ and tanh through exp_approx: absolute error a few 1e-7.
            close(&z1, &z2, 1e-6, "lstm gates");
            for (a, b, what) in [
                (&o1[0], &o2[0], "c"),
                (&o1[1], &o2[1], "tanh c"),
                (&o1[2], &o2[2], "h"),
            ] {
                close(a, b, 2e-6, what);
            }
            let (dh, dc0) = (vec(&mut rng, n, 1.0), vec(&mut rng, n, 1.0));
            let (mut dc1, mut dc2) = (dc0.clone(), dc0.clone());
            let (mut dz1, mut dz2) = (vec![0.0; 4 * n], vec![0.0; 4 * n]);
            lstm_cell_backward(&z2, &o2[1], &c_prev, &dh, &mut dc1, &mut dz1, hidden);
            lstm_cell_backward_reference(&z2, &o2[1], &c_prev, &dh, &mut dc2, &mut dz2, hidden);
            close(&dz1, &dz2, 1e-6, "lstm dz");
            close(&dc1, &dc2, 1e-6, "lstm dc");
        }
    }
}

#[test]
fn softmax_backward_row_matches_reference() {
    use tfs_kernels::fused::softmax::{softmax_backward_row, softmax_backward_row_reference};
    let mut rng = TestRng::new(12);
    for n in LENS {
        let mut y = vec(&mut rng, n, 4.0);
        softmax_rows(&mut y, 1, n, Mask::None);
        let dy = vec(&mut rng, n, 1.0);
        let (mut a, mut b) = (dy.clone(), dy.clone());
        softmax_backward_row(&y, &mut a, 0.125);
        softmax_backward_row_reference(&y, &mut b, 0.125);
        // The dot product summed in another order: a few roundings of values ≤ 1.
        close(&a, &b, 1e-6, "softmax backward");
    }
}

#[test]
fn exp_poly_interpolates_e_at_the_seven_chebyshev_nodes() {
    // EXP_POLY is the degree-6 polynomial through e^r at r_k = (ln2/2)·cos((2k+1)π/14): at those
    // nodes it equals e^r up to the rounding of its coefficients to f32 (< 1e-7 relative), and
    // between them it stays within its 2.5e-9 interpolation error plus that rounding.
    use tfs_kernels::fused::EXP_POLY;
    let p = |r: f64| EXP_POLY.iter().fold(0.0f64, |acc, &c| acc * r + c as f64);
    let half = std::f64::consts::LN_2 / 2.0;
    for k in 0..7 {
        let r = half * ((2 * k + 1) as f64 * std::f64::consts::PI / 14.0).cos();
        assert!((p(r) / r.exp() - 1.0).abs() < 1e-7, "node {k}: r {r}");
    }
    for i in 0..=1000 {
        let r = -half + 2.0 * half * i as f64 / 1000.0;
        assert!((p(r) / r.exp() - 1.0).abs() < 1.5e-7, "r {r}");
    }
}
