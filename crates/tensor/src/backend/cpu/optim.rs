//! Optimizer bodies: AdamW (tfs-kernels' fused update) over every parameter in one fork-join,
//! and SGD with momentum.

use crate::backend::AdamWHyper;
use std::sync::Mutex;
use tfs_kernels::fused::adamw::{adamw_step, AdamW as Hyper};

/// One parameter's slices for an AdamW update: (θ, g, m, v, hyper-parameters).
pub type AdamWPiece<'a> = (
    &'a mut [f32],
    &'a [f32],
    &'a mut [f32],
    &'a mut [f32],
    AdamWHyper,
);

/// One AdamW update (step `t`, 1-based) of every piece. The update is element-wise, so all the
/// parameters' elements, taken in order as one long vector, are cut into one contiguous range
/// per kernel thread (when there are enough of them) and updated in one fork-join: a GPT has
/// dozens of small tensors (biases, norms), and a split per tensor left them all on one thread,
/// with a fork-join for each large one.
pub fn adamw(pieces: Vec<AdamWPiece>, t: u32) {
    let total: usize = pieces.iter().map(|p| p.1.len()).sum();
    let (threads, per) = super::runs(total, 1, 16);
    let mut shares: Vec<Vec<AdamWPiece>> = (0..threads).map(|_| Vec::new()).collect();
    let mut at = 0; // elements handed out so far
    for (mut p, mut g, mut m, mut v, h) in pieces {
        while !p.is_empty() {
            let i = (at / per).min(threads - 1);
            let take = if i + 1 == threads {
                p.len()
            } else {
                ((i + 1) * per - at).min(p.len())
            };
            let (p0, p1) = p.split_at_mut(take);
            let (m0, m1) = m.split_at_mut(take);
            let (v0, v1) = v.split_at_mut(take);
            shares[i].push((p0, &g[..take], m0, v0, h));
            (p, g, m, v) = (p1, &g[take..], m1, v1);
            at += take;
        }
    }
    let shares: Vec<Mutex<Vec<AdamWPiece>>> = shares.into_iter().map(Mutex::new).collect();
    tfs_kernels::pool::run(threads, &|i| {
        let mut mine = shares[i].lock().unwrap_or_else(|e| e.into_inner());
        for (p, g, m, v, h) in mine.iter_mut() {
            let h = Hyper {
                lr: h.lr,
                beta1: h.beta1,
                beta2: h.beta2,
                eps: h.eps,
                weight_decay: h.weight_decay,
            };
            adamw_step(p, g, m, v, &h, t);
        }
    });
}

/// SGD: `θ −= η g`, or with momentum μ `v ← μ v + g; θ −= η (nesterov ? g + μ v : v)`.
pub fn sgd(
    w: &mut [f32],
    g: &[f32],
    v: Option<&mut [f32]>,
    lr: f32,
    momentum: f32,
    nesterov: bool,
) {
    let Some(v) = v else {
        w.iter_mut().zip(g).for_each(|(w, g)| *w -= lr * g);
        return;
    };
    for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(g) {
        *v = momentum * *v + g;
        *w -= lr * if nesterov { g + momentum * *v } else { *v };
    }
}
