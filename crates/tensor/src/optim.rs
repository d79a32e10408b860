//! Optimizers over named parameters: SGD (with momentum, optionally Nesterov) and AdamW with
//! parameter groups; gradient clipping by global norm.
//!
//! ```text
//!   SGD + momentum μ:  v ← μ v + g;   θ ← θ − η (nesterov ? g + μ v : v)
//!   AdamW (per group decay λ):  θ ← θ − ηλθ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
//!                               θ ← θ − η (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)   (tfs-kernels, fused)
//!   clipping: n = √(Σ_all g²);  if n > c:  g ← g · c/n
//! ```
//!
//! State (momenta, moments) is kept per parameter name, so the order in which a model lists its
//! parameters does not matter. The usual groups for transformers, [`groups_decay_matrices`]:
//! weight decay on matrices (weights, embeddings), none on biases and norm gains — decaying a
//! gain towards 0 would fight the normalisation it scales.

use crate::autograd::Grads;
use crate::backend::{self, AdamWHyper};
use crate::storage::{Dst, Src, Storage};
use crate::store::ParamStore;
use crate::tensor::{no_grad, Tensor};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The named parameters a model exposes (see [`crate::nn::Module::parameters`]).
pub type Named = [(String, Tensor)];

/// Updates parameters from their gradients.
pub trait Optimizer {
    /// One update of every parameter that has a gradient.
    fn step(&mut self, params: &Named, grads: &Grads);
    fn set_lr(&mut self, lr: f32);
    fn lr(&self) -> f32;
}

/// A shared buffer and windows `(offset, length)` of it.
pub(crate) type Windows = (Rc<RefCell<Storage>>, Vec<(usize, usize)>);

/// The buffer every tensor of `ts` is a window of, and their windows (None when they do not
/// all share one buffer, or there are none): a flat store's gradients or parameters.
pub(crate) fn flat_windows(ts: &[&Tensor]) -> Option<Windows> {
    let buf = ts.first()?.buffer().clone();
    ts.iter()
        .all(|t| t.same_buffer(&buf))
        .then(|| (buf, ts.iter().map(|t| (t.offset(), t.numel())).collect()))
}

/// Global L2 norm of the gradients of `params`, and (if it exceeds `max`) the gradients scaled
/// down to norm `max`. Returns the norm before clipping. Gradients in a flat store (views of one
/// buffer) take one backend call for the sums and one for the scaling; the sums are added in the
/// order of `params` either way.
pub fn clip_grad_norm(params: &Named, grads: &Grads, max: f32) -> f32 {
    let gs: Vec<&Tensor> = params.iter().filter_map(|(_, p)| grads.get(p)).collect();
    let flat = flat_windows(&gs);
    let parts: Vec<f64> = match &flat {
        Some((buf, windows)) => backend::sum_squares_windows(Src::from(&*buf.borrow()), windows),
        None => gs
            .iter()
            .map(|g| backend::sum_squares(g.view().src()))
            .collect(),
    };
    let mut sq = 0.0f64;
    for s in parts {
        sq += s;
    }
    let norm = sq.sqrt() as f32;
    if norm > max && norm.is_finite() {
        let s = max / norm;
        match &flat {
            Some((buf, windows)) => {
                backend::scale_windows(Dst::from(&mut *buf.borrow_mut()), windows, s)
            }
            None => gs
                .iter()
                .for_each(|g| backend::scale(g.view_mut().dst(), s)),
        }
    }
    norm
}

/// Stochastic gradient descent, with optional (Nesterov) momentum.
pub struct Sgd {
    pub lr: f32,
    pub momentum: f32,
    pub nesterov: bool,
    velocity: HashMap<String, Storage>,
}

impl Sgd {
    pub fn new(lr: f32, momentum: f32, nesterov: bool) -> Sgd {
        Sgd {
            lr,
            momentum,
            nesterov,
            velocity: HashMap::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &Named, grads: &Grads) {
        no_grad(|| {
            for (name, p) in params {
                let Some(g) = grads.get(p) else { continue };
                let dev = p.device();
                let (g, mut w) = (g.view(), p.view_mut());
                let v = (self.momentum != 0.0).then(|| {
                    self.velocity
                        .entry(name.clone())
                        .or_insert_with(|| backend::full(dev, g.len(), 0.0))
                });
                let (lr, mu, nesterov) = (self.lr, self.momentum, self.nesterov);
                backend::sgd(w.dst(), g.src(), v.map(Dst::from), lr, mu, nesterov);
            }
        })
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn lr(&self) -> f32 {
        self.lr
    }
}

/// A set of parameters (by name) sharing a weight decay.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub names: Vec<String>,
    pub weight_decay: f32,
}

/// Two groups: matrices (2 or more axes) decay by `weight_decay`; biases and norm gains do not.
pub fn groups_decay_matrices(params: &Named, weight_decay: f32) -> Vec<Group> {
    let (mats, rest): (Vec<_>, Vec<_>) = params.iter().partition(|(_, p)| p.dims() >= 2);
    vec![
        Group {
            names: mats.into_iter().map(|(n, _)| n.clone()).collect(),
            weight_decay,
        },
        Group {
            names: rest.into_iter().map(|(n, _)| n.clone()).collect(),
            weight_decay: 0.0,
        },
    ]
}

/// One group holding every parameter: decay on all of them (Phase 5's recipe).
pub fn groups_decay_all(params: &Named, weight_decay: f32) -> Vec<Group> {
    vec![Group {
        names: params.iter().map(|(n, _)| n.clone()).collect(),
        weight_decay,
    }]
}

/// AdamW (Loshchilov & Hutter, 2019) with per-group weight decay.
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    decay: HashMap<String, f32>,
    t: u32,
    moments: HashMap<String, (Storage, Storage)>,
    flat: Option<FlatMoments>,
}

/// AdamW's moments for parameters in a flat store: two buffers laid out like the parameters,
/// and the window of every parameter that has taken a step.
struct FlatMoments {
    params: Rc<RefCell<Storage>>,
    m: Storage,
    v: Storage,
    windows: HashMap<String, (usize, usize)>,
}

impl AdamW {
    /// AdamW with β = (0.9, 0.999), ε = 1e-8 and the given groups; a parameter in no group
    /// gets no decay.
    pub fn new(lr: f32, groups: &[Group]) -> AdamW {
        let decay = groups
            .iter()
            .flat_map(|g| g.names.iter().map(move |n| (n.clone(), g.weight_decay)))
            .collect();
        AdamW {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            decay,
            t: 0,
            moments: HashMap::new(),
            flat: None,
        }
    }

    pub fn betas(mut self, beta1: f32, beta2: f32) -> AdamW {
        (self.beta1, self.beta2) = (beta1, beta2);
        self
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u32 {
        self.t
    }

    /// Sets the step count and every parameter's moments (a checkpoint's state, see
    /// [`AdamW::moments`]); parameters not in `moments` start from zero again.
    pub fn set_state(&mut self, steps: u32, moments: HashMap<String, (Vec<f32>, Vec<f32>)>) {
        self.t = steps;
        if let Some(f) = &mut self.flat {
            // Kept (allocated beside the parameters), emptied: the moments below move in at
            // each parameter's first step.
            backend::scale(Dst::from(&mut f.m), 0.0);
            backend::scale(Dst::from(&mut f.v), 0.0);
            f.windows.clear();
        }
        self.moments = moments
            .into_iter()
            .map(|(n, (m, v))| (n, (Storage::cpu(m), Storage::cpu(v))))
            .collect();
    }

    /// Names of the parameters that have moments, sorted.
    pub fn moment_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.moments.keys().cloned().collect();
        if let Some(f) = &self.flat {
            v.extend(f.windows.keys().cloned());
        }
        v.sort();
        v
    }

    /// The first and second moments of `name`, read back to the host (None before its first
    /// step).
    pub fn moments(&self, name: &str) -> Option<(Vec<f32>, Vec<f32>)> {
        if let Some((f, &(off, len))) = self
            .flat
            .as_ref()
            .and_then(|f| Some((f, f.windows.get(name)?)))
        {
            let read = |s: &Storage| backend::to_host_f32(Src::new(s, off, len));
            return Some((read(&f.m), read(&f.v)));
        }
        self.moments.get(name).map(|(m, v)| {
            (
                backend::to_host_f32(m.into()),
                backend::to_host_f32(v.into()),
            )
        })
    }

    /// Makes the flat moments of `store`'s parameters now (zero), rather than at the first step.
    pub fn prepare_flat(&mut self, store: &ParamStore) {
        let pbuf = store.params_buffer().clone();
        let (n, dev) = (pbuf.borrow().len(), pbuf.borrow().device());
        if !self
            .flat
            .as_ref()
            .is_some_and(|f| Rc::ptr_eq(&f.params, &pbuf))
        {
            self.flat = Some(FlatMoments {
                params: pbuf,
                m: backend::full(dev, n, 0.0),
                v: backend::full(dev, n, 0.0),
                windows: HashMap::new(),
            });
        }
    }

    fn hyper(&self, name: &str) -> AdamWHyper {
        AdamWHyper {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.decay.get(name).copied().unwrap_or(0.0),
        }
    }

    /// The step over a flat store: parameters views of one buffer, gradients views of another.
    /// One backend call; the moments live in two buffers of the parameters' layout (moments set
    /// by name from a checkpoint move into them at the first step).
    fn step_flat(
        &mut self,
        live: &[(&String, &Tensor, Tensor)],
        pbuf: Rc<RefCell<Storage>>,
        gbuf: Rc<RefCell<Storage>>,
    ) {
        let n = pbuf.borrow().len();
        let dev = pbuf.borrow().device();
        if !self
            .flat
            .as_ref()
            .is_some_and(|f| Rc::ptr_eq(&f.params, &pbuf))
        {
            self.flat = Some(FlatMoments {
                params: pbuf.clone(),
                m: backend::full(dev, n, 0.0),
                v: backend::full(dev, n, 0.0),
                windows: HashMap::new(),
            });
        }
        let mut windows = Vec::with_capacity(live.len());
        for (name, p, _) in live {
            let (off, len) = (p.offset(), p.numel());
            let f = self.flat.as_mut().expect("made above");
            if !f.windows.contains_key(name.as_str()) {
                if let Some((m, v)) = self.moments.remove(name.as_str()) {
                    assert!(
                        m.len() == len && v.len() == len,
                        "AdamW: moments of '{name}' have {} and {} values for {len} parameters",
                        m.len(),
                        v.len()
                    );
                    backend::copy(Dst::new(&mut f.m, off, len), (&m).into());
                    backend::copy(Dst::new(&mut f.v, off, len), (&v).into());
                }
                f.windows.insert((*name).clone(), (off, len));
            }
            windows.push((off, len, self.hyper(name)));
        }
        let t = self.t;
        let f = self.flat.as_mut().expect("made above");
        let (mut p, g) = (pbuf.borrow_mut(), gbuf.borrow());
        backend::adamw_windows(
            Dst::from(&mut *p),
            Src::from(&*g),
            (Dst::from(&mut f.m), Dst::from(&mut f.v)),
            &windows,
            t,
        );
    }
}

impl Optimizer for AdamW {
    /// One update of every parameter with a gradient, in one backend call (the CPU cuts all
    /// the elements into one range per kernel thread).
    fn step(&mut self, params: &Named, grads: &Grads) {
        self.t += 1;
        let live: Vec<(&String, &Tensor, Tensor)> = params
            .iter()
            .filter_map(|(name, p)| grads.get(p).map(|g| (name, p, g.clone())))
            .collect();
        let (mut names, mut ids) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for (name, p, g) in &live {
            // Every parameter is borrowed for writing at once below, so each must appear once.
            assert!(
                names.insert(name.as_str()) && ids.insert(p.id()),
                "AdamW: parameter '{name}' is listed twice (by name or as the same tensor)"
            );
            assert_eq!(
                g.numel(),
                p.numel(),
                "AdamW: gradient of '{name}' has {} values for {} parameters",
                g.numel(),
                p.numel()
            );
        }
        let ps: Vec<&Tensor> = live.iter().map(|(_, p, _)| *p).collect();
        let gs: Vec<&Tensor> = live.iter().map(|(_, _, g)| g).collect();
        if let (Some((pbuf, _)), Some((gbuf, _))) = (flat_windows(&ps), flat_windows(&gs)) {
            let aligned = live.iter().all(|(_, p, g)| p.offset() == g.offset());
            if aligned && !Rc::ptr_eq(&pbuf, &gbuf) {
                return self.step_flat(&live, pbuf, gbuf);
            }
        }
        for (name, p, _) in &live {
            let (n, dev) = (p.numel(), p.device());
            self.moments
                .entry((*name).clone())
                .or_insert_with(|| (backend::full(dev, n, 0.0), backend::full(dev, n, 0.0)));
        }
        let hypers: Vec<AdamWHyper> = live.iter().map(|(name, _, _)| self.hyper(name)).collect();
        let mut moments: HashMap<&String, &mut (Storage, Storage)> =
            self.moments.iter_mut().collect();
        let check = |name: &str, m: &Storage, v: &Storage, n: usize| {
            assert!(
                m.len() == n && v.len() == n,
                "AdamW: moments of '{name}' have {} and {} values for {n} parameters",
                m.len(),
                v.len()
            );
        };
        // Parameters that are windows of one buffer (a store's, stepped without its flat
        // gradient) cannot all be borrowed for writing at once: they go one call each.
        let shared = ps
            .iter()
            .enumerate()
            .any(|(i, p)| ps[..i].iter().any(|q| Rc::ptr_eq(p.buffer(), q.buffer())));
        if shared {
            for ((name, p, g), h) in live.iter().zip(hypers) {
                let (m, v) = moments
                    .remove(name)
                    .expect("moments made above, one per name");
                check(name, m, v, g.numel());
                let (mut pd, gd) = (p.view_mut(), g.view());
                let item = (
                    pd.dst(),
                    gd.src(),
                    Dst::from(&mut *m),
                    Dst::from(&mut *v),
                    h,
                );
                backend::adamw(vec![item], self.t);
            }
            return;
        }
        let mut pds: Vec<_> = live.iter().map(|(_, p, _)| p.view_mut()).collect();
        let gds: Vec<_> = live.iter().map(|(_, _, g)| g.view()).collect();
        let mut items = Vec::with_capacity(live.len());
        for ((((name, _, _), pd), g), h) in live.iter().zip(pds.iter_mut()).zip(&gds).zip(hypers) {
            let (m, v) = moments
                .remove(name)
                .expect("moments made above, one per name");
            check(name, m, v, g.len());
            items.push((pd.dst(), g.src(), Dst::from(&mut *m), Dst::from(&mut *v), h));
        }
        backend::adamw(items, self.t);
    }
    fn set_lr(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn lr(&self) -> f32 {
        self.lr
    }
}
