//! [`decompose`], the one entry point: the input checks (all before any large allocation), the
//! bounds, then the chosen solver.

use std::time::Instant;

use super::objective::{check_model_values, Objective, Params};
use super::optimal::{self, GapPoint};
use super::options::{check_ratio, span, value_range, DecompositionOptions, Method, SolverKind};
use super::result::{Decomposition, SolverReport};
use super::sgd::{self, LossPoint};
use crate::coalition::players_for_len;
use crate::{Error, Result};

/// Called with (iteration, max iterations, loss) as the solver goes.
pub type Observer<'a> = &'a mut dyn FnMut(usize, usize, f64);

/// Working memory of a decomposition of m models over n players, in MiB (before allocating).
pub fn memory_mib(n: usize, m: usize) -> u64 {
    // transformed arrays + gradients (4m), per-model value, ε, γ̂, their gradients and momenta
    // (8m), γ̄ and its gradient and momentum (3), row-max scratch (2).
    let need = (1u64 << n) * 8 * (12 * m as u64 + 5);
    need.div_ceil(1 << 20)
}

/// Check value vectors before any allocation: at least one, equal lengths 2^n, finite, each all
/// zero or of normal magnitude (largest |v| ≥ 2.2e-308), and small enough that the transforms
/// stay finite in f64 (|I(S)| ≤ 2^|S|·max|v|).
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
        check_model_values(v, first.len(), i)?;
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

    /// Issue 27.9: an SGD that takes no step (niter 0 or 1, a learning rate of 0) used to exit
    /// reporting "converged"; such settings are refused, naming the setting and its range.
    #[test]
    fn an_sgd_that_cannot_move_is_refused() {
        let v = vec![0.0, 1.0, 2.0, 4.0];
        for niter in [0, 1] {
            let e = decompose_traditional(&v, &DecompositionOptions::sgd(niter)).unwrap_err();
            assert!(
                matches!(e, Error::InvalidSetting { name: "niter", .. }),
                "{e}"
            );
            assert!(e.to_string().contains("≥ 2"), "{e}");
        }
        let mut opts = DecompositionOptions::sgd(100);
        opts.sgd_generalizable.lr = Some(0.0);
        let e = decompose_generalizable(&[&v, &v], &opts).unwrap_err();
        assert!(matches!(e, Error::InvalidSetting { name: "lr", .. }), "{e}");
        assert!(e.to_string().contains("> 0"), "{e}");
        let mut opts = DecompositionOptions::sgd(100);
        opts.sgd_traditional.lr_per_unit_range = 0.0;
        let e = decompose_traditional(&v, &opts).unwrap_err();
        assert!(matches!(
            e,
            Error::InvalidSetting {
                name: "lr_per_unit_range",
                ..
            }
        ));
        // the smallest SGD that moves runs, and a positive learning rate however small
        let mut opts = DecompositionOptions::sgd(2);
        opts.sgd_traditional.lr = Some(1e-300);
        assert!(decompose_traditional(&v, &opts).is_ok());
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
