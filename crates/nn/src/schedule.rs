//! Learning-rate schedules as plain functions of the step.
//!
//! ```text
//!   constant            η(t) = η₀
//!   step decay          η(t) = η₀ · γ^⌊t / every⌋
//!   cosine with warmup  η(t) = η₀ · (t + 1) / W                          for t < W
//!                       η(t) = η_min + ½(η₀ − η_min)(1 + cos(π (t − W) / (T − W)))   for W ≤ t < T
//!                       η(t) = η_min                                      for t ≥ T
//! ```
//!
//! Warmup keeps the first steps small while Adam's running averages are still noisy; the cosine
//! then decays smoothly to η_min over the run (the schedule of GPT-2-style training in Phase 8).

/// η(t) = η₀.
pub fn constant(lr: f64, _step: usize) -> f64 {
    lr
}

/// η(t) = η₀ · γ^⌊t / every⌋.
pub fn step_decay(lr: f64, gamma: f64, every: usize, step: usize) -> f64 {
    assert!(every > 0, "step_decay: `every` must be positive");
    lr * gamma.powi((step / every) as i32)
}

/// Linear warmup over `warmup` steps to `lr`, then cosine decay to `min_lr` at `total` steps.
pub fn cosine_with_warmup(lr: f64, min_lr: f64, warmup: usize, total: usize, step: usize) -> f64 {
    if step < warmup {
        return lr * (step + 1) as f64 / warmup as f64;
    }
    if step >= total || total <= warmup {
        return min_lr;
    }
    let progress = (step - warmup) as f64 / (total - warmup) as f64;
    min_lr + 0.5 * (lr - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
}
