//! Information theory of distributions: entropy, cross-entropy, KL divergence, perplexity.
//!
//! For discrete distributions P and Q over the same outcomes:
//!
//! ```text
//!     H(P)     = −Σ p_i log p_i                      entropy: the average surprise of P
//!     H(P, Q)  = −Σ p_i log q_i                      cross-entropy: surprise when coding P with Q
//!     KL(P‖Q)  = Σ p_i log(p_i / q_i) = H(P, Q) − H(P)   the extra cost of using Q instead of P
//!     PPL      = e^{H} (nats) = 2^{H} (bits)         the "effective number of choices"
//! ```
//!
//! With the natural log the unit is the nat, with log₂ the bit; 1 nat = 1/ln 2 ≈ 1.443 bits.
//! Terms with p_i = 0 contribute 0 (the limit of p log p). KL ≥ 0 with equality iff P = Q (Gibbs'
//! inequality), it is infinite when some q_i = 0 where p_i > 0, and it is not symmetric. Entropy is
//! maximal, ln n, for the uniform distribution over n outcomes.
//!
//! Training a language model minimises the cross-entropy between the data and the model; since
//! H(data) is fixed, that is minimising KL(data‖model). Perplexity e^{CE} is the number reported.
//!
//! Left out: continuous distributions (differential entropy), Jensen–Shannon.

fn check_same_len(p: &[f64], q: &[f64], op: &str) {
    assert_eq!(
        p.len(),
        q.len(),
        "{op}: P has {} outcomes, Q has {}; they must match",
        p.len(),
        q.len()
    );
}

/// `H(P)` in nats.
pub fn entropy(p: &[f64]) -> f64 {
    -p.iter()
        .filter(|&&pi| pi > 0.0)
        .map(|pi| pi * pi.ln())
        .sum::<f64>()
}

/// `H(P)` in bits.
pub fn entropy_bits(p: &[f64]) -> f64 {
    entropy(p) / std::f64::consts::LN_2
}

/// `H(P, Q)` in nats (infinite if Q gives 0 where P does not).
pub fn cross_entropy_dist(p: &[f64], q: &[f64]) -> f64 {
    check_same_len(p, q, "cross_entropy_dist");
    -p.iter()
        .zip(q)
        .filter(|(&pi, _)| pi > 0.0)
        .map(|(pi, qi)| pi * qi.ln())
        .sum::<f64>()
}

/// `KL(P‖Q)` in nats (infinite if Q gives 0 where P does not).
pub fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    check_same_len(p, q, "kl_divergence");
    p.iter()
        .zip(q)
        .filter(|(&pi, _)| pi > 0.0)
        .map(|(pi, qi)| pi * (pi / qi).ln())
        .sum()
}

/// Perplexity from a cross-entropy in nats: `e^{CE}`.
pub fn perplexity(ce_nats: f64) -> f64 {
    ce_nats.exp()
}

/// Perplexity from a cross-entropy in bits: `2^{CE}` (equal to `perplexity(ce_bits · ln 2)`).
pub fn perplexity_bits(ce_bits: f64) -> f64 {
    ce_bits.exp2()
}
