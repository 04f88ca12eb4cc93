//! AND-OR decomposition with learned γ and ε (docs/method.md §3):
//! traditional extraction for one model (paper Eq. 4, Li & Zhang 2023) and generalizable
//! extraction for m ≥ 2 models (paper Eq. 5-6, Chen et al. 2024).
//!
//! For model j on a sample: v_and = ½(v + ε_j) + γ_j and v_or = ½(v + ε_j) − γ_j, with
//! γ_j = γ̄ + γ̂_j; |ε_j| ≤ τ_ε,j = `eps_ratio`·|v_j(x_N) − v_j(x_∅)| and |γ̂_j| ≤ τ_γ,j. The loss
//! ([`Objective`]) is, per coalition S and separately for AND and OR,
//! (1 − α)·max_j |I^j(S)| + α·Σ_j |I^j(S)|, summed over all S. This is the authors' code's
//! weighting of the paper's Eq. 6 (α_paper = α/(1 − α), scaled); α = 0 is pure row-max, α = 1
//! independent L1 per model. For one model both terms are |I(S)|: Eq. 4.
//!
//! One entry point, [`decompose`], for any m ≥ 1 and either [`Method`]; one options type,
//! [`DecompositionOptions`], used by the library, the CLI, the notebooks and the runs alike; one
//! learning-rate rule ([`Optimizer`]).

mod objective;
pub mod optimal;
mod sgd;

use std::time::Instant;

pub use objective::{Objective, Params};
pub use optimal::{GapPoint, OptimalOptions};
pub use sgd::{
    LrSchedule, Optimizer, SgdObserver, DEFAULT_LR_GENERALIZABLE, DEFAULT_LR_TRADITIONAL,
};

use crate::coalition::players_for_len;
use crate::interactions::Interactions;
use crate::transform::check_values;
use crate::{Error, Result};

/// Bumped whenever a change of this module changes extraction results, so that a resumed run
/// never reuses a result computed by another version (part of every run fingerprint).
pub const ALGORITHM_VERSION: u32 = 2;

/// Which extraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// One model alone (Eq. 4): its own free γ.
    Traditional,
    /// m ≥ 2 models jointly (Eq. 6): a shared free γ̄ and a bounded γ̂ per model.
    Generalizable,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Traditional => "traditional",
            Method::Generalizable => "generalizable",
        }
    }
}

/// Which solver minimises the loss.
///
/// The default is [`SolverKind::Optimal`]: the decomposition the paper defines is the minimiser of
/// the loss, and only a certified optimum is a well-defined function of the values (the SGD stops
/// 13-151 % above the optimum at the reference settings, wherever its 20,000 steps end). Measured
/// at n = 10, m = 2 it costs several times the SGD's 20,000 steps (BENCHMARKS.md, "Optimal
/// solver"): seconds per sample, small next to the networks' evaluation. [`SolverKind::Sgd`]
/// reproduces the authors' optimisation.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SolverKind {
    /// The certified optimum ([`optimal::solve`]): a primal-dual method whose relative duality
    /// gap is at most [`OptimalOptions::tol`] (default 1e-6).
    #[default]
    Optimal,
    /// The authors' reference SGD ([`Optimizer`]): stops where its iterations end.
    Sgd,
}

impl SolverKind {
    pub fn name(self) -> &'static str {
        match self {
            SolverKind::Optimal => "optimal",
            SolverKind::Sgd => "sgd",
        }
    }
}

/// Every setting of a decomposition.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecompositionOptions {
    pub solver: SolverKind,
    /// The optimal solver's settings (tolerance, iteration limits).
    pub optimal: OptimalOptions,
    /// The reference SGD of traditional extraction (decaying lr).
    pub sgd_traditional: Optimizer,
    /// The reference SGD of generalizable extraction (constant lr).
    pub sgd_generalizable: Optimizer,
    /// Weight of the L1 term in the generalizable loss; the row-max term has 1 − α (default 0.1).
    pub alpha: f64,
    /// |ε^(i)_T| ≤ eps_ratio·|v^(i)(x_N) − v^(i)(x_∅)| (default 0.02).
    pub eps_ratio: f64,
    /// |γ̂^(i)_T| ≤ `gamma_bounds[i]`; `None`: gamma_ratio·|v^(i)(x_N) − v^(i)(x_∅)| of the sample.
    /// A run over many samples sets [`gamma_bounds_over_samples`] (the authors' definition).
    pub gamma_bounds: Option<Vec<f64>>,
    /// Default 0.5.
    pub gamma_ratio: f64,
    /// Refuse problems whose working buffers would exceed this many MiB (default 16,384).
    pub memory_limit_mib: u64,
}

impl Default for DecompositionOptions {
    fn default() -> Self {
        DecompositionOptions {
            solver: SolverKind::default(),
            optimal: OptimalOptions::default(),
            sgd_traditional: Optimizer::traditional(),
            sgd_generalizable: Optimizer::generalizable(),
            alpha: 0.1,
            eps_ratio: 0.02,
            gamma_bounds: None,
            gamma_ratio: 0.5,
            memory_limit_mib: 16 * 1024,
        }
    }
}

impl DecompositionOptions {
    /// The optimal solver with relative duality-gap tolerance `tol`.
    pub fn optimal(tol: f64) -> Self {
        let mut o = DecompositionOptions {
            solver: SolverKind::Optimal,
            ..Default::default()
        };
        o.optimal.tol = tol;
        o
    }

    /// The reference SGD with the given iterations for both methods.
    pub fn sgd(niter: usize) -> Self {
        let mut o = DecompositionOptions {
            solver: SolverKind::Sgd,
            ..Default::default()
        };
        o.sgd_traditional.niter = niter;
        o.sgd_generalizable.niter = niter;
        o
    }

    /// The SGD settings of `method`.
    pub fn optimizer(&self, method: Method) -> &Optimizer {
        match method {
            Method::Traditional => &self.sgd_traditional,
            Method::Generalizable => &self.sgd_generalizable,
        }
    }

    fn validate(&self) -> Result<()> {
        self.sgd_traditional.validate()?;
        self.sgd_generalizable.validate()?;
        check_ratio("eps_ratio", self.eps_ratio)?;
        check_ratio("gamma_ratio", self.gamma_ratio)?;
        if !(0.0..=1.0).contains(&self.alpha) {
            return Err(Error::InvalidSetting {
                name: "alpha",
                value: self.alpha.to_string(),
                why: "α weighs the L1 term against the row-max term and must lie in [0, 1]",
            });
        }
        Ok(())
    }
}

/// τ_γ^(i) = ratio·E_x |v^(i)(x_N) − v^(i)(x_∅)| for each model i, from `samples[s][i]` = the
/// value vector of model i on sample s (absolute differences; the authors' code averages the
/// signed difference, which can cancel across samples).
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
pub fn span(v: &[f64]) -> f64 {
    (v[v.len() - 1] - v[0]).abs()
}

/// max_T |v(x_T) − v(x_∅)|, the scale the default learning rates are relative to.
pub fn value_range(v: &[f64]) -> f64 {
    v.iter().map(|x| (x - v[0]).abs()).fold(0.0, f64::max)
}

/// One point of the loss trajectory.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossPoint {
    pub iteration: usize,
    pub loss: f64,
}

/// How the solver did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SolverReport {
    pub solver: SolverKind,
    /// The absolute learning rate SGD used (after the learning-rate rule).
    pub lr: Option<f64>,
    /// The optimal solver's requested relative gap.
    pub tol: Option<f64>,
    /// The optimal solver's certified relative primal-dual gap (loss − dual bound)/loss ≥ 0.
    pub duality_gap: Option<f64>,
    /// The optimal solver's certified lower bound of the optimal loss.
    pub dual_bound: Option<f64>,
    pub iterations: usize,
    pub seconds: f64,
    /// SGD: the loss did not end above its start (a run that ends higher than it began is
    /// reported as not converged: a warning in the CLI, a field in summary.json). Optimal: the
    /// gap reached the tolerance within the iteration and time limits.
    pub converged: bool,
    /// Loss (SGD) every `record_every` iterations.
    pub trajectory: Vec<LossPoint>,
    /// Loss, dual bound and gap against iterations and seconds (optimal solver).
    pub gap_trajectory: Vec<GapPoint>,
}

/// The outcome of a decomposition: interactions of every model and the learned parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decomposition {
    pub n: usize,
    pub method: Method,
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
    pub initial_loss: f64,
    pub final_loss: f64,
    pub solver: SolverReport,
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

/// Called with (iteration, max iterations, loss) as the solver goes.
pub type Observer<'a> = &'a mut dyn FnMut(usize, usize, f64);

/// Working memory of a decomposition of m models over n players, in MiB (before allocating).
pub fn memory_mib(n: usize, m: usize) -> u64 {
    // transformed arrays + gradients (4m), per-model value, ε, γ̂, their gradients and momenta
    // (8m), γ̄ and its gradient and momentum (3), row-max scratch (2).
    let need = (1u64 << n) * 8 * (12 * m as u64 + 5);
    need.div_ceil(1 << 20)
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

/// Check value vectors before any allocation: at least one, equal lengths 2^n, finite, and small
/// enough that the transforms stay finite in f64 (|I(S)| ≤ 2^|S|·max|v|).
pub fn check_inputs(values: &[&[f64]]) -> Result<usize> {
    let first = values
        .first()
        .ok_or_else(|| Error::WrongModelCount("no value vectors given".into()))?;
    let n = players_for_len(first.len())?;
    if n == 0 {
        return Err(Error::InvalidPlayers(
            "a value vector of length 1 has no players: a decomposition needs n ≥ 1 players (2^n values)"
                .into(),
        ));
    }
    for (i, v) in values.iter().enumerate() {
        if v.len() != first.len() {
            return Err(Error::MismatchedLengths {
                first: first.len(),
                other: v.len(),
            });
        }
        check_values(v, &format!("model {}", i + 1))?;
        crate::transform::check_range(v, &format!("model {}", i + 1))?;
    }
    Ok(n)
}

/// Decompose the value vectors `values` (one per model, same players) with `method`.
///
/// Traditional extraction takes exactly one model; generalizable at least two. Errors: wrong
/// model count, mismatched lengths, non-finite values or values too large for f64 arithmetic,
/// settings out of range, over the memory limit — all before any large allocation.
pub fn decompose(
    values: &[&[f64]],
    method: Method,
    opts: &DecompositionOptions,
    mut observer: Option<Observer<'_>>,
) -> Result<Decomposition> {
    match (method, values.len()) {
        (Method::Traditional, 1) => {}
        (Method::Traditional, m) => {
            return Err(Error::WrongModelCount(format!(
                "traditional extraction explains one model at a time, got {m}; call it once per model"
            )))
        }
        (Method::Generalizable, m) if m < 2 => {
            return Err(Error::WrongModelCount(format!(
                "generalizable extraction needs at least 2 models, got {m}; use traditional extraction for one model"
            )))
        }
        _ => {}
    }
    opts.validate()?;
    let n = check_inputs(values)?;
    let m = values.len();
    let need_mib = memory_mib(n, m);
    if need_mib > opts.memory_limit_mib {
        return Err(Error::OutOfMemoryBudget {
            n,
            models: m,
            need_mib,
            limit_mib: opts.memory_limit_mib,
        });
    }
    let eps_bounds: Vec<f64> = values.iter().map(|v| opts.eps_ratio * span(v)).collect();
    let gamma_bounds = match method {
        Method::Traditional => None,
        Method::Generalizable => Some(match &opts.gamma_bounds {
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
        }),
    };
    let alpha = match method {
        Method::Traditional => 1.0,
        Method::Generalizable => opts.alpha,
    };
    let mut objective = Objective::new(values, alpha)?;
    let start = Instant::now();
    let (params, report, initial, final_loss) = match opts.solver {
        SolverKind::Sgd => {
            let opt = opts.optimizer(method);
            let range = values.iter().map(|v| value_range(v)).fold(0.0, f64::max);
            let lr = opt.resolve_lr(range);
            let (p, trajectory, initial, final_loss) = sgd::optimise(
                &mut objective,
                &eps_bounds,
                gamma_bounds.as_deref(),
                opt,
                lr,
                observer,
            );
            let report = SolverReport {
                solver: SolverKind::Sgd,
                lr: Some(lr),
                tol: None,
                duality_gap: None,
                dual_bound: None,
                iterations: opt.niter,
                seconds: start.elapsed().as_secs_f64(),
                converged: final_loss.is_finite() && final_loss <= initial,
                trajectory,
                gap_trajectory: Vec::new(),
            };
            (p, report, initial, final_loss)
        }
        SolverKind::Optimal => {
            let initial = objective.loss(&Params::zeros(n, m, gamma_bounds.is_some()));
            let max = opts.optimal.max_iter;
            let mut on_point = |g: &GapPoint| {
                if let Some(o) = observer.as_mut() {
                    o(g.iteration, max, g.loss);
                }
            };
            let sol = optimal::solve(
                values,
                alpha,
                &eps_bounds,
                gamma_bounds.as_deref(),
                &opts.optimal,
                Some(&mut on_point),
            )?;
            let report = SolverReport {
                solver: SolverKind::Optimal,
                lr: None,
                tol: Some(opts.optimal.tol),
                duality_gap: Some(sol.gap),
                dual_bound: Some(sol.dual_bound),
                iterations: sol.iterations,
                seconds: start.elapsed().as_secs_f64(),
                converged: sol.converged,
                trajectory: sol
                    .trajectory
                    .iter()
                    .map(|g| LossPoint {
                        iteration: g.iteration,
                        loss: g.loss,
                    })
                    .collect(),
                gap_trajectory: sol.trajectory,
            };
            (sol.params, report, initial, sol.loss)
        }
    };
    if !(final_loss.is_finite() && initial.is_finite()) {
        return Err(Error::ValueRange(format!(
            "the {} loss became {final_loss} (from {initial}): the value range is too large for f64 arithmetic, or the learning rate diverged; rescale the values or lower the learning rate",
            method.name()
        )));
    }
    let interactions = objective.interactions(&params);
    for (j, it) in interactions.iter().enumerate() {
        crate::interactions::check_finite_interactions(it, &format!("model {}", j + 1))?;
    }
    let Params {
        eps,
        gamma_shared,
        gamma_specific,
    } = params;
    let (gamma_shared, gamma_specific) = match method {
        Method::Traditional => (None, vec![gamma_shared]),
        Method::Generalizable => (Some(gamma_shared), gamma_specific),
    };
    Ok(Decomposition {
        n,
        method,
        interactions,
        eps,
        gamma_shared,
        gamma_specific,
        eps_bounds,
        gamma_bounds,
        alpha,
        initial_loss: initial,
        final_loss,
        solver: report,
    })
}

/// Traditional extraction of one model (Eq. 4): min ‖I_and‖₁ + ‖I_or‖₁.
pub fn decompose_traditional(v: &[f64], opts: &DecompositionOptions) -> Result<Decomposition> {
    decompose(&[v], Method::Traditional, opts, None)
}

/// Generalizable extraction of m ≥ 2 models (Eq. 6): a shared γ̄ plus a bounded γ̂ per model, so
/// that the models' interactions are sparse and, where possible, the same.
pub fn decompose_generalizable(
    values: &[&[f64]],
    opts: &DecompositionOptions,
) -> Result<Decomposition> {
    decompose(values, Method::Generalizable, opts, None)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let d = DecompositionOptions::default();
        assert!(decompose_generalizable(&[&v], &d).is_err());
        let opts = DecompositionOptions {
            alpha: 1.5,
            ..Default::default()
        };
        assert!(matches!(
            decompose_generalizable(&[&v, &v], &opts),
            Err(Error::InvalidSetting { .. })
        ));
        let mut opts = DecompositionOptions::default();
        opts.sgd_traditional.momentum = 1.0;
        assert!(decompose_traditional(&v, &opts).is_err());
        let opts = DecompositionOptions {
            gamma_bounds: Some(vec![1.0]),
            ..Default::default()
        };
        assert!(matches!(
            decompose_generalizable(&[&v, &v], &opts),
            Err(Error::WrongModelCount(_))
        ));
        let short = vec![0.0, 1.0];
        assert!(matches!(
            decompose_generalizable(&[&v, &short], &d),
            Err(Error::MismatchedLengths { .. })
        ));
        assert!(matches!(
            decompose(&[&v, &v], Method::Traditional, &d, None),
            Err(Error::WrongModelCount(_))
        ));
    }

    #[test]
    fn memory_is_checked_before_allocating() {
        let v = vec![0.0; 1 << 4];
        let opts = DecompositionOptions {
            memory_limit_mib: 0,
            ..Default::default()
        };
        assert!(matches!(
            decompose_traditional(&v, &opts),
            Err(Error::OutOfMemoryBudget { .. })
        ));
    }

    #[test]
    fn huge_values_are_refused_not_turned_into_infinity() {
        let v = vec![-1e308, 1e308, 0.0, 0.0];
        let e = decompose_traditional(&v, &DecompositionOptions::sgd(100)).unwrap_err();
        assert!(matches!(e, Error::ValueRange(_)), "{e}");
    }
}
