//! The face polish (module docs of [`super`], "Method"). First-order methods identify the
//! optimal face long before they converge on it, so the polish reads the pattern off the two
//! prox outputs (which interactions are exactly zero, which models tie for the row maximum, which
//! box constraints are clipped), then
//! * moves the primal point onto the affine hull of that face by the least-norm correction (the
//!   face's equations in the interaction domain: rows of K⁻¹ at the active constraints),
//! * solves the dual multipliers of the active constraints in least squares so that λ = −K⁻ᵀc
//!   matches the subgradient on the support,
//!
//! both with [`lsqr`] and matrix-free products (two butterflies per model and kind). A right
//! pattern gives an exact primal–dual pair (relative gap ~10⁻¹³); a wrong one just gives a worse
//! candidate, since the caller re-checks every candidate exactly.

use super::graph::{and_inv, and_inv_adj, or_inv, or_inv_adj};
use super::lsqr::{lsqr, LinOp};
use super::problem::{Flag, Problem, Vars};

/// One interaction that the pattern says is non-zero: (kind 0 = AND / 1 = OR, model, coalition).
#[derive(Clone, Copy)]
struct Entry {
    kind: usize,
    model: usize,
    s: usize,
}

/// An active value-domain constraint.
#[derive(Clone, Copy)]
enum Row {
    /// s_i(T) = v_i(T) + side·τε_i
    S { model: usize, t: usize, side: f64 },
    /// d_i(T) − d_j(T) = side_i·τγ_i − side_j·τγ_j
    H {
        i: usize,
        j: usize,
        t: usize,
        rhs: f64,
    },
}

/// The face's equations on the entries J: value rows (the active constraints, in terms of the
/// interactions through K⁻¹) followed by tie rows (σ_i z_i(S) = σ_j z_j(S)).
struct FaceOp<'a> {
    p: &'a Problem,
    entries: &'a [Entry],
    rows: &'a [Row],
    /// (column of i, σ_i, column of j, σ_j)
    ties: &'a [(usize, f64, usize, f64)],
    scratch: std::cell::RefCell<Vec<Vec<f64>>>,
}

impl FaceOp<'_> {
    /// w = K⁻¹ z for z supported on the entries (scratch holds a_i, then o_i).
    fn values_of(&self, x: &[f64]) {
        let (m, len) = (self.p.m, self.p.len);
        let mut sc = self.scratch.borrow_mut();
        sc.iter_mut()
            .for_each(|v| v.iter_mut().for_each(|e| *e = 0.0));
        for (e, &val) in self.entries.iter().zip(x) {
            sc[e.kind * m + e.model][e.s] = val;
        }
        for i in 0..m {
            and_inv(&mut sc[i]);
            or_inv(&mut sc[m + i]);
        }
        debug_assert_eq!(sc[0].len(), len);
    }

    /// Kᵀ-side: given value-domain multipliers of the rows, z̄ = K⁻ᵀ c gathered on the entries.
    fn entries_of(&self, y: &[f64], x: &mut [f64]) {
        let m = self.p.m;
        let mut sc = self.scratch.borrow_mut();
        sc.iter_mut()
            .for_each(|v| v.iter_mut().for_each(|e| *e = 0.0));
        for (row, &val) in self.rows.iter().zip(y) {
            match *row {
                Row::S { model, t, .. } => {
                    sc[model][t] += val;
                    sc[m + model][t] += val;
                }
                Row::H { i, j, t, .. } => {
                    sc[i][t] += 0.5 * val;
                    sc[m + i][t] -= 0.5 * val;
                    sc[j][t] -= 0.5 * val;
                    sc[m + j][t] += 0.5 * val;
                }
            }
        }
        for i in 0..m {
            and_inv_adj(&mut sc[i]);
            or_inv_adj(&mut sc[m + i]);
        }
        for (e, xv) in self.entries.iter().zip(x.iter_mut()) {
            *xv = sc[e.kind * m + e.model][e.s];
        }
    }

    fn value_rows(&self, y: &mut [f64]) {
        let m = self.p.m;
        let sc = self.scratch.borrow();
        for (row, out) in self.rows.iter().zip(y.iter_mut()) {
            *out = match *row {
                Row::S { model, t, .. } => sc[model][t] + sc[m + model][t],
                Row::H { i, j, t, .. } => {
                    0.5 * (sc[i][t] - sc[m + i][t]) - 0.5 * (sc[j][t] - sc[m + j][t])
                }
            };
        }
    }
}

impl LinOp for FaceOp<'_> {
    fn rows(&self) -> usize {
        self.rows.len() + self.ties.len()
    }
    fn cols(&self) -> usize {
        self.entries.len()
    }
    fn apply(&self, x: &[f64], y: &mut [f64]) {
        self.values_of(x);
        let nv = self.rows.len();
        self.value_rows(&mut y[..nv]);
        for (out, &(ci, si, cj, sj)) in y[nv..].iter_mut().zip(self.ties) {
            *out = si * x[ci] - sj * x[cj];
        }
    }
    fn apply_t(&self, y: &[f64], x: &mut [f64]) {
        let nv = self.rows.len();
        self.entries_of(&y[..nv], x);
        for (&val, &(ci, si, cj, sj)) in y[nv..].iter().zip(self.ties) {
            x[ci] += si * val;
            x[cj] -= sj * val;
        }
    }
}

/// The dual system: unknown multipliers η of the value rows; equations on the support:
/// λ_j = −(E_Aᵀη)_j = α·σ_j for non-maximal entries, Σ_{i∈Q} σ_i λ_i = α|Q| + 1 − α for each
/// group's maximal set Q.
struct DualOp<'a> {
    face: &'a FaceOp<'a>,
    /// per equation: the columns and signs it sums
    eqs: &'a [Vec<(usize, f64)>],
}

impl LinOp for DualOp<'_> {
    fn rows(&self) -> usize {
        self.eqs.len()
    }
    fn cols(&self) -> usize {
        self.face.rows.len()
    }
    fn apply(&self, eta: &[f64], y: &mut [f64]) {
        let mut lam = vec![0.0; self.face.entries.len()];
        self.face.entries_of(eta, &mut lam);
        for (out, eq) in y.iter_mut().zip(self.eqs) {
            *out = -eq.iter().map(|&(c, s)| s * lam[c]).sum::<f64>();
        }
    }
    fn apply_t(&self, y: &[f64], eta: &mut [f64]) {
        let mut lam = vec![0.0; self.face.entries.len()];
        for (&val, eq) in y.iter().zip(self.eqs) {
            for &(c, s) in eq {
                lam[c] -= s * val;
            }
        }
        self.face.values_of(&lam);
        self.face.value_rows(eta);
    }
}

/// A polished candidate: primal w (feasible) and its loss, and a dual bound.
pub(super) struct Polished {
    pub(super) w: Vars,
    pub(super) loss: f64,
    pub(super) dual: f64,
}

impl Problem {
    /// Polish at ζ (see the module docs). `u` is prox_f(ζ) (z part: the pattern; w part: the
    /// feasible first-order point).
    pub(super) fn polish(&self, zeta: &Vars, u: &Vars, tmp: &mut Vars) -> Option<Polished> {
        let (m, len, alpha) = (self.m, self.len, self.alpha);
        // pattern of the value-domain constraints
        let mut fs = vec![vec![0 as Flag; len]; m];
        let mut fh = vec![vec![0 as Flag; len]; m];
        self.project_c(zeta, tmp, None, Some((&mut fs, &mut fh)));
        let mut rows = Vec::new();
        for (i, f) in fs.iter().enumerate() {
            for (t, &side) in f.iter().enumerate() {
                if side != 0 {
                    rows.push(Row::S {
                        model: i,
                        t,
                        side: side as f64,
                    });
                }
            }
        }
        if let Some(g) = &self.gamma {
            for t in 0..len {
                let active: Vec<usize> = (0..m).filter(|&i| fh[i][t] != 0).collect();
                if let Some((&j, rest)) = active.split_first() {
                    for &i in rest {
                        rows.push(Row::H {
                            i,
                            j,
                            t,
                            rhs: fh[i][t] as f64 * g[i] - fh[j][t] as f64 * g[j],
                        });
                    }
                }
            }
        }
        // pattern of the interactions: support, ties, signs
        let mut entries = Vec::new();
        let mut col = vec![vec![usize::MAX; len]; 2 * m];
        let mut ties = Vec::new();
        let mut eqs: Vec<Vec<(usize, f64)>> = Vec::new();
        let mut rhs_dual = Vec::new();
        let use_max = alpha < 1.0 && m > 1;
        for kind in 0..2 {
            for s in 0..len {
                let zval = |i: usize| u.data[(2 + kind) * m + i][s];
                let mx = (0..m).map(|i| zval(i).abs()).fold(0.0, f64::max);
                if mx == 0.0 {
                    continue;
                }
                let mut group = Vec::new();
                for i in 0..m {
                    let z = zval(i);
                    if z != 0.0 {
                        col[kind * m + i][s] = entries.len();
                        group.push((entries.len(), z.signum(), z.abs() == mx));
                        entries.push(Entry { kind, model: i, s });
                    }
                }
                if use_max {
                    let maxset: Vec<(usize, f64)> = group
                        .iter()
                        .filter(|g| g.2)
                        .map(|&(c, sg, _)| (c, sg))
                        .collect();
                    for w in maxset.windows(2) {
                        ties.push((w[1].0, w[1].1, w[0].0, w[0].1));
                    }
                    rhs_dual.push(alpha * maxset.len() as f64 + (1.0 - alpha));
                    eqs.push(maxset);
                    for &(c, sg, is_max) in &group {
                        if !is_max {
                            eqs.push(vec![(c, sg)]);
                            rhs_dual.push(alpha * sg * sg);
                        }
                    }
                } else {
                    for &(c, sg, _) in &group {
                        eqs.push(vec![(c, sg)]);
                        rhs_dual.push(1.0);
                    }
                }
            }
        }
        if entries.is_empty() {
            return None;
        }
        let face = FaceOp {
            p: self,
            entries: &entries,
            rows: &rows,
            ties: &ties,
            scratch: std::cell::RefCell::new(vec![vec![0.0; len]; 2 * m]),
        };
        let iters = 4 * (entries.len() + rows.len()).max(100);
        // primal: θ = θ0 − least-norm correction onto {Eθ = r}
        let mut z_fo = u.clone();
        for i in 0..m {
            z_fo.data[i].copy_from_slice(u.a(i));
            z_fo.data[m + i].copy_from_slice(u.o(i));
        }
        // the first-order point: its w part is feasible; its interactions are K w
        self.forward(&mut z_fo);
        let theta0: Vec<f64> = entries
            .iter()
            .map(|e| z_fo.data[(2 + e.kind) * m + e.model][e.s])
            .collect();
        let mut resid = vec![0.0; face.rows()];
        face.apply(&theta0, &mut resid);
        for (r, row) in resid.iter_mut().zip(&rows) {
            *r -= match *row {
                Row::S { model, t, side } => self.values[model][t] + side * self.eps[model],
                Row::H { rhs, .. } => rhs,
            };
        }
        let corr = lsqr(&face, &resid, 1e-14, iters);
        let mut w = Vars::zeros(m, len);
        for (e, (t0, c)) in entries.iter().zip(theta0.iter().zip(&corr)) {
            w.data[(2 + e.kind) * m + e.model][e.s] = t0 - c;
        }
        // w = K⁻¹ z, then onto C exactly
        for i in 0..m {
            let mut a = w.data[2 * m + i].clone();
            and_inv(&mut a);
            w.data[i] = a;
            let mut o = w.data[3 * m + i].clone();
            or_inv(&mut o);
            w.data[m + i] = o;
        }
        let mut feasible = Vars::zeros(m, len);
        self.project_c(&w, &mut feasible, None, None);
        self.forward(&mut feasible);
        let loss = self.loss_z(&feasible);
        // dual
        let dual = if rows.is_empty() {
            f64::NEG_INFINITY
        } else {
            let dop = DualOp {
                face: &face,
                eqs: &eqs,
            };
            let eta = lsqr(&dop, &rhs_dual, 1e-14, iters);
            let mut cs = vec![vec![0.0; len]; m];
            let mut cd = vec![vec![0.0; len]; m];
            for (row, &e) in rows.iter().zip(&eta) {
                match *row {
                    Row::S { model, t, .. } => cs[model][t] += e,
                    Row::H { i, j, t, .. } => {
                        cd[i][t] += e;
                        cd[j][t] -= e;
                    }
                }
            }
            let mut lam = Vars::zeros(m, len);
            self.lambda_from_c(&cs, &cd, &mut lam);
            self.bound(&cs, &cd, &lam)
        };
        Some(Polished {
            w: feasible,
            loss,
            dual,
        })
    }
}
