//! The certified solver (src/decomposition/optimal/) against an independent formulation: the same loss as a
//! dense LP (epigraph variables, dense Möbius/OR matrices from tests/common/dense.rs) solved by
//! microlp's simplex, for Eq. 4 (one model) and Eq. 6 (two and three models, several α).

mod common;
use common::dense::{and_matrix, or_matrix};
use interprim::decomposition::optimal::{solve, OptimalOptions, OptimalSolution};
use interprim::decomposition::{
    decompose, decompose_generalizable, decompose_traditional, DecompositionOptions, Method,
    Objective, SolverKind,
};
use interprim::transform::reconstruct;
use interprim::Error;
use microlp::{ComparisonOp, OptimizationDirection, Problem};

/// Deterministic pseudo-random numbers in [-1, 1).
fn rnd(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A log-odds-like game: a few AND / OR primitives of low order plus noise, squashed to ±8.
fn game(n: usize, seed: u64, shared: &[(usize, f64, bool)]) -> Vec<f64> {
    let mut r = rnd(seed);
    let len = 1usize << n;
    let mut prims = shared.to_vec();
    for _ in 0..n {
        let mut s = 0usize;
        for p in 0..n {
            if r() > 0.4 {
                s |= 1 << p;
            }
        }
        prims.push((s.max(1), 3.0 * r(), r() > -0.4));
    }
    let base = r();
    (0..len)
        .map(|t| {
            let raw: f64 = base
                + prims
                    .iter()
                    .map(|&(s, c, and)| {
                        let on = if and { t & s == s } else { t & s != 0 };
                        if on {
                            c
                        } else {
                            0.0
                        }
                    })
                    .sum::<f64>();
            8.0 * (raw / 8.0).tanh() + 0.05 * r()
        })
        .collect()
}

fn shared_prims(n: usize, seed: u64) -> Vec<(usize, f64, bool)> {
    let mut r = rnd(seed + 1000);
    (0..n)
        .map(|_| {
            let a = ((r() + 1.0) * 0.5 * n as f64) as usize % n;
            let b = ((r() + 1.0) * 0.5 * n as f64) as usize % n;
            ((1 << a) | (1 << b), 3.0 * r(), r() > -0.4)
        })
        .collect()
}

fn span(v: &[f64]) -> f64 {
    (v[v.len() - 1] - v[0]).abs()
}

/// The optimum of the loss as a dense LP.
fn dense_lp(values: &[Vec<f64>], alpha: f64, eps: &[f64], gamma: Option<&[f64]>) -> f64 {
    let m = values.len();
    let len = values[0].len();
    let n = len.trailing_zeros() as usize;
    let alpha = if m == 1 { 1.0 } else { alpha };
    let (a, b) = (and_matrix(n), or_matrix(n));
    let inf = f64::INFINITY;
    let mut lp = Problem::new(OptimizationDirection::Minimize);
    let e: Vec<Vec<_>> = (0..m)
        .map(|i| {
            (0..len)
                .map(|_| lp.add_var(0.0, (-eps[i], eps[i])))
                .collect()
        })
        .collect();
    let g: Vec<_> = (0..len).map(|_| lp.add_var(0.0, (-inf, inf))).collect();
    let h: Vec<Vec<_>> = match gamma {
        Some(gb) => (0..m)
            .map(|i| (0..len).map(|_| lp.add_var(0.0, (-gb[i], gb[i]))).collect())
            .collect(),
        None => Vec::new(),
    };
    for (kind, mat) in [(1.0, &a), (-1.0, &b)] {
        let t: Vec<_> = (0..len)
            .map(|_| lp.add_var(1.0 - alpha, (0.0, inf)))
            .collect();
        for i in 0..m {
            for s in 0..len {
                let u = lp.add_var(alpha, (0.0, inf));
                // x = Σ_T mat[s][T]·(v/2 + ε/2 + kind·(g + h))
                let mut expr = Vec::new();
                let mut constant = 0.0;
                for tt in 0..len {
                    let c = mat[s][tt];
                    if c == 0.0 {
                        continue;
                    }
                    constant += c * 0.5 * values[i][tt];
                    expr.push((e[i][tt], 0.5 * c));
                    expr.push((g[tt], kind * c));
                    if !h.is_empty() {
                        expr.push((h[i][tt], kind * c));
                    }
                }
                for sign in [1.0, -1.0] {
                    for bound in [u, t[s]] {
                        let mut ex: Vec<_> = expr.iter().map(|&(v, c)| (v, sign * c)).collect();
                        ex.push((bound, -1.0));
                        lp.add_constraint(ex.as_slice(), ComparisonOp::Le, -sign * constant);
                    }
                }
            }
        }
    }
    lp.solve()
        .expect("the LP is feasible and bounded")
        .objective()
}

fn opts() -> OptimalOptions {
    OptimalOptions {
        tol: 1e-9,
        max_iter: 200_000,
        ..Default::default()
    }
}

fn run(values: &[Vec<f64>], alpha: f64, traditional: bool) -> (OptimalSolution, Vec<f64>) {
    let refs: Vec<&[f64]> = values.iter().map(|v| v.as_slice()).collect();
    let eps: Vec<f64> = values.iter().map(|v| 0.02 * span(v)).collect();
    let gamma: Vec<f64> = values.iter().map(|v| 0.5 * span(v)).collect();
    let sol = solve(
        &refs,
        alpha,
        &eps,
        (!traditional).then_some(gamma.as_slice()),
        &opts(),
        None,
    )
    .unwrap();
    (sol, eps)
}

/// Every property the solution must have, and its loss against the dense LP.
fn check(values: &[Vec<f64>], alpha: f64, traditional: bool) -> OptimalSolution {
    let (sol, eps) = run(values, alpha, traditional);
    let refs: Vec<&[f64]> = values.iter().map(|v| v.as_slice()).collect();
    let gamma: Vec<f64> = values.iter().map(|v| 0.5 * span(v)).collect();
    // certificate
    assert!(
        sol.gap >= 0.0 && sol.gap <= 1e-9,
        "gap {} n {} m {} alpha {alpha} iters {} loss {} dual {}",
        sol.gap,
        values[0].len(),
        values.len(),
        sol.iterations,
        sol.loss,
        sol.dual_bound
    );
    assert!(sol.converged);
    assert!(sol.dual_bound <= sol.loss);
    // the loss is Objective::loss at the returned, feasible parameters
    let mut obj = Objective::new(&refs, alpha).unwrap();
    assert_eq!(obj.loss(&sol.params), sol.loss);
    for (i, e) in sol.params.eps.iter().enumerate() {
        assert!(e.iter().all(|x| x.abs() <= eps[i]));
    }
    if traditional {
        assert!(sol.params.gamma_specific.is_empty());
    } else {
        for (i, g) in sol.params.gamma_specific.iter().enumerate() {
            assert!(g.iter().all(|x| x.abs() <= gamma[i]));
        }
    }
    // the independent formulation
    let lp = dense_lp(
        values,
        alpha,
        &eps,
        (!traditional).then_some(gamma.as_slice()),
    );
    let rel = (sol.loss - lp).abs() / lp.max(1e-12);
    assert!(
        rel <= 1e-6,
        "solver {} vs LP {lp} (relative {rel:e})",
        sol.loss
    );
    assert!(
        sol.dual_bound <= lp * (1.0 + 1e-9) + 1e-12,
        "bound above the optimum"
    );
    // universal matching at the optimum: reconstruction = v + ε
    for (i, it) in obj.interactions(&sol.params).iter().enumerate() {
        let rec = reconstruct(&it.and, &it.or).unwrap();
        for (t, r) in rec.iter().enumerate() {
            let want = values[i][t] + sol.params.eps[i][t];
            assert!((r - want).abs() <= 1e-9 * (1.0 + want.abs()));
        }
    }
    sol
}

#[test]
fn traditional_matches_the_dense_lp() {
    for n in 1..=5 {
        for seed in 0..2 {
            let v = game(n, seed, &[]);
            check(&[v], 1.0, true);
        }
    }
    // structured: one pure AND primitive, one pure OR primitive, a constant
    let n = 4;
    let and: Vec<f64> = (0..16)
        .map(|t| if t & 3 == 3 { 2.0 } else { 0.0 })
        .collect();
    let or: Vec<f64> = (0..16)
        .map(|t| if t & 6 != 0 { -1.5 } else { 0.0 })
        .collect();
    let konst = vec![1.0; 1 << n];
    for v in [and, or, konst] {
        check(&[v], 1.0, true);
    }
}

#[test]
fn two_models_match_the_dense_lp() {
    for n in [2, 3, 4] {
        for seed in 0..2 {
            let sh = shared_prims(n, seed);
            let vals = vec![game(n, seed, &sh), game(n, seed + 7, &sh)];
            for alpha in [0.0, 0.1, 0.5, 1.0] {
                check(&vals, alpha, false);
            }
        }
    }
}

#[test]
fn three_models_match_the_dense_lp() {
    for n in [2, 3] {
        let sh = shared_prims(n, 3);
        let vals = vec![game(n, 3, &sh), game(n, 4, &sh), game(n, 5, &sh)];
        for alpha in [0.0, 0.3, 1.0] {
            check(&vals, alpha, false);
        }
    }
}

#[test]
fn never_above_the_reference_sgd() {
    let n = 5;
    let sh = shared_prims(n, 9);
    let vals = vec![game(n, 9, &sh), game(n, 10, &sh)];
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    let g = DecompositionOptions::sgd(2000);
    let sgd = decompose_generalizable(&refs, &g).unwrap().final_loss;
    let (sol, _) = run(&vals, g.alpha, false);
    assert!(sol.loss <= sgd * (1.0 + 1e-12), "{} vs SGD {sgd}", sol.loss);
    let sgd = decompose_traditional(&vals[0], &g).unwrap().final_loss;
    let (sol, _) = run(&vals[..1], 1.0, true);
    assert!(sol.loss <= sgd * (1.0 + 1e-12), "{} vs SGD {sgd}", sol.loss);
}

#[test]
fn symmetric_in_the_models() {
    let n = 5;
    let sh = shared_prims(n, 11);
    let (a, b, c) = (game(n, 11, &sh), game(n, 12, &sh), game(n, 13, &sh));
    let (s1, _) = run(&[a.clone(), b.clone(), c.clone()], 0.1, false);
    let (s2, _) = run(&[c.clone(), a.clone(), b.clone()], 0.1, false);
    assert!((s1.loss - s2.loss).abs() <= 1e-9 * s1.loss);
    // identical models get identical interactions
    let (s, _) = run(&[a.clone(), a.clone()], 0.1, false);
    let refs: Vec<&[f64]> = vec![&a, &a];
    let its = Objective::new(&refs, 0.1).unwrap().interactions(&s.params);
    let scale = its[0].and.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    for (x, y) in its[0].and.iter().zip(&its[1].and) {
        assert!((x - y).abs() <= 1e-9 * scale, "{x} vs {y}");
    }
    for (x, y) in its[0].or.iter().zip(&its[1].or) {
        assert!((x - y).abs() <= 1e-9 * scale, "{x} vs {y}");
    }
}

#[test]
fn zero_values_have_zero_loss_and_gap() {
    let v = vec![0.0; 16];
    let sol = solve(&[&v], 1.0, &[0.0], None, &OptimalOptions::default(), None).unwrap();
    assert_eq!((sol.loss, sol.gap), (0.0, 0.0));
    assert!(sol.converged);
    let sol = solve(
        &[&v, &v],
        0.1,
        &[0.0, 0.0],
        Some(&[0.0, 0.0]),
        &OptimalOptions::default(),
        None,
    )
    .unwrap();
    assert_eq!((sol.loss, sol.gap), (0.0, 0.0));
}

/// Issue 27.11: with an ε box at least as wide as every |v(T)| the optimum is exactly 0
/// (ε = −v, γ = 0). It was reported "not converged, gap 1.0" after 100,000 iterations, the first-
/// order iterates only approaching 0; now it is found at iteration 0 with loss and gap 0.
#[test]
fn zero_optimum_is_certified_at_once() {
    for n in [3, 5] {
        let sh = shared_prims(n, 31);
        let vals = [game(n, 31, &sh), game(n, 32, &sh)];
        // the smallest ratio that makes ε = −v feasible for both models (v(∅) ≠ 0 here)
        let ratio = vals
            .iter()
            .map(|v| v.iter().fold(0.0f64, |a, x| a.max(x.abs())) / span(v))
            .fold(0.0, f64::max);
        let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
        let opts = DecompositionOptions {
            eps_ratio: ratio,
            ..Default::default()
        };
        for (models, method) in [
            (&refs[..1], Method::Traditional),
            (&refs[..], Method::Generalizable),
        ] {
            let d = decompose(models, method, &opts, None).unwrap();
            assert_eq!(d.final_loss, 0.0, "n {n} {method:?}");
            assert_eq!(d.solver.duality_gap, Some(0.0));
            assert_eq!(d.solver.iterations, 0);
            assert!(d.solver.converged);
            for (it, (v, e)) in d.interactions.iter().zip(models.iter().zip(&d.eps)) {
                assert!(it.and.iter().chain(&it.or).all(|x| *x == 0.0));
                assert!(v.iter().zip(e).all(|(x, y)| x + y == 0.0));
            }
        }
        // just below that ratio the optimum is positive, and still certified
        let opts = DecompositionOptions {
            eps_ratio: ratio * 0.999,
            ..Default::default()
        };
        let d = decompose(&refs, Method::Generalizable, &opts, None).unwrap();
        assert!(d.final_loss > 0.0 && d.solver.converged, "{:?}", d.solver);
    }
}

/// A loss far below the initial loss is certified against 10⁻⁶ of the initial loss: an ε box
/// that leaves one coalition of one model 10⁻⁹ outside has an optimum of about 10⁻⁹, which a
/// relative gap of 10⁻⁶ could not certify in f64; the absolute gap is then at most
/// tol·10⁻⁶·L₀.
#[test]
fn a_tiny_optimum_is_certified_against_the_floor() {
    let n = 4;
    let v = game(n, 41, &[]);
    let largest = v.iter().fold(0.0f64, |a, x| a.max(x.abs()));
    let eps = largest - 1e-9;
    // first-order iterations only: the polish could find this face exactly, the floor is what
    // lets the iterations alone certify it
    let o = OptimalOptions {
        polish_every: 0,
        max_iter: 20_000,
        ..Default::default()
    };
    let sol = solve(&[&v], 1.0, &[eps], None, &o, None).unwrap();
    let initial = Objective::new(&[&v], 1.0)
        .unwrap()
        .loss(&interprim::decomposition::Params::zeros(n, 1, false));
    assert!(
        sol.converged,
        "gap {} after {} iterations",
        sol.gap, sol.iterations
    );
    assert!(sol.loss > 0.0 && sol.loss < 1e-6 * initial, "{}", sol.loss);
    assert!(sol.loss - sol.dual_bound <= o.tol * 1e-6 * initial);
    assert!(sol.dual_bound <= sol.loss);
}

/// Issue 27.12: a γ̂ bound of 1e200 is a free γ̂. It used to set the scale the problem was solved
/// at and stall the solver (loss 48.95 against 33.10, "not converged"); now every bound wider
/// than the optimum can use gives the same certified loss, and the bounds reported are the
/// ones given.
#[test]
fn bounds_too_wide_to_bind_give_the_same_optimum() {
    let n = 5;
    let sh = shared_prims(n, 51);
    let vals = [game(n, 51, &sh), game(n, 52, &sh)];
    let refs: Vec<&[f64]> = vals.iter().map(|v| v.as_slice()).collect();
    let run = |bound: f64| {
        let opts = DecompositionOptions {
            gamma_bounds: Some(vec![bound, bound]),
            ..Default::default()
        };
        decompose(&refs, Method::Generalizable, &opts, None).unwrap()
    };
    let sane = run(100.0);
    assert!(sane.solver.converged);
    for bound in [1e6, 1e200, f64::MAX] {
        let d = run(bound);
        assert!(
            d.solver.converged,
            "bound {bound}: {:?}",
            d.solver.duality_gap
        );
        let rel = (d.final_loss - sane.final_loss).abs() / sane.final_loss;
        assert!(
            rel <= 2e-6,
            "bound {bound}: {} vs {}",
            d.final_loss,
            sane.final_loss
        );
        assert_eq!(d.gamma_bounds, Some(vec![bound, bound]));
    }
    // the same for an ε bound of one model, through the solver directly
    let eps = [1e200, 0.02 * span(&vals[1])];
    let gamma: Vec<f64> = vals.iter().map(|v| 0.5 * span(v)).collect();
    let wide = solve(
        &refs,
        0.1,
        &eps,
        Some(&gamma),
        &OptimalOptions::default(),
        None,
    )
    .unwrap();
    let sane = solve(
        &refs,
        0.1,
        &[1e3, eps[1]],
        Some(&gamma),
        &OptimalOptions::default(),
        None,
    )
    .unwrap();
    assert!(wide.converged && sane.converged);
    assert!(
        (wide.loss - sane.loss).abs() <= 2e-6 * sane.loss,
        "{} vs {}",
        wide.loss,
        sane.loss
    );
}

/// Issue 27.2: values that are not all zero but all of subnormal magnitude (below 2.2e-308) made
/// the optimal solver panic ("min > max, or either was NaN"). Every path now refuses them with
/// an error naming the model and the fix; all-zero values and values from 2^-1022 up still work.
#[test]
fn values_of_subnormal_magnitude_are_refused_with_the_fix() {
    let tiny = vec![0.0, 1e-310, 0.0, 0.0];
    let fine = [0.0, 1.0, 2.0, 4.0];
    for solver in [SolverKind::Optimal, SolverKind::Sgd] {
        let mut o = DecompositionOptions::sgd(300);
        o.solver = solver;
        for (models, method) in [
            (vec![&tiny[..]], Method::Traditional),
            (vec![&tiny[..], &tiny[..]], Method::Generalizable),
            (vec![&fine[..], &tiny[..]], Method::Generalizable),
        ] {
            let e = decompose(&models, method, &o, None).unwrap_err();
            assert!(matches!(e, Error::Invalid(_)), "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains("too small") && msg.contains("power of two"),
                "{msg}"
            );
        }
        let smallest_normal: Vec<f64> = fine.iter().map(|x| x * f64::MIN_POSITIVE).collect();
        let d = decompose(&[&smallest_normal], Method::Traditional, &o, None).unwrap();
        assert!(d.final_loss.is_finite());
        let zeros = vec![0.0; 4];
        let d = decompose(&[&zeros, &zeros], Method::Generalizable, &o, None).unwrap();
        assert_eq!(d.final_loss, 0.0);
    }
    let o = OptimalOptions::default();
    assert!(matches!(
        solve(&[&tiny], 1.0, &[0.0], None, &o, None),
        Err(Error::Invalid(_))
    ));
}

#[test]
fn rejects_bad_input() {
    let v = vec![0.0, 1.0, 2.0, 4.0];
    let o = OptimalOptions::default();
    assert!(solve(&[], 0.1, &[], None, &o, None).is_err());
    assert!(solve(&[&v, &v], 0.1, &[0.1, 0.1], None, &o, None).is_err());
    assert!(solve(&[&v], 0.1, &[0.1, 0.1], None, &o, None).is_err());
    assert!(solve(&[&v], 0.1, &[-0.1], None, &o, None).is_err());
    assert!(solve(&[&v], 0.1, &[f64::NAN], None, &o, None).is_err());
    assert!(solve(&[&v, &v], 1.5, &[0.1, 0.1], Some(&[1.0, 1.0]), &o, None).is_err());
    assert!(solve(&[&v, &v], 0.1, &[0.1, 0.1], Some(&[1.0]), &o, None).is_err());
    let short = vec![0.0, 1.0];
    assert!(solve(&[&v, &short], 0.1, &[0.1, 0.1], Some(&[1.0, 1.0]), &o, None).is_err());
    let nan = vec![0.0, f64::NAN, 1.0, 2.0];
    assert!(solve(&[&nan], 0.1, &[0.1], None, &o, None).is_err());
    assert!(solve(&[&[1.0, 2.0, 3.0][..]], 0.1, &[0.1], None, &o, None).is_err());
    for tol in [0.0, -1.0, f64::NAN, 1.0] {
        let bad = OptimalOptions { tol, ..o.clone() };
        assert!(solve(&[&v], 0.1, &[0.1], None, &bad, None).is_err());
    }
    let bad = OptimalOptions {
        tie_break: -1.0,
        ..o.clone()
    };
    assert!(solve(&[&v], 0.1, &[0.1], None, &bad, None).is_err());
}

#[test]
fn observer_sees_a_monotone_certificate() {
    let n = 6;
    let v = game(n, 21, &[]);
    let mut seen = Vec::new();
    let mut obs = |g: &interprim::decomposition::optimal::GapPoint| seen.push(*g);
    let o = OptimalOptions {
        record_every: 25,
        ..Default::default()
    };
    let sol = solve(&[&v], 1.0, &[0.02 * span(&v)], None, &o, Some(&mut obs)).unwrap();
    assert!(!seen.is_empty());
    for w in seen.windows(2) {
        assert!(w[1].loss <= w[0].loss && w[1].dual_bound >= w[0].dual_bound);
    }
    assert_eq!(seen.len(), sol.trajectory.len());
    assert!(sol.converged && sol.gap <= 1e-6);
}
