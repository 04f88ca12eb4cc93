//! The reference optimiser of the authors (method §3.1-3.2): SGD with momentum on the
//! decomposition loss, from zero, with bounded parameters clipped before every step. It does not
//! reach the optimum of the loss (the optimal solver does); it stays so that the authors'
//! optimisation can be reproduced (`--solver sgd`).

use super::objective::{Objective, Params};
use crate::{Error, Result};

/// One point of the loss trajectory.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossPoint {
    pub iteration: usize,
    pub loss: f64,
}

/// How the learning rate moves over the iterations.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same learning rate at every step (the generalizable reference).
    Constant,
    /// Log-spaced from lr to lr·final_factor over niter steps (the traditional reference: 0.1).
    Geometric { final_factor: f64 },
}

/// Default traditional learning rate per unit of value range, decaying to a tenth over the run
/// (the reference schedule). Measured (n = 10, 20,000 iterations, 12 movie-review sentences,
/// MiniLM-L6 and -L3, value ranges 1.9–8.0), mean final/initial loss by lr per unit range: 1e-8:
/// 0.502, 3e-8: 0.457, 1e-7: 0.411, 3e-7: 0.385, 1e-6: 0.431, 3e-6: 0.821 (oscillating). The
/// authors' absolute 1e-6 is 10× too large where v varies by 0.1.
pub const DEFAULT_LR_TRADITIONAL: f64 = 3e-7;

/// Default generalizable learning rate per unit of value range (max over the models), constant.
/// Measured as for [`DEFAULT_LR_TRADITIONAL`], mean final/initial loss: 1e-8: 0.256, 3e-8: 0.223,
/// 5e-8: 0.220, 1e-7: 0.231, 3e-7: 0.387, 1e-6: 1.76.
pub const DEFAULT_LR_GENERALIZABLE: f64 = 5e-8;

/// SGD with momentum, PyTorch semantics: buf ← μ·buf + g; θ ← θ − lr·buf. Parameters start at
/// zero; bounded parameters are clipped before every step; the last iteration takes no step.
///
/// **The learning-rate rule** (one for the library, the CLI, the notebooks and the runs): with
/// `lr: None` the learning rate is `lr_per_unit_range` × the value range max_T |v(x_T) − v(x_∅)|
/// (per model for traditional extraction, the largest over the models for generalizable): the
/// loss is positively homogeneous in (v, γ, ε) and its subgradient scale-free, so one lr per unit
/// suits values of every scale. A learning rate given explicitly (`lr: Some(x)`, the CLI's
/// `--lr`) is taken as absolute.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Optimizer {
    /// An absolute learning rate, > 0; `None`: `lr_per_unit_range` × the value range.
    pub lr: Option<f64>,
    /// The learning rate per unit of value range used when `lr` is `None`, > 0.
    pub lr_per_unit_range: f64,
    /// Iterations, ≥ 2: each evaluates the loss, all but the last then take a step.
    pub niter: usize,
    pub momentum: f64,
    pub schedule: LrSchedule,
    /// Record the loss every this many iterations (and at the last one).
    pub record_every: usize,
}

impl Optimizer {
    /// The reference for traditional extraction (method §3.1): 20,000 steps decaying to a tenth;
    /// lr [`DEFAULT_LR_TRADITIONAL`] per unit of value range.
    pub fn traditional() -> Self {
        Optimizer {
            lr: None,
            lr_per_unit_range: DEFAULT_LR_TRADITIONAL,
            niter: 20000,
            momentum: 0.9,
            schedule: LrSchedule::Geometric { final_factor: 0.1 },
            record_every: 1000,
        }
    }

    /// The reference for generalizable extraction (method §3.2): 20,000 steps at a constant lr,
    /// [`DEFAULT_LR_GENERALIZABLE`] per unit of value range.
    pub fn generalizable() -> Self {
        Optimizer {
            lr_per_unit_range: DEFAULT_LR_GENERALIZABLE,
            schedule: LrSchedule::Constant,
            ..Self::traditional()
        }
    }

    /// The same settings with an absolute learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = Some(lr);
        self
    }

    /// The absolute learning rate for value vectors whose range (max over the models of
    /// max_T |v(x_T) − v(x_∅)|) is `range`: [`Self::lr`] if given, else the per-unit rate times
    /// the range (times 1 when the range is 0).
    pub fn resolve_lr(&self, range: f64) -> f64 {
        match self.lr {
            Some(lr) => lr,
            None if range > 0.0 && range.is_finite() => self.lr_per_unit_range * range,
            None => self.lr_per_unit_range,
        }
    }

    /// The learning rate of step `it` (0-based) starting from `lr`.
    pub fn lr_at(&self, lr: f64, it: usize) -> f64 {
        match self.schedule {
            LrSchedule::Constant => lr,
            LrSchedule::Geometric { final_factor } => {
                if self.niter <= 1 {
                    lr
                } else {
                    lr * final_factor.powf(it as f64 / (self.niter - 1) as f64)
                }
            }
        }
    }

    /// Errors: [`Error::InvalidSetting`] naming the first setting out of its range: niter < 2, a
    /// learning rate that is not finite and > 0, momentum outside [0, 1), a decay factor ≤ 0.
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |name, value: f64, why| {
            Err(Error::InvalidSetting {
                name,
                value: value.to_string(),
                why,
            })
        };
        if self.niter < 2 {
            return bad(
                "niter",
                self.niter as f64,
                "the SGD takes niter − 1 steps (the last iteration only evaluates the loss), so niter must be ≥ 2",
            );
        }
        if let Some(lr) = self.lr {
            if !(lr.is_finite() && lr > 0.0) {
                return bad(
                    "lr",
                    lr,
                    "the learning rate must be finite and > 0 (at 0 the SGD never moves)",
                );
            }
        }
        let per = self.lr_per_unit_range;
        if !(per.is_finite() && per > 0.0) {
            return bad(
                "lr_per_unit_range",
                per,
                "the learning rate per unit of value range must be finite and > 0 (at 0 the SGD never moves)",
            );
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

/// Called at every recorded iteration with (iteration, niter, loss).
pub type SgdObserver<'a> = &'a mut dyn FnMut(usize, usize, f64);

/// Clip every entry of `x` to [−bound, bound].
#[inline(always)]
fn clip(x: &mut [f64], bound: f64) {
    x.iter_mut().for_each(|v| *v = v.clamp(-bound, bound));
}

/// Final parameters, trajectory, initial loss, final loss.
pub(crate) type Optimised = (Params, Vec<LossPoint>, f64, f64);

/// Run the reference optimiser on `objective` with bounds on ε (per model) and on γ̂ (per model;
/// `None`: no specific part). Returns the final parameters, the trajectory and both losses.
/// The loop is compiled twice, once for AVX-512 / AVX2 CPUs (chosen at run time), since the
/// butterflies and element-wise passes vectorise 2-4× wider there; the results are identical.
pub(crate) fn optimise(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    lr: f64,
    observer: Option<SgdObserver<'_>>,
) -> Optimised {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the features this copy is compiled for.
            return unsafe {
                optimise_avx512(objective, eps_bounds, gamma_bounds, opt, lr, observer)
            };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe {
                optimise_avx2(objective, eps_bounds, gamma_bounds, opt, lr, observer)
            };
        }
    }
    optimise_generic(objective, eps_bounds, gamma_bounds, opt, lr, observer)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn optimise_avx512(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    lr: f64,
    observer: Option<SgdObserver<'_>>,
) -> Optimised {
    optimise_generic(objective, eps_bounds, gamma_bounds, opt, lr, observer)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn optimise_avx2(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    lr: f64,
    observer: Option<SgdObserver<'_>>,
) -> Optimised {
    optimise_generic(objective, eps_bounds, gamma_bounds, opt, lr, observer)
}

#[inline(always)]
fn optimise_generic(
    objective: &mut Objective,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opt: &Optimizer,
    lr: f64,
    mut observer: Option<SgdObserver<'_>>,
) -> Optimised {
    let (n, m) = (objective.n(), objective.models());
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
        let lr = opt.lr_at(lr, it);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_schedule_spans_one_decade() {
        let o = Optimizer {
            niter: 11,
            ..Optimizer::traditional()
        };
        assert!((o.lr_at(1e-6, 0) - 1e-6).abs() < 1e-18);
        assert!((o.lr_at(1e-6, 10) - 1e-7).abs() < 1e-19);
        assert!((o.lr_at(1e-6, 5) - 1e-6 * 0.1f64.sqrt()).abs() < 1e-18);
    }

    #[test]
    fn explicit_lr_is_absolute_default_is_per_unit_range() {
        let o = Optimizer::generalizable();
        assert_eq!(o.resolve_lr(4.0), 4.0 * DEFAULT_LR_GENERALIZABLE);
        assert_eq!(o.resolve_lr(0.0), DEFAULT_LR_GENERALIZABLE);
        assert_eq!(o.with_lr(1e-3).resolve_lr(4.0), 1e-3);
    }
}
