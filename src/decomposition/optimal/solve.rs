//! [`solve`]: the checks, the scaling to ordinary magnitudes, and the assembly of the result
//! from the loop's best point and bound.

use super::certificate::{GapObserver, GapPoint};
use super::halpern::Solver;
use super::options::{bad, OptimalOptions};
use super::problem::Problem;
use crate::coalition::players_for_len;
use crate::decomposition::objective::{Objective, Params};
use crate::transform::check_values;
use crate::{Error, Result};

/// The outcome of [`solve`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OptimalSolution {
    /// ε per model, γ̄ (`gamma_shared`; for traditional extraction the model's γ) and γ̂ per model
    /// (empty for traditional extraction), exactly inside their boxes.
    pub params: Params,
    /// [`Objective::loss`] at `params`.
    pub loss: f64,
    /// A certified lower bound of the optimal loss.
    pub dual_bound: f64,
    /// (loss − dual_bound)/loss, ≥ 0 (0 when the loss is 0).
    pub gap: f64,
    pub iterations: usize,
    pub seconds: f64,
    /// gap ≤ tol.
    pub converged: bool,
    pub trajectory: Vec<GapPoint>,
}

/// Minimise the decomposition loss exactly (to the certified relative gap `opts.tol`).
///
/// `values[i]` is model i's value vector (length 2^n, finite); `alpha` ∈ [0, 1] weighs the L1
/// term against the row-max term (as in [`Objective`]); `eps_bounds[i]` = τε_i ≥ 0;
/// `gamma_bounds = Some(τγ)` is generalizable extraction (Eq. 6: γ̄ free, |γ̂_i| ≤ τγ_i), `None`
/// traditional extraction (Eq. 4) of a single model with a free γ (then `values` must hold
/// exactly one vector; α does not matter for one model).
pub fn solve(
    values: &[&[f64]],
    alpha: f64,
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    opts: &OptimalOptions,
    observer: Option<GapObserver<'_>>,
) -> Result<OptimalSolution> {
    let m = values.len();
    if m == 0 {
        return Err(Error::WrongModelCount("no value vectors given".into()));
    }
    if gamma_bounds.is_none() && m != 1 {
        return Err(Error::WrongModelCount(format!(
            "traditional extraction (no γ̂ bounds) takes one model at a time, got {m}"
        )));
    }
    // Objective::new checks lengths, finiteness and α.
    let mut objective = Objective::new(values, alpha)?;
    if eps_bounds.len() != m {
        return Err(Error::WrongModelCount(format!(
            "{} ε bounds given for {m} models",
            eps_bounds.len()
        )));
    }
    for &b in eps_bounds {
        if !(b.is_finite() && b >= 0.0) {
            return Err(bad("eps_bounds", b, "a bound must be finite and ≥ 0"));
        }
    }
    if let Some(gb) = gamma_bounds {
        if gb.len() != m {
            return Err(Error::WrongModelCount(format!(
                "{} γ̂ bounds given for {m} models",
                gb.len()
            )));
        }
        for &b in gb {
            if !(b.is_finite() && b >= 0.0) {
                return Err(bad("gamma_bounds", b, "a bound must be finite and ≥ 0"));
            }
        }
    }
    opts.validate()?;
    for v in values {
        check_values(v, "a value vector")?;
    }
    let n = players_for_len(values[0].len())?;
    // The loss is positively homogeneous in (values, bounds), so the problem is solved on values
    // scaled by a power of two (exact in floating point) when their magnitude leaves
    // [2^-64, 2^64]: the butterflies' intermediate sums of up to (1 + φ²)^n·2^n terms then
    // stay far from overflow (1e304 at n = 2 overflowed to NaN unscaled) and from underflow.
    // Values of ordinary magnitude are solved as given, bit for bit as before.
    let scale = solve_scale(values, eps_bounds, gamma_bounds);
    let scaled = |xs: &[f64]| -> Vec<f64> { xs.iter().map(|x| x / scale).collect() };
    let scaled_values: Vec<Vec<f64>> = values.iter().map(|v| scaled(v)).collect();
    let scaled_refs: Vec<&[f64]> = scaled_values.iter().map(|v| v.as_slice()).collect();
    let problem = Problem::new(
        n,
        &scaled_refs,
        alpha,
        &scaled(eps_bounds),
        gamma_bounds.map(scaled),
    );
    let mut solver = Solver::new(problem, opts);
    let mut rescaled_observer = observer.map(|o| {
        move |g: &GapPoint| {
            o(&GapPoint {
                loss: g.loss * scale,
                dual_bound: g.dual_bound * scale,
                ..*g
            })
        }
    });
    let result = solver.run(
        opts,
        rescaled_observer
            .as_mut()
            .map(|o| o as &mut dyn FnMut(&GapPoint)),
    );
    let mut params = solver.problem.params_from(&result.w);
    if scale != 1.0 {
        for x in params
            .eps
            .iter_mut()
            .chain(params.gamma_specific.iter_mut())
            .flatten()
            .chain(params.gamma_shared.iter_mut())
        {
            *x *= scale;
        }
    }
    let trajectory = result
        .trajectory
        .iter()
        .map(|g| GapPoint {
            loss: g.loss * scale,
            dual_bound: g.dual_bound * scale,
            ..*g
        })
        .collect();
    let loss = objective.loss(&params);
    let dual_bound = (result.dual * scale).min(loss).max(0.0);
    let gap = if loss > 0.0 {
        ((loss - dual_bound) / loss).max(0.0)
    } else {
        0.0
    };
    Ok(OptimalSolution {
        params,
        loss,
        dual_bound,
        gap,
        iterations: result.iterations,
        seconds: result.seconds,
        converged: gap <= opts.tol,
        trajectory,
    })
}

/// The power of two that [`solve`] divides values and bounds by: 1 while the largest magnitude
/// among them lies in [2^-64, 2^64] (or is 0), otherwise the power of two nearest to it.
fn solve_scale(values: &[&[f64]], eps_bounds: &[f64], gamma_bounds: Option<&[f64]>) -> f64 {
    let big = values
        .iter()
        .flat_map(|v| v.iter())
        .chain(eps_bounds)
        .chain(gamma_bounds.unwrap_or(&[]))
        .fold(0.0f64, |a, x| a.max(x.abs()));
    const LO: f64 = 5.421_010_862_427_522e-20; // 2^-64
    const HI: f64 = 1.844_674_407_370_955_2e19; // 2^64
    if big == 0.0 || (LO..=HI).contains(&big) || !big.is_finite() {
        1.0
    } else {
        2f64.powi(big.log2().round() as i32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::optimal::testing::rnd;

    #[test]
    fn small_problem_is_certified() {
        let v = [7.0, 8.0, 9.0, 13.0];
        let w = [1.0, -2.0, 0.5, 4.0];
        let sol = solve(
            &[&v, &w],
            0.1,
            &[0.12, 0.06],
            Some(&[3.0, 1.5]),
            &OptimalOptions::default(),
            None,
        )
        .unwrap();
        assert!(sol.converged && sol.gap <= 1e-6 && sol.gap >= 0.0);
        let mut obj = Objective::new(&[&v, &w], 0.1).unwrap();
        assert_eq!(obj.loss(&sol.params), sol.loss);
    }

    /// Values far outside [2^-64, 2^64] are solved as the same problem scaled by a power of two:
    /// the result is the ordinary-magnitude result times that power, bit for bit.
    #[test]
    fn extreme_magnitudes_are_solved_exactly_scaled() {
        let v = rnd(16, 11);
        let w = rnd(16, 12);
        let opts = OptimalOptions::default();
        let base = solve(&[&v, &w], 0.1, &[0.1, 0.2], Some(&[1.0, 0.5]), &opts, None).unwrap();
        for k in [1000, 200, -200, -1000] {
            let f = 2f64.powi(k);
            let sv: Vec<f64> = v.iter().map(|x| x * f).collect();
            let sw: Vec<f64> = w.iter().map(|x| x * f).collect();
            let mut seen = 0;
            let mut obs = |g: &GapPoint| {
                assert!(g.loss.is_finite() && g.dual_bound.is_finite());
                seen += 1;
            };
            let sol = solve(
                &[&sv, &sw],
                0.1,
                &[0.1 * f, 0.2 * f],
                Some(&[f, 0.5 * f]),
                &opts,
                Some(&mut obs),
            )
            .unwrap();
            assert!(seen > 0);
            assert_eq!(sol.iterations, base.iterations, "2^{k}");
            assert_eq!(sol.gap, base.gap, "2^{k}");
            assert_eq!(sol.dual_bound, base.dual_bound * f, "2^{k}");
            for (a, b) in sol
                .params
                .gamma_shared
                .iter()
                .zip(&base.params.gamma_shared)
            {
                assert_eq!(*a, b * f, "2^{k}");
            }
            for (a, b) in sol
                .params
                .eps
                .iter()
                .flatten()
                .zip(base.params.eps.iter().flatten())
            {
                assert_eq!(*a, b * f, "2^{k}");
            }
            for (a, b) in sol.trajectory.iter().zip(&base.trajectory) {
                assert_eq!(a.loss, b.loss * f, "2^{k}");
            }
        }
        // 1e304 at one coalition of n = 2 overflowed to NaN inside the butterflies unscaled
        let mut big = vec![0.3, -0.2, 0.5, 0.1];
        big[1] = 1e304;
        let sol = solve(&[&big], 1.0, &[0.0], None, &opts, None).unwrap();
        assert!(sol.loss.is_finite() && sol.converged, "{sol:?}");
    }
}
