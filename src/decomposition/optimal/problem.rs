//! The problem in the splitting's variables: the value vectors and the boxes, the pair
//! u = (w, z) of value-domain arrays w = (a_i, o_i) and interaction-domain arrays z = K w, and the
//! three maps the iteration is made of (module docs of [`super`]):
//!
//! * the prox of F: per coalition S, soft-threshold by α·t then the ℓ∞ prox with (1 − α)·t (their
//!   composition is the prox of the sum; ties in the row maximum are clipped to one common level,
//!   so they split evenly between models by construction);
//! * the projection onto C: per T, clip s_i = a_i + o_i to its ε box and project
//!   (d_i)_i = ((a_i − o_i)/2)_i onto {∃ g: |d_i − g| ≤ τγ_i} by a 1-D piecewise-linear root in g
//!   (symmetric in the models);
//! * the projection onto the graph {(w, K w)} through [`GraphSolver`].
//!
//! The dual side (support function, dual norm, bounds) is in [`super::certificate`].

use super::graph::{and_adj, and_fwd, or_adj, or_fwd, GraphSolver};
use crate::decomposition::objective::Params;

/// One decomposition problem, on values already scaled by [`super::solve`]: m models of n
/// players, the loss weight α (1 for one model) and the boxes τε_i, τγ_i (`None`: γ free).
pub(super) struct Problem {
    pub(super) n: usize,
    pub(super) m: usize,
    pub(super) len: usize,
    pub(super) alpha: f64,
    pub(super) values: Vec<Vec<f64>>,
    pub(super) eps: Vec<f64>,
    pub(super) gamma: Option<Vec<f64>>,
    graph: GraphSolver,
}

/// A point (or dual point) of the splitting: value-domain arrays a_i, o_i and interaction-domain
/// arrays x_i (AND) and q_i (OR, stored as in [`or_fwd`]). Layout: [a_0.., o_0.., x_0.., q_0..].
#[derive(Clone)]
pub(super) struct Vars {
    m: usize,
    pub(super) data: Vec<Vec<f64>>,
}

impl Vars {
    pub(super) fn zeros(m: usize, len: usize) -> Self {
        Vars {
            m,
            data: vec![vec![0.0; len]; 4 * m],
        }
    }
    pub(super) fn a(&self, i: usize) -> &[f64] {
        &self.data[i]
    }
    pub(super) fn o(&self, i: usize) -> &[f64] {
        &self.data[self.m + i]
    }
    pub(super) fn x(&self, i: usize) -> &[f64] {
        &self.data[2 * self.m + i]
    }
    pub(super) fn q(&self, i: usize) -> &[f64] {
        &self.data[3 * self.m + i]
    }
    #[inline(always)]
    pub(super) fn dist_sq(&self, other: &Vars) -> f64 {
        self.data
            .iter()
            .zip(&other.data)
            .map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>())
            .sum()
    }
    /// self = a·self + b·other
    #[inline(always)]
    pub(super) fn axpby(&mut self, a: f64, other: &Vars, b: f64) {
        for (s, o) in self.data.iter_mut().zip(&other.data) {
            s.iter_mut().zip(o).for_each(|(x, y)| *x = a * *x + b * y);
        }
    }
}

/// Per-group prox of t·N, N(z) = (1 − α)·max|z| + α·Σ|z|, in place on `z` (m entries).
/// Returns nothing; ties at the maximum come out exactly equal in magnitude.
fn prox_group(z: &mut [f64], alpha: f64, t: f64, buf: &mut Vec<f64>) {
    let soft = alpha * t;
    for v in z.iter_mut() {
        let a = (v.abs() - soft).max(0.0);
        *v = a.copysign(*v);
    }
    let b = (1.0 - alpha) * t;
    if b <= 0.0 {
        return;
    }
    if z.len() == 1 {
        let a = (z[0].abs() - b).max(0.0);
        z[0] = a.copysign(z[0]);
        return;
    }
    let total: f64 = z.iter().map(|v| v.abs()).sum();
    if total <= b {
        z.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    buf.clear();
    buf.extend(z.iter().map(|v| v.abs()));
    buf.sort_by(|a, b| b.total_cmp(a));
    // level θ with Σ (|z| − θ)_+ = b
    let mut cs = 0.0;
    let mut theta = 0.0;
    for k in 0..buf.len() {
        cs += buf[k];
        let th = (cs - b) / (k + 1) as f64;
        let next = buf.get(k + 1).copied().unwrap_or(0.0);
        if th >= next {
            theta = th.max(0.0);
            break;
        }
    }
    for v in z.iter_mut() {
        if v.abs() > theta {
            *v = theta.copysign(*v);
        }
    }
}

/// Which side of a box a projection clipped to: −1, 0 (inside), +1.
pub(super) type Flag = i8;

impl Problem {
    pub(super) fn new(
        n: usize,
        values: &[&[f64]],
        alpha: f64,
        eps: &[f64],
        gamma: Option<Vec<f64>>,
    ) -> Self {
        let m = values.len();
        // one model: α does not change the loss; use the L1 form (no max structure)
        let alpha = if m == 1 { 1.0 } else { alpha };
        Problem {
            n,
            m,
            len: 1 << n,
            alpha,
            values: values.iter().map(|v| v.to_vec()).collect(),
            eps: eps.to_vec(),
            gamma,
            graph: GraphSolver::new(n),
        }
    }

    /// The group g(d_0) of the γ projection at one coalition: d_i ← clip(d_i, g ± γ_i) with g
    /// minimising Σ dist². Writes flags (±1 where clipped). Symmetric in the models.
    fn project_d(d: &mut [f64], gamma: &[f64], flags: Option<&mut [Flag]>, bp: &mut Vec<f64>) {
        let m = d.len();
        let lo_max = d
            .iter()
            .zip(gamma)
            .map(|(x, g)| x - g)
            .fold(f64::NEG_INFINITY, f64::max);
        let hi_min = d
            .iter()
            .zip(gamma)
            .map(|(x, g)| x + g)
            .fold(f64::INFINITY, f64::min);
        if lo_max <= hi_min {
            if let Some(f) = flags {
                f.iter_mut().for_each(|x| *x = 0);
            }
            return;
        }
        // derivative of Σ dist² / 2 in g: Σ (g − hi_i)_+ − (lo_i − g)_+, nondecreasing
        let deriv = |g: f64| -> f64 {
            d.iter()
                .zip(gamma)
                .map(|(x, w)| (g - (x + w)).max(0.0) - ((x - w) - g).max(0.0))
                .sum()
        };
        bp.clear();
        for (x, w) in d.iter().zip(gamma) {
            bp.push(x - w);
            bp.push(x + w);
        }
        bp.sort_by(|a, b| a.total_cmp(b));
        let mut g = bp[2 * m - 1];
        let mut prev = (bp[0], deriv(bp[0]));
        if prev.1 >= 0.0 {
            g = bp[0];
        } else {
            for &b in &bp[1..] {
                let db = deriv(b);
                if db >= 0.0 {
                    g = if db == prev.1 {
                        b
                    } else {
                        prev.0 + (0.0 - prev.1) * (b - prev.0) / (db - prev.1)
                    };
                    break;
                }
                prev = (b, db);
            }
        }
        match flags {
            Some(f) => {
                for ((x, w), fl) in d.iter_mut().zip(gamma).zip(f.iter_mut()) {
                    *fl = if *x > g + w {
                        1
                    } else if *x < g - w {
                        -1
                    } else {
                        0
                    };
                    *x = x.clamp(g - w, g + w);
                }
            }
            None => {
                for (x, w) in d.iter_mut().zip(gamma) {
                    *x = x.clamp(g - w, g + w);
                }
            }
        }
    }

    /// u_w = Π_C(ζ_w). Also returns, if asked, the dual c = ρ(ζ_w − u_w) in (s, d) form
    /// (c_s = (c_a + c_o)/2 multiplies s, c_d = c_a − c_o multiplies d), with Σ_i c_d = 0 exactly,
    /// and the flags of the clipped constraints.
    pub(super) fn project_c(
        &self,
        zeta: &Vars,
        out: &mut Vars,
        mut dual: Option<(&mut [Vec<f64>], &mut [Vec<f64>], f64)>,
        mut flags: Option<(&mut [Vec<Flag>], &mut [Vec<Flag>])>,
    ) {
        let m = self.m;
        let mut d = vec![0.0; m];
        let mut s = vec![0.0; m];
        let mut hf = vec![0 as Flag; m];
        let mut d0 = vec![0.0; m];
        let mut bp = Vec::with_capacity(2 * m);
        for t in 0..self.len {
            for i in 0..m {
                let (za, zo) = (zeta.a(i)[t], zeta.o(i)[t]);
                s[i] = za + zo;
                d[i] = 0.5 * (za - zo);
            }
            d0.copy_from_slice(&d);
            if let Some(g) = &self.gamma {
                Self::project_d(&mut d, g, Some(&mut hf), &mut bp);
            }
            for i in 0..m {
                let (v, e) = (self.values[i][t], self.eps[i]);
                let s0 = s[i];
                let sc = s0.clamp(v - e, v + e);
                if let Some((fs, fh)) = flags.as_mut() {
                    fs[i][t] = if s0 > v + e {
                        1
                    } else if s0 < v - e {
                        -1
                    } else {
                        0
                    };
                    fh[i][t] = hf[i];
                }
                if let Some((cs, cd, rho)) = dual.as_mut() {
                    cs[i][t] = *rho * 0.5 * (s0 - sc);
                    cd[i][t] = *rho * 2.0 * (d0[i] - d[i]);
                }
                out.data[i][t] = 0.5 * sc + d[i];
                out.data[m + i][t] = 0.5 * sc - d[i];
            }
            if let Some((_, cd, _)) = dual.as_mut() {
                // the γ̄ condition Σ_i c_d = 0, exactly
                let mean = (0..m).map(|i| cd[i][t]).sum::<f64>() / m as f64;
                if self.gamma.is_none() || mean != 0.0 {
                    for c in cd.iter_mut() {
                        c[t] = if self.gamma.is_none() {
                            0.0
                        } else {
                            c[t] - mean
                        };
                    }
                }
            }
        }
    }

    /// u_w = Π_C(ζ_w) on the hot path: closed forms for one and two models.
    #[inline(always)]
    pub(super) fn project_c_fast(&self, zeta: &Vars, out: &mut Vars) {
        let m = self.m;
        let (win, wout) = (&zeta.data[..2 * m], &mut out.data[..2 * m]);
        match m {
            1 => {
                // d is free (traditional, or one model with a free γ̄)
                let (a_out, o_out) = wout.split_at_mut(1);
                let (v, e) = (&self.values[0], self.eps[0]);
                for ((((ua, uo), za), zo), v) in a_out[0]
                    .iter_mut()
                    .zip(o_out[0].iter_mut())
                    .zip(&win[0])
                    .zip(&win[1])
                    .zip(v)
                {
                    let s = (za + zo).clamp(v - e, v + e);
                    let d = 0.5 * (za - zo);
                    *ua = 0.5 * s + d;
                    *uo = 0.5 * s - d;
                }
            }
            2 => {
                let g = self.gamma.as_ref().expect("two models are generalizable");
                let reach = g[0] + g[1];
                let (e0, e1) = (self.eps[0], self.eps[1]);
                let (v0, v1) = (&self.values[0], &self.values[1]);
                let (a, o) = wout.split_at_mut(2);
                let (a0, a1) = a.split_at_mut(1);
                let (o0, o1) = o.split_at_mut(1);
                for t in 0..self.len {
                    let (za0, za1, zo0, zo1) = (win[0][t], win[1][t], win[2][t], win[3][t]);
                    let s0 = (za0 + zo0).clamp(v0[t] - e0, v0[t] + e0);
                    let s1 = (za1 + zo1).clamp(v1[t] - e1, v1[t] + e1);
                    let (mut d0, mut d1) = (0.5 * (za0 - zo0), 0.5 * (za1 - zo1));
                    // |d0 − d1| ≤ γ0 + γ1, else move both halfway
                    let gap = d0 - d1;
                    if gap.abs() > reach {
                        let shift = 0.5 * (gap.abs() - reach).copysign(gap);
                        d0 -= shift;
                        d1 += shift;
                    }
                    a0[0][t] = 0.5 * s0 + d0;
                    o0[0][t] = 0.5 * s0 - d0;
                    a1[0][t] = 0.5 * s1 + d1;
                    o1[0][t] = 0.5 * s1 - d1;
                }
            }
            _ => self.project_c(zeta, out, None, None),
        }
    }

    /// u_z = prox_{(F + μ/2‖·‖²)/ρ}(ζ_z), in place on the z part of `out` (copied from ζ).
    #[inline(always)]
    pub(super) fn prox_f(&self, zeta: &Vars, out: &mut Vars, rho: f64, mu: f64) {
        let m = self.m;
        let t = 1.0 / (rho + mu);
        let scale = rho / (rho + mu);
        if m == 1 {
            for kind in 2..4 {
                for (u, z) in out.data[kind].iter_mut().zip(&zeta.data[kind]) {
                    let y = scale * z;
                    *u = (y.abs() - t).max(0.0).copysign(y);
                }
            }
            return;
        }
        if m == 2 {
            let (soft, b) = (self.alpha * t, (1.0 - self.alpha) * t);
            for kind in [2, 3] {
                let (z0, z1) = (&zeta.data[2 * kind], &zeta.data[2 * kind + 1]);
                let (lo, hi) = out.data.split_at_mut(2 * kind + 1);
                let (u0, u1) = (&mut lo[2 * kind], &mut hi[0]);
                for (((u0, u1), z0), z1) in u0.iter_mut().zip(u1.iter_mut()).zip(z0).zip(z1) {
                    let (y0, y1) = (scale * z0, scale * z1);
                    let (a0, a1) = ((y0.abs() - soft).max(0.0), (y1.abs() - soft).max(0.0));
                    // ℓ∞ prox with b on (a0, a1)
                    let (r0, r1) = if a0 + a1 <= b {
                        (0.0, 0.0)
                    } else if a0 - b >= a1 {
                        (a0 - b, a1)
                    } else if a1 - b >= a0 {
                        (a0, a1 - b)
                    } else {
                        let th = 0.5 * (a0 + a1 - b);
                        (th, th)
                    };
                    *u0 = r0.copysign(y0);
                    *u1 = r1.copysign(y1);
                }
            }
            return;
        }
        let mut g = vec![0.0; m];
        let mut buf = Vec::with_capacity(m);
        for kind in 2..4 {
            for s in 0..self.len {
                for i in 0..m {
                    g[i] = scale * zeta.data[kind * m + i][s];
                }
                prox_group(&mut g, self.alpha, t, &mut buf);
                for i in 0..m {
                    out.data[kind * m + i][s] = g[i];
                }
            }
        }
    }

    /// The loss of interactions stored in the z part of `u`.
    #[inline(always)]
    pub(super) fn loss_z(&self, u: &Vars) -> f64 {
        let m = self.m;
        let mut total = 0.0;
        for kind in 2..4 {
            for s in 0..self.len {
                let (mut mx, mut sum) = (0.0f64, 0.0);
                for i in 0..m {
                    let a = u.data[kind * m + i][s].abs();
                    mx = mx.max(a);
                    sum += a;
                }
                total += (1.0 - self.alpha) * mx + self.alpha * sum;
            }
        }
        total
    }

    /// The point γ = ε = 0: a_i = o_i = v_i/2, and z = K w.
    pub(super) fn zero_point(&self) -> Vars {
        let (m, len) = (self.m, self.len);
        let mut u = Vars::zeros(m, len);
        for i in 0..m {
            for t in 0..len {
                u.data[i][t] = 0.5 * self.values[i][t];
                u.data[m + i][t] = 0.5 * self.values[i][t];
            }
        }
        self.forward(&mut u);
        u
    }

    /// z = K w for the w part of `u`.
    #[inline(always)]
    pub(super) fn forward(&self, u: &mut Vars) {
        let m = self.m;
        for i in 0..m {
            let (w, z) = u.data.split_at_mut(2 * m);
            and_fwd(&w[i], &mut z[i]);
            or_fwd(&w[m + i], &mut z[m + i]);
        }
    }

    /// The graph projection of r in place: w = (I + KᵀK)⁻¹(r_w + Kᵀ r_z), z = K w.
    #[inline(always)]
    pub(super) fn project_graph(&self, r: &mut Vars, tmp: &mut [f64]) {
        let m = self.m;
        for i in 0..m {
            // AND
            tmp.copy_from_slice(&r.data[2 * m + i]);
            and_adj(tmp);
            let a = &mut r.data[i];
            a.iter_mut().zip(tmp.iter()).for_each(|(x, y)| *x += y);
            self.graph.and_solve(a);
            // OR
            tmp.copy_from_slice(&r.data[3 * m + i]);
            or_adj(tmp);
            let o = &mut r.data[m + i];
            o.iter_mut().zip(tmp.iter()).for_each(|(x, y)| *x += y);
            self.graph.or_solve(o);
        }
        self.forward(r);
    }

    /// Parameters of a feasible w = (a, o): ε = s − v, γ̄ = middle of the feasible interval,
    /// γ̂ = d − γ̄, all clipped into their boxes.
    pub(super) fn params_from(&self, w: &Vars) -> Params {
        let (m, len) = (self.m, self.len);
        let mut p = Params::zeros(self.n, m, self.gamma.is_some());
        for t in 0..len {
            let mut lo = f64::NEG_INFINITY;
            let mut hi = f64::INFINITY;
            for i in 0..m {
                let (a, o) = (w.a(i)[t], w.o(i)[t]);
                let e = self.eps[i];
                p.eps[i][t] = (a + o - self.values[i][t]).clamp(-e, e);
                let d = 0.5 * (a - o);
                match &self.gamma {
                    Some(g) => {
                        lo = lo.max(d - g[i]);
                        hi = hi.min(d + g[i]);
                    }
                    None => p.gamma_shared[t] = d,
                }
            }
            if let Some(g) = &self.gamma {
                // lo ≤ hi up to rounding, since w is projected onto C
                let gbar = 0.5 * (lo + hi);
                p.gamma_shared[t] = gbar;
                for i in 0..m {
                    let d = 0.5 * (w.a(i)[t] - w.o(i)[t]);
                    p.gamma_specific[i][t] = (d - gbar).clamp(-g[i], g[i]);
                }
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomposition::optimal::testing::rnd;

    #[test]
    fn group_prox_is_the_prox_of_the_norm() {
        // check optimality of prox by comparing with a fine search of the 1-D/2-D objective
        let mut buf = Vec::new();
        for (z, alpha, t) in [
            (vec![3.0, -1.0], 0.1, 1.0),
            (vec![2.0, 2.0], 0.0, 1.0),
            (vec![0.3, -0.2], 0.5, 1.0),
            (vec![5.0, -4.0, 1.0], 0.3, 2.0),
        ] {
            let mut p = z.clone();
            prox_group(&mut p, alpha, t, &mut buf);
            let obj = |x: &[f64]| {
                let mx = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let l1: f64 = x.iter().map(|v| v.abs()).sum();
                t * ((1.0 - alpha) * mx + alpha * l1)
                    + 0.5 * x.iter().zip(&z).map(|(a, b)| (a - b).powi(2)).sum::<f64>()
            };
            let best = obj(&p);
            // random perturbations never do better
            for k in 0..2000 {
                let d = rnd(z.len(), 100 + k);
                let q: Vec<f64> = p.iter().zip(&d).map(|(a, b)| a + 0.1 * b).collect();
                assert!(obj(&q) >= best - 1e-12);
            }
        }
        // ties split evenly
        let mut p = vec![2.0, -2.0];
        prox_group(&mut p, 0.0, 1.0, &mut buf);
        assert_eq!(p, vec![1.5, -1.5]);
    }
}
