//! The restarted Halpern Peaceman–Rachford loop (module docs of [`super`], "Method"): the
//! reflected Douglas–Rachford operator on the graph of K, anchored to the last restart point with
//! weights 1/(k + 2), restarted when the fixed-point residual has dropped enough, with the step ρ
//! re-balanced between primal and dual movement at every restart (HPR-LP, Chen, Sun, Toh 2024;
//! the restart and weight rules of PDLP). Every `check_every` iterations it builds the
//! certificate ([`super::certificate`]) and, once the first-order gap is small, polishes
//! ([`super::polish`]).

use super::certificate::{relative_gap, GapObserver, GapPoint};
use super::options::OptimalOptions;
use super::problem::{Problem, Vars};
use std::time::Instant;

/// The first-order gap below which the face polish starts.
const POLISH_FROM: f64 = 1e-1;

/// What the loop hands back to [`super::solve`], in the scaled problem's units.
pub(super) struct RunResult {
    /// The best feasible point found (value-domain part: a, o).
    pub(super) w: Vars,
    /// The best dual bound found.
    pub(super) dual: f64,
    pub(super) iterations: usize,
    pub(super) seconds: f64,
    pub(super) trajectory: Vec<GapPoint>,
}

/// The iteration's state between calls: the problem and the initial step ρ and tie-break μ.
pub(super) struct Solver {
    pub(super) problem: Problem,
    rho: f64,
    mu: f64,
}

impl Solver {
    pub(super) fn new(problem: Problem, opts: &OptimalOptions) -> Self {
        // scale of the interactions at γ = ε = 0
        let (m, len) = (problem.m, problem.len);
        let z0 = problem.zero_point();
        let zsq: f64 = z0.data[2 * m..]
            .iter()
            .map(|v| v.iter().map(|x| x * x).sum::<f64>())
            .sum();
        let rms = (zsq / (2 * m * len) as f64).sqrt();
        let rms = if rms > 0.0 { rms } else { 1.0 };
        let rho = opts.rho.unwrap_or(1.0 / rms);
        let mu = opts.tie_break / rms;
        Solver { problem, rho, mu }
    }

    /// The loop is compiled twice, once for AVX2+FMA CPUs (chosen at run time), like the
    /// reference optimiser: the butterflies vectorise twice as wide there. Results may differ
    /// in the last bits between the two copies (FMA).
    pub(super) fn run(
        &mut self,
        opts: &OptimalOptions,
        observer: Option<GapObserver<'_>>,
    ) -> RunResult {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the features this copy is compiled for.
                return unsafe { self.run_avx2(opts, observer) };
            }
        }
        self.run_generic(opts, observer)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(
        &mut self,
        opts: &OptimalOptions,
        observer: Option<GapObserver<'_>>,
    ) -> RunResult {
        self.run_generic(opts, observer)
    }

    #[inline(always)]
    fn run_generic(
        &mut self,
        opts: &OptimalOptions,
        mut observer: Option<GapObserver<'_>>,
    ) -> RunResult {
        let start = Instant::now();
        let p = &self.problem;
        let (m, len) = (p.m, p.len);
        // start: γ = ε = 0; dual zero
        let mut zeta = p.zero_point();
        let mut best_w = zeta.clone();
        // the loss at γ = ε = 0, > 0 (solve returns the zero optimum before the loop)
        let initial = p.loss_z(&zeta);
        let mut best_loss = initial;
        let mut best_dual = 0.0f64; // the loss is ≥ 0
        let mut trajectory = Vec::new();
        let record = |it: usize, loss: f64, dual: f64, tr: &mut Vec<GapPoint>| -> GapPoint {
            let g = GapPoint {
                iteration: it,
                seconds: start.elapsed().as_secs_f64(),
                loss,
                dual_bound: dual,
                gap: relative_gap(loss, dual, initial),
            };
            tr.push(g);
            g
        };
        let mut rho = self.rho;
        let mu = self.mu;
        let mut anchor = zeta.clone();
        let mut u = Vars::zeros(m, len);
        let mut refl = Vars::zeros(m, len);
        let mut tmp = vec![0.0; len];
        let mut scratch = Vars::zeros(m, len);
        let mut cs = vec![vec![0.0; len]; m];
        let mut cd = vec![vec![0.0; len]; m];
        let mut k = 0usize;
        let mut r0: Option<f64> = None;
        let mut r_last = f64::INFINITY;
        let mut u_last: Option<Vars> = None;
        let mut d_last: Option<Vars> = None;
        let check_every = opts.check_every.max(1);
        let record_every = opts.record_every.max(1);
        let mut last_record = 0usize;
        let mut last_polish = 0usize;
        let mut polish_interval = opts.polish_every;
        let mut iterations = 0;
        for it in 1..=opts.max_iter {
            iterations = it;
            // u = prox_f(ζ)
            p.project_c_fast(&zeta, &mut u);
            p.prox_f(&zeta, &mut u, rho, mu);
            // reflect, project on the graph
            refl.data
                .iter_mut()
                .zip(u.data.iter().zip(&zeta.data))
                .for_each(|(r, (a, b))| {
                    r.iter_mut()
                        .zip(a.iter().zip(b))
                        .for_each(|(r, (a, b))| *r = 2.0 * a - b)
                });
            p.project_graph(&mut refl, &mut tmp);
            // T(ζ) = ζ + 2(u1 − u); residual ‖ζ − T ζ‖ = 2‖u1 − u‖
            let res = 2.0 * refl.dist_sq(&u).sqrt();
            // ζ ← 1/(k+2)·anchor + (k+1)/(k+2)·T(ζ)
            let (wa, wt) = (1.0 / (k + 2) as f64, (k + 1) as f64 / (k + 2) as f64);
            for ((z, a), (r, uu)) in zeta
                .data
                .iter_mut()
                .zip(&anchor.data)
                .zip(refl.data.iter().zip(&u.data))
            {
                for ((z, a), (r, uu)) in z.iter_mut().zip(a).zip(r.iter().zip(uu)) {
                    *z = wa * a + wt * (*z + 2.0 * (r - uu));
                }
            }
            k += 1;
            let r_first = *r0.get_or_insert(res);
            let restart = res <= 0.2 * r_first
                || (res <= 0.8 * r_first && res > r_last)
                || k as f64 >= (0.2 * it as f64).max(50.0);
            r_last = res;
            if restart {
                // re-balance ρ: primal movement vs dual movement since the last restart
                p.project_c_fast(&zeta, &mut u);
                p.prox_f(&zeta, &mut u, rho, mu);
                let mut d = zeta.clone();
                d.axpby(rho, &u, -rho); // ρ(ζ − u)
                if let (Some(ul), Some(dl)) = (&u_last, &d_last) {
                    let dp = u.dist_sq(ul).sqrt();
                    let dd = d.dist_sq(dl).sqrt();
                    if dp > 1e-300 && dd > 1e-300 {
                        let new = (0.5 * (dd / dp).ln() + 0.5 * rho.ln()).exp();
                        if new.is_finite() && new > 0.0 {
                            // ζ = u + d/ρ_new
                            zeta.data
                                .iter_mut()
                                .zip(u.data.iter().zip(&d.data))
                                .for_each(|(z, (a, b))| {
                                    z.iter_mut()
                                        .zip(a.iter().zip(b))
                                        .for_each(|(z, (a, b))| *z = a + b / new)
                                });
                            rho = new;
                        }
                    }
                }
                u_last = Some(u.clone());
                d_last = Some(d);
                anchor.data.clone_from(&zeta.data);
                k = 0;
                r0 = None;
                r_last = f64::INFINITY;
            }
            let last = it == opts.max_iter;
            if it % check_every != 0 && !last {
                continue;
            }
            // certificate check
            p.project_c(&zeta, &mut u, Some((&mut cs, &mut cd, rho)), None);
            p.prox_f(&zeta, &mut u, rho, mu);
            // (b): c from the projection, λ = −K⁻ᵀc
            let mut lam = Vars::zeros(m, len);
            p.lambda_from_c(&cs, &cd, &mut lam);
            best_dual = best_dual.max(p.bound(&cs, &cd, &lam));
            // (a): λ from the prox of F, minus the tie-break part
            for j in 2 * m..4 * m {
                for ((l, z), uu) in lam.data[j].iter_mut().zip(&zeta.data[j]).zip(&u.data[j]) {
                    *l = rho * (z - uu) - mu * uu;
                }
            }
            best_dual = best_dual.max(p.bound_from_lambda(&mut lam, &mut cs, &mut cd));
            // primal: the feasible w part of u
            scratch.data[..2 * m].clone_from_slice(&u.data[..2 * m]);
            p.forward(&mut scratch);
            let loss = p.loss_z(&scratch);
            if loss < best_loss {
                best_loss = loss;
                best_w.data.clone_from(&scratch.data);
            }
            let gap_now = relative_gap(best_loss, best_dual, initial);
            // polish once the first-order gap is small, then at doubling intervals while it
            // does not close the gap (each polish costs a few hundred iterations' worth)
            if opts.polish_every > 0
                && gap_now <= POLISH_FROM
                && it - last_polish >= polish_interval
                && gap_now > opts.tol
            {
                last_polish = it;
                if let Some(pol) = p.polish(&zeta, &u, &mut scratch) {
                    if pol.loss < best_loss {
                        best_loss = pol.loss;
                        best_w = pol.w;
                    }
                    best_dual = best_dual.max(pol.dual);
                }
                polish_interval = polish_interval.saturating_mul(2);
            }
            let gap = relative_gap(best_loss, best_dual, initial);
            let done = gap <= opts.tol
                || last
                || opts
                    .max_seconds
                    .is_some_and(|s| start.elapsed().as_secs_f64() >= s);
            if done || it - last_record >= record_every {
                last_record = it;
                let g = record(it, best_loss, best_dual, &mut trajectory);
                if let Some(obs) = observer.as_mut() {
                    obs(&g);
                }
            }
            if done {
                break;
            }
        }
        if opts.max_iter == 0 {
            record(0, best_loss, best_dual, &mut trajectory);
        }
        RunResult {
            w: best_w,
            dual: best_dual,
            iterations,
            seconds: start.elapsed().as_secs_f64(),
            trajectory,
        }
    }
}
