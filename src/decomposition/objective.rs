//! The decomposition loss (paper Eq. 4 and Eq. 6, in the authors' code's weighting) of m models
//! on one sample, with its subgradient; shared by the reference SGD and the optimal solver.
//!
//! For model j: v_and = ½(v + ε_j) + γ_j and v_or = ½(v + ε_j) − γ_j, with γ_j = γ̄ + γ̂_j. I_and^j is
//! the AND transform of v_and, I_or^j the OR transform of v_or. The loss is, per coalition S and
//! separately for AND and OR, (1 − α)·max_j |I^j(S)| + α·Σ_j |I^j(S)|, summed over all S (∅
//! included). For one model both terms are |I(S)|: Eq. 4.
//!
//! All models are transformed with one Möbius butterfly per array and the transpose carries the
//! subgradient back: an evaluation costs Θ(m·n·2^n).

use crate::coalition::players_for_len;
use crate::interactions::Interactions;
use crate::transform::{check_values, mobius_rows, mobius_transpose_rows};
use crate::{Error, Result};

/// The learned parameters of a decomposition (or their gradients).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Params {
    /// ε^(i), one vector of 2^n per model.
    pub eps: Vec<Vec<f64>>,
    /// γ̄, shared by all models (for one model: its γ).
    pub gamma_shared: Vec<f64>,
    /// γ̂^(i) per model; empty when the models have no specific part (traditional).
    pub gamma_specific: Vec<Vec<f64>>,
}

impl Params {
    /// All zero, the reference initialisation.
    pub fn zeros(n: usize, m: usize, specific: bool) -> Self {
        let len = 1usize << n;
        Params {
            eps: vec![vec![0.0; len]; m],
            gamma_shared: vec![0.0; len],
            gamma_specific: if specific {
                vec![vec![0.0; len]; m]
            } else {
                Vec::new()
            },
        }
    }

    pub(crate) fn arrays_mut(&mut self) -> impl Iterator<Item = &mut Vec<f64>> {
        self.eps
            .iter_mut()
            .chain(std::iter::once(&mut self.gamma_shared))
            .chain(self.gamma_specific.iter_mut())
    }

    pub(crate) fn arrays(&self) -> impl Iterator<Item = &Vec<f64>> {
        self.eps
            .iter()
            .chain(std::iter::once(&self.gamma_shared))
            .chain(self.gamma_specific.iter())
    }
}

/// The decomposition loss of a fixed set of models on one sample, with its subgradient.
///
/// Per model j it keeps two arrays: `and[j]` (v_and, then I_and after the subset butterfly) and
/// `or[j]` (v_or, then its superset Möbius transform f, where f(N∖S) = −I_or(S) for S ≠ ∅:
/// substituting U = N∖T in the OR definition turns "T ⊆ S" into "U ⊇ N∖S"). No array is ever
/// reversed, and every pass over coalitions is a plain loop the compiler vectorises.
pub struct Objective {
    n: usize,
    m: usize,
    alpha: f64,
    values: Vec<Vec<f64>>,
    and: Vec<Vec<f64>>,
    or: Vec<Vec<f64>>,
    g_and: Vec<Vec<f64>>,
    g_or: Vec<Vec<f64>>,
    /// I_or^(j)(∅) = v_or^(j)(x_∅), which the OR butterfly does not produce, and its gradient.
    or_empty: Vec<f64>,
    or_empty_grad: Vec<f64>,
    /// Per coalition: the largest |I| over models and how many models reach it.
    best_abs: Vec<f64>,
    ties: Vec<u32>,
}

/// Check the value vector of model `index` (0-based) of a joint decomposition: length `len`
/// (that of the first model), finite, and all zero or of normal magnitude. A vector whose
/// largest |v| is subnormal (below f64::MIN_POSITIVE ≈ 2.2e-308) is held by f64 with fewer than
/// 52 significant bits, so the interactions, the loss and the solvers' steps would be rounding
/// noise; from 2^-1022 up, the spacing of f64 near zero (2^-1074) is no coarser than the values'
/// own rounding. Errors: [`Error::MismatchedLengths`], [`Error::NonFinite`], or
/// [`Error::Invalid`] naming the model, its largest |v| and the fix.
pub(super) fn check_model_values(v: &[f64], len: usize, index: usize) -> Result<()> {
    if v.len() != len {
        return Err(Error::MismatchedLengths {
            first: len,
            other: v.len(),
        });
    }
    check_values(v, &format!("model {}", index + 1))?;
    let largest = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    if largest > 0.0 && largest < f64::MIN_POSITIVE {
        return Err(Error::Invalid(format!(
            "the values of model {} are too small for f64 arithmetic: the largest |v(x_T)| is {largest:e}, below the smallest normal f64 ({:e}), where f64 keeps fewer than 52 bits and the interactions would be rounding noise; multiply the values by a power of two (e.g. 2^600; the interactions scale by the same factor), or pass exact zeros if they mean zero",
            index + 1,
            f64::MIN_POSITIVE
        )));
    }
    Ok(())
}

#[inline(always)]
fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Σ |x| with eight partial sums, so that the reduction vectorises (a single running sum is a
/// serial dependency chain under IEEE semantics).
#[inline(always)]
fn sum_abs(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v.abs();
        }
    }
    acc.iter().sum::<f64>() + rest.iter().map(|v| v.abs()).sum::<f64>()
}

/// Loss of one kind over the m models, (1 − α)·Σ_S max_j |x_j(S)| + α·Σ_S Σ_j |x_j(S)|, over the
/// first `len` coalitions of each array; with `grads`, writes the subgradient: α·sign(x_j), plus
/// (1 − α)·sign(x_j)/t for each of the t models that tie for the largest magnitude. Splitting ties
/// evenly keeps the optimiser symmetric under reordering the models (identical models stay
/// identical); the authors' code (torch.max) gives every tie to the first model.
#[inline(always)]
fn kind_loss(
    xs: &[Vec<f64>],
    len: usize,
    alpha: f64,
    best_abs: &mut [f64],
    ties: &mut [u32],
    grads: Option<&mut [Vec<f64>]>,
) -> f64 {
    let (best_abs, ties) = (&mut best_abs[..len], &mut ties[..len]);
    let mut l1 = 0.0;
    for (j, x) in xs.iter().enumerate() {
        let x = &x[..len];
        if j == 0 {
            for (b, v) in best_abs.iter_mut().zip(x) {
                *b = v.abs();
            }
        } else {
            for (b, v) in best_abs.iter_mut().zip(x) {
                *b = b.max(v.abs());
            }
        }
        l1 += sum_abs(x);
    }
    let max_sum = sum_abs(best_abs);
    if let Some(grads) = grads {
        if xs.len() == 1 {
            for (g, v) in grads[0][..len].iter_mut().zip(&xs[0][..len]) {
                *g = sign(*v);
            }
        } else {
            ties.iter_mut().for_each(|t| *t = 0);
            for x in xs {
                for ((t, b), v) in ties.iter_mut().zip(best_abs.iter()).zip(&x[..len]) {
                    *t += (v.abs() == *b) as u32;
                }
            }
            for (g, x) in grads.iter_mut().zip(xs) {
                for (((g, v), b), t) in g[..len]
                    .iter_mut()
                    .zip(&x[..len])
                    .zip(best_abs.iter())
                    .zip(ties.iter())
                {
                    let weight = if v.abs() == *b {
                        alpha + (1.0 - alpha) / *t as f64
                    } else {
                        alpha
                    };
                    *g = weight * sign(*v);
                }
            }
        }
    }
    (1.0 - alpha) * max_sum + alpha * l1
}

impl Objective {
    /// Check the value vectors (same length 2^n, finite, each all zero or of normal magnitude:
    /// largest |v| ≥ 2.2e-308) and α ∈ [0, 1].
    pub fn new(values: &[&[f64]], alpha: f64) -> Result<Self> {
        let first = values
            .first()
            .ok_or_else(|| Error::WrongModelCount("no value vectors given".into()))?;
        let n = players_for_len(first.len())?;
        for (i, v) in values.iter().enumerate() {
            check_model_values(v, first.len(), i)?;
        }
        if !(0.0..=1.0).contains(&alpha) {
            return Err(Error::InvalidSetting {
                name: "alpha",
                value: alpha.to_string(),
                why: "α weighs the L1 term against the row-max term and must lie in [0, 1]",
            });
        }
        let m = values.len();
        let len = 1usize << n;
        let arrays = || vec![vec![0.0; len]; m];
        Ok(Objective {
            n,
            m,
            alpha,
            values: values.iter().map(|v| v.to_vec()).collect(),
            and: arrays(),
            or: arrays(),
            g_and: arrays(),
            g_or: arrays(),
            or_empty: vec![0.0; m],
            or_empty_grad: vec![0.0; m],
            best_abs: vec![0.0; len],
            ties: vec![0; len],
        })
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn models(&self) -> usize {
        self.m
    }

    /// Fill v_and, v_or of every model from the parameters and run the butterflies.
    #[inline(always)]
    fn transform(&mut self, p: &Params) {
        for j in 0..self.m {
            let (a, o) = (&mut self.and[j], &mut self.or[j]);
            let (v, e) = (&self.values[j], &p.eps[j]);
            let ins = v.iter().zip(e.iter()).zip(p.gamma_shared.iter());
            let outs = a.iter_mut().zip(o.iter_mut());
            match p.gamma_specific.get(j) {
                Some(spec) => {
                    for ((a, o), (((v, e), g), s)) in outs.zip(ins.zip(spec.iter())) {
                        let (half, gamma) = (0.5 * (v + e), g + s);
                        *a = half + gamma;
                        *o = half - gamma;
                    }
                }
                None => {
                    for ((a, o), ((v, e), g)) in outs.zip(ins) {
                        let half = 0.5 * (v + e);
                        *a = half + g;
                        *o = half - g;
                    }
                }
            }
            self.or_empty[j] = o[0];
            mobius_rows(a, 1);
            mobius_transpose_rows(o, 1);
        }
    }

    /// The interactions of every model under parameters `p` (raw, not reorganised).
    pub fn interactions(&mut self, p: &Params) -> Vec<Interactions> {
        self.transform(p);
        (0..self.m)
            .map(|j| {
                let mut or: Vec<f64> = self.or[j].iter().rev().map(|x| -x).collect();
                or[0] = self.or_empty[j];
                Interactions {
                    n: self.n,
                    and: self.and[j].clone(),
                    or,
                }
            })
            .collect()
    }

    /// The loss at `p`.
    #[inline(always)]
    pub fn loss(&mut self, p: &Params) -> f64 {
        self.transform(p);
        self.loss_and_seed(false)
    }

    /// Loss over the transformed arrays; with `seed`, also writes ∂loss/∂(transformed arrays) into
    /// `g_and`, `g_or` and ∂loss/∂I_or(∅) into `or_empty_grad`. The OR arrays hold −I_or, and |−x|
    /// has the subgradient sign(x) with respect to the array: no negation is needed.
    #[inline(always)]
    fn loss_and_seed(&mut self, seed: bool) -> f64 {
        let (len, alpha) = (1usize << self.n, self.alpha);
        let mut loss = kind_loss(
            &self.and,
            len,
            alpha,
            &mut self.best_abs,
            &mut self.ties,
            seed.then_some(&mut self.g_and[..]),
        );
        // OR: position N∖S for S ≠ ∅ is 0..len-1; position len-1 (S = ∅) is replaced by or_empty.
        loss += kind_loss(
            &self.or,
            len - 1,
            alpha,
            &mut self.best_abs,
            &mut self.ties,
            seed.then_some(&mut self.g_or[..]),
        );
        // I_or(∅) of the m models: a single coalition, done inline.
        let best_abs = self.or_empty.iter().fold(0.0f64, |b, x| b.max(x.abs()));
        let l1: f64 = self.or_empty.iter().map(|x| x.abs()).sum();
        loss += (1.0 - alpha) * best_abs + alpha * l1;
        if seed {
            let ties = self.or_empty.iter().filter(|x| x.abs() == best_abs).count();
            for j in 0..self.m {
                self.g_or[j][len - 1] = 0.0;
                let x = self.or_empty[j];
                let weight = if x.abs() == best_abs {
                    alpha + (1.0 - alpha) / ties as f64
                } else {
                    alpha
                };
                self.or_empty_grad[j] = weight * sign(x);
            }
        }
        loss
    }

    /// The loss at `p`; writes its subgradient with respect to every parameter into `g` (which must
    /// have the same shape as `p`).
    #[inline(always)]
    pub fn loss_and_gradient(&mut self, p: &Params, g: &mut Params) -> f64 {
        self.transform(p);
        let loss = self.loss_and_seed(true);
        g.gamma_shared.iter_mut().for_each(|x| *x = 0.0);
        for j in 0..self.m {
            let (ga, go) = (&mut self.g_and[j], &mut self.g_or[j]);
            // transposes: of the subset butterfly, the superset one, and vice versa
            mobius_transpose_rows(ga, 1);
            mobius_rows(go, 1);
            // v_or(∅) is I_or(∅) itself
            go[0] += self.or_empty_grad[j];
            let spec = g.gamma_specific.get_mut(j);
            let (ge, gs) = (&mut g.eps[j], &mut g.gamma_shared);
            for ((e, s), (a, o)) in ge
                .iter_mut()
                .zip(gs.iter_mut())
                .zip(ga.iter().zip(go.iter()))
            {
                *e = 0.5 * (a + o);
                *s += a - o;
            }
            if let Some(spec) = spec {
                for ((s, a), o) in spec.iter_mut().zip(ga.iter()).zip(go.iter()) {
                    *s = a - o;
                }
            }
        }
        // With three or more models, Σ_j (a_j − o_j) in model order depends on that order in
        // floating point; summing each coalition's terms in sorted order makes the gradient, and so
        // the whole trajectory, exactly symmetric under reordering the models (for two models
        // IEEE addition already commutes).
        if self.m >= 3 && g.gamma_specific.len() == self.m {
            let mut terms = vec![0.0f64; self.m];
            for (t, s) in g.gamma_shared.iter_mut().enumerate() {
                for (x, spec) in terms.iter_mut().zip(&g.gamma_specific) {
                    *x = spec[t];
                }
                terms.sort_by(f64::total_cmp);
                *s = terms.iter().sum();
            }
        }
        loss
    }
}
