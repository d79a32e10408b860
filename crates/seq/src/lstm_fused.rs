//! The LSTM over a whole sequence in one fused pass: the fast path beside the step-by-step
//! reference (`Lstm::forward`/`backward` driven by `bptt::unroll`/`backprop`), tested equal to it.
//!
//! Same math as `lstm.rs`; what changes is where the work goes:
//! * the input projection of every step is done at once: one `(T·B, I)·(I, 4H)` GEMM, or, for
//!   token ids, a row lookup `W_x[id]` (a one-hot row times W_x *is* that row), which removes the
//!   input GEMM entirely;
//! * only `h_{t−1} W_h` (forward) and `δz_t W_hᵀ` (backward) stay inside the time loop;
//! * the weight gradients are accumulated *after* the loop, as one GEMM over all steps:
//!   `∂W_h = [h_0; …; h_{T−1}]ᵀ [δz_1; …; δz_T]`, `∂W_x = Xᵀ δZ` (a scatter-add of rows for ids);
//! * every buffer is one stacked `(T·B, ·)` array; the elementwise gate math runs over contiguous
//!   row blocks (the only allocation per step is a copy of c_{t−1}, B·H floats).
//!
//! ## Performance notes
//! `tfs bench lstm` (H = 256, T = 64, B = 32, one-hot input over 65 characters) against
//! `bench/peers/torch_lstm.py` (PyTorch 2.15, oneDNN's fused LSTM), same 2-core machine and session:
//! - step-wise reference (a GEMM for the one-hot input, weight gradients per step, allocation per
//!   step): 27k tokens/s; PyTorch 131k-144k.
//! - this fused path (row lookup instead of the input GEMM, weight gradients batched over all
//!   steps, stacked buffers): 30k-34k tokens/s, about 0.23× PyTorch.
//! - `perf record`: 36% in matrixmultiply's sgemm kernel, which is its AVX2/FMA kernel, 11% in its
//!   packing, ~13% in thread scheduling; `MATMUL_NUM_THREADS=1` changes little (32k).
//! - PyTorch sustains ~250 GFLOP/s on this model (it scales ~4× from H=256 to H=512), i.e. the
//!   machine's AVX-512 peak; matrixmultiply's AVX2 kernel cannot get there. Closing the gap needs
//!   our own AVX-512 GEMM for the small `(B, H)·(H, 4H)` products.
//! - with our own GEMM (`tfs_kernels::nd::gemm`, AVX-512, 2.1-2.5× PyTorch's matmul on every
//!   shape measured): 38-40k tokens/s vs PyTorch 123-127k in the same session, 0.32×. Still far
//!   off. `perf record` (40 steps) now: 23% in our GEMM micro-kernel, 8% in its packing and
//!   transposes, 17% in libm's `expf`/`expm1f`/`tanhf` (the gate nonlinearities, one scalar call
//!   per element), 6% in this backward's scalar gate loop (2-D indexing with bounds checks), and
//!   ~15% in the kernel: page faults of fresh per-step buffers, thread wake-ups of the pool for
//!   products of 32×256·256×1024 (17 MFLOP: microseconds of work per wake-up).
//!   Next, in order of the profile: vectorised sigmoid/tanh (`tfs_kernels::fused::exp_approx`)
//!   over the gate block, buffers allocated once per sequence, one thread for products this
//!   small, and the gate loop over contiguous slices. PyTorch's oneDNN LSTM fuses all of this.
//! - 2026-11-27, one after the other on a quiet machine: the pool's threads now poll for 500 µs
//!   before they sleep (`tfs_kernels::pool`): 44.6k vs PyTorch 119.8k, 0.37×. `time` showed 3.9
//!   of the 4.7 s in the kernel: glibc returned the step's big buffers (8 MB of gates, 2 MB
//!   per state array) to the system on every free and faulted them in again on the next step,
//!   with a TLB shoot-down per `munmap`. `tfs_kernels::alloc::keep_freed_memory` (called by the
//!   CLI) keeps them: 72.2k, sys time 1.4 s.
//! - the gates and state of each step in one vectorised f32 kernel
//!   (`tfs_kernels::fused::lstm`: σ and tanh from the polynomial exp, fused multiply-adds;
//!   `cell_forward_f32` / `cell_backward_f32` below pick it when `F` is f32, the generic loop
//!   stays for f64), and the per-step ‖∂h‖ of `dh_norms` through a vectorised sum of squares:
//!   131-134k tokens/s against PyTorch's 122-129k, **1.04-1.10×**.
//! - W_h packed once per sequence (`tfs_kernels::PackedB`, `sgemm_prepacked`), where each of
//!   the 128 recurrent products of a step repacked the same 1 MB of weights: 124.6-127.0k
//!   against 117.7-119.0k without, three runs each, alternated (a slower hour of this shared
//!   machine than the line above; PyTorch measured 122-129k over the session). `perf` now puts
//!   53% of the samples in the GEMM micro-kernel, 7% in the two gate kernels.
//! - not done: one thread for these products when another process holds the second core.

use crate::cell::{Backprop, FusedSeq, OutGrad, SeqCache, SeqInput};
use crate::lstm::Lstm;
use ndarray::{concatenate, s, Array2, ArrayView2, Axis, NdFloat};
use std::any::Any;
use tfs_kernels::fused::elementwise::sum_squares;
use tfs_kernels::fused::lstm::{lstm_cell_backward, lstm_cell_forward};
use tfs_kernels::nd::{gemm, matmul};
use tfs_kernels::{sgemm_prepacked, GemmConfig, MatMut, MatRef, PackedB, Trans};
use tfs_math::sigmoid;
use tfs_nn::Grads;

/// The stacked buffers of a fused forward pass (all step-major, T·B rows).
pub struct LstmSeq<F> {
    /// Gate activations [i f g o]: (T·B, 4H).
    pub gates: Array2<F>,
    /// c_t: (T·B, H).
    pub c_all: Array2<F>,
    /// tanh(c_t): (T·B, H).
    pub tc_all: Array2<F>,
    /// h_t: (T·B, H).
    pub h_all: Array2<F>,
    /// s_0 = [h_0 | c_0]: (B, 2H).
    pub s0: Array2<F>,
    /// Dense inputs (T·B, I), or the ids (step-major) for a lookup input.
    pub x: FusedInput<F>,
    pub batch: usize,
}

/// The input as the fused kernel keeps it for the weight gradient.
pub enum FusedInput<F> {
    Dense(Array2<F>),
    Ids(Vec<usize>),
}

impl<F: NdFloat> LstmSeq<F> {
    /// s_T = [h_T | c_T].
    pub fn final_state(&self) -> Array2<F> {
        let n = self.h_all.nrows();
        if n == 0 {
            return self.s0.clone();
        }
        let last = s![n - self.batch.., ..];
        concatenate![Axis(1), self.h_all.slice(last), self.c_all.slice(last)]
    }
}

impl<F: NdFloat> SeqCache<F> for LstmSeq<F> {
    fn hidden_all(&self, _hidden: usize) -> Array2<F> {
        self.h_all.clone()
    }
    fn final_state(&self) -> Array2<F> {
        LstmSeq::final_state(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The LSTM's fast path: [`forward`] and [`backward`] below.
impl<F: NdFloat> FusedSeq<F> for Lstm<F> {
    fn forward_seq(&self, input: &SeqInput<F>, s0: ArrayView2<F>) -> Box<dyn SeqCache<F>> {
        Box::new(forward(self, input, s0))
    }

    fn backward_seq(
        &self,
        cache: &dyn SeqCache<F>,
        out: OutGrad<F>,
        ds_last: Option<ArrayView2<F>>,
        grads: &mut Grads<F>,
    ) -> Backprop<F> {
        let seq = cache
            .as_any()
            .downcast_ref::<LstmSeq<F>>()
            .expect("LSTM: backward_seq needs the cache of its own forward_seq");
        backward(self, seq, out, ds_last, grads)
    }
}

/// Fused forward of `lstm` over `input` from `s0: (B, 2H)`.
pub fn forward<F: NdFloat>(lstm: &Lstm<F>, input: &SeqInput<F>, s0: ArrayView2<F>) -> LstmSeq<F> {
    let h = lstm.w_h.nrows();
    let b = s0.nrows();
    let t_len = input.len();
    let n = t_len * b;
    // Input projection for all steps, plus the bias.
    let (mut z, x) = match input {
        SeqInput::Ids { ids, .. } => {
            let flat: Vec<usize> = ids.iter().flatten().copied().collect();
            let mut z = lstm.w_x.select(Axis(0), &flat);
            z += &lstm.b;
            (z, FusedInput::Ids(flat))
        }
        SeqInput::Dense(xs) => {
            let views: Vec<ArrayView2<F>> = xs.iter().map(|x| x.view()).collect();
            let x_all = if views.is_empty() {
                Array2::zeros((0, lstm.w_x.nrows()))
            } else {
                concatenate(Axis(0), &views).expect("same width")
            };
            let mut z = Array2::zeros((n, 4 * h));
            z.assign(&lstm.b.broadcast((n, 4 * h)).expect("bias row"));
            gemm(F::one(), &x_all, &lstm.w_x, F::one(), &mut z);
            (z, FusedInput::Dense(x_all))
        }
    };
    let mut c_all = Array2::zeros((n, h));
    let mut tc_all = Array2::zeros((n, h));
    let mut h_all = Array2::zeros((n, h));
    // f32: W_h packed once for the T products h_{t−1} W_h.
    let w_h = pack_recurrent(&lstm.w_h, false);
    let s0_owned = s0.as_standard_layout().into_owned();
    for t in 0..t_len {
        let rows = t * b..(t + 1) * b;
        // z_t += h_{t−1} W_h, h_0 being the first H columns of s0's rows.
        let (a, a_off, lda) = match t {
            0 => (&s0_owned, 0, 2 * h),
            _ => (&h_all, (t - 1) * b * h, h),
        };
        if !prepacked_product(w_h.as_ref(), a, a_off, lda, b, 1.0, &mut z, t * b * 4 * h) {
            let h_prev = match t {
                0 => s0.slice(s![.., ..h]),
                _ => h_all.slice(s![(t - 1) * b..t * b, ..]),
            };
            let mut zt = z.slice_mut(s![rows.clone(), ..]);
            gemm(F::one(), &h_prev, &lstm.w_h, F::one(), &mut zt);
        }
        let c_prev = match t {
            0 => s0.slice(s![.., h..]),
            _ => c_all.slice(s![(t - 1) * b..t * b, ..]),
        };
        let c_prev = c_prev.to_owned();
        if cell_forward_f32(&mut z, &c_prev, [&mut c_all, &mut tc_all, &mut h_all], t, b) {
            continue;
        }
        let mut zt = z.slice_mut(s![rows.clone(), ..]);
        let zt = zt.as_slice_mut().expect("contiguous row block");
        let ct = c_all
            .slice_mut(s![rows.clone(), ..])
            .into_slice()
            .expect("contiguous");
        for r in 0..b {
            let g = &mut zt[r * 4 * h..(r + 1) * 4 * h];
            for (k, v) in g.iter_mut().enumerate() {
                *v = if (2 * h..3 * h).contains(&k) {
                    v.tanh()
                } else {
                    sigmoid(*v)
                };
            }
            for j in 0..h {
                ct[r * h + j] = g[h + j] * c_prev[[r, j]] + g[j] * g[2 * h + j];
            }
        }
        let ct = c_all.slice(s![rows.clone(), ..]);
        let mut tct = tc_all.slice_mut(s![rows.clone(), ..]);
        ndarray::Zip::from(&mut tct)
            .and(&ct)
            .for_each(|o, &c| *o = c.tanh());
        let o = z.slice(s![rows.clone(), 3 * h..]);
        ndarray::Zip::from(h_all.slice_mut(s![rows, ..]))
            .and(&o)
            .and(&tct)
            .for_each(|hv, &o, &tc| *hv = o * tc);
    }
    LstmSeq {
        gates: z,
        c_all,
        tc_all,
        h_all,
        s0: s0.to_owned(),
        x,
        batch: b,
    }
}

/// W_h (or W_hᵀ) packed for the f32 GEMM's micro-kernel (`tfs_kernels::PackedB`), so that the
/// T products of a sequence with the same weights pack only their small left operand; None when
/// `F` is not f32 (or W_h is not in standard layout).
fn pack_recurrent<F: NdFloat>(w: &Array2<F>, transpose: bool) -> Option<PackedB<'_>> {
    let w = (w as &dyn Any).downcast_ref::<Array2<f32>>()?;
    let (r, c) = w.dim();
    let cfg = GemmConfig::from_env();
    Some(match transpose {
        false => PackedB::new(&cfg, Trans::N, r, c, w.as_slice()?, c),
        true => PackedB::new(&cfg, Trans::T, c, r, w.as_slice()?, c),
    })
}

/// `C = A·B + β·C` with B packed in advance, when `F` is f32 and both arrays are in standard
/// layout: A is the m rows of `a` from element `a_off` with leading dimension `lda`, C the m
/// rows of `c` from element `c_off` (B's n columns, contiguous). False (nothing done)
/// otherwise, and the caller runs its generic product.
#[allow(clippy::too_many_arguments)]
fn prepacked_product<F: NdFloat>(
    pb: Option<&PackedB<'_>>,
    a: &Array2<F>,
    a_off: usize,
    lda: usize,
    m: usize,
    beta: f32,
    c: &mut Array2<F>,
    c_off: usize,
) -> bool {
    let (Some(pb), Some(a), Some(c)) = (
        pb,
        (a as &dyn Any).downcast_ref::<Array2<f32>>(),
        (c as &mut dyn Any).downcast_mut::<Array2<f32>>(),
    ) else {
        return false;
    };
    let (Some(a), Some(c)) = (a.as_slice(), c.as_slice_mut()) else {
        return false;
    };
    let n = pb.shape().1;
    let cfg = GemmConfig::from_env();
    sgemm_prepacked(
        &cfg,
        Trans::N,
        m,
        (1.0, beta),
        MatRef::new(&a[a_off..], lda),
        pb,
        MatMut::new(&mut c[c_off..c_off + m * n], n),
    );
    true
}

/// Rows `t·b..(t+1)·b` of a stacked f32 array, as one slice.
fn rows_f32(a: &mut Array2<f32>, t: usize, b: usize) -> &mut [f32] {
    let w = a.ncols();
    &mut a.as_slice_mut().expect("owned, standard layout")[t * b * w..(t + 1) * b * w]
}

/// Step t's gates and state through the vectorised f32 kernel (`tfs_kernels::fused::lstm`);
/// false (nothing done) when `F` is not f32, and the generic loop runs instead.
fn cell_forward_f32<F: NdFloat>(
    z: &mut Array2<F>,
    c_prev: &Array2<F>,
    [c, tc, h]: [&mut Array2<F>; 3],
    t: usize,
    b: usize,
) -> bool {
    let f32s = (
        (z as &mut dyn Any).downcast_mut::<Array2<f32>>(),
        (c_prev as &dyn Any).downcast_ref::<Array2<f32>>(),
        (c as &mut dyn Any).downcast_mut::<Array2<f32>>(),
        (tc as &mut dyn Any).downcast_mut::<Array2<f32>>(),
        (h as &mut dyn Any).downcast_mut::<Array2<f32>>(),
    );
    let (Some(z), Some(c_prev), Some(c), Some(tc), Some(h)) = f32s else {
        return false;
    };
    let hidden = c.ncols();
    lstm_cell_forward(
        rows_f32(z, t, b),
        c_prev
            .as_standard_layout()
            .as_slice()
            .expect("standard layout"),
        rows_f32(c, t, b),
        rows_f32(tc, t, b),
        rows_f32(h, t, b),
        hidden,
    );
    true
}

/// Step t's gate gradients through the vectorised f32 kernel; false when `F` is not f32.
fn cell_backward_f32<F: NdFloat>(
    seq: &LstmSeq<F>,
    c_prev: &Array2<F>,
    dh: &Array2<F>,
    dc: &mut Array2<F>,
    dz: &mut Array2<F>,
    t: usize,
) -> bool {
    let f32s = (
        (seq as &dyn Any).downcast_ref::<LstmSeq<f32>>(),
        (c_prev as &dyn Any).downcast_ref::<Array2<f32>>(),
        (dh as &dyn Any).downcast_ref::<Array2<f32>>(),
        (dc as &mut dyn Any).downcast_mut::<Array2<f32>>(),
        (dz as &mut dyn Any).downcast_mut::<Array2<f32>>(),
    );
    let (Some(seq), Some(c_prev), Some(dh), Some(dc), Some(dz)) = f32s else {
        return false;
    };
    let (b, hidden) = (seq.batch, seq.tc_all.ncols());
    let (gw, hw) = (4 * hidden, hidden);
    let gates = &seq.gates.as_slice().expect("standard layout")[t * b * gw..(t + 1) * b * gw];
    let tc = &seq.tc_all.as_slice().expect("standard layout")[t * b * hw..(t + 1) * b * hw];
    if !dc.is_standard_layout() {
        *dc = dc.as_standard_layout().into_owned();
    }
    lstm_cell_backward(
        gates,
        tc,
        c_prev
            .as_standard_layout()
            .as_slice()
            .expect("standard layout"),
        dh.as_standard_layout().as_slice().expect("standard layout"),
        dc.as_slice_mut().expect("standard layout"),
        rows_f32(dz, t, b),
        hidden,
    );
    true
}

/// Fused backward; adds into `grads` (`w_x`, `w_h`, `b`). For id inputs `dxs` is empty.
pub fn backward<F: NdFloat>(
    lstm: &Lstm<F>,
    seq: &LstmSeq<F>,
    out: OutGrad<F>,
    ds_last: Option<ArrayView2<F>>,
    grads: &mut Grads<F>,
) -> Backprop<F> {
    let h = lstm.w_h.nrows();
    let b = seq.batch;
    let n = seq.h_all.nrows();
    let t_len = n / b.max(1);
    let one = F::one();
    let (dh_next, mut dc_next) = match ds_last {
        Some(d) => (
            d.slice(s![.., ..h]).to_owned(),
            d.slice(s![.., h..]).to_owned(),
        ),
        None => (Array2::zeros((b, h)), Array2::zeros((b, h))),
    };
    let mut dz = Array2::<F>::zeros((n, 4 * h));
    // f32: W_hᵀ packed once for the T products ∂z_t W_hᵀ (into a standard-layout ∂h).
    let w_ht = pack_recurrent(&lstm.w_h, true);
    let mut dh_next = match dh_next.is_standard_layout() {
        true => dh_next,
        false => dh_next.as_standard_layout().into_owned(),
    };
    let mut dh_norms = vec![0.0; t_len];
    for t in (0..t_len).rev() {
        let rows = t * b..(t + 1) * b;
        match &out {
            OutGrad::All(d) => dh_next += &d.slice(s![rows.clone(), ..]),
            OutGrad::Last(d) if t + 1 == t_len => dh_next += d,
            _ => {}
        }
        dh_norms[t] = match (&dh_next as &dyn Any).downcast_ref::<Array2<f32>>() {
            Some(d) => sum_squares(d.as_standard_layout().as_slice().expect("standard layout")),
            None => dh_next
                .iter()
                .map(|v| v.to_f64().unwrap_or(f64::NAN).powi(2))
                .sum::<f64>(),
        }
        .sqrt();
        let g = seq.gates.slice(s![rows.clone(), ..]);
        let tc = seq.tc_all.slice(s![rows.clone(), ..]);
        let c_prev = if t == 0 {
            seq.s0.slice(s![.., h..])
        } else {
            seq.c_all.slice(s![(t - 1) * b..t * b, ..])
        };
        if cell_backward_f32(seq, &c_prev.to_owned(), &dh_next, &mut dc_next, &mut dz, t) {
            // ∂h_{t−1} = ∂z_t W_hᵀ
            if !prepacked_product(
                w_ht.as_ref(),
                &dz,
                t * b * 4 * h,
                4 * h,
                b,
                0.0,
                &mut dh_next,
                0,
            ) {
                let dzt = dz.slice(s![rows, ..]);
                gemm(one, &dzt, &lstm.w_h.t(), F::zero(), &mut dh_next);
            }
            continue;
        }
        let mut dzt = dz.slice_mut(s![rows, ..]);
        for r in 0..b {
            for j in 0..h {
                let (i, f, gg, o) = (
                    g[[r, j]],
                    g[[r, h + j]],
                    g[[r, 2 * h + j]],
                    g[[r, 3 * h + j]],
                );
                let (dh, t_c) = (dh_next[[r, j]], tc[[r, j]]);
                let dc = dc_next[[r, j]] + dh * o * (one - t_c * t_c);
                dzt[[r, j]] = dc * gg * i * (one - i);
                dzt[[r, h + j]] = dc * c_prev[[r, j]] * f * (one - f);
                dzt[[r, 2 * h + j]] = dc * i * (one - gg * gg);
                dzt[[r, 3 * h + j]] = dh * t_c * o * (one - o);
                dc_next[[r, j]] = dc * f;
            }
        }
        gemm(one, &dzt, &lstm.w_h.t(), F::zero(), &mut dh_next);
    }
    // Weight gradients over all steps at once.
    let mut h_prev_all = Array2::zeros((n, h));
    if n > 0 {
        h_prev_all
            .slice_mut(s![..b, ..])
            .assign(&seq.s0.slice(s![.., ..h]));
        h_prev_all
            .slice_mut(s![b.., ..])
            .assign(&seq.h_all.slice(s![..n - b, ..]));
    }
    gemm(one, &h_prev_all.t(), &dz, one, &mut grads.mat_mut("w_h"));
    let mut db = grads.mat_mut("b");
    db += &dz.sum_axis(Axis(0)).insert_axis(Axis(0));
    let dxs = match &seq.x {
        FusedInput::Ids(ids) => {
            let mut dw_x = grads.mat_mut("w_x");
            for (r, &id) in ids.iter().enumerate() {
                let mut row = dw_x.row_mut(id);
                row += &dz.row(r);
            }
            Vec::new()
        }
        FusedInput::Dense(x_all) => {
            gemm(one, &x_all.t(), &dz, one, &mut grads.mat_mut("w_x"));
            let dx_all = matmul(&dz, &lstm.w_x.t());
            (0..t_len)
                .map(|t| dx_all.slice(s![t * b..(t + 1) * b, ..]).to_owned())
                .collect()
        }
    };
    Backprop {
        dxs,
        ds0: concatenate![Axis(1), dh_next, dc_next],
        dh_norms,
    }
}
