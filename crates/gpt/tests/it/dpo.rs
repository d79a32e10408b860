//! DPO: the loss's gradient through a tiny GPT by central differences, the loss at π = π_ref
//! (log 2), a hand-computed example, the sequence log-probabilities and the KL against
//! one-sequence-at-a-time f64 computations, batched sampling against `generate`, the pairs, and a
//! short training run that must raise the held-out margin.

use super::tiny;
use tfs_gpt::dpo::{
    build_pairs, dpo_loss, e_score, evaluate, frozen_copy, pair_logprobs, sample_completions,
    sequence_logprobs, train, DpoConfig, DpoData, KlProbe, Pair,
};
use tfs_gpt::sample::{generate, Sampling};
use tfs_gpt::Gpt;
use tfs_math::Rng;
use tfs_tensor::nn::Module;
use tfs_tensor::{no_grad, Tensor};

/// A tiny GPT with weights larger than GPT-2's init (visible gradients, peaked distributions).
fn tiny_model(seed: u64) -> Gpt {
    let mut m = Gpt::new(tiny(), &mut Rng::new(seed));
    for (_, p) in m.parameters() {
        if p.dims() >= 2 {
            p.assign(&Rng::new(seed * 1000 + p.numel() as u64).uniform_vec_f32(
                p.numel(),
                -0.5,
                0.5,
            ));
        }
    }
    m.set_training(false);
    m
}

fn pairs() -> Vec<Pair> {
    let p = |prompt: &[usize], w: &[usize], l: &[usize]| Pair {
        prompt: prompt.to_vec(),
        chosen: w.to_vec(),
        rejected: l.to_vec(),
        chosen_score: 1.0,
        rejected_score: 0.0,
    };
    // Unequal prompt and completion lengths, so padding and the position bookkeeping are tested.
    vec![
        p(&[1, 2], &[3, 4, 5], &[6, 0, 2]),
        p(&[4], &[2, 2, 1, 0], &[5, 3]),
        p(&[0, 6, 3], &[1, 1], &[2, 4, 6]),
    ]
}

#[test]
fn dpo_loss_gradient_matches_central_differences() {
    let m = tiny_model(1);
    let reference = frozen_copy(&tiny_model(2));
    let ps = pairs();
    let r = pair_logprobs(&reference, &ps, 2);
    let n = ps.len();
    crate::check_gradient(
        &m,
        |m| {
            let seqs: Vec<(&[usize], &[usize])> = ps
                .iter()
                .map(|p| (&p.prompt[..], &p.chosen[..]))
                .chain(ps.iter().map(|p| (&p.prompt[..], &p.rejected[..])))
                .collect();
            let lp = sequence_logprobs(m, &seqs);
            // β = 1 so that the gradient is well above the f32 noise of the differences.
            dpo_loss(&lp.narrow(0, 0, n), &lp.narrow(0, n, n), &r.0, &r.1, 1.0).0
        },
        5,
        2e-2,
    );
}

#[test]
fn dpo_loss_is_log_2_when_the_policy_is_the_reference() {
    let m = tiny_model(3);
    let reference = frozen_copy(&m);
    let ps = pairs();
    let r = pair_logprobs(&reference, &ps, 3);
    let metrics = evaluate(&m, &ps, &r, 0.1);
    assert!(
        (metrics.loss - std::f64::consts::LN_2).abs() < 1e-6,
        "{metrics:?}"
    );
    assert_eq!(
        (metrics.accuracy, metrics.margin),
        (0.0, 0.0),
        "ties are not wins"
    );
    // The copy is independent: changing the policy leaves the reference where it was.
    m.wte.assign(&vec![0.0; m.wte.numel()]);
    assert_eq!(pair_logprobs(&reference, &ps, 3), r);
    assert_ne!(pair_logprobs(&m, &ps, 3), r);
}

#[test]
fn dpo_loss_matches_a_hand_computed_example() {
    // β = 0.5; pair 1: h = 0.5·((−3 + 3.5) − (−4 + 3.5)) = 0.5; pair 2: h = 0.5·((−5 + 4) − (−2 + 3)) = −1.
    // L = (ln(1 + e^−0.5) + ln(1 + e^1)) / 2 = (0.474077 + 1.313262) / 2.
    let pw = Tensor::var(vec![-3.0, -5.0], &[2]);
    let pl = Tensor::var(vec![-4.0, -2.0], &[2]);
    let (loss, m) = dpo_loss(&pw, &pl, &[-3.5, -4.0], &[-3.5, -3.0], 0.5);
    assert!((m.loss - 0.893_669).abs() < 1e-5, "{m:?}");
    assert!((loss.item() as f64 - m.loss).abs() < 1e-7);
    assert_eq!(m.accuracy, 0.5);
    // Rewards β(log π − log π_ref): chosen 0.25 and −0.5, rejected −0.25 and 0.5.
    assert!((m.reward_chosen + 0.125).abs() < 1e-6 && (m.reward_rejected - 0.125).abs() < 1e-6);
    assert!((m.margin + 0.25).abs() < 1e-6, "{m:?}");
    // ∂L/∂log π(y_w) = −(β/N) σ(−h): −0.25·σ(−0.5) = −0.094385, −0.25·σ(1) = −0.182765.
    let g = loss.backward();
    let (gw, gl) = (g.get_or_zeros(&pw).to_vec(), g.get_or_zeros(&pl).to_vec());
    for (got, want) in gw.iter().zip([-0.094_385, -0.182_765]) {
        assert!((*got as f64 - want).abs() < 1e-5, "{gw:?}");
    }
    for (w, l) in gw.iter().zip(&gl) {
        assert!((w + l).abs() < 1e-7, "{gw:?} {gl:?}");
    }
}

/// `log p(c | p)` by running the model on each sequence alone, in f64.
fn logprob_alone(m: &Gpt, prompt: &[usize], c: &[usize]) -> f64 {
    let ids: Vec<usize> = prompt.iter().chain(c).copied().collect();
    let t = ids.len() - 1;
    let z = no_grad(|| m.forward(&ids[..t], 1, t)).to_vec();
    let v = m.cfg.vocab_size;
    (0..c.len())
        .map(|k| {
            let pos = prompt.len() + k - 1;
            let row: Vec<f64> = z[pos * v..(pos + 1) * v]
                .iter()
                .map(|&x| x as f64)
                .collect();
            tfs_math::softmax::log_softmax(&row)[c[k]]
        })
        .sum()
}

#[test]
fn dpo_sequence_logprobs_sum_only_the_completion_ids() {
    let m = tiny_model(4);
    let ps = pairs();
    let (w, l) = pair_logprobs(&m, &ps, 2);
    for (i, p) in ps.iter().enumerate() {
        let (ew, el) = (
            logprob_alone(&m, &p.prompt, &p.chosen),
            logprob_alone(&m, &p.prompt, &p.rejected),
        );
        assert!(
            (w[i] as f64 - ew).abs() < 1e-4 && (l[i] as f64 - el).abs() < 1e-4,
            "pair {i}: {} {ew} {} {el}",
            w[i],
            l[i]
        );
    }
    // The prompt's own ids are not counted: a different first prompt id changes the sum only
    // through the context, and a completion of one id after a one-id prompt is one log-softmax.
    let one = sequence_logprobs(&m, &[(&[3], &[5])]).item() as f64;
    assert!((one - logprob_alone(&m, &[3], &[5])).abs() < 1e-5);
}

#[test]
fn dpo_kl_probe_is_exact_and_zero_at_the_reference() {
    let (m, reference) = (tiny_model(5), frozen_copy(&tiny_model(6)));
    let seqs: Vec<(Vec<usize>, Vec<usize>)> =
        pairs().into_iter().map(|p| (p.prompt, p.chosen)).collect();
    let probe = KlProbe::new(&reference, seqs.clone());
    assert_eq!(probe.positions(), 3 + 4 + 2);
    assert!(probe.kl(&frozen_copy(&tiny_model(6))).abs() < 1e-9);
    // Against tfs_math's KL, one position at a time.
    let v = m.cfg.vocab_size;
    let (mut total, mut count) = (0.0, 0);
    for (p, c) in &seqs {
        let ids: Vec<usize> = p.iter().chain(c).copied().collect();
        let t = ids.len() - 1;
        let (zp, zq) = no_grad(|| {
            (
                m.forward(&ids[..t], 1, t).to_vec(),
                reference.forward(&ids[..t], 1, t).to_vec(),
            )
        });
        for pos in p.len() - 1..t {
            let dist = |z: &[f32]| {
                tfs_math::softmax::softmax(
                    &z[pos * v..(pos + 1) * v]
                        .iter()
                        .map(|&x| x as f64)
                        .collect::<Vec<_>>(),
                )
            };
            total += tfs_math::info::kl_divergence(&dist(&zp), &dist(&zq));
            count += 1;
        }
    }
    let (got, want) = (probe.kl(&m), total / count as f64);
    assert!(
        want > 1e-3 && (got - want).abs() < 1e-5 * want.max(1.0),
        "{got} vs {want}"
    );
}

#[test]
fn dpo_batched_sampling_equals_generate_when_greedy() {
    let m = tiny_model(7);
    let prompts = vec![vec![1], vec![2, 3, 4], vec![6, 6]];
    let greedy = Sampling {
        greedy: true,
        ..Sampling::default()
    };
    let got = sample_completions(&m, &prompts, 3, &greedy, &mut Rng::new(0));
    for (p, c) in prompts.iter().zip(&got) {
        assert_eq!(
            generate(&m, p, 3, &greedy, &mut Rng::new(0))[p.len()..],
            c[..]
        );
    }
}

#[test]
fn dpo_pairs_put_the_better_score_first() {
    let m = tiny_model(8);
    let prompts: Vec<Vec<usize>> = (0..20).map(|i| vec![i % 7, (i * 3) % 7]).collect();
    let score = |c: &[usize]| -(c.iter().filter(|&&x| x == 3).count() as f64);
    let ps = build_pairs(
        &m,
        &prompts,
        4,
        3,
        &Sampling::default(),
        &score,
        &mut Rng::new(1),
    );
    assert!(!ps.is_empty() && ps.len() <= prompts.len());
    for p in &ps {
        assert!(p.chosen_score > p.rejected_score);
        assert_eq!(
            (score(&p.chosen), score(&p.rejected)),
            (p.chosen_score, p.rejected_score)
        );
        assert_eq!((p.chosen.len(), p.rejected.len()), (4, 4));
    }
    assert_eq!(e_score("Even eels"), -4.0);
}

#[test]
fn dpo_training_raises_the_held_out_margin() {
    // Prefer fewer id 3 in a tiny GPT's own samples; held-out prompts are never trained on.
    let mut policy = tiny_model(9);
    let reference = frozen_copy(&policy);
    let score = |c: &[usize]| -(c.iter().filter(|&&x| x == 3).count() as f64);
    let mut rng = Rng::new(2);
    let prompts: Vec<Vec<usize>> = (0..96).map(|_| vec![rng.below(7), rng.below(7)]).collect();
    let all = build_pairs(
        &policy,
        &prompts,
        4,
        4,
        &Sampling::default(),
        &score,
        &mut rng,
    );
    let (train_pairs, held_out) = all.split_at(all.len() * 3 / 4);
    let probe = KlProbe::new(
        &reference,
        held_out
            .iter()
            .map(|p| (p.prompt.clone(), p.chosen.clone()))
            .collect(),
    );
    let data = DpoData {
        pairs: train_pairs,
        held_out,
        probe: &probe,
    };
    let cfg = DpoConfig {
        lr: 3e-3,
        steps: 60,
        batch_pairs: 8,
        eval_every: 20,
        ..DpoConfig::default()
    };
    let rep = train(&mut policy, &reference, &data, &cfg, None, false).expect("train");
    let (first, last) = (rep.evals[0], *rep.evals.last().expect("evals"));
    assert_eq!((first.step, last.step, rep.steps.len()), (0, 60, 60));
    assert!(first.kl.abs() < 1e-9 && first.metrics.margin == 0.0);
    assert!(
        last.metrics.margin > 0.05 && last.metrics.accuracy > 0.7,
        "{last:?}"
    );
    assert!(
        last.metrics.loss < std::f64::consts::LN_2 && last.kl > 0.0,
        "{last:?}"
    );
}
