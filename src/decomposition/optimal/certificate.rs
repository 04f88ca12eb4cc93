//! The dual side: the dual norm of the loss's group norm, the support function σ_C of the
//! feasible set, and the dual bounds built from them (module docs of [`super`], "The
//! certificate"). Every bound is −σ_C(c)/max(1, ‖λ‖_*) for a pair with λ = −K⁻ᵀc exactly, so it
//! is a lower bound of the optimum up to the rounding of the butterflies.

use super::graph::{and_adj, and_inv_adj, or_adj, or_inv_adj};
use super::problem::{Problem, Vars};

/// One point of the gap trajectory.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GapPoint {
    pub iteration: usize,
    pub seconds: f64,
    /// Best primal loss so far (an upper bound of the optimum).
    pub loss: f64,
    /// Best dual bound so far (a lower bound of the optimum).
    pub dual_bound: f64,
    /// (loss − dual_bound)/max(loss, [`LOSS_FLOOR`]·initial loss), ≥ 0.
    pub gap: f64,
}

/// Losses below this fraction of the initial loss L₀ (the loss at γ = ε = 0) are measured
/// against LOSS_FLOOR·L₀ in the relative gap, so that a zero or tiny optimum can be certified:
/// then converged means an absolute gap of at most tol·LOSS_FLOOR·L₀. The optimum of an ordinary
/// problem is 10-50 % of L₀, far above it.
pub const LOSS_FLOOR: f64 = 1e-6;

/// The relative gap (loss − bound)/max(loss, [`LOSS_FLOOR`]·initial), ≥ 0; 0 when loss and
/// initial loss are both 0.
pub(super) fn relative_gap(loss: f64, bound: f64, initial: f64) -> f64 {
    let scale = loss.max(LOSS_FLOOR * initial);
    if scale > 0.0 {
        ((loss - bound) / scale).max(0.0)
    } else {
        0.0
    }
}

/// Called at every recorded trajectory point.
pub type GapObserver<'a> = &'a mut dyn FnMut(&GapPoint);

/// Σ of the k largest |λ| over (1 − α) + α·k, maximised over k: the dual norm of N.
fn dual_norm(l: &[f64], alpha: f64, buf: &mut Vec<f64>) -> f64 {
    if l.len() == 1 {
        return l[0].abs();
    }
    buf.clear();
    buf.extend(l.iter().map(|v| v.abs()));
    buf.sort_by(|a, b| b.total_cmp(a));
    let mut cs = 0.0;
    let mut best: f64 = 0.0;
    for (k, v) in buf.iter().enumerate() {
        cs += v;
        best = best.max(cs / ((1.0 - alpha) + alpha * (k + 1) as f64));
    }
    best
}

impl Problem {
    /// σ_C(c) for c in (s, d) form (Σ_i c_d = 0 assumed): Σ c_s·v + |c_s|·τε + |c_d|·τγ.
    pub(super) fn support(&self, cs: &[Vec<f64>], cd: &[Vec<f64>]) -> f64 {
        let mut total = 0.0;
        for i in 0..self.m {
            let (v, e) = (&self.values[i], self.eps[i]);
            let g = self.gamma.as_ref().map_or(0.0, |g| g[i]);
            for t in 0..self.len {
                total += cs[i][t] * v[t] + cs[i][t].abs() * e + cd[i][t].abs() * g;
            }
        }
        total
    }

    /// The largest group dual norm of λ (stored in the z part of `lam`).
    pub(super) fn max_dual_norm(&self, lam: &Vars) -> f64 {
        let m = self.m;
        let mut g = vec![0.0; m];
        let mut buf = Vec::with_capacity(m);
        let mut best: f64 = 0.0;
        for kind in 2..4 {
            for s in 0..self.len {
                for i in 0..m {
                    g[i] = lam.data[kind * m + i][s];
                }
                best = best.max(dual_norm(&g, self.alpha, &mut buf));
            }
        }
        best
    }

    /// λ = −K⁻ᵀc into the z part of `lam`, for c given in (s, d) form.
    pub(super) fn lambda_from_c(&self, cs: &[Vec<f64>], cd: &[Vec<f64>], lam: &mut Vars) {
        let m = self.m;
        for i in 0..m {
            let x = &mut lam.data[2 * m + i];
            for ((x, s), d) in x.iter_mut().zip(&cs[i]).zip(&cd[i]) {
                *x = -(s + 0.5 * d);
            }
            and_inv_adj(x);
            let q = &mut lam.data[3 * m + i];
            for ((q, s), d) in q.iter_mut().zip(&cs[i]).zip(&cd[i]) {
                *q = -(s - 0.5 * d);
            }
            or_inv_adj(q);
        }
    }

    /// The dual bound of a consistent pair (c, λ = −K⁻ᵀc): −σ_C(c)/max(1, ‖λ‖_*).
    pub(super) fn bound(&self, cs: &[Vec<f64>], cd: &[Vec<f64>], lam: &Vars) -> f64 {
        let scale = self.max_dual_norm(lam).max(1.0);
        -self.support(cs, cd) / scale
    }

    /// Certificate (a): λ from the prox of F (in the ball), c = −Kᵀλ repaired so that
    /// Σ_i c_d = 0 by shifting every model's AND multipliers by Zᵀr/m.
    pub(super) fn bound_from_lambda(
        &self,
        lam: &mut Vars,
        cs: &mut [Vec<f64>],
        cd: &mut [Vec<f64>],
    ) -> f64 {
        let m = self.m;
        let len = self.len;
        let mut ca = vec![0.0; len];
        let mut r = vec![0.0; len];
        for i in 0..m {
            ca.copy_from_slice(lam.x(i));
            and_adj(&mut ca);
            let co = &mut cs[i];
            co.copy_from_slice(lam.q(i));
            or_adj(co);
            // c = −Kᵀλ: c_a = −ca, c_o = −co
            for t in 0..len {
                let (a, o) = (-ca[t], -co[t]);
                cd[i][t] = a - o;
                co[t] = 0.5 * (a + o);
                r[t] += cd[i][t];
            }
        }
        let shift: Vec<f64> = r.iter().map(|x| x / m as f64).collect();
        let mut delta = shift.clone();
        and_inv_adj(&mut delta);
        for i in 0..m {
            // λ_a += Zᵀ r/m changes c_a by −r/m: c_s −= r/(2m), c_d −= r/m
            lam.data[2 * m + i]
                .iter_mut()
                .zip(&delta)
                .for_each(|(l, d)| *l += d);
            for t in 0..len {
                cs[i][t] -= 0.5 * shift[t];
                cd[i][t] -= shift[t];
            }
            if self.gamma.is_none() {
                cd[i].iter_mut().for_each(|x| *x = 0.0);
            }
        }
        self.bound(cs, cd, lam)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::optimal::testing::rnd;

    #[test]
    fn dual_norm_is_dual() {
        let mut buf = Vec::new();
        // α = 1: ℓ∞; α = 0: ℓ1
        assert_eq!(dual_norm(&[0.5, -0.7], 1.0, &mut buf), 0.7);
        assert!((dual_norm(&[0.5, -0.7], 0.0, &mut buf) - 1.2).abs() < 1e-15);
        // ⟨λ, z⟩ ≤ N*(λ)·N(z)
        for k in 0..200 {
            let (l, z) = (rnd(3, 2 * k + 1), rnd(3, 2 * k + 2));
            let alpha = 0.3;
            let nz = (1.0 - alpha) * z.iter().fold(0.0f64, |m, v| m.max(v.abs()))
                + alpha * z.iter().map(|v| v.abs()).sum::<f64>();
            let ip: f64 = l.iter().zip(&z).map(|(a, b)| a * b).sum();
            assert!(ip <= dual_norm(&l, alpha, &mut buf) * nz + 1e-15);
        }
    }
}
