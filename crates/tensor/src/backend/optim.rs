//! The optimizer primitives of the seam: AdamW over a list of tensors or over the windows of a
//! flat store, SGD, and the per-window sums of squares and scaling of clipping.

use super::{cpu, AdamWHyper};
use crate::storage::{Device, Dst, Src};

/// One parameter's windows for an AdamW update: (θ, g, m, v, hyper-parameters).
pub type AdamWItem<'a> = (Dst<'a>, Src<'a>, Dst<'a>, Dst<'a>, AdamWHyper);

/// One AdamW update (step `t`, 1-based) of every item, in one call.
pub fn adamw(items: Vec<AdamWItem>, t: u32) {
    let Some(first) = items.first() else { return };
    match first.0.device() {
        Device::Cpu => cpu::optim::adamw(
            items
                .into_iter()
                .map(|(p, g, m, v, h)| {
                    (p.into_slice(), g.slice(), m.into_slice(), v.into_slice(), h)
                })
                .collect(),
            t,
        ),
    }
}

/// One AdamW update of the windows `(offset, length, hyper-parameters)` of a flat store: the
/// parameters `p`, gradients `g` and moments `(m, v)` share one layout. One call for the whole
/// model.
pub fn adamw_windows(
    p: Dst<'_>,
    g: Src<'_>,
    (m, v): (Dst<'_>, Dst<'_>),
    windows: &[(usize, usize, AdamWHyper)],
    t: u32,
) {
    match p.device() {
        Device::Cpu => {
            let mut order: Vec<usize> = (0..windows.len()).collect();
            order.sort_by_key(|&i| windows[i].0);
            let (mut p, g, mut m, mut v) =
                (p.into_slice(), g.slice(), m.into_slice(), v.into_slice());
            let (mut at, mut pieces) = (0, Vec::with_capacity(windows.len()));
            for i in order {
                let (off, len, h) = windows[i];
                assert!(off >= at, "adamw_windows: windows overlap at {off}");
                let skip = off - at;
                let (p0, p1) = std::mem::take(&mut p)[skip..].split_at_mut(len);
                let (m0, m1) = std::mem::take(&mut m)[skip..].split_at_mut(len);
                let (v0, v1) = std::mem::take(&mut v)[skip..].split_at_mut(len);
                pieces.push((p0, &g[off..off + len], m0, v0, h));
                (p, m, v, at) = (p1, m1, v1, off + len);
            }
            cpu::optim::adamw(pieces, t)
        }
    }
}

/// One SGD update of `w` (with momentum when `v` is given).
pub fn sgd(w: Dst<'_>, g: Src<'_>, v: Option<Dst<'_>>, lr: f32, momentum: f32, nesterov: bool) {
    match w.device() {
        Device::Cpu => cpu::optim::sgd(
            w.into_slice(),
            g.slice(),
            v.map(Dst::into_slice),
            lr,
            momentum,
            nesterov,
        ),
    }
}

/// Σ x² of each window of `x` (one call over a flat store's gradient).
pub fn sum_squares_windows(x: Src<'_>, windows: &[(usize, usize)]) -> Vec<f64> {
    match x.device() {
        Device::Cpu => {
            let s = x.slice();
            windows
                .iter()
                .map(|&(off, len)| cpu::elementwise::sum_squares(&s[off..off + len]))
                .collect()
        }
    }
}

/// `x *= s` on each window of `x`.
pub fn scale_windows(mut x: Dst<'_>, windows: &[(usize, usize)], s: f32) {
    match x.device() {
        Device::Cpu => {
            let d = x.slice_mut();
            for &(off, len) in windows {
                cpu::elementwise::scale(&mut d[off..off + len], s);
            }
        }
    }
}
