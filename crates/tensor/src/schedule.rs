//! Learning-rate schedules: constant, and linear warmup followed by cosine decay.
//!
//! ```text
//!   warmup + cosine:  η(t) = η₀ (t + 1)/W                                  t < W
//!                     η(t) = η_min + ½(η₀ − η_min)(1 + cos(π (t − W)/(T − W)))   W ≤ t < T
//!                     η(t) = η_min                                          t ≥ T
//! ```
//!
//! Warmup lets Adam's second-moment estimates settle before full-size steps; cosine decay ends
//! training with small steps that settle into a minimum (Loshchilov & Hutter, 2017).

/// The learning rate as a function of the step (0-based).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    Constant(f32),
    WarmupCosine {
        lr: f32,
        min_lr: f32,
        warmup: usize,
        total: usize,
    },
}

impl Schedule {
    pub fn at(&self, step: usize) -> f32 {
        match *self {
            Schedule::Constant(lr) => lr,
            Schedule::WarmupCosine {
                lr,
                min_lr,
                warmup,
                total,
            } => {
                if step < warmup {
                    return lr * (step + 1) as f32 / warmup as f32;
                }
                if step >= total || total <= warmup {
                    return min_lr;
                }
                let progress = (step - warmup) as f64 / (total - warmup) as f64;
                let c = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                min_lr + (lr - min_lr) * c as f32
            }
        }
    }
}
