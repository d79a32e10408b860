//! Rosenblatt's perceptron (1958): one neuron with a step activation and its learning rule.
//!
//! ```text
//!   ŷ = step(w · x + b)                      (1 if w·x + b ≥ 0, else 0)
//!   on each example:  w ← w + η (y − ŷ) x,   b ← b + η (y − ŷ)
//! ```
//!
//! Nothing changes on a correct example; a wrong one tilts the boundary toward classifying it
//! right. If the classes are linearly separable, the rule converges in a finite number of updates
//! (Novikoff, 1962). If they are not — XOR — it never stops changing: no line puts (0,1) and (1,0)
//! on one side and (0,0) and (1,1) on the other. The step has zero derivative almost everywhere,
//! so this rule is not gradient descent; the MLP replaces the step with a smooth activation.
//!
//! Left out: the pocket algorithm, multi-class perceptrons.

/// A perceptron over `d` inputs.
#[derive(Clone, Debug)]
pub struct Perceptron {
    pub w: Vec<f64>,
    pub b: f64,
}

impl Perceptron {
    /// Zero weights and bias.
    pub fn new(d: usize) -> Self {
        Perceptron {
            w: vec![0.0; d],
            b: 0.0,
        }
    }

    /// w · x + b.
    pub fn score(&self, x: &[f64]) -> f64 {
        assert_eq!(
            x.len(),
            self.w.len(),
            "perceptron: input has {} features, weights {}",
            x.len(),
            self.w.len()
        );
        self.w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>() + self.b
    }

    /// step(w · x + b) as 0 or 1.
    pub fn predict(&self, x: &[f64]) -> u8 {
        u8::from(self.score(x) >= 0.0)
    }

    /// One pass of the learning rule over the data; returns the number of updates made.
    pub fn epoch(&mut self, xs: &[Vec<f64>], ys: &[u8], lr: f64) -> usize {
        assert_eq!(
            xs.len(),
            ys.len(),
            "perceptron: {} inputs, {} labels",
            xs.len(),
            ys.len()
        );
        let mut updates = 0;
        for (x, &y) in xs.iter().zip(ys) {
            let err = y as f64 - self.predict(x) as f64;
            if err != 0.0 {
                for (w, xi) in self.w.iter_mut().zip(x) {
                    *w += lr * err * xi;
                }
                self.b += lr * err;
                updates += 1;
            }
        }
        updates
    }

    /// Fraction of examples classified correctly.
    pub fn accuracy(&self, xs: &[Vec<f64>], ys: &[u8]) -> f64 {
        let right = xs
            .iter()
            .zip(ys)
            .filter(|(x, &y)| self.predict(x) == y)
            .count();
        right as f64 / xs.len().max(1) as f64
    }
}

/// `w: (d,)` and `b: ()`. The perceptron learns by its own rule, not by gradients, but it names
/// its parameters like every other model (for inspection and saving).
impl crate::params::Params<f64> for Perceptron {
    fn visit(&self, f: &mut dyn FnMut(&str, ndarray::ArrayViewD<f64>)) {
        f("w", ndarray::ArrayView1::from(&self.w[..]).into_dyn());
        f(
            "b",
            ndarray::ArrayView0::from_shape((), std::slice::from_ref(&self.b))
                .expect("scalar")
                .into_dyn(),
        );
    }
    fn visit_mut(&mut self, f: &mut dyn FnMut(&str, ndarray::ArrayViewMutD<f64>)) {
        f(
            "w",
            ndarray::ArrayViewMut1::from(&mut self.w[..]).into_dyn(),
        );
        f(
            "b",
            ndarray::ArrayViewMut0::from_shape((), std::slice::from_mut(&mut self.b))
                .expect("scalar")
                .into_dyn(),
        );
    }
}
