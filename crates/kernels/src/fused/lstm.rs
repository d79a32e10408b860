//! The element-wise part of one LSTM step over a batch, forward and backward: everything between
//! the step's `h_{t−1} W_h` product and the next one.
//!
//! Rows are batch entries; a row of the pre-activations z holds the four gates [i | f | g | o],
//! H each. With σ the logistic function:
//!
//! ```text
//!   forward:  i = σ(z_i)  f = σ(z_f)  g = tanh(z_g)  o = σ(z_o)       (written over z)
//!             c = f ⊙ c_prev + i ⊙ g      tc = tanh(c)      h = o ⊙ tc
//!   backward: dc  = dc_next + dh ⊙ o ⊙ (1 − tc²)
//!             dz_i = dc ⊙ g ⊙ i(1 − i)    dz_f = dc ⊙ c_prev ⊙ f(1 − f)
//!             dz_g = dc ⊙ i ⊙ (1 − g²)    dz_o = dh ⊙ tc ⊙ o(1 − o)
//!             dc_next ← dc ⊙ f                                      (for step t − 1)
//! ```
//!
//! The fast forward computes σ(x) = 1/(1 + e^(−x)) and tanh(x) = 1 − 2/(e^(2x) + 1) with
//! [`super::exp_approx_with`] and fused multiply-adds, so the loops vectorise; the reference
//! calls libm's `tanhf` and `expf` once per element, which is what the profile of `tfs bench
//! lstm` showed (13% of the step in `expm1f`, `tanhf`, `expf`).

use super::{exp_approx_with, simd_fn, use_reference, MulAdd};

fn check_fwd(z: &[f32], c_prev: &[f32], c: &[f32], tc: &[f32], h: &[f32], hidden: usize) {
    let rows = c_prev.len() / hidden.max(1);
    assert!(
        hidden > 0
            && c_prev.len() == rows * hidden
            && z.len() == 4 * c_prev.len()
            && c.len() == c_prev.len()
            && tc.len() == c_prev.len()
            && h.len() == c_prev.len(),
        "lstm_cell_forward: z {} must be rows × 4·{hidden}, c_prev {}, c {}, tc {}, h {} rows × {hidden}",
        z.len(),
        c_prev.len(),
        c.len(),
        tc.len(),
        h.len()
    );
}

fn check_bwd(
    gates: &[f32],
    tc: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc: &[f32],
    dz: &[f32],
    hidden: usize,
) {
    let n = c_prev.len();
    assert!(
        hidden > 0
            && n.is_multiple_of(hidden)
            && gates.len() == 4 * n
            && dz.len() == 4 * n
            && tc.len() == n
            && dh.len() == n
            && dc.len() == n,
        "lstm_cell_backward: gates {} and dz {} must be rows × 4·{hidden}, tc {}, c_prev {n}, dh {}, dc {} rows × {hidden}",
        gates.len(),
        dz.len(),
        tc.len(),
        dh.len(),
        dc.len()
    );
}

/// Reference of [`lstm_cell_forward`].
pub fn lstm_cell_forward_reference(
    z: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    tc: &mut [f32],
    h: &mut [f32],
    hidden: usize,
) {
    check_fwd(z, c_prev, c, tc, h, hidden);
    let sig = |x: f32| 1.0 / (1.0 + (-x).exp());
    for (r, zr) in z.chunks_exact_mut(4 * hidden).enumerate() {
        for j in 0..hidden {
            let (i, f) = (sig(zr[j]), sig(zr[hidden + j]));
            let (g, o) = (zr[2 * hidden + j].tanh(), sig(zr[3 * hidden + j]));
            (
                zr[j],
                zr[hidden + j],
                zr[2 * hidden + j],
                zr[3 * hidden + j],
            ) = (i, f, g, o);
            let k = r * hidden + j;
            c[k] = f * c_prev[k] + i * g;
            tc[k] = c[k].tanh();
            h[k] = o * tc[k];
        }
    }
}

/// One LSTM step's gates and state (see the module notes): `z: (rows, 4H)` pre-activations in,
/// activations out; `c_prev, c, tc, h: (rows, H)`. Fast path unless `TFS_KERNELS=reference`.
pub fn lstm_cell_forward(
    z: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    tc: &mut [f32],
    h: &mut [f32],
    hidden: usize,
) {
    check_fwd(z, c_prev, c, tc, h, hidden);
    if use_reference() {
        return lstm_cell_forward_reference(z, c_prev, c, tc, h, hidden);
    }
    for (r, zr) in z.chunks_exact_mut(4 * hidden).enumerate() {
        let span = r * hidden..(r + 1) * hidden;
        forward_row(
            zr,
            &c_prev[span.clone()],
            &mut c[span.clone()],
            &mut tc[span.clone()],
            &mut h[span],
        );
    }
}

/// Reference of [`lstm_cell_backward`].
pub fn lstm_cell_backward_reference(
    gates: &[f32],
    tc: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    dz: &mut [f32],
    hidden: usize,
) {
    check_bwd(gates, tc, c_prev, dh, dc, dz, hidden);
    for (r, (gr, dzr)) in gates
        .chunks_exact(4 * hidden)
        .zip(dz.chunks_exact_mut(4 * hidden))
        .enumerate()
    {
        for j in 0..hidden {
            let k = r * hidden + j;
            let (i, f, g, o) = (
                gr[j],
                gr[hidden + j],
                gr[2 * hidden + j],
                gr[3 * hidden + j],
            );
            let d = dc[k] + dh[k] * o * (1.0 - tc[k] * tc[k]);
            dzr[j] = d * g * i * (1.0 - i);
            dzr[hidden + j] = d * c_prev[k] * f * (1.0 - f);
            dzr[2 * hidden + j] = d * i * (1.0 - g * g);
            dzr[3 * hidden + j] = dh[k] * tc[k] * o * (1.0 - o);
            dc[k] = d * f;
        }
    }
}

/// Backward of one step (see the module notes): `gates: (rows, 4H)` the forward's activations,
/// `tc, c_prev, dh: (rows, H)`; `dc` holds dc_next on entry and dc ⊙ f on return; writes
/// `dz: (rows, 4H)`. Fast path unless `TFS_KERNELS=reference`.
pub fn lstm_cell_backward(
    gates: &[f32],
    tc: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    dz: &mut [f32],
    hidden: usize,
) {
    check_bwd(gates, tc, c_prev, dh, dc, dz, hidden);
    if use_reference() {
        return lstm_cell_backward_reference(gates, tc, c_prev, dh, dc, dz, hidden);
    }
    for (r, (gr, dzr)) in gates
        .chunks_exact(4 * hidden)
        .zip(dz.chunks_exact_mut(4 * hidden))
        .enumerate()
    {
        let span = r * hidden..(r + 1) * hidden;
        backward_row(
            gr,
            &tc[span.clone()],
            &c_prev[span.clone()],
            &dh[span.clone()],
            &mut dc[span],
            dzr,
        );
    }
}

simd_fn!(fma fn forward_row(z: &mut [f32], c_prev: &[f32], c: &mut [f32], tc: &mut [f32], h: &mut [f32]) = forward_row_body);
simd_fn!(fn backward_row(g: &[f32], tc: &[f32], c_prev: &[f32], dh: &[f32], dc: &mut [f32], dz: &mut [f32]) = backward_row_body);

/// σ(x) = 1/(1 + e^(−x)).
#[inline(always)]
fn sigmoid<M: MulAdd>(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx_with::<M>(-x))
}

/// tanh(x) = 1 − 2/(e^(2x) + 1).
#[inline(always)]
fn tanh<M: MulAdd>(x: f32) -> f32 {
    1.0 - 2.0 / (exp_approx_with::<M>(2.0 * x) + 1.0)
}

#[inline(always)]
fn forward_row_body<M: MulAdd>(
    z: &mut [f32],
    c_prev: &[f32],
    c: &mut [f32],
    tc: &mut [f32],
    h: &mut [f32],
) {
    let n = c.len();
    let (zi, rest) = z.split_at_mut(n);
    let (zf, rest) = rest.split_at_mut(n);
    let (zg, zo) = rest.split_at_mut(n);
    for j in 0..n {
        let (i, f) = (sigmoid::<M>(zi[j]), sigmoid::<M>(zf[j]));
        let (g, o) = (tanh::<M>(zg[j]), sigmoid::<M>(zo[j]));
        (zi[j], zf[j], zg[j], zo[j]) = (i, f, g, o);
        let cj = M::mul_add(f, c_prev[j], i * g);
        let t = tanh::<M>(cj);
        (c[j], tc[j], h[j]) = (cj, t, o * t);
    }
}

#[inline(always)]
fn backward_row_body(
    g: &[f32],
    tc: &[f32],
    c_prev: &[f32],
    dh: &[f32],
    dc: &mut [f32],
    dz: &mut [f32],
) {
    let n = dc.len();
    let (gi, rest) = g.split_at(n);
    let (gf, rest) = rest.split_at(n);
    let (gg, go) = rest.split_at(n);
    let (di, rest) = dz.split_at_mut(n);
    let (df, rest) = rest.split_at_mut(n);
    let (dg, d_o) = rest.split_at_mut(n);
    for j in 0..n {
        let (i, f, gv, o, t) = (gi[j], gf[j], gg[j], go[j], tc[j]);
        let d = dc[j] + dh[j] * o * (1.0 - t * t);
        di[j] = d * gv * i * (1.0 - i);
        df[j] = d * c_prev[j] * f * (1.0 - f);
        dg[j] = d * i * (1.0 - gv * gv);
        d_o[j] = dh[j] * t * o * (1.0 - o);
        dc[j] = d * f;
    }
}
