//! The settings of a decomposition: which extraction ([`Method`]), which solver
//! ([`SolverKind`]), and every bound and weight ([`DecompositionOptions`]), with their checks and
//! the bounds derived from the values (τε, τγ and the learning rate's value range).

use super::optimal::OptimalOptions;
use super::sgd::Optimizer;
use crate::transform::check_values;
use crate::{Error, Result};

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
    /// |ε^(i)_T| ≤ eps_ratio·|v^(i)(x_N) − v^(i)(x_∅)| (default 0.02). A ratio that makes every
    /// |v^(i)(x_T)| ≤ τε has the optimum 0 (ε = −v, γ = 0), which the optimal solver returns at
    /// once.
    pub eps_ratio: f64,
    /// |γ̂^(i)_T| ≤ `gamma_bounds[i]`; `None`: gamma_ratio·|v^(i)(x_N) − v^(i)(x_∅)| of the sample.
    /// A run over many samples sets [`gamma_bounds_over_samples`] (the authors' definition). A
    /// bound above twice the initial loss cannot bind at any optimum: the optimal solver solves it
    /// as that cap, i.e. as a free γ̂ ([`crate::decomposition::optimal`], "Degenerate inputs").
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

    /// Errors: [`Error::InvalidSetting`] naming the first setting out of its range (both SGD
    /// settings are checked whichever solver runs).
    pub(super) fn validate(&self) -> Result<()> {
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

/// A bound or ratio: finite and ≥ 0, else [`Error::InvalidSetting`] naming it.
pub(super) fn check_ratio(name: &'static str, x: f64) -> Result<()> {
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
