//! [`solve`]: the checks, the scaling to ordinary magnitudes, and the assembly of the result
//! from the loop's best point and bound.

use super::certificate::{relative_gap, GapObserver, GapPoint};
use super::halpern::Solver;
use super::options::{bad, OptimalOptions};
use super::problem::Problem;
use crate::decomposition::objective::{Objective, Params};
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
    /// (loss − dual_bound)/max(loss, [`LOSS_FLOOR`](super::LOSS_FLOOR)·L₀), ≥ 0, L₀ being the
    /// loss at γ = ε = 0 (module docs, "The certificate"); 0 at a zero optimum.
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
///
/// A zero optimum (every |v_i(T)| ≤ τε_i) is returned at iteration 0; bounds too wide to bind
/// are solved as their caps (module docs, "Degenerate inputs"). Errors: no or mismatched value
/// vectors, values not finite or of subnormal magnitude, bounds negative or not finite,
/// settings out of range ([`OptimalOptions`]).
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
    check_bounds(m, eps_bounds, gamma_bounds)?;
    opts.validate()?;
    let n = objective.n();
    // The zero optimum, exactly: all interactions vanish iff v_and = v_or = 0, i.e. γ = 0 and
    // ε = −v, which is feasible iff every |v_i(T)| ≤ τε_i.
    if values
        .iter()
        .zip(eps_bounds)
        .all(|(v, &e)| v.iter().all(|x| x.abs() <= e))
    {
        return Ok(zero_optimum(
            &mut objective,
            values,
            gamma_bounds.is_some(),
            observer,
        ));
    }
    let initial = objective.loss(&Params::zeros(n, m, gamma_bounds.is_some()));
    let (eps_bounds, gamma_bounds) = active_boxes(values, eps_bounds, gamma_bounds, initial);
    let (eps_bounds, gamma_bounds) = (eps_bounds.as_slice(), gamma_bounds.as_deref());
    // The loss is positively homogeneous in (values, bounds), so the problem is solved on values
    // scaled by a power of two (exact in floating point) when their magnitude leaves
    // [2^-64, 2^64]: the butterflies' intermediate sums of up to (1 + φ²)^n·2^n terms then
    // stay far from overflow (1e304 at n = 2 overflowed to NaN unscaled) and from underflow.
    // Values of ordinary magnitude are solved as given.
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
    let rescaled = |g: &GapPoint| GapPoint {
        loss: g.loss * scale,
        dual_bound: g.dual_bound * scale,
        ..*g
    };
    let mut rescaled_observer = observer.map(|o| move |g: &GapPoint| o(&rescaled(g)));
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
    let trajectory = result.trajectory.iter().map(rescaled).collect();
    let loss = objective.loss(&params);
    let dual_bound = (result.dual * scale).min(loss).max(0.0);
    let gap = relative_gap(loss, dual_bound, initial);
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

/// τε and τγ: one per model, finite and ≥ 0.
fn check_bounds(m: usize, eps_bounds: &[f64], gamma_bounds: Option<&[f64]>) -> Result<()> {
    let check = |name: &'static str, what: &str, bounds: &[f64]| -> Result<()> {
        if bounds.len() != m {
            return Err(Error::WrongModelCount(format!(
                "{} {what} bounds given for {m} models",
                bounds.len()
            )));
        }
        match bounds.iter().find(|b| !(b.is_finite() && **b >= 0.0)) {
            Some(&b) => Err(bad(name, b, "a bound must be finite and ≥ 0")),
            None => Ok(()),
        }
    };
    check("eps_bounds", "ε", eps_bounds)?;
    gamma_bounds.map_or(Ok(()), |g| check("gamma_bounds", "γ̂", g))
}

/// The zero optimum (every |v_i(T)| ≤ τε_i): ε = −v, γ = 0, loss 0, certified at iteration 0.
fn zero_optimum(
    objective: &mut Objective,
    values: &[&[f64]],
    generalizable: bool,
    observer: Option<GapObserver<'_>>,
) -> OptimalSolution {
    let n = objective.n();
    let mut params = Params::zeros(n, values.len(), generalizable);
    for (eps, v) in params.eps.iter_mut().zip(values) {
        // 0 − x, not −x: a zero value gives ε = +0, as the loop's clipped ε would
        eps.iter_mut().zip(v.iter()).for_each(|(e, x)| *e = 0.0 - x);
    }
    let loss = objective.loss(&params);
    let point = GapPoint {
        iteration: 0,
        seconds: 0.0,
        loss,
        dual_bound: 0.0,
        gap: relative_gap(loss, 0.0, 0.0),
    };
    if let Some(obs) = observer {
        obs(&point);
    }
    OptimalSolution {
        params,
        loss,
        dual_bound: 0.0,
        gap: point.gap,
        iterations: 0,
        seconds: 0.0,
        converged: true,
        trajectory: vec![point],
    }
}

/// The bounds with every box capped where it stops binding. At any feasible point whose loss is
/// at most the initial loss L₀ (the loss at γ = ε = 0, so every optimum), each model's
/// ‖I_and‖₁ + ‖I_or‖₁ ≤ L₀ (the group norm is at least each model's |I|), and a(T), o(T) are
/// sums of distinct interactions, so |a(T)| + |o(T)| ≤ L₀: |ε(T)| = |a + o − v| ≤ L₀ + max|v|,
/// and every γ_i(T) = (a − o)/2 lies in [−L₀/2, L₀/2], so γ̄ can be taken there too and
/// |γ̂_i| ≤ L₀. Boxes wider than twice that (a margin for rounding) are replaced by that width:
/// the optimal value is unchanged, and huge bounds no longer set the scale the problem is solved
/// at (a γ̂ bound of 1e200 once scaled the values down to 1e-200 and stalled the solver).
fn active_boxes(
    values: &[&[f64]],
    eps_bounds: &[f64],
    gamma_bounds: Option<&[f64]>,
    initial: f64,
) -> (Vec<f64>, Option<Vec<f64>>) {
    let eps = values
        .iter()
        .zip(eps_bounds)
        .map(|(v, &b)| {
            let largest = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
            b.min(2.0 * (initial + largest))
        })
        .collect();
    let gamma = gamma_bounds.map(|g| g.iter().map(|&b| b.min(2.0 * initial)).collect());
    (eps, gamma)
}

/// The power of two that [`solve`] divides values and bounds by: 1 while the largest magnitude
/// among them lies in [2^-64, 2^64] (or is 0), otherwise the power of two nearest to it, built
/// from its exponent bits so that it is exact and neither overflows nor underflows (2^e with
/// e ∈ [−1022, 1023]).
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
        let e = (big.log2().round() as i32).clamp(f64::MIN_EXP - 1, f64::MAX_EXP - 1);
        f64::from_bits(((e + 1023) as u64) << 52)
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
