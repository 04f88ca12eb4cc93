//! AND-OR decomposition with learned γ and ε (SPEC §3): traditional extraction for one model
//! (Eq. 4) and generalizable extraction for m ≥ 2 models (Eq. 5-6).
//!
//! For model j on a sample: v_and = ½(v + ε_j) + γ_j and v_or = ½(v + ε_j) − γ_j, with
//! γ_j = γ̄ + γ̂_j. I_and^j is the AND transform of v_and, I_or^j the OR transform of v_or. The loss
//! is, per coalition S and separately for AND and OR,
//!
//!   (1 − α)·max_j |I^j(S)| + α·Σ_j |I^j(S)|,
//!
//! summed over all S (∅ included). This is the authors' code's weighting of the paper's Eq. 6:
//! the paper's Eq. 6 with weight α_paper on the L1 term is this loss with
//! α = α_paper / (1 + α_paper), divided by (1 − α); α = 0 is pure row-max, α = 1 independent L1
//! per model. For one model both terms are |I(S)|, i.e. Eq. 4.
//!
//! All models are packed into one buffer of 2^n rows × 2m columns (per model: the AND input and
//! the OR input w[T] = v_or(N∖T)), so one Möbius butterfly transforms everything and its transpose
//! carries the subgradient back: an iteration costs Θ(m·n·2^n).

use crate::coalition::players_for_len;
use crate::interactions::Interactions;
use crate::transform::{check_values, mobius_rows, mobius_transpose_rows};
use crate::{Error, Result};

/// How the learning rate moves over the iterations.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same learning rate at every step (the generalizable reference).
    Constant,
    /// Log-spaced from lr to lr·final_factor over niter steps (the traditional reference: 0.1).
    Geometric { final_factor: f64 },
}

/// SGD with momentum, PyTorch semantics: buf ← μ·buf + g; θ ← θ − lr·buf. Parameters start at
/// zero; bounded parameters are clipped before every step; the last iteration takes no step.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Optimizer {
    pub lr: f64,
    pub niter: usize,
    pub momentum: f64,
    pub schedule: LrSchedule,
    /// Record the loss every this many iterations (and at the last one).
    pub record_every: usize,
    /// Refuse problems whose buffers would exceed this many MiB.
    pub memory_limit_mib: u64,
}

impl Optimizer {
    /// The reference for traditional extraction (SPEC §3.1): lr 1e-6 decaying to 1e-7, 20000 steps.
    pub fn traditional() -> Self {
        Optimizer {
            lr: 1e-6,
            niter: 20000,
            momentum: 0.9,
            schedule: LrSchedule::Geometric { final_factor: 0.1 },
            record_every: 1000,
            memory_limit_mib: 16 * 1024,
        }
    }

    /// The reference for generalizable extraction (SPEC §3.2): constant lr 1e-7, 20000 steps.
    pub fn generalizable() -> Self {
        Optimizer {
            lr: 1e-7,
            schedule: LrSchedule::Constant,
            ..Self::traditional()
        }
    }

    /// The learning rate of step `it` (0-based).
    pub fn lr_at(&self, it: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => self.lr,
            LrSchedule::Geometric { final_factor } => {
                if self.niter <= 1 {
                    self.lr
                } else {
                    self.lr * final_factor.powf(it as f64 / (self.niter - 1) as f64)
                }
            }
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, why| {
            Err(Error::InvalidSetting {
                name,
                value: value.to_string(),
                why,
            })
        };
        if !(self.lr.is_finite() && self.lr >= 0.0) {
            return bad("lr", self.lr, "the learning rate must be finite and ≥ 0");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", self.momentum, "momentum must lie in [0, 1)");
        }
        if let LrSchedule::Geometric { final_factor } = self.schedule {
            if !(final_factor.is_finite() && final_factor > 0.0) {
                return bad(
                    "final_factor",
                    final_factor,
                    "the decay factor must be finite and > 0",
                );
            }
        }
        Ok(())
    }
}

/// Settings of traditional extraction (one model, Eq. 4).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TraditionalOptions {
    pub optimizer: Optimizer,
    /// |ε_T| ≤ eps_ratio·|v(x_N) − v(x_∅)|.
    pub eps_ratio: f64,
}

impl Default for TraditionalOptions {
    fn default() -> Self {
        TraditionalOptions {
            optimizer: Optimizer::traditional(),
            eps_ratio: 0.02,
        }
    }
}

/// Settings of generalizable extraction (m ≥ 2 models, Eq. 6).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeneralizableOptions {
    pub optimizer: Optimizer,
    /// Weight of the independent L1 term; the row-max term has 1 − α (see the module docs).
    pub alpha: f64,
    /// |ε^(i)_T| ≤ eps_ratio·|v^(i)(x_N) − v^(i)(x_∅)|.
    pub eps_ratio: f64,
    /// |γ̂^(i)_T| ≤ gamma_bounds[i]. `None`: gamma_ratio·|v^(i)(x_N) − v^(i)(x_∅)| of this sample.
    /// For a run over many samples pass [`gamma_bounds_over_samples`] (SPEC §3.2).
    pub gamma_bounds: Option<Vec<f64>>,
    pub gamma_ratio: f64,
}

impl Default for GeneralizableOptions {
    fn default() -> Self {
        GeneralizableOptions {
            optimizer: Optimizer::generalizable(),
            alpha: 0.1,
            eps_ratio: 0.02,
            gamma_bounds: None,
            gamma_ratio: 0.5,
        }
    }
}

/// τ_γ^(i) = ratio·E_x |v^(i)(x_N) − v^(i)(x_∅)| for each model i, from `samples[s][i]` = the
/// value vector of model i on sample s ([ours]: absolute differences, SPEC §3.2).
pub fn gamma_bounds_over_samples(samples: &[Vec<&[f64]>], ratio: f64) -> Result<Vec<f64>> {
    let m = samples
        .first()
        .map(|s| s.len())
        .ok_or_else(|| Error::Invalid("no samples given".into()))?;
    let mut sums = vec![0.0; m];
    for s in samples {
        if s.len() != m {
            return Err(Error::WrongModelCount(format!(
                "a sample has {} models, another {m}",
                s.len()
            )));
        }
        for (sum, v) in sums.iter_mut().zip(s) {
            check_values(v, "a value vector")?;
            *sum += span(v);
        }
    }
    Ok(sums
        .into_iter()
        .map(|x| ratio * x / samples.len() as f64)
        .collect())
}

/// |v(x_N) − v(x_∅)|.
fn span(v: &[f64]) -> f64 {
    (v[v.len() - 1] - v[0]).abs()
}

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

    fn arrays_mut(&mut self) -> impl Iterator<Item = &mut Vec<f64>> {
        self.eps
            .iter_mut()
            .chain(std::iter::once(&mut self.gamma_shared))
            .chain(self.gamma_specific.iter_mut())
    }

    fn arrays(&self) -> impl Iterator<Item = &Vec<f64>> {
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
    /// Per coalition: the largest |I| over models and which model holds it.
    best_abs: Vec<f64>,
    best: Vec<u32>,
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
/// (1 − α)·sign for the first model of largest magnitude (as torch.max picks).
#[inline(always)]
fn kind_loss(
    xs: &[Vec<f64>],
    len: usize,
    alpha: f64,
    best_abs: &mut [f64],
    best: &mut [u32],
    grads: Option<&mut [Vec<f64>]>,
) -> f64 {
    let (best_abs, best) = (&mut best_abs[..len], &mut best[..len]);
    let mut l1 = 0.0;
    for (j, x) in xs.iter().enumerate() {
        let x = &x[..len];
        if j == 0 {
            for (b, (w, v)) in best_abs.iter_mut().zip(best.iter_mut().zip(x)) {
                *b = v.abs();
                *w = 0;
            }
        } else {
            for (b, (w, v)) in best_abs.iter_mut().zip(best.iter_mut().zip(x)) {
                let a = v.abs();
                if a > *b {
                    *b = a;
                    *w = j as u32;
                }
            }
        }
        l1 += sum_abs(x);
    }
    let max_sum = sum_abs(best_abs);
    if let Some(grads) = grads {
        for (j, (g, x)) in grads.iter_mut().zip(xs).enumerate() {
            for ((g, v), w) in g[..len].iter_mut().zip(&x[..len]).zip(best.iter()) {
                let weight = if *w == j as u32 { 1.0 } else { alpha };
                *g = weight * sign(*v);
            }
        }
    }
    (1.0 - alpha) * max_sum + alpha * l1
}

impl Objective {
    /// Check the value vectors (same length 2^n, finite) and α ∈ [0, 1].
    pub fn new(values: &[&[f64]], alpha: f64) -> Result<Self> {
        let first = values
            .first()
            .ok_or_else(|| Error::WrongModelCount("no value vectors given".into()))?;
        let n = players_for_len(first.len())?;
        for (i, v) in values.iter().enumerate() {
            if v.len() != first.len() {
                return Err(Error::MismatchedLengths {
                    first: first.len(),
                    other: v.len(),
                });
            }
            check_values(v, &format!("model {}", i + 1))?;
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
            best: vec![0; len],
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
            &mut self.best,
            seed.then_some(&mut self.g_and[..]),
        );
        // OR: position N∖S for S ≠ ∅ is 0..len-1; position len-1 (S = ∅) is replaced by or_empty.
        loss += kind_loss(
            &self.or,
            len - 1,
            alpha,
            &mut self.best_abs,
            &mut self.best,
            seed.then_some(&mut self.g_or[..]),
        );
        // I_or(∅) of the m models: a single coalition, done inline.
        let (mut best, mut best_abs, mut l1) = (0, -1.0f64, 0.0);
        for (j, x) in self.or_empty.iter().enumerate() {
            l1 += x.abs();
            if x.abs() > best_abs {
                best = j;
                best_abs = x.abs();
            }
        }
        loss += (1.0 - alpha) * best_abs + alpha * l1;
        if seed {
            for j in 0..self.m {
                self.g_or[j][len - 1] = 0.0;
                let weight = if j == best { 1.0 } else { alpha };
                self.or_empty_grad[j] = weight * sign(self.or_empty[j]);
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
        loss
    }
}

/// One point of the loss trajectory.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossPoint {
    pub iteration: usize,
    pub loss: f64,
}

/// The outcome of a decomposition: interactions of every model and the learned parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decomposition {
    pub n: usize,
    /// Raw interactions per model (OR terms of order ≤ 1 not yet moved; see [`Self::reorganised`]).
    pub interactions: Vec<Interactions>,
    /// ε^(i) per model.
    pub eps: Vec<Vec<f64>>,
    /// γ̄ (generalizable extraction only).
    pub gamma_shared: Option<Vec<f64>>,
    /// γ̂^(i) per model; for traditional extraction the model's whole γ.
    pub gamma_specific: Vec<Vec<f64>>,
    pub eps_bounds: Vec<f64>,
    /// τ_γ^(i) (generalizable extraction only).
    pub gamma_bounds: Option<Vec<f64>>,
    /// α of the loss (traditional: 1, the plain L1).
    pub alpha: f64,
    pub optimizer: Optimizer,
    pub loss_trajectory: Vec<LossPoint>,
    pub initial_loss: f64,
    pub final_loss: f64,
}

impl Decomposition {
    pub fn models(&self) -> usize {
        self.interactions.len()
    }

    /// Interactions with every OR term of order ≤ 1 moved into AND (the authors' presentation).
    pub fn reorganised(&self) -> Vec<Interactions> {
        self.interactions
            .iter()
            .map(Interactions::reorganised)
            .collect()
    }

    /// γ^(i) = γ̄ + γ̂^(i) of model i.
    pub fn gamma(&self, model: usize) -> Vec<f64> {
        let spec = &self.gamma_specific[model];
        match &self.gamma_shared {
            Some(sh) => sh.iter().zip(spec).map(|(a, b)| a + b).collect(),
            None => spec.clone(),
        }
    }
}

/// Called at every recorded iteration with (iteration, niter, loss): for progress bars.
pub type Observer<'a> = &'a mut dyn FnMut(usize, usize, f64);

fn check_memory(n: usize, m: usize, opt: &Optimizer) -> Result<()> {
    // buffer + gradient (4m), per-model value, ε, γ̂, their gradients and momenta (8m), γ̄ (3).
    let need = (1u64 << n) * 8 * (12 * m as u64 + 3);
    let need_mib = need.div_ceil(1 << 20);
    if need_mib > opt.memory_limit_mib {
        return Err(Error::OutOfMemoryBudget {
            n,
            models: m,
            need_mib,
            limit_mib: opt.memory_limit_mib,
        });
    }
    Ok(())
}

/// Clip every entry of `x` to [−bound, bound].
#[inline(always)]
fn clip(x: &mut [f64], bound: f64) {
    x.iter_mut().for_each(|v| *v = v.clamp(-bound, bound));
}

type Optimised = (Params, Vec<LossPoint>, f64, f64);

/// Run the reference optimiser on `objective` with bounds on ε (per model) and on γ̂ (per model;
/// `None`: no specific part). Returns the final parameters, the trajectory and both losses.
/// The loop is compiled twice, once for AVX-512 / AVX2 CPUs (chosen at run time), since the
/// butterflies and element-wise passes vectorise 2-4× wider there; the results are identical.
fn optimise(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    observer: Option<Observer<'_>>,
) -> Optimised {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the features this copy is compiled for.
            return unsafe { optimise_avx512(objective, eps_bounds, gamma_bounds, opt, observer) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { optimise_avx2(objective, eps_bounds, gamma_bounds, opt, observer) };
        }
    }
    optimise_generic(objective, eps_bounds, gamma_bounds, opt, observer)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn optimise_avx512(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    observer: Option<Observer<'_>>,
) -> Optimised {
    optimise_generic(objective, eps_bounds, gamma_bounds, opt, observer)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn optimise_avx2(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    observer: Option<Observer<'_>>,
) -> Optimised {
    optimise_generic(objective, eps_bounds, gamma_bounds, opt, observer)
}

#[inline(always)]
fn optimise_generic(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    mut observer: Option<Observer<'_>>,
) -> Optimised {
    let (n, m) = (objective.n, objective.m);
    let mut p = Params::zeros(n, m, gamma_bounds.is_some());
    let mut g = p.clone();
    let mut buf = p.clone();
    let mut trajectory = Vec::new();
    let mut initial = f64::NAN;
    let mut loss = objective.loss(&p);
    let every = opt.record_every.max(1);
    for it in 0..opt.niter {
        for (e, &b) in p.eps.iter_mut().zip(eps_bounds) {
            clip(e, b);
        }
        if let Some(bounds) = gamma_bounds {
            for (gs, &b) in p.gamma_specific.iter_mut().zip(bounds) {
                clip(gs, b);
            }
        }
        let last = it + 1 == opt.niter;
        loss = if last {
            objective.loss(&p)
        } else {
            objective.loss_and_gradient(&p, &mut g)
        };
        if it == 0 {
            initial = loss;
        }
        if it % every == 0 || last {
            trajectory.push(LossPoint {
                iteration: it,
                loss,
            });
            if let Some(obs) = observer.as_mut() {
                obs(it, opt.niter, loss);
            }
        }
        if last {
            break;
        }
        let lr = opt.lr_at(it);
        let mu = opt.momentum;
        for ((theta, grad), mom) in p.arrays_mut().zip(g.arrays()).zip(buf.arrays_mut()) {
            for ((t, &gr), b) in theta.iter_mut().zip(grad).zip(mom.iter_mut()) {
                *b = mu * *b + gr;
                *t -= lr * *b;
            }
        }
    }
    if opt.niter == 0 {
        initial = loss;
        trajectory.push(LossPoint { iteration: 0, loss });
    }
    (p, trajectory, initial, loss)
}

fn check_ratio(name: &'static str, x: f64) -> Result<()> {
    if x.is_finite() && x >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidSetting {
            name,
            value: x.to_string(),
            why: "a bound must be finite and ≥ 0",
        })
    }
}

/// Traditional extraction for one model (paper Eq. 4, Li & Zhang 2023): min ‖I_and‖₁ + ‖I_or‖₁.
pub fn decompose_traditional(v: &[f64], opts: &TraditionalOptions) -> Result<Decomposition> {
    decompose_traditional_observed(v, opts, None)
}

/// [`decompose_traditional`] reporting progress to `observer`.
pub fn decompose_traditional_observed(
    v: &[f64],
    opts: &TraditionalOptions,
    observer: Option<Observer<'_>>,
) -> Result<Decomposition> {
    opts.optimizer.validate()?;
    check_ratio("eps_ratio", opts.eps_ratio)?;
    let mut objective = Objective::new(&[v], 1.0)?;
    check_memory(objective.n, 1, &opts.optimizer)?;
    let eps_bounds = vec![opts.eps_ratio * span(v)];
    let (p, trajectory, initial, final_loss) =
        optimise(&mut objective, &eps_bounds, None, &opts.optimizer, observer);
    let interactions = objective.interactions(&p);
    Ok(Decomposition {
        n: objective.n,
        interactions,
        eps: p.eps,
        gamma_shared: None,
        gamma_specific: vec![p.gamma_shared],
        eps_bounds,
        gamma_bounds: None,
        alpha: 1.0,
        optimizer: opts.optimizer.clone(),
        loss_trajectory: trajectory,
        initial_loss: initial,
        final_loss,
    })
}

/// Generalizable extraction for m ≥ 2 models (paper Eq. 5-6): a shared γ̄ plus a bounded γ̂ per
/// model, so that the models' interactions are sparse and, where possible, the same.
pub fn decompose_generalizable(
    values: &[&[f64]],
    opts: &GeneralizableOptions,
) -> Result<Decomposition> {
    decompose_generalizable_observed(values, opts, None)
}

/// [`decompose_generalizable`] reporting progress to `observer`.
pub fn decompose_generalizable_observed(
    values: &[&[f64]],
    opts: &GeneralizableOptions,
    observer: Option<Observer<'_>>,
) -> Result<Decomposition> {
    if values.len() < 2 {
        return Err(Error::WrongModelCount(format!(
            "generalizable extraction needs at least 2 models, got {}; use traditional extraction for one model",
            values.len()
        )));
    }
    opts.optimizer.validate()?;
    check_ratio("eps_ratio", opts.eps_ratio)?;
    check_ratio("gamma_ratio", opts.gamma_ratio)?;
    let mut objective = Objective::new(values, opts.alpha)?;
    let m = values.len();
    check_memory(objective.n, m, &opts.optimizer)?;
    let eps_bounds: Vec<f64> = values.iter().map(|v| opts.eps_ratio * span(v)).collect();
    let gamma_bounds = match &opts.gamma_bounds {
        Some(b) if b.len() != m => {
            return Err(Error::WrongModelCount(format!(
                "{} γ̂ bounds given for {m} models",
                b.len()
            )));
        }
        Some(b) => {
            for &x in b {
                check_ratio("gamma_bounds", x)?;
            }
            b.clone()
        }
        None => values.iter().map(|v| opts.gamma_ratio * span(v)).collect(),
    };
    let (p, trajectory, initial, final_loss) = optimise(
        &mut objective,
        &eps_bounds,
        Some(&gamma_bounds),
        &opts.optimizer,
        observer,
    );
    let interactions = objective.interactions(&p);
    Ok(Decomposition {
        n: objective.n,
        interactions,
        eps: p.eps,
        gamma_shared: Some(p.gamma_shared),
        gamma_specific: p.gamma_specific,
        eps_bounds,
        gamma_bounds: Some(gamma_bounds),
        alpha: opts.alpha,
        optimizer: opts.optimizer.clone(),
        loss_trajectory: trajectory,
        initial_loss: initial,
        final_loss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_schedule_spans_one_decade() {
        let o = Optimizer {
            niter: 11,
            ..Optimizer::traditional()
        };
        assert!((o.lr_at(0) - 1e-6).abs() < 1e-18);
        assert!((o.lr_at(10) - 1e-7).abs() < 1e-19);
        assert!((o.lr_at(5) - 1e-6 * 0.1f64.sqrt()).abs() < 1e-18);
    }

    #[test]
    fn zero_parameters_split_values_in_half() {
        let v = [7.0, 8.0, 9.0, 13.0];
        let mut obj = Objective::new(&[&v], 1.0).unwrap();
        let it = &obj.interactions(&Params::zeros(2, 1, false))[0];
        assert_eq!(it.and, vec![3.5, 0.5, 1.0, 1.5]);
        assert_eq!(it.or, vec![3.5, 2.0, 2.5, -1.5]);
    }

    #[test]
    fn rejects_bad_settings() {
        let v = vec![0.0, 1.0, 2.0, 4.0];
        assert!(decompose_generalizable(&[&v], &GeneralizableOptions::default()).is_err());
        let opts = GeneralizableOptions {
            alpha: 1.5,
            ..Default::default()
        };
        assert!(matches!(
            decompose_generalizable(&[&v, &v], &opts),
            Err(Error::InvalidSetting { .. })
        ));
        let mut opts = TraditionalOptions::default();
        opts.optimizer.momentum = 1.0;
        assert!(decompose_traditional(&v, &opts).is_err());
        let opts = GeneralizableOptions {
            gamma_bounds: Some(vec![1.0]),
            ..Default::default()
        };
        assert!(matches!(
            decompose_generalizable(&[&v, &v], &opts),
            Err(Error::WrongModelCount(_))
        ));
        let short = vec![0.0, 1.0];
        assert!(matches!(
            decompose_generalizable(&[&v, &short], &GeneralizableOptions::default()),
            Err(Error::MismatchedLengths { .. })
        ));
    }
}
