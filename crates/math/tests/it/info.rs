use tfs_math::info::*;
use tfs_math::softmax::softmax;
use tfs_math::Rng;

fn random_dist(rng: &mut Rng, n: usize) -> Vec<f64> {
    softmax(&rng.normal_vec(n, 2.0))
}

#[test]
fn kl_of_a_distribution_with_itself_is_zero() {
    let mut rng = Rng::new(1);
    for n in [1, 2, 10] {
        let p = random_dist(&mut rng, n);
        assert!(kl_divergence(&p, &p).abs() < 1e-15);
    }
}

#[test]
fn kl_is_non_negative_on_random_distributions() {
    let mut rng = Rng::new(2);
    for _ in 0..1000 {
        let n = 1 + rng.below(8);
        let p = random_dist(&mut rng, n);
        let q = random_dist(&mut rng, n);
        assert!(kl_divergence(&p, &q) >= -1e-15);
        // KL = H(P, Q) − H(P)
        let d = kl_divergence(&p, &q) - (cross_entropy_dist(&p, &q) - entropy(&p));
        assert!(d.abs() < 1e-12);
    }
}

#[test]
fn kl_is_asymmetric_on_a_stated_example() {
    let p = [0.9, 0.1];
    let q = [0.5, 0.5];
    // KL(P‖Q) = 0.9 ln 1.8 + 0.1 ln 0.2 = 0.36806; KL(Q‖P) = 0.5 ln(5/9) + 0.5 ln 5 = 0.51083.
    assert!((kl_divergence(&p, &q) - 0.368_064).abs() < 1e-6);
    assert!((kl_divergence(&q, &p) - 0.510_826).abs() < 1e-6);
}

#[test]
fn kl_is_infinite_when_q_misses_support() {
    assert!(kl_divergence(&[0.5, 0.5], &[1.0, 0.0]).is_infinite());
    assert_eq!(kl_divergence(&[1.0, 0.0], &[0.5, 0.5]), 2f64.ln());
}

#[test]
fn entropy_is_maximal_for_uniform() {
    let mut rng = Rng::new(3);
    for n in [2, 4, 10] {
        let uniform = vec![1.0 / n as f64; n];
        let h_max = entropy(&uniform);
        assert!((h_max - (n as f64).ln()).abs() < 1e-14);
        for _ in 0..200 {
            assert!(entropy(&random_dist(&mut rng, n)) <= h_max + 1e-12);
        }
    }
    assert_eq!(entropy(&[1.0, 0.0]), 0.0);
    assert!((entropy_bits(&[0.5, 0.5]) - 1.0).abs() < 1e-15);
}

#[test]
fn perplexity_is_the_same_in_nats_and_bits() {
    let ce = 1.7;
    assert!((perplexity(ce) - perplexity_bits(ce / std::f64::consts::LN_2)).abs() < 1e-12);
    // Uniform over 8: entropy 3 bits, perplexity 8.
    assert!((perplexity_bits(entropy_bits(&[0.125; 8])) - 8.0).abs() < 1e-12);
}
