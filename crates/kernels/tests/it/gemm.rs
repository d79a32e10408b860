//! sgemm (every available kernel, 1 and 2 threads, packed, small and few-row paths) against
//! sgemm_reference over shapes chosen to hit every edge: 0, 1, odd sizes, MR/NR/KC/MC/NC ± 1,
//! leading dimensions larger than the row with NaN/garbage padding, β = 0 over a NaN-filled C,
//! β = 1, α ≠ 1, and the layouts NN, NT, TN, TT.
//!
//! Error bound. Both the reference and the fast path compute each C[i][j] as a sum of k products
//! (in different orders, with or without FMA), then scale by α and add β·C. The classical bound
//! for a floating-point dot product in any order (Higham, Accuracy and Stability, §3.1) is
//! |fl(x·y) − x·y| ≤ γ_k·Σ|x_p·y_p| with γ_k = k·u/(1 − k·u), u = ε/2; two more roundings come
//! from α and β. So each result is within (k + 2)·u·(|α|·Σ_p|A_ip·B_pj| + |β·C_ij|) of the exact
//! value (to first order), and the two results are within twice that of each other:
//!
//!   |fast − ref| ≤ (k + 2)·ε·(|α|·(|A|·|B|)_ij + |β|·|C0_ij|)  (+ 1e-30 for exact zeros)
//!
//! which the test evaluates per element, with |A|·|B| computed in f64.

use super::TestRng;
use tfs_kernels::gemm::{
    sgemm_batched, sgemm_nt_rows, sgemm_prepacked, sgemm_reference, sgemm_with, Batch, Gemm,
    GemmConfig, Kernel, MatMut, MatRef, PackedB, Trans,
};

/// Padding values: NaN where the kernel might read (A, B padding must never be read: NaN would
/// spread), a distinctive number where it might write (C padding must stay as it was).
const C_PAD: f32 = 12345.0;

struct Case {
    ta: Trans,
    tb: Trans,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    beta: f32,
    pad: usize,
}

/// A row-major (rows, cols) matrix with leading dimension cols + pad; padding = `pad_value`.
fn matrix(
    rng: &mut TestRng,
    rows: usize,
    cols: usize,
    pad: usize,
    pad_value: f32,
) -> (Vec<f32>, usize) {
    let ld = cols + pad;
    let mut x = vec![pad_value; rows * ld];
    for r in 0..rows {
        for c in 0..cols {
            x[r * ld + c] = rng.uniform();
        }
    }
    (x, ld)
}

fn stored(t: Trans, r: usize, c: usize) -> (usize, usize) {
    if t == Trans::N {
        (r, c)
    } else {
        (c, r)
    }
}

fn check(cfg: &GemmConfig, case: &Case, seed: u64) {
    check_path(cfg, case, seed, false)
}

/// `check` of `sgemm_with` (`nt_rows` false) or of `sgemm_nt_rows` (true; NT only).
fn check_path(cfg: &GemmConfig, case: &Case, seed: u64, nt_rows: bool) {
    let Case {
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        beta,
        pad,
    } = *case;
    let mut rng = TestRng::new(seed);
    let (ar, ac) = stored(ta, m, k);
    let (br, bc) = stored(tb, k, n);
    let (a, lda) = matrix(&mut rng, ar, ac, pad, f32::NAN);
    let (b, ldb) = matrix(&mut rng, br, bc, pad, f32::NAN);
    let (mut c0, ldc) = matrix(&mut rng, m, n, pad, C_PAD);
    if beta == 0.0 {
        for i in 0..m {
            c0[i * ldc..i * ldc + n].fill(f32::NAN);
        }
    }
    let g = Gemm {
        ta,
        tb,
        m,
        n,
        k,
        alpha,
        beta,
    };
    let mut want = c0.clone();
    sgemm_reference(
        &g,
        MatRef::new(&a, lda),
        MatRef::new(&b, ldb),
        MatMut::new(&mut want, ldc),
    );
    let mut got = c0.clone();
    if nt_rows {
        assert!(ta == Trans::N && tb == Trans::T);
        sgemm_nt_rows(
            cfg,
            &g,
            MatRef::new(&a, lda),
            MatRef::new(&b, ldb),
            MatMut::new(&mut got, ldc),
        );
    } else {
        sgemm_with(
            cfg,
            &g,
            MatRef::new(&a, lda),
            MatRef::new(&b, ldb),
            MatMut::new(&mut got, ldc),
        );
    }
    // The same product with B packed in advance (`PackedB`, `sgemm_prepacked`), checked below
    // against the reference like `got`.
    let mut pre = c0.clone();
    if !nt_rows {
        let packed = PackedB::new(cfg, tb, k, n, &b, ldb);
        sgemm_prepacked(
            cfg,
            ta,
            m,
            (alpha, beta),
            MatRef::new(&a, lda),
            &packed,
            MatMut::new(&mut pre, ldc),
        );
    }

    let a_at = |i: usize, p: usize| {
        if ta == Trans::N {
            a[i * lda + p]
        } else {
            a[p * lda + i]
        }
    };
    let b_at = |p: usize, j: usize| {
        if tb == Trans::N {
            b[p * ldb + j]
        } else {
            b[j * ldb + p]
        }
    };
    let what = || {
        format!(
            "{:?}{:?} m={m} n={n} k={k} α={alpha} β={beta} pad={pad} {cfg:?} nt_rows={nt_rows}",
            ta, tb
        )
    };
    for (got, path) in [(&got, "direct"), (&pre, "B packed in advance")] {
        if nt_rows && path != "direct" {
            continue;
        }
        for i in 0..m {
            for j in 0..ldc {
                let (g, w) = (got[i * ldc + j], want[i * ldc + j]);
                if j >= n {
                    assert_eq!(
                        g.to_bits(),
                        C_PAD.to_bits(),
                        "C padding ({i}, {j}) written: {} ({path})",
                        what()
                    );
                    continue;
                }
                let abs_ab: f64 = (0..k)
                    .map(|p| (a_at(i, p) as f64 * b_at(p, j) as f64).abs())
                    .sum();
                let c_old = if beta == 0.0 {
                    0.0
                } else {
                    (beta * c0[i * ldc + j]).abs() as f64
                };
                let tol =
                    (k + 2) as f64 * f32::EPSILON as f64 * (alpha.abs() as f64 * abs_ab + c_old)
                        + 1e-30;
                assert!(
                    g.is_finite() && ((g - w) as f64).abs() <= tol,
                    "C({i}, {j}) = {g}, reference {w}, tolerance {tol:e}: {} ({path})",
                    what()
                );
            }
        }
    }
}

fn kernels() -> Vec<Kernel> {
    [Kernel::Portable, Kernel::Avx2, Kernel::Avx512]
        .into_iter()
        .filter(|k| k.is_available())
        .collect()
}

const LAYOUTS: [(Trans, Trans); 4] = [
    (Trans::N, Trans::N),
    (Trans::N, Trans::T),
    (Trans::T, Trans::N),
    (Trans::T, Trans::T),
];

/// Sizes around every tile and block size of every kernel: MR ∈ {6, 8} (and 14, an earlier
/// AVX-512 tile), NR ∈ {8, 16, 32}, MC ∈ {120, 128} (and 126), and 0, 1 and a few odd numbers.
const EDGE_SIZES: [usize; 22] = [
    0, 1, 2, 3, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 31, 32, 33, 119, 121, 125, 127, 129,
];

/// Runs `check` for every kernel, layout, thread count and heuristic setting.
fn for_all(m: usize, n: usize, k: usize, alpha: f32, beta: f32, pad: usize, seed: u64) {
    for kernel in kernels() {
        for threads in [1, 2] {
            for size_heuristics in [false, true] {
                let cfg = GemmConfig {
                    threads,
                    kernel,
                    size_heuristics,
                };
                for (ta, tb) in LAYOUTS {
                    check(
                        &cfg,
                        &Case {
                            ta,
                            tb,
                            m,
                            n,
                            k,
                            alpha,
                            beta,
                            pad,
                        },
                        seed,
                    );
                }
            }
        }
    }
}

#[test]
fn edge_sizes_in_m_n_and_k() {
    for (s, &v) in EDGE_SIZES.iter().enumerate() {
        let seed = s as u64;
        for_all(v, 19, 11, 1.0, 0.0, 0, seed);
        for_all(13, v, 11, 1.0, 0.0, 0, seed);
        for_all(13, 19, v, 1.0, 0.0, 0, seed);
    }
}

#[test]
fn kc_remainders() {
    for k in [255, 256, 257, 513] {
        for_all(15, 33, k, 1.0, 0.0, 0, k as u64);
    }
}

#[test]
fn nc_remainders() {
    for n in [2047, 2049, 3071, 3073, 4095, 4097] {
        for_all(7, n, 3, 1.0, 0.0, 0, n as u64);
    }
}

#[test]
fn a_packed_and_a_read_in_place() {
    // A is read in place when the columns one call computes are at most 512 and its leading
    // dimension is not a multiple of 1024; otherwise it is packed. Both ways, every layout:
    // 1100 columns (more than 512 a thread even on two), 300 (in place), and k = 1024 with no
    // padding (A not transposed: leading dimension 1024, packed).
    for (m, n, k) in [(37, 1100, 40), (37, 300, 40), (20, 40, 1024)] {
        for_all(m, n, k, 1.0, 0.0, 0, (m * n + k) as u64);
    }
}

#[test]
fn alpha_beta_and_padded_leading_dimensions() {
    for (alpha, beta) in [(1.0, 1.0), (-0.5, 0.0), (2.0, -1.5), (0.0, 2.0)] {
        for pad in [0, 1, 7] {
            for_all(29, 35, 21, alpha, beta, pad, 99);
        }
    }
}

#[test]
fn random_shapes() {
    let mut rng = TestRng::new(2024);
    for t in 0..24 {
        let (m, n, k) = (rng.range(1, 150), rng.range(1, 150), rng.range(1, 300));
        let pad = rng.range(0, 3);
        let beta = [0.0, 1.0, 0.5][t % 3];
        for_all(m, n, k, 1.25, beta, pad, t as u64);
    }
}

#[test]
fn large_product_on_defaults() {
    // The configuration users get (heuristics on, threads from the environment), on a size big
    // enough to cross KC and MC and to use every thread.
    let cfg = GemmConfig::from_env();
    for (ta, tb) in LAYOUTS {
        check(
            &cfg,
            &Case {
                ta,
                tb,
                m: 301,
                n: 517,
                k: 300,
                alpha: 1.0,
                beta: 0.0,
                pad: 3,
            },
            5,
        );
    }
}

#[test]
fn matrix_vector_products_split_over_threads() {
    // Big enough (m·n·k ≥ 8.4M) for the unpacked path to use threads: one row of C split by
    // columns, and one or two columns of C split by rows.
    for kernel in kernels() {
        let cfg = GemmConfig {
            threads: 2,
            kernel,
            size_heuristics: true,
        };
        for (m, n, k) in [
            (1, 9001, 1000),
            (3001, 1, 2900),
            (2999, 2, 1500),
            (2, 4001, 1100),
        ] {
            for (ta, tb) in LAYOUTS {
                check(
                    &cfg,
                    &Case {
                        ta,
                        tb,
                        m,
                        n,
                        k,
                        alpha: 0.5,
                        beta: 1.0,
                        pad: 1,
                    },
                    7,
                );
            }
        }
    }
}

#[test]
fn few_row_products_against_a_transposed_matrix() {
    // The decoding path (`gemv.rs`): m = 1..4 rows, odd n around its 4-row step and k around
    // the 8- and 16-lane vectors, padded leading dimensions, β = 0 over NaN and β = 1, each
    // kernel on 1 and 2 threads, called directly (every thread takes part even in small
    // products) and through `sgemm_with` with its heuristics (which routes these shapes there).
    let mut seed = 0;
    for kernel in kernels() {
        for threads in [1, 2] {
            for size_heuristics in [false, true] {
                let cfg = GemmConfig {
                    threads,
                    kernel,
                    size_heuristics,
                };
                for m in 1..=4 {
                    for (n, k) in [
                        (1, 1),
                        (3, 5),
                        (5, 15),
                        (7, 16),
                        (9, 17),
                        (13, 31),
                        (35, 33),
                        (66, 100),
                    ] {
                        for (beta, pad) in [(0.0, 0), (1.0, 3), (0.0, 1)] {
                            seed += 1;
                            let case = Case {
                                ta: Trans::N,
                                tb: Trans::T,
                                m,
                                n,
                                k,
                                alpha: if pad == 3 { -0.75 } else { 1.0 },
                                beta,
                                pad,
                            };
                            check_path(&cfg, &case, seed, !size_heuristics);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn few_row_products_on_decoding_sizes() {
    // Big enough for the heuristics to give both threads work (≥ 256 KiB of B each), with a k
    // that is not a multiple of 16 or 8 and an n that is not a multiple of 4 (GPT-2's widths).
    for kernel in kernels() {
        let cfg = GemmConfig {
            threads: 2,
            kernel,
            size_heuristics: true,
        };
        for m in 1..=4 {
            for (n, k) in [(771, 769), (2001, 768)] {
                check(
                    &cfg,
                    &Case {
                        ta: Trans::N,
                        tb: Trans::T,
                        m,
                        n,
                        k,
                        alpha: 1.0,
                        beta: 1.0,
                        pad: 2,
                    },
                    m as u64,
                );
            }
        }
    }
}

#[test]
#[should_panic(expected = "at most 4 are taken")]
fn few_row_path_refuses_more_rows() {
    let cfg = GemmConfig::from_env();
    let mut c = vec![0.0; 5];
    sgemm_nt_rows(
        &cfg,
        &Gemm {
            ta: Trans::N,
            tb: Trans::T,
            m: 5,
            n: 1,
            k: 1,
            alpha: 1.0,
            beta: 0.0,
        },
        MatRef::new(&[0.0; 5], 1),
        MatRef::new(&[0.0; 1], 1),
        MatMut::new(&mut c, 1),
    );
}

#[test]
fn sgemm_uses_the_environment_and_matches_the_reference() {
    let (m, n, k) = (37, 41, 43);
    let mut rng = TestRng::new(8);
    let a: Vec<f32> = (0..m * k).map(|_| rng.uniform()).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.uniform()).collect();
    let mut got = vec![f32::NAN; m * n];
    let mut want = vec![f32::NAN; m * n];
    tfs_kernels::sgemm(
        &Gemm {
            ta: Trans::N,
            tb: Trans::N,
            m,
            n,
            k,
            alpha: 1.0,
            beta: 0.0,
        },
        MatRef::new(&a, k),
        MatRef::new(&b, n),
        MatMut::new(&mut got, n),
    );
    sgemm_reference(
        &Gemm {
            ta: Trans::N,
            tb: Trans::N,
            m,
            n,
            k,
            alpha: 1.0,
            beta: 0.0,
        },
        MatRef::new(&a, k),
        MatRef::new(&b, n),
        MatMut::new(&mut want, n),
    );
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-5 * k as f32, "{g} vs {w}");
    }
}

#[test]
#[should_panic(expected = "needs ld >=")]
fn too_short_a_panics_with_the_shapes() {
    let mut c = vec![0.0; 4];
    sgemm_reference(
        &Gemm {
            ta: Trans::N,
            tb: Trans::N,
            m: 2,
            n: 2,
            k: 3,
            alpha: 1.0,
            beta: 0.0,
        },
        MatRef::new(&[0.0; 5], 3),
        MatRef::new(&[0.0; 6], 2),
        MatMut::new(&mut c, 2),
    );
}

#[test]
fn batched_products_match_the_reference_one_by_one() {
    // Awkward shapes and strides: a shared B (stride 0), C matrices with gaps between them (the
    // gaps must stay untouched), transposed operands, 1 and 2 threads, and an empty batch.
    let mut rng = TestRng::new(21);
    for &(ta, tb, m, n, k, count, shared_b, gap) in &[
        (Trans::N, Trans::T, 7, 5, 3, 4, false, 3),
        (Trans::N, Trans::N, 33, 17, 9, 3, true, 0),
        (Trans::T, Trans::N, 12, 40, 31, 5, false, 1),
        (Trans::N, Trans::N, 1, 1, 1, 2, false, 0),
        (Trans::T, Trans::T, 20, 9, 65, 3, true, 2),
        (Trans::N, Trans::T, 4, 4, 4, 0, false, 0),
    ] {
        let g = Gemm {
            ta,
            tb,
            m,
            n,
            k,
            alpha: 0.5,
            beta: 0.25,
        };
        let (ar, ac) = if ta == Trans::N { (m, k) } else { (k, m) };
        let (br, bc) = if tb == Trans::N { (k, n) } else { (n, k) };
        let strides = Batch {
            count,
            a: ar * ac,
            b: if shared_b { 0 } else { br * bc },
            c: m * n + gap,
        };
        let mut vec = |n: usize| {
            (0..n)
                .map(|_| rng.uniform() * 2.0 - 1.0)
                .collect::<Vec<f32>>()
        };
        let a = vec(ar * ac * count.max(1));
        let b = vec(br * bc * if shared_b { 1 } else { count.max(1) });
        let c0: Vec<f32> = (0..strides.c * count.max(1))
            .map(|i| i as f32 * 0.01)
            .collect();
        for threads in [1, 2] {
            let cfg = GemmConfig {
                threads,
                ..GemmConfig::from_env()
            };
            let mut got = c0.clone();
            sgemm_batched(
                &cfg,
                &g,
                strides,
                MatRef::new(&a, ac),
                MatRef::new(&b, bc),
                MatMut::new(&mut got, n),
            );
            let mut want = c0.clone();
            for i in 0..count {
                let span = m * n;
                sgemm_reference(
                    &g,
                    MatRef::new(&a[i * strides.a..], ac),
                    MatRef::new(&b[i * strides.b..], bc),
                    MatMut::new(&mut want[i * strides.c..i * strides.c + span], n),
                );
            }
            for (j, (x, y)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (x - y).abs() <= 1e-4 * y.abs().max(1.0),
                    "{ta:?}{tb:?} {m}×{n}×{k} ×{count}, {threads} threads: element {j}: {x} vs {y}"
                );
            }
        }
    }
}

#[test]
fn a_batch_of_one_takes_any_stride_and_k_zero_reads_nothing() {
    let cfg = GemmConfig::from_env();
    // One product with a C stride of 0 (no second product to overlap).
    let g = Gemm::new(false, false, 3, 4, 2);
    let (a, b) = ([1.0f32; 6], [2.0f32; 8]);
    let mut c = vec![0.0f32; 12];
    let one = Batch {
        count: 1,
        a: 0,
        b: 0,
        c: 0,
    };
    sgemm_batched(
        &cfg,
        &g,
        one,
        MatRef::new(&a, 2),
        MatRef::new(&b, 4),
        MatMut::new(&mut c, 4),
    );
    assert!(c.iter().all(|&x| x == 4.0), "{c:?}");
    // k = 0: A and B are empty, their strides point past them; C = β·C.
    let g = Gemm::new(false, false, 2, 3, 0).beta(0.5);
    let mut c = vec![2.0f32; 6 * 3];
    let three = Batch {
        count: 3,
        a: 5,
        b: 7,
        c: 6,
    };
    sgemm_batched(
        &cfg,
        &g,
        three,
        MatRef::new(&[], 0),
        MatRef::new(&[], 3),
        MatMut::new(&mut c, 3),
    );
    assert!(c.iter().all(|&x| x == 1.0), "{c:?}");
}
