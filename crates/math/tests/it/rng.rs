use tfs_math::Rng;

#[test]
fn same_seed_same_stream_different_seed_different_stream() {
    let a: Vec<u64> = (0..5)
        .map({
            let mut r = Rng::new(42);
            move |_| r.next_u64()
        })
        .collect();
    let b: Vec<u64> = (0..5)
        .map({
            let mut r = Rng::new(42);
            move |_| r.next_u64()
        })
        .collect();
    let c: Vec<u64> = (0..5)
        .map({
            let mut r = Rng::new(43);
            move |_| r.next_u64()
        })
        .collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn moments_are_right() {
    let mut r = Rng::new(9);
    let n = 200_000;
    let u: Vec<f64> = (0..n).map(|_| r.uniform()).collect();
    let mean = u.iter().sum::<f64>() / n as f64;
    assert!((mean - 0.5).abs() < 0.01);
    assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
    let z = r.normal_vec(n, 1.0);
    let m = z.iter().sum::<f64>() / n as f64;
    let var = z.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64;
    assert!(
        m.abs() < 0.01 && (var - 1.0).abs() < 0.02,
        "mean {m}, var {var}"
    );
    let mut counts = [0usize; 3];
    for _ in 0..30_000 {
        counts[r.below(3)] += 1;
    }
    assert!(
        counts.iter().all(|&c| (9_000..11_000).contains(&c)),
        "{counts:?}"
    );
}

#[test]
fn shuffle_is_a_permutation() {
    let mut r = Rng::new(1);
    let mut v: Vec<usize> = (0..100).collect();
    r.shuffle(&mut v);
    assert_ne!(v, (0..100).collect::<Vec<_>>());
    v.sort();
    assert_eq!(v, (0..100).collect::<Vec<_>>());
}
